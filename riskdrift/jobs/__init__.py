"""The one job lifecycle: every change of a job's (and a batch's) state is made here.

Each function is one guarded UPDATE (its SQL in :mod:`riskdrift.store`), then, in this
order, the job's event (:mod:`riskdrift.events`), the report to the job's batch
(:mod:`riskdrift.jobs.batches`), the outbox row and attempt 1 of its webhook
(:mod:`riskdrift.webhooks.outbox`) and the counters. Routes, worker tasks, the reconciler
and batches call these functions with explicit keyword dependencies (``pool``, ``redis``,
``settings``, ...), never arq's ``ctx``; no other module changes a job's state
(``tests/test_layering.py`` holds that).

- :mod:`riskdrift.jobs.lifecycle`: one job: submit, start, complete, fail, cancel, retry,
  release (and revisit, give_back_attempt);
- :mod:`riskdrift.jobs.batches`: a batch: submit, cancel, a job's state reported to its
  batch, the batch's end;
- :mod:`riskdrift.jobs.enqueue`: a new job's Redis writes in one round trip.
"""

from riskdrift.jobs.lifecycle import (
    cancel,
    complete,
    fail,
    give_back_attempt,
    release,
    retry,
    revisit,
    start,
    submit,
)

__all__ = [
    "cancel",
    "complete",
    "fail",
    "give_back_attempt",
    "release",
    "retry",
    "revisit",
    "start",
    "submit",
]
