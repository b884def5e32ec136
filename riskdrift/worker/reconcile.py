"""The reconciler: a periodic arq cron job that makes Postgres and the queue agree.

Postgres is the record of every job and webhook delivery; the arq queue in
Redis is how work reaches workers. They can disagree after an outage or a
crash at the wrong moment (a job row committed but its queue entry never
written; arq giving up on a job whose worker kept dying; a Redis that lost its
data and with it every deferred webhook attempt). Every ``reconcile_interval``
seconds one worker (arq's cron runs each tick once per queue) repairs that.

Jobs:

- a ``queued`` or ``processing`` job older than ``reconcile_grace`` with no arq
  job behind it (no job key, not in the queue, no in-progress claim) is
  enqueued again — unless it has used every attempt, then it fails with a reason.
  A run arq finished without finishing the job (a task that ended in an exception
  while Postgres was away, arq's own ``max_tries``) leaves arq's result behind,
  and arq refuses the id while it keeps it: that result is discarded first, and
  only a re-queue arq accepted is counted and logged;
- such a job whose arq claim was never shortened by a heartbeat (its worker died
  between claiming and starting it) and was taken more than ``reconcile_grace``
  ago has the claim released, so it runs again within the grace and an interval
  instead of after the job timeout (a younger full-length claim may be a worker's
  that has not beaten yet);
- a job ``processing`` for longer than every limit allows (all attempts at the
  hard time limit plus backoff) fails with a reason.

A job the reconciler fails is failed by :func:`riskdrift.jobs.fail`, as any failed job:
its ``job_failed`` event, its report to its batch (the batch's stream and counts), and,
with a ``callback_url``, its ``job.failed`` webhook (attempt 1 queued as a job).

Webhooks, after the jobs (a failure here is logged and left to the next pass;
the job part has done its work by then):

- a ``completed`` or ``failed`` job with a ``callback_url``, finished more than
  ``reconcile_grace`` and less than :data:`WEBHOOK_WINDOW` ago, with no delivery
  row and no arq job of its own left to store one (a worker died in between and
  arq lost the job, or the reconciler failed the job while Postgres or Redis
  were away) gets its delivery stored and attempt 1 queued;
- a ``pending`` delivery whose next attempt was due more than
  ``reconcile_grace`` ago and has no arq job behind it (Redis lost the deferred
  attempt) gets that attempt queued, under the attempt's own arq job id, so a
  race with a live attempt is a no-op. An attempt that ran without recording
  itself counts as behind it while arq keeps its result (and its id taken).
  Before attempt 1 the analysis job stands behind it too: it queues attempt 1
  (on the webhooks queue), or its re-run does. A pending delivery that has made every
  attempt cannot occur (the last attempt's record fails it); if one does, it is
  failed rather than given attempt 9.

Each part reads at most :data:`BATCH` rows, from an index, oldest first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator, Sequence

import structlog

import riskdrift.jobs as lifecycle
from riskdrift.config import Settings
from riskdrift.models import JobStatus
from riskdrift.queue import JobEntry, discard_result, enqueue, job_entries, release_claim
from riskdrift.queue.retrying import is_transient
from riskdrift.store import deliveries, jobs
from riskdrift.webhooks.backoff import BACKOFF_SCHEDULE, MAX_ATTEMPTS
from riskdrift.worker.context import WorkerContext
from riskdrift.worker.webhook_task import attempt_job_id, enqueue_attempt, queue_webhook

log = structlog.get_logger(__name__)

BATCH = 500

WEBHOOK_WINDOW = dt.timedelta(seconds=sum(BACKOFF_SCHEDULE))
"""How long after a job finished the reconciler still makes up its missing webhook
(~41.6 h): the span of the retry schedule. An outage of ours is covered for as long as
a receiver's is, and a webhook made up later would arrive after its last retry could
have; the bound also keeps the pass's index range to about two days of finished jobs."""

EXHAUSTED = "every attempt was made but the delivery was left pending"


async def _arq_entries(ctx: WorkerContext, arq_ids: Sequence[str]) -> list[JobEntry]:
    """What arq holds of each job id, in one round trip."""
    return await job_entries(ctx["redis"], ctx["settings"].queue_name, arq_ids)


@contextlib.contextmanager
def _webhook_logged(job_id: uuid.UUID) -> Iterator[None]:
    """The job is failed either way; a webhook not stored or queued loses only its callback
    (the next pass's webhook part makes it up)."""
    try:
        yield
    except Exception:
        log.exception("reconciler_webhook_not_queued", job_id=str(job_id))


async def _fail(ctx: WorkerContext, job_id: uuid.UUID, reason: str) -> bool:
    # The client and the job's batch hear of it as of any failed job; the webhook's attempt
    # is a job of its own, so a slow receiver never holds up the pass.
    finished = await lifecycle.fail(
        job_id,
        reason,
        pool=ctx["pool"],
        redis=ctx["redis"],
        settings=ctx["settings"],
        allowed_from=(JobStatus.QUEUED, JobStatus.PROCESSING),
        webhook_guard=lambda: _webhook_logged(job_id),
    )
    return finished is not None


async def reconcile(ctx: WorkerContext) -> dict[str, int]:
    """One reconciliation pass, jobs then webhooks; returns how many of each it repaired."""
    now = dt.datetime.now(dt.UTC)
    counts = await _reconcile_jobs(ctx, now)
    counts |= await _sweep_webhooks(ctx, now)
    if any(n for name, n in counts.items() if name != "checked"):
        log.info("reconciled", **counts)
    return counts


async def _reconcile_jobs(ctx: WorkerContext, now: dt.datetime) -> dict[str, int]:
    """The job part: re-enqueue lost jobs, release dead claims, fail what is past every limit."""
    settings = ctx["settings"]
    stale = await jobs.unfinished_since(
        ctx["pool"], before=now - dt.timedelta(seconds=settings.reconcile_grace), limit=BATCH
    )
    requeued = failed = released = 0
    max_attempts = settings.max_retries + 1
    # A job may legitimately run max_attempts times at the hard limit, with backoff between.
    deadline = now - dt.timedelta(
        seconds=max_attempts * (settings.job_timeout + settings.retry_backoff_max)
    )
    entries = await _arq_entries(ctx, [str(j.id) for j in stale])
    for job, entry in zip(stale, entries, strict=True):
        started = job.started_at or job.created_at
        if job.status is JobStatus.PROCESSING and started < deadline:
            failed += await _fail(ctx, job.id, "job exceeded every time limit and was abandoned")
            continue
        if _dead_claim(entry.claim_ms, settings):
            # arq's long claim that no heartbeat ever shortened: the worker died between
            # claiming the job and starting it. Release it so any worker can take it.
            await release_claim(ctx["redis"], str(job.id))
            released += 1
            log.warning("stale_claim_released", job_id=str(job.id), claim_ms=entry.claim_ms)
            continue
        if entry.live:
            continue
        if job.attempts >= max_attempts:
            failed += await _fail(
                ctx, job.id, f"workers stopped while running the job {job.attempts} times"
            )
            continue
        if entry.result:
            # arq keeps the result of a run that ended without finishing the job, and
            # refuses the id until it expires (an hour): that run is over, forget it.
            await discard_result(ctx["redis"], str(job.id), queue=settings.queue_name)
        accepted = await enqueue(
            ctx["redis"],
            "analyze_risk_drift",
            str(job.id),
            job_id=str(job.id),
            queue=settings.queue_name,
        )
        if not accepted:
            # A worker or the API queued it since we looked: nothing to repair.
            log.info("job_requeue_refused", job_id=str(job.id), status=job.status.value)
            continue
        requeued += 1
        log.warning(
            "job_requeued_by_reconciler",
            job_id=str(job.id),
            status=job.status.value,
            stale_result=entry.result,
        )
    return {"requeued": requeued, "failed": failed, "released": released, "checked": len(stale)}


# arq claims a job for its worker's longest function timeout + 10 s (analyze_risk_drift's)
ARQ_CLAIM_EXTRA = 10.0  # seconds


def _dead_claim(claim_ms: int, settings: Settings) -> bool:
    """Whether a claim is arq's full-length one, taken at least ``reconcile_grace`` ago
    and never shortened by a heartbeat: its worker died between claiming and starting.

    Length alone does not tell: a worker that claimed the job a moment ago holds the
    same full-length claim until its task's first heartbeat (milliseconds later, or
    seconds on a busy loop). Releasing that one hands a running job to a second worker
    (the chaos bench caught two runs of one job at once this way). Its age is what is
    left of the full length; a claim is dead only once it is older than the grace.
    """
    if claim_ms <= settings.job_claim_ttl * 1000 * 2:
        return False  # a heartbeat's claim (or none)
    full_ms = (settings.job_timeout + ARQ_CLAIM_EXTRA) * 1000
    return full_ms - claim_ms >= settings.reconcile_grace * 1000


async def _sweep_webhooks(ctx: WorkerContext, now: dt.datetime) -> dict[str, int]:
    """The webhook part; a part that fails is logged and retried by the next pass."""
    counts = {"webhooks_queued": 0, "webhooks_requeued": 0, "webhooks_failed": 0}
    for part in (_queue_missing_webhooks, _requeue_lost_attempts):
        try:
            counts |= await part(ctx, now)
        except Exception:
            log.exception("reconciler_webhook_sweep_failed", part=part.__name__.lstrip("_"))
    return counts


@contextlib.contextmanager
def _bug_logged(event: str, **fields: object) -> Iterator[None]:
    """Around one row of a part: a bug is logged and the part goes on with the next row
    (or that row would stop every pass); Postgres or Redis away ends the part."""
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception(event, **fields)


async def _queue_missing_webhooks(ctx: WorkerContext, now: dt.datetime) -> dict[str, int]:
    """Store the webhook of finished jobs that have none, and queue its attempt 1."""
    grace = dt.timedelta(seconds=ctx["settings"].reconcile_grace)
    missing = await jobs.finished_without_delivery(
        ctx["pool"], after=now - WEBHOOK_WINDOW, before=now - grace, limit=BATCH
    )
    entries = await _arq_entries(ctx, [str(j.id) for j in missing])
    queued = 0
    for job, entry in zip(missing, entries, strict=True):
        if entry.live:
            continue  # its run, or arq's re-run of it, stores the webhook (resume_webhook)
        with _bug_logged("reconciler_webhook_not_queued", job_id=str(job.id)):
            delivery = await queue_webhook(ctx, job)
            if delivery is not None:
                queued += 1
                log.warning(
                    "webhook_queued_by_reconciler",
                    job_id=str(job.id),
                    webhook_id=delivery.webhook_id,
                    type=delivery.event_type,
                )
    return {"webhooks_queued": queued}


async def _requeue_lost_attempts(ctx: WorkerContext, now: dt.datetime) -> dict[str, int]:
    """Queue the next attempt of overdue pending deliveries that arq no longer holds."""
    settings = ctx["settings"]
    overdue = await deliveries.pending_due_before(
        ctx["pool"], before=now - dt.timedelta(seconds=settings.reconcile_grace), limit=BATCH
    )
    # Each delivery's next attempt (on the webhooks queue), then the analysis job of each
    # (attempt 1 is that job's to queue; arq's re-run of it does if the run died first).
    attempt_entries = await job_entries(
        ctx["redis"],
        settings.webhooks_queue_name,
        [attempt_job_id(d, d.attempts + 1) for d in overdue],
    )
    analysis_entries = await _arq_entries(ctx, [str(d.job_id) for d in overdue])
    requeued = failed = 0
    for delivery, attempt_entry, analysis_entry in zip(
        overdue, attempt_entries, analysis_entries, strict=True
    ):
        # An attempt that ran without recording itself (a bug, a timeout) keeps its id
        # taken while arq keeps its result (keep_result): it is requeued after that.
        if attempt_entry.live or attempt_entry.result:
            continue
        if delivery.attempts == 0 and analysis_entry.live:
            continue
        attempt = delivery.attempts + 1
        fields = {
            "job_id": str(delivery.job_id),
            "webhook_id": delivery.webhook_id,
            "type": delivery.event_type,
            "series": delivery.series,
            "attempt": attempt,
        }
        with _bug_logged("reconciler_webhook_not_requeued", **fields):
            if delivery.attempts >= MAX_ATTEMPTS:
                # The last attempt's record fails its delivery in the same statement, so
                # this takes a hand-edited row; end it as that attempt would have.
                ended = await deliveries.fail_delivery(
                    ctx["pool"], delivery.id, series=delivery.series, error=EXHAUSTED
                )
                if ended is not None:
                    failed += 1
                    log.warning("webhook_failed_by_reconciler", **fields)
                continue
            await enqueue_attempt(ctx["redis"], settings, delivery, attempt=attempt)
            requeued += 1
            log.warning("webhook_requeued_by_reconciler", **fields)
    return {"webhooks_requeued": requeued, "webhooks_failed": failed}
