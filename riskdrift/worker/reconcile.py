"""The reconciler: a periodic arq cron job that makes Postgres and the queue agree.

Postgres is the record of every job; the arq queue in Redis is how work
reaches workers. They can disagree after an outage or a crash at the wrong
moment (a job row committed but its queue entry never written; arq giving up
on a job whose worker kept dying). Every ``reconcile_interval`` seconds one
worker (arq's cron runs each tick once per queue) repairs that:

- a ``queued`` or ``processing`` job older than ``reconcile_grace`` with no arq
  job behind it (no job key, not in the queue, no in-progress claim) is
  enqueued again — unless it has used every attempt, then it fails with a reason;
- such a job whose arq claim was never shortened by a heartbeat (its worker died
  between claiming and starting it) has the claim released, so it runs again
  within a reconcile interval instead of after the job timeout;
- a job ``processing`` for longer than every limit allows (all attempts at the
  hard time limit plus backoff) fails with a reason.

A job the reconciler fails gets its ``job_failed`` event and, with a
``callback_url``, its ``job.failed`` webhook (attempt 1 queued as a job).
"""

from __future__ import annotations

import datetime as dt
import uuid

import structlog
from arq.constants import in_progress_key_prefix, job_key_prefix

from riskdrift.events.publish import make_event, publish
from riskdrift.models import JobStatus
from riskdrift.store import jobs
from riskdrift.worker.context import WorkerContext
from riskdrift.worker.webhook_task import queue_webhook

log = structlog.get_logger(__name__)

BATCH = 500


async def _queue_state(ctx: WorkerContext, job_ids: list[uuid.UUID]) -> list[tuple[bool, int]]:
    """Per job: whether arq still has it (job key or queue entry), and its claim's PTTL."""
    queue = ctx["settings"].queue_name
    async with ctx["redis"].pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(job_key_prefix + str(job_id))
            pipe.zscore(queue, str(job_id))
            pipe.pttl(in_progress_key_prefix + str(job_id))
        replies = await pipe.execute()
    return [
        (bool(replies[i]) or replies[i + 1] is not None or replies[i + 2] > 0, replies[i + 2])
        for i in range(0, len(replies), 3)
    ]


async def _fail(ctx: WorkerContext, job_id: uuid.UUID, reason: str) -> bool:
    finished = await jobs.finish_job(
        ctx["pool"],
        job_id,
        JobStatus.FAILED,
        error=reason,
        allowed_from=(JobStatus.QUEUED, JobStatus.PROCESSING),
    )
    if finished is None:
        return False
    settings = ctx["settings"]
    await publish(
        ctx["redis"],
        make_event("job_failed", job_id, error=reason, status=JobStatus.FAILED),
        maxlen=settings.stream_maxlen,
        ttl=settings.result_ttl,
    )
    # The client hears of it as of any failed job; the attempt is a job of its own, so a
    # slow receiver never holds up the pass.
    try:
        await queue_webhook(ctx, finished)
    except Exception:
        # The job is failed either way; only its callback is lost.
        log.exception("reconciler_webhook_not_queued", job_id=str(job_id))
    return True


async def reconcile(ctx: WorkerContext) -> dict[str, int]:
    """One reconciliation pass; returns how many jobs it re-enqueued and failed."""
    settings = ctx["settings"]
    now = dt.datetime.now(dt.UTC)
    stale = await jobs.unfinished_since(
        ctx["pool"], before=now - dt.timedelta(seconds=settings.reconcile_grace), limit=BATCH
    )
    requeued = failed = released = 0
    max_attempts = settings.max_retries + 1
    # A job may legitimately run max_attempts times at the hard limit, with backoff between.
    deadline = now - dt.timedelta(
        seconds=max_attempts * (settings.job_timeout + settings.retry_backoff_max)
    )
    states = await _queue_state(ctx, [j.id for j in stale])
    for job, (has_entry, claim_ms) in zip(stale, states, strict=True):
        started = job.started_at or job.created_at
        if job.status is JobStatus.PROCESSING and started < deadline:
            failed += await _fail(ctx, job.id, "job exceeded every time limit and was abandoned")
            continue
        if claim_ms > settings.job_claim_ttl * 1000 * 2:
            # arq's long claim that no heartbeat ever shortened: the worker died between
            # claiming the job and starting it. Release it so any worker can take it.
            await ctx["redis"].delete(in_progress_key_prefix + str(job.id))
            released += 1
            log.warning("stale_claim_released", job_id=str(job.id), claim_ms=claim_ms)
            continue
        if has_entry:
            continue
        if job.attempts >= max_attempts:
            failed += await _fail(
                ctx, job.id, f"workers stopped while running the job {job.attempts} times"
            )
            continue
        await ctx["redis"].enqueue_job(
            "analyze_risk_drift", str(job.id), _job_id=str(job.id), _queue_name=settings.queue_name
        )
        requeued += 1
        log.warning("job_requeued_by_reconciler", job_id=str(job.id), status=job.status.value)
    if requeued or failed or released:
        log.info(
            "reconciled", requeued=requeued, failed=failed, released=released, checked=len(stale)
        )
    return {"requeued": requeued, "failed": failed, "released": released, "checked": len(stale)}
