"""The test doubles, in one place: what stands in for the parts a test must control.

Everything else in the tests is real (Redis, Postgres, the API, arq workers, HTTP on
loopback). A double replaces only

- the analysis (:class:`ScriptedAgent`, returning :func:`tiny_result` or what its
  script says), where a test is about the job service and not about 10-K parsing;
- name resolution for webhook callbacks (:class:`ScriptedDNS`), where a test needs a
  hostname to resolve to loopback, to a private address, or not at all;
- the receiver of webhooks (:class:`ScriptedReceiver`): a Starlette app that answers
  each delivery with the next status of a script and verifies every signature with
  the reference ``standardwebhooks`` library; :mod:`tests.doubles.receiver` is the
  receiver scripted by URL path instead, served by uvicorn (also over TLS);
- SEC EDGAR (:mod:`tests.doubles.edgar`): a local HTTP server with EDGAR's URL layout
  serving the recorded responses of ``tests/sources/fixtures`` and the shared corpus.

A double never reaches a user: the service has no setting that selects one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from redis.asyncio import Redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from riskdrift.agent.progress import ProgressReporter
from riskdrift.config import Settings
from riskdrift.models import AnalysisResult, AnalyzeRequest, Heatmap, SimilarityScores
from riskdrift.store.result_document import ResultDocument
from riskdrift.webhooks import generate_secret
from riskdrift.worker.analysis_pool import AnalysisPool
from riskdrift.worker.context import Agent
from riskdrift.worker.settings import build_worker_settings

# --- the analysis ---------------------------------------------------------------------------

Script = Callable[[AnalyzeRequest, ProgressReporter, int], Coroutine[Any, Any, AnalysisResult]]
"""What a :class:`ScriptedAgent` runs: the request, the progress reporter, the call number."""


def tiny_result(request: AnalyzeRequest) -> AnalysisResult:
    """A valid, empty analysis of ``request``: for tests of everything around the analysis."""
    return AnalysisResult(
        ticker=request.ticker,
        company="Test Co",
        cik=None,
        years=request.years,
        filings=[],
        similarity=SimilarityScores(cosine=1, jaccard=1, min_edit=1, simple=1),
        risks=[],
        heatmap=Heatmap(rows=[], columns=[], values=[]),
        summary="s",
        recommendations=[],
    )


class ScriptedAgent:
    """An agent whose every run is the script's; counts its calls (1, 2, ...)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.calls = 0

    async def arun_document(
        self, request: AnalyzeRequest, progress: ProgressReporter
    ) -> ResultDocument:
        """The run's result serialised once, as the worker takes it."""
        return ResultDocument.of(await self.arun(request, progress))

    async def arun(self, request: AnalyzeRequest, progress: ProgressReporter) -> AnalysisResult:
        self.calls += 1
        return await self.script(request, progress, self.calls)


def settings_for(agent: Agent, settings: Settings) -> type:
    """The analysis worker's arq settings with ``agent`` instead of the research agent."""

    @contextlib.asynccontextmanager
    async def factory(
        s: Settings, *, executor: AnalysisPool | None, pool: asyncpg.Pool, redis: Redis
    ) -> AsyncIterator[Agent]:
        yield agent

    return build_worker_settings(settings, agent_factory=factory)


# --- name resolution ------------------------------------------------------------------------


class ScriptedDNS:
    """An injectable resolver for callback hosts.

    ``ScriptedDNS(["127.0.0.1"], ["10.0.0.5"])``: the n-th lookup of any name gets the
    n-th answer (the last one repeats). ``ScriptedDNS(by_name={"a.test": [...]})``: fixed
    answers per name, any other name does not exist (``socket.gaierror``). ``hold=(3,)``
    makes the third lookup wait until :meth:`release` (3). Every lookup is logged in
    :attr:`lookups` as ``(host, port)``.
    """

    def __init__(
        self,
        *answers: Sequence[str],
        by_name: Mapping[str, Sequence[str]] | None = None,
        hold: Sequence[int] = (),
    ) -> None:
        if bool(answers) == (by_name is not None):
            raise ValueError("give either answers in order or answers by name")
        self.answers = list(answers)
        self.by_name = by_name
        self.lookups: list[tuple[str, int]] = []
        self.gates = {n: asyncio.Event() for n in hold}

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append((host, port))
        n = len(self.lookups)
        if n in self.gates:
            await self.gates[n].wait()
        if self.by_name is not None:
            if host not in self.by_name:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return self.by_name[host]
        return self.answers[min(n, len(self.answers)) - 1]

    def release(self, n: int) -> None:
        """Let the ``n``-th lookup (held by ``hold``) answer."""
        self.gates[n].set()


# --- the webhook receiver -------------------------------------------------------------------

SECRET = generate_secret()
"""The webhook signing secret the tests' workers sign with and the receiver verifies."""


@dataclass
class Hook:
    """One webhook request as the receiver saw it, and what it answered."""

    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int


@dataclass
class ScriptedReceiver:
    """Answers each webhook with the next status of a script (then 200); verifies them all.

    A request whose signature does not verify under ``secret`` is answered 401.
    """

    statuses: deque[int] = field(default_factory=deque)
    received: list[Hook] = field(default_factory=list)
    secret: str = SECRET

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        status = (self.statuses.popleft() if self.statuses else 200) if verified else 401
        self.received.append(Hook(headers, body, verified, status))
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.handle, methods=["POST"])])
