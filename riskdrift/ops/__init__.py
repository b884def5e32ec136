"""Operations: Prometheus metrics (per process and cluster-wide) and the dashboard's figures.

- :mod:`riskdrift.ops.metrics`: every metric family's name and shape, and the
  cluster-wide counters and histograms kept in Redis.
- :mod:`riskdrift.ops.cluster`: what the API computes at scrape time: ready
  queue depth, live workers, job figures from Postgres.
- :mod:`riskdrift.ops.worker`: a worker process's own registry, its periodic
  publication into Redis and the task instrumentation.
"""
