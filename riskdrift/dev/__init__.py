"""Running riskdrift on one machine: ``make run`` and the start-up checks.

- :mod:`.run`: ``riskdrift dev``: services, API and workers as child processes, a demo job;
- :mod:`.servers`: embedded Redis and PostgreSQL when none is running;
- :mod:`.preflight`: ``riskdrift api`` and ``riskdrift worker`` check Postgres and Redis
  answer before they start.
"""
