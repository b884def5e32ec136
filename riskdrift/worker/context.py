"""The typed context arq hands to every task in this service."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING, Protocol, TypedDict

import asyncpg
import httpx

from riskdrift.agent.progress import ProgressReporter
from riskdrift.config import Settings
from riskdrift.events.batch import EventBatcher
from riskdrift.models import AnalyzeRequest
from riskdrift.queue import ArqRedis
from riskdrift.store.jobs import JobRecord
from riskdrift.store.result_document import ResultDocument
from riskdrift.watch.listing import FilingLister
from riskdrift.webhooks import DeliveryClient
from riskdrift.webhooks.ssrf import Resolver

if TYPE_CHECKING:
    from riskdrift.worker.analysis_pool import AnalysisPool


class Agent(Protocol):
    """What the analysis task needs of a research agent: the result serialised once."""

    async def arun_document(
        self, request: AnalyzeRequest, progress: ProgressReporter
    ) -> ResultDocument: ...


class WorkerContext(TypedDict, total=False):
    """arq's ``ctx``: arq's own keys plus the clients made in ``on_startup``."""

    # arq's own
    redis: ArqRedis
    job_id: str
    job_try: int
    enqueue_time: object
    score: int
    # ours, created once per worker process
    settings: Settings
    pool: asyncpg.Pool
    events: EventBatcher  # progress events, many jobs' to a Redis round trip; over ``redis``
    http: httpx.AsyncClient
    agent: Agent
    executor: Executor | None  # the embeddings worker's thread
    analysis_pool: AnalysisPool | None  # the analysis worker's processes; None: a thread
    webhook_client: DeliveryClient  # create_delivery_client(): a pool per destination
    webhook_resolver: Resolver  # DNS for callback hosts; tests script it
    watch_lister: FilingLister  # the filing watch's view of the filing source (issue 24)
    # per job (arq copies ctx for each job): the row as the attempt left it, so the
    # metrics wrapper need not read it back
    job_record: JobRecord
    analysis_ended: float  # time.monotonic() when the job finished, before its webhook attempt
