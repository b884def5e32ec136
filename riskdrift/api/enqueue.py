"""Moved to :mod:`riskdrift.jobs.enqueue` (issue #25); re-exported for code that imports it here."""

from riskdrift.jobs.enqueue import ANALYSIS_TASK, discard_new_job, enqueue_new_job

__all__ = ["ANALYSIS_TASK", "discard_new_job", "enqueue_new_job"]
