"""Progress events: one Redis Stream per job, and the per-process SSE fan-out hub."""
