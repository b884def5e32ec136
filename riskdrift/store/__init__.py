"""Postgres persistence: one asyncpg pool per process, versioned SQL migrations,
one module per table family (jobs, results)."""
