"""What a route declares about itself for the OpenAPI document, next to its endpoint.

An endpoint carries one :class:`Operation` per HTTP method it serves, attached by the
:func:`operation` decorator; :func:`delegates` gives a dispatching endpoint (one route,
several methods, so a 405 names them all) the operations of the functions it calls.
:mod:`riskdrift.api.openapi` walks the app's route table and builds the document from
these declarations and the pydantic models they name; it refuses a route without one.

Only what the code cannot say is written here: summaries, descriptions, query and
header parameters (the routes parse them by hand), the answers and their models, the
problem statuses a route can give. Path parameters, 401s, ``security``, ``Retry-After``
on 429/503 and the schemas themselves are derived.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
Location = Literal["query", "header", "path"]
Schema = Mapping[str, Any]

ATTRIBUTE = "__openapi_operations__"
TEXT: Schema = {"type": "string"}
UUID: Schema = {"type": "string", "format": "uuid"}

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class Param:
    """A query, header or path parameter."""

    name: str
    location: Location = "query"
    schema: Schema = field(default_factory=lambda: TEXT)
    required: bool = False
    description: str | None = None
    example: Any = None


@dataclass(frozen=True)
class Answer:
    """One successful response: a JSON ``model``, other ``media`` types, headers."""

    description: str
    model: type[BaseModel] | None = None
    media: Mapping[str, Schema | type[BaseModel]] = field(default_factory=dict)
    headers: Mapping[str, Schema] = field(default_factory=dict)  # name -> Header Object


@dataclass(frozen=True)
class Operation:
    """One method of one route."""

    summary: str
    answers: Mapping[int | str, Answer]  # status, or a range such as "2XX"
    description: str | None = None
    params: Sequence[Param] = ()
    body: type[BaseModel] | Schema | None = None  # a model, or a schema where none exists
    problems: Sequence[int] = ()
    retry_after: Sequence[int] = ()  # problems that name Retry-After besides 429 and 503


def operation(
    method: Method,
    summary: str,
    *,
    answers: Mapping[int | str, Answer],
    description: str | None = None,
    params: Sequence[Param] = (),
    body: type[BaseModel] | None = None,
    problems: Sequence[int] = (),
    retry_after: Sequence[int] = (),
) -> Callable[[Endpoint], Endpoint]:
    """Declare how ``method`` of the decorated endpoint answers.

    ``problems`` lists the RFC 9457 statuses it can give besides 401 (added to every
    operation that needs a key); ``retry_after`` those of them that carry ``Retry-After``
    (429 and 503 always do).
    """
    declared = Operation(
        summary=summary,
        answers=answers,
        description=description,
        params=params,
        body=body,
        problems=problems,
        retry_after=retry_after,
    )

    def attach(endpoint: Endpoint) -> Endpoint:
        operations = dict(operations_of(endpoint))
        if method in operations:
            raise ValueError(f"{endpoint.__qualname__} declares {method} twice")
        operations[method] = declared
        setattr(endpoint, ATTRIBUTE, operations)
        return endpoint

    return attach


def delegates(*handlers: Callable[..., Any]) -> Callable[[Endpoint], Endpoint]:
    """The decorated endpoint dispatches by method to ``handlers``: it documents as they do."""

    def attach(endpoint: Endpoint) -> Endpoint:
        operations: dict[str, Operation] = {}
        for handler in handlers:
            for method, declared in operations_of(handler).items():
                if method in operations:
                    raise ValueError(f"{endpoint.__qualname__}: two handlers declare {method}")
                operations[method] = declared
        setattr(endpoint, ATTRIBUTE, operations)
        return endpoint

    return attach


def operations_of(endpoint: Callable[..., Any]) -> Mapping[str, Operation]:
    """The operations ``endpoint`` declares, by upper-case method (a bound method's too)."""
    operations: Mapping[str, Operation] = getattr(endpoint, ATTRIBUTE, {})
    return operations


# Parameters and answers several routes share.

IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1, "maxLength": 255},
    description="the same key and body return the same job (or batch) instead of a new one",
)
CURSOR = Param("cursor", schema=TEXT, description="`next_cursor` of the previous page")


def limit_param(maximum: int = 200) -> Param:
    """``limit``: how many items a page holds."""
    return Param("limit", schema={"type": "integer", "minimum": 1, "maximum": maximum})


STREAM_ID_PATTERN = "^([0-9]+-[0-9]+)?$"  # a Redis Stream entry id, or empty for the start


def last_event_id(pattern: str | None = None) -> Param:
    """The ``Last-Event-ID`` header an SSE client resends when it reconnects."""
    schema: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        schema["pattern"] = pattern
    return Param("Last-Event-ID", "header", schema)


# One Server-Sent Event as a client parses it; `data` is the JSON of the event (or of the
# resource's view, for `resync`).
SSE_EVENT: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "data": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
EVENT_STREAM = Answer("event stream", media={"text/event-stream": SSE_EVENT})


def created(description: str, model: type[BaseModel]) -> Answer:
    """A 201 or 202 answer (or an Idempotency-Key replay's 200) whose ``Location`` names
    the resource."""
    return Answer(
        description,
        model,
        headers={"Location": {"description": "the new resource's path", "schema": TEXT}},
    )
