"""The analysis queue's cron jobs are named per queue: arq's tick ids are global in Redis."""

from __future__ import annotations

from riskdrift.config import Settings
from riskdrift.ops.cluster import CRON_JOB_PREFIX
from riskdrift.worker.settings import build_worker_settings


def _cron_names(queue: str) -> set[str]:
    worker = build_worker_settings(Settings(queue_name=queue))
    return {job.name for job in worker.cron_jobs}  # type: ignore[attr-defined]


def test_two_queues_on_one_redis_share_no_cron_tick() -> None:
    # A tick's arq job id is "<name>:<ms>"; a shared name would let one deployment's
    # enqueue of a tick make the other's refused (arq keeps ids unique per database).
    ours, theirs = _cron_names("analysis"), _cron_names("other:analysis")
    assert ours == {
        "cron:reconcile@analysis",
        "cron:watch@analysis",
        "cron:watch-announce@analysis",
    }
    assert not ours & theirs
    # Still recognised as cron jobs (not work) by the queue-depth metrics.
    assert all(name.startswith(CRON_JOB_PREFIX) for name in ours | theirs)
