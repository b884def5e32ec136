"""Tests of riskdrift.webhooks: signing, SSRF guard, backoff and real-receiver delivery."""
