"""The embeddings queue: store a finished analysis's filings, then embed their risk factors.

Two steps, on two queues:

1. :func:`record_analysis_filings` runs in the analysis worker right after a
   completed job's result is stored. It upserts each filing's risk factors
   (``riskdrift.store.embeddings.store_filing``: keyed by ticker and year, so a
   re-run changes nothing), links them to the job (search is per tenant), and
   enqueues ``generate_embeddings(filing_id)`` on the ``embeddings`` queue. A
   failure here is logged and never fails the analysis: search is secondary.
2. :func:`generate_embeddings` runs in ``arq riskdrift.worker.EmbeddingsWorker``:
   it embeds the filing's risks that have no vector of the configured model yet,
   in batches (the embedder runs CPU work in the worker's executor), and stores
   each vector with its model name. Re-running it skips what is done.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Executor
from typing import TypedDict

import asyncpg
import structlog

from riskdrift.config import Settings
from riskdrift.embeddings import Embedder
from riskdrift.errors import PermanentError
from riskdrift.queue import ArqRedis, enqueue
from riskdrift.queue.retrying import retry_delay, retry_later
from riskdrift.store import embeddings as store
from riskdrift.store.result_document import ResultDocument
from riskdrift.worker.context import WorkerContext

log = structlog.get_logger(__name__)


class EmbeddingsContext(TypedDict, total=False):
    """arq's ``ctx`` in the embeddings worker."""

    redis: ArqRedis
    job_id: str
    job_try: int
    settings: Settings
    pool: asyncpg.Pool
    executor: Executor
    embedder: Embedder
    vector_storage: store.VectorStorage


async def record_analysis_filings(
    ctx: WorkerContext, job_id: uuid.UUID, result: ResultDocument
) -> list[int]:
    """Store the result's filings and risks, link them to the job, enqueue their embedding.

    Returns the filing ids enqueued; never raises (a failure is logged).
    """
    settings = ctx["settings"]
    try:
        risk_factors = result.risk_factors()
        if not risk_factors:
            return []  # a result without risk texts (e.g. rebuilt from JSON): nothing to store
        filing_ids = []
        async with ctx["pool"].acquire() as conn, conn.transaction():
            for info in result.filings:
                risks = risk_factors.get(info.year)
                if risks is None:
                    continue
                filing_id, _ = await store.store_filing(
                    conn,
                    ticker=result.ticker,
                    year=info.year,
                    company=result.company,
                    form=info.form,
                    accession=info.accession,
                    risks=risks,
                )
                await store.link_job(conn, job_id, filing_id)
                filing_ids.append(filing_id)
        for filing_id in filing_ids:
            await enqueue(
                ctx["redis"],
                "generate_embeddings",
                filing_id,
                queue=settings.embeddings_queue_name,
            )
    except Exception:
        log.exception("embeddings_schedule_failed")
        return []
    log.info("embeddings_scheduled", filings=filing_ids)
    return filing_ids


async def generate_embeddings(ctx: EmbeddingsContext, filing_id: int) -> int:
    """Embed the filing's risks not yet embedded with the configured model; returns how many."""
    settings = ctx["settings"]
    embedder = ctx["embedder"]
    attempt = ctx.get("job_try", 1)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        job_id=ctx.get("job_id"), filing_id=filing_id, model=embedder.model, attempt=attempt
    )
    pending = await store.pending_risks(ctx["pool"], filing_id, embedder.model)
    done = 0
    try:
        for start in range(0, len(pending), settings.embedding_batch_size):
            batch = pending[start : start + settings.embedding_batch_size]
            vectors = await embedder.embed([risk.text for risk in batch])
            await store.store_embeddings(
                ctx["pool"], ctx["vector_storage"], embedder.model, [r.id for r in batch], vectors
            )
            done += len(batch)
    except PermanentError as exc:
        log.warning("embeddings_failed", reason=str(exc), embedded=done)
        return done
    except Exception as exc:
        retry = retry_later(exc, attempt, settings)
        if retry is None:
            log.exception("embeddings_failed", embedded=done)
            return done
        log.warning(
            "embeddings_retrying",
            reason=str(exc) or type(exc).__name__,
            defer_s=round(retry_delay(retry), 2),
            embedded=done,
        )
        raise retry from exc
    log.info("embeddings_stored", embedded=done)
    return done
