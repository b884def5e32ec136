"""``GET /stream/{job_id}``: a job's progress events as Server-Sent Events.

Each frame carries ``id:`` (the Redis Stream entry id), ``event:`` (the event
name) and ``data:`` (the JobEvent JSON). The route parses ``Last-Event-ID`` (the
header, or the ``last_event_id`` query parameter for clients that cannot set
headers), loads the caller's job, opens the job's
:class:`~riskdrift.events.replay.ResumableStream` (exact resumption, ``resync``
with the job's state where entries are gone, the end after the terminal event)
and returns it, or ``204 No Content`` when the client has had the terminal event
already, which tells a browser's ``EventSource`` to stop.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from riskdrift.api.routes_jobs import job_view, load_job
from riskdrift.api.spec import (
    EVENT_STREAM,
    STREAM_ID_PATTERN,
    Answer,
    Param,
    last_event_id,
    operation,
)
from riskdrift.api.sse import ResumableStreamResponse, requested_position
from riskdrift.api.state import AppState, app_state
from riskdrift.events.publish import stream_key
from riskdrift.events.replay import Resync, open_stream
from riskdrift.models import TERMINAL_EVENTS
from riskdrift.store import jobs


def job_state(state: AppState, job_id: uuid.UUID) -> Resync:
    """The job's current ``Job`` view from Postgres: what a ``resync`` event carries."""

    async def read() -> str:
        job = await jobs.get_job(state["pool"], job_id)
        return job_view(job).model_dump_json() if job is not None else "{}"

    return read


@operation(
    "GET",
    "Progress events (Server-Sent Events)",
    description=(
        "Frames carry id (the stream entry id), event and data (JSON). Last-Event-ID "
        "resumes exactly; a trimmed or expired history gives a `resync` event with the Job "
        "view. See docs/SSE.md."
    ),
    params=[
        last_event_id(STREAM_ID_PATTERN),
        Param(
            "last_event_id",
            schema={"type": "string", "pattern": STREAM_ID_PATTERN},
            description="Last-Event-ID for clients that cannot set headers; empty means "
            "from the start",
        ),
    ],
    answers={200: EVENT_STREAM, 204: Answer("the job's stream already ended")},
    problems=(400, 404, 503),
)
async def stream_job(request: Request) -> Response:
    """``GET /stream/{job_id}``."""
    job = await load_job(request)
    requested = requested_position(request)
    state = app_state(request)
    source = await open_stream(
        state["hub"],
        stream_key(job.id),
        requested=requested,
        terminal_events=TERMINAL_EVENTS,
        comment=f"job {job.id}",
        resync=job_state(state, job.id),
        finished=job.status.finished,
        log_fields={"job_id": str(job.id)},
    )
    if source.ended:
        return Response(status_code=204)
    return ResumableStreamResponse(source)
