"""Following a job or a batch from a terminal: its SSE stream, resumed across reconnects.

:func:`stream_messages` is the one reconnect loop of the terminal: it reads an SSE
stream of the API (``GET /stream/{id}`` for a job, ``GET /batches/{id}/stream`` for a
batch) with httpx-sse and reconnects on a dropped connection with ``Last-Event-ID``, so
a restarted API or a network blip costs no event. It ends after the caller's final
message, or on ``204`` (the stream had already ended). :func:`job_messages` is a job's
stream (final: the terminal event, or a last ``resync`` of a finished job whose history
is gone); :func:`follow_job` draws a rich progress bar from it and returns the job's
final state (``riskdrift submit --follow``, ``riskdrift watch``, ``riskdrift dev``);
:func:`riskdrift.client.batches.follow_batch` reads a batch's stream through
:func:`stream_messages` too.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from httpx_sse import aconnect_sse
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from riskdrift.client.api import check, connect
from riskdrift.errors import RiskdriftError
from riskdrift.models import TERMINAL_EVENTS

log = structlog.get_logger(__name__)

FINISHED = frozenset({"completed", "failed", "cancelled"})
READ_TIMEOUT = 45.0  # three missed keep-alive pings (sent every 15 s)


@dataclass(frozen=True)
class StreamMessage:
    """One event of a job's or a batch's stream: its id, name and JSON data."""

    id: str
    event: str
    data: dict[str, Any]

    def ends_job(self) -> bool:
        """Whether nothing follows this message in a job's stream: the terminal event, or
        the last ``resync`` of a finished job whose history is gone."""
        if self.event in TERMINAL_EVENTS:
            return True
        return (
            self.event == "resync"
            and self.data.get("status") in FINISHED
            and self.id.startswith("18446744073709551615-")
        )


async def stream_messages(
    client: httpx.AsyncClient,
    path: str,
    *,
    what: str,
    final: Callable[[StreamMessage], bool],
    last_event_id: str | None = None,
    max_backoff: float = 10.0,
    max_failures: int | None = None,
) -> AsyncIterator[StreamMessage]:
    """Every event of the SSE stream at ``path`` after ``last_event_id``, across reconnects,
    until one that ``final`` says ends it, or a ``204`` (the stream has ended).

    ``what`` names the stream in errors and logs. A ``400``/``401``/``403``/``404`` is the
    one-line error of :func:`~riskdrift.client.api.check`; a dropped connection or another
    status reconnects after a jittered, growing wait (at least a quarter of the server's
    ``retry:``). With ``max_failures``, that many failed connections in a row (none
    delivered an event) end in a :class:`~riskdrift.errors.RiskdriftError`.
    """
    backoff = 0.2
    retry_ms = 2000
    failures = 0
    while True:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        try:
            async with aconnect_sse(
                client,
                "GET",
                path,
                headers=headers,
                timeout=httpx.Timeout(10, read=READ_TIMEOUT),
            ) as source:
                status = source.response.status_code
                if status == 204:
                    return
                if status in (404, 401, 403, 400):
                    await source.response.aread()
                    check(source.response, what)
                if status != 200:
                    raise httpx.HTTPStatusError(
                        f"HTTP {status}", request=source.response.request, response=source.response
                    )
                async for sse in source.aiter_sse():
                    if sse.retry is not None:
                        retry_ms = sse.retry
                    if not sse.data:
                        continue
                    message = StreamMessage(sse.id, sse.event, json.loads(sse.data))
                    last_event_id = sse.id or last_event_id
                    backoff = 0.2
                    failures = 0
                    yield message
                    if final(message):
                        return
            log.info("stream_ended_early", stream=path, last_event_id=last_event_id)
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            failures += 1
            if max_failures is not None and failures > max_failures:
                raise RiskdriftError(f"lost the {what}: {exc}") from exc
            log.info(
                "stream_reconnecting",
                stream=path,
                error=type(exc).__name__,
                last_event_id=last_event_id,
            )
        delay = min(max(retry_ms / 1000 * 0.25, backoff), max_backoff)
        await asyncio.sleep(random.uniform(delay / 2, delay))
        backoff = min(backoff * 2, max_backoff)


def job_messages(
    client: httpx.AsyncClient,
    job_id: str,
    *,
    last_event_id: str | None = None,
    max_backoff: float = 10.0,
) -> AsyncIterator[StreamMessage]:
    """Every event of ``job_id``'s stream after ``last_event_id``, across reconnects."""
    return stream_messages(
        client,
        f"/stream/{job_id}",
        what=f"stream of job {job_id}",
        final=StreamMessage.ends_job,
        last_event_id=last_event_id,
        max_backoff=max_backoff,
    )


async def follow_job(
    api_url: str,
    job_id: str,
    *,
    console: Console,
    api_key: str | None = None,
    give_up_after: float | None = None,
) -> dict[str, Any]:
    """Show ``job_id``'s progress as a bar until it ends; returns ``GET /jobs/{id}``."""
    async with connect(api_url, api_key=api_key, request_timeout=10) as client:
        with Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("connecting", total=100)
            async with asyncio.timeout(give_up_after):
                async for message in job_messages(client, job_id):
                    data = message.data
                    progress = data.get("progress")
                    label = _label(message)
                    if isinstance(progress, int):
                        bar.update(task, completed=progress, description=label)
                    else:
                        bar.update(task, description=label)
            job: dict[str, Any] = check(await client.get(f"/jobs/{job_id}"), f"job {job_id}")
            if job["status"] == "completed":
                bar.update(task, completed=100, description="completed")
    return job


def _label(message: StreamMessage) -> str:
    data = message.data
    if message.event == "step_complete":
        return str(data.get("step") or "working")
    if message.event == "resync":
        return str(data.get("step") or data.get("status") or "resync")
    if message.event == "job_retrying":
        return f"retrying (attempt {data.get('attempt')})"
    return message.event.removeprefix("job_")


def print_summary(console: Console, result: dict[str, Any]) -> None:
    """The result's summary and recommendations, as ``riskdrift dev`` shows them."""
    console.rule(
        f"{result.get('company', '')} ({result.get('ticker', '')}) {result.get('years', '')}"
    )
    console.print(result["summary"])
    for rec in result.get("recommendations", []):
        console.print(f" • {rec}")
    console.rule()


async def submit_and_follow(
    api_url: str,
    ticker: str,
    years: list[int],
    *,
    console: Console,
    callback_url: str | None = None,
    api_key: str | None = None,
    follow: bool = True,
    give_up_after: float | None = None,
) -> int:
    """``riskdrift submit``: POST /analyze, then optionally follow and print the summary."""
    body: dict[str, Any] = {"ticker": ticker, "years": years}
    if callback_url:
        body["callback_url"] = callback_url
    async with connect(api_url, api_key=api_key, request_timeout=10) as client:
        job_id = str(check(await client.post("/analyze", json=body), "submit")["job_id"])
    console.print(f"job {job_id} queued  ({api_url}/jobs/{job_id})")
    if not follow:
        return 0
    return await watch(
        api_url, job_id, console=console, api_key=api_key, give_up_after=give_up_after
    )


async def watch(
    api_url: str,
    job_id: str,
    *,
    console: Console,
    api_key: str | None = None,
    give_up_after: float | None = None,
) -> int:
    """``riskdrift watch``: follow a job, then print its summary (or its error)."""
    job = await follow_job(
        api_url, job_id, console=console, api_key=api_key, give_up_after=give_up_after
    )
    if job["status"] != "completed":
        console.print(f"[red]job {job['status']}[/red]: {job.get('error') or ''}")
        return 1
    async with connect(api_url, api_key=api_key, request_timeout=10) as client:
        result = check(await client.get(f"/jobs/{job_id}/result"), f"result of job {job_id}")
    print_summary(console, result)
    return 0
