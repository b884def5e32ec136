"""Versioned SQL migrations (NNN_name.sql), applied in order by riskdrift.store.migrate."""
