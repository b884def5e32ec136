"""The HTTP side of the SSE routes: the client's position, and the response.

What is sent (replay, gaps, live tail, the end) is
:class:`riskdrift.events.replay.ResumableStream`'s business; this module parses the
``Last-Event-ID`` a route passes to it and wraps it in an ``EventSourceResponse``.
"""

from __future__ import annotations

import anyio
from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from riskdrift.errors import MalformedLastEventID
from riskdrift.events.hub import StreamId, parse_stream_id
from riskdrift.events.replay import ResumableStream

PING_SECONDS = 15
SEND_TIMEOUT_SECONDS = 30.0
SHUTDOWN_GRACE_SECONDS = 2.0
"""On server shutdown, how long streams get to send their farewell frame."""


def requested_position(request: Request) -> StreamId | None:
    """The ``Last-Event-ID`` header or ``last_event_id`` query value, or a 400 problem."""
    # An empty header (a browser's first connect) defers to the query parameter.
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse_stream_id(raw)
    except ValueError:
        raise MalformedLastEventID(
            "Last-Event-ID must be a stream entry id '<milliseconds>-<sequence>' "
            "as sent in an event's id field"
        ) from None


class ResumableStreamResponse(EventSourceResponse):
    """An SSE response that the hub can cut short when its client falls behind, and
    that says goodbye (``retry: 250``) when the server shuts down."""

    def __init__(self, source: ResumableStream) -> None:
        super().__init__(
            source.frames(),
            ping=PING_SECONDS,
            sep="\n",
            send_timeout=SEND_TIMEOUT_SECONDS,
            # sse-starlette only calls .set() on it: the source says goodbye.
            shutdown_event=source,  # type: ignore[arg-type]
            shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
        )
        self.source = source
        source.abort = self.abort
        self._cancel: anyio.CancelScope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with anyio.CancelScope() as cancel:
            self._cancel = cancel
            try:
                await super().__call__(scope, receive, send)
            except SendTimeoutError:
                self.source.log.info("sse_client_stalled", sent=self.source.sent)
        sub = self.source.subscription
        if cancel.cancelled_caught or (sub is not None and sub.dropped):
            # The response ends without its closing chunk; uvicorn closes the
            # connection once its buffer drains and the client resumes.
            self.source.log.info("sse_stream_cut", sent=self.source.sent)

    def abort(self) -> None:
        """End the response now (the client is too slow to keep up)."""
        if self._cancel is not None:
            self._cancel.cancel()
