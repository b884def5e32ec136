"""The HTTP API (riskdrift/api)."""
