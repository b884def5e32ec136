"""structlog set-up: JSON lines in production, a readable console in development.

Context such as ``job_id`` and ``request_id`` is bound through contextvars
(``clear_contextvars()`` then ``bind_contextvars(...)``) so every line of a
request or job carries it. A redaction processor removes secrets from every
event before it is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from riskdrift.config import Settings

SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|authorization|dsn|credential)", re.IGNORECASE
)
# user:password@ in URLs, whsec_ secrets, bearer tokens, rdk_ API keys
SECRET_VALUES = re.compile(
    r"(?<=://)([^/\s:@]+):[^@\s/]+@|whsec_[A-Za-z0-9+/=]+|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+|rdk_[A-Za-z0-9_-]+"
)
REDACTED = "[redacted]"


def _scrub(value: str) -> str:
    return SECRET_VALUES.sub(
        lambda m: f"{m.group(1)}:{REDACTED}@" if m.group(1) else REDACTED, value
    )


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop values of secret-looking keys and mask secrets inside strings."""
    for key, value in list(event_dict.items()):
        if SECRET_KEYS.search(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = _scrub(value)
    return event_dict


def _stderr_logger(*args: Any) -> structlog.PrintLogger:
    # Look sys.stderr up per logger: a test runner may swap and close it.
    return structlog.PrintLogger(sys.stderr)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that always writes to the current ``sys.stderr``."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # the stream is always the current sys.stderr


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the standard library logging for this process."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any
    if settings.json_logs:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        # Plain tracebacks: structlog's default (rich, with every frame's locals) takes
        # ~1 s of CPU per traceback on a busy machine, on the event loop, where a
        # worker's heartbeat must beat every second: a few tracebacks logged during a
        # Postgres restart let running jobs' claims lapse and a second worker ran them
        # at the same time (bench/bench_chaos.py). plain_traceback takes ~1 ms.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        # Not cached: tests (structlog.testing.capture_logs) and re-configuration must take effect.
        cache_logger_on_first_use=False,
    )
    # Route arq's and uvicorn's stdlib logs through the same redaction and format.
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                *shared,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # httpx logs every request's full URL at INFO. Webhook callback URLs often carry
    # tokens in their path or query; our own webhook_delivered / EDGAR lines log the
    # origin and outcome instead, so httpx speaks up only for warnings.
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
