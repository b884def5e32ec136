"""The OpenAPI 3.1 document, generated from the app's route table and the pydantic models.

:func:`build_openapi` walks the routes (Starlette's own walk: mounts, converters, HEAD
dropped, ``include_in_schema=False`` skipped) and reads the :class:`~riskdrift.api.spec.Operation`
each endpoint declares next to itself. Request bodies and responses are ``$ref``\\ s into
``components/schemas``, which pydantic's ``models_json_schema`` makes from the models the
operations name (request bodies in validation mode, responses in serialization mode).
Derived, never written per route: path parameters, the 401 problem and ``security: []``
of the public paths (those :mod:`riskdrift.api.auth` lets through), ``Retry-After`` on
429 and 503. A route without a declaration, or a declaration for a method its route does
not serve, is an error when the app is built.

Why a small generator rather than a library: the routes parse their input by hand and
answer problem+json, SSE, CSV, SVG and HTML, so a library that validates requests itself
(spectree) would change the API's answers, Starlette's ``SchemaGenerator`` reads YAML
from docstrings with no link to the models (and one docstring per function, while
``/batches`` and ``/watchlists`` dispatch several methods from one), and apispec needs a
third-party pydantic plugin. What is left is ~150 lines over ``models_json_schema``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.routing import BaseRoute
from starlette.schemas import BaseSchemaGenerator

from riskdrift import __version__
from riskdrift.api.auth import is_public
from riskdrift.api.spec import TEXT, UUID, Answer, Operation, Param, Schema, operations_of
from riskdrift.errors import RouteNotDocumented
from riskdrift.models import Problem
from riskdrift.webhooks.signing import WebhookPayload

REF = "#/components/schemas/{model}"
PROBLEM_JSON = "application/problem+json"

# The schema of each path parameter, by name; a route may declare its own instead.
PATH_PARAMETERS: dict[str, Schema] = {
    "job_id": UUID,
    "batch_id": UUID,
    "watchlist_id": UUID,
    "ticker": TEXT,
}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}
WWW_AUTHENTICATE_HEADER = {
    "WWW-Authenticate": {"description": '`Bearer realm="riskdrift"`', "schema": TEXT}
}
PROBLEM_DESCRIPTIONS = {
    429: "problem details (RFC 9457): over the submission rate limit "
    "(`rate-limited`) or the tenant's queued-jobs cap (`queue-full`)",
}

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `riskdrift keys create NAME --tenant T`. "
        "GET requests may pass it as `?key=` instead (for EventSource).",
    }
}

_PATH_PARAMETER = re.compile(r"{([^}]+)}")


def documented_operations(routes: Sequence[BaseRoute]) -> dict[str, dict[str, Operation]]:
    """Every ``path -> method -> Operation`` of ``routes``; raises :class:`RouteNotDocumented`."""
    served: dict[tuple[str, Any], set[str]] = {}
    for endpoint in BaseSchemaGenerator().get_endpoints(list(routes)):
        served.setdefault((endpoint.path, endpoint.func), set()).add(endpoint.http_method.upper())
    paths: dict[str, dict[str, Operation]] = {}
    for (path, func), methods in served.items():
        declared = operations_of(func)
        name = getattr(func, "__qualname__", repr(func))
        if missing := methods - declared.keys():
            raise RouteNotDocumented(f"{sorted(missing)} {path} ({name}) has no operation")
        if extra := declared.keys() - methods:
            raise RouteNotDocumented(f"{name} documents {sorted(extra)} {path}: not routed")
        for method in sorted(methods):
            paths.setdefault(path, {})[method] = declared[method]
    return paths


def build_openapi(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The whole document for ``routes``; served at ``/openapi.json`` (and read by ``/docs``)."""
    operations = documented_operations(routes)
    schemas = _Schemas(_models(operations, WEBHOOKS.values()))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "riskdrift",
            "version": __version__,
            "description": "Jobs that analyse 10-K risk-factor drift between fiscal years.",
        },
        "paths": {
            path: {
                method.lower(): schemas.operation(op, path=path, public=is_public(path))
                for method, op in by_method.items()
            }
            for path, by_method in operations.items()
        },
        "webhooks": {
            name: {"post": schemas.operation(op, path=None, public=True, webhook=True)}
            for name, op in WEBHOOKS.items()
        },
        "components": {"schemas": schemas.definitions, "securitySchemes": SECURITY_SCHEMES},
        # Every operation needs a key but the public ones, which say `security: []`.
        "security": [{"bearerAuth": []}],
    }


def _models(
    operations: Mapping[str, Mapping[str, Operation]], webhooks: Iterable[Operation]
) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Each model an operation names, with the mode it is read in: bodies are validated,
    answers serialised."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Problem, "serialization"): None}
    every = [op for by_method in operations.values() for op in by_method.values()]
    for op in every:
        if isinstance(op.body, type):
            wanted[(op.body, "validation")] = None
        for answer in op.answers.values():
            for model in _answer_models(answer):
                wanted[(model, "serialization")] = None
    for op in webhooks:  # a webhook's body is what a receiver reads: what riskdrift sends
        if isinstance(op.body, type):
            wanted[(op.body, "serialization")] = None
    return list(wanted)


def _answer_models(answer: Answer) -> list[type[BaseModel]]:
    models = [answer.model] if answer.model is not None else []
    return models + [m for m in answer.media.values() if isinstance(m, type)]


class _Schemas:
    """``components/schemas`` and the ``$ref`` of each model in it."""

    def __init__(self, models: list[tuple[type[BaseModel], JsonSchemaMode]]) -> None:
        refs, top = models_json_schema(models, ref_template=REF)
        self.refs = refs
        self.definitions: dict[str, Any] = top["$defs"]

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self.refs[(model, mode)])

    def operation(
        self, op: Operation, *, path: str | None, public: bool, webhook: bool = False
    ) -> dict[str, Any]:
        document: dict[str, Any] = {"summary": op.summary}
        if op.description is not None:
            document["description"] = op.description
        parameters = _path_parameters(path, op.params) + [
            _parameter(p) for p in op.params if p.location != "path"
        ]
        if parameters:
            document["parameters"] = parameters
        if op.body is not None:
            mode: JsonSchemaMode = "serialization" if webhook else "validation"
            body = self.ref(op.body, mode) if isinstance(op.body, type) else dict(op.body)
            document["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        responses = {str(status): self.answer(a) for status, a in op.answers.items()}
        problems = [*op.problems, *([] if public else [401])]
        responses.update({str(status): self.problem(status, op.retry_after) for status in problems})
        document["responses"] = responses
        if public and not webhook:
            document["security"] = []
        return document

    def answer(self, answer: Answer) -> dict[str, Any]:
        document: dict[str, Any] = {"description": answer.description}
        content: dict[str, Any] = {}
        if answer.model is not None:
            content["application/json"] = {"schema": self.ref(answer.model, "serialization")}
        for media_type, schema in answer.media.items():
            if isinstance(schema, type):
                content[media_type] = {"schema": self.ref(schema, "serialization")}
            else:
                content[media_type] = {"schema": dict(schema)}
        if content:
            document["content"] = content
        if answer.headers:
            document["headers"] = {name: dict(h) for name, h in answer.headers.items()}
        return document

    def problem(self, status: int, retry_after: Sequence[int] = ()) -> dict[str, Any]:
        """A problem answer; a 429 or 503 also names its ``Retry-After`` header, a 401 its
        ``WWW-Authenticate``."""
        document: dict[str, Any] = {
            "description": PROBLEM_DESCRIPTIONS.get(status, "problem details (RFC 9457)"),
            "content": {PROBLEM_JSON: {"schema": self.ref(Problem, "serialization")}},
        }
        if status in (429, 503, *retry_after):
            document["headers"] = RETRY_AFTER_HEADER
        elif status == 401:
            document["headers"] = WWW_AUTHENTICATE_HEADER
        return document


def _path_parameters(path: str | None, declared: Sequence[Param]) -> list[dict[str, Any]]:
    """The parameters named in ``path``, in order: a declared one as declared, else the
    schema :data:`PATH_PARAMETERS` gives its name."""
    if path is None:
        return []
    own = {p.name: p for p in declared if p.location == "path"}
    parameters = []
    for name in _PATH_PARAMETER.findall(path):
        if name in own:
            parameters.append(_parameter(own.pop(name)))
        elif name in PATH_PARAMETERS:
            parameters.append(_parameter(Param(name, "path", PATH_PARAMETERS[name])))
        else:
            raise RouteNotDocumented(f"{path}: no schema for path parameter {name!r}")
    if own:
        raise RouteNotDocumented(f"{path} has no path parameter {sorted(own)}")
    return parameters


def _parameter(param: Param) -> dict[str, Any]:
    document: dict[str, Any] = {"name": param.name, "in": param.location}
    if param.required or param.location == "path":
        document["required"] = True
    if param.description is not None:
        document["description"] = param.description
    document["schema"] = dict(param.schema)
    if param.example is not None:
        document["example"] = param.example
    return document


# The Standard Webhooks headers every delivery carries.
_SIGNATURE_HEADERS = (
    Param(
        "webhook-id",
        "header",
        required=True,
        description="fixed per job and type: de-duplicate on it",
    ),
    Param(
        "webhook-timestamp",
        "header",
        {"type": "string", "pattern": "^[0-9]+$"},
        required=True,
        description="the attempt time, integer epoch seconds",
    ),
    Param(
        "webhook-signature",
        "header",
        required=True,
        description='`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret, '
        "space-separated; verify with any Standard Webhooks library",
    ),
)
_RECEIVED: dict[int | str, Answer] = {
    "2XX": Answer(
        "any 2xx delivers; 410 stops (`gone`); anything else (3xx, 4xx, 5xx, a timeout) "
        "is retried with backoff (at least `Retry-After`), 8 attempts in all"
    )
}
_JOB_WEBHOOK = (
    "Sent to the job's `callback_url` when it ends, signed per Standard Webhooks. "
    "`links` are absolute (`RISKDRIFT_PUBLIC_URL`); `summary` or `error` is null. "
    "The body is built once when the job finishes and stored, so every attempt sends "
    "the same bytes."
)


def _envelope(event_type: str, data: str) -> Schema:
    """``{"type", "timestamp", "data"}``, as every riskdrift webhook, ``data`` in words."""
    return {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"const": event_type},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {"type": "object", "description": data},
        },
    }


# What riskdrift POSTs to a callback_url. The bodies of batch.completed and
# filing.analysed are built as dicts (riskdrift/jobs/batches.py, riskdrift/watch/notify.py),
# so only their envelope is a schema and their data is described.
WEBHOOKS: dict[str, Operation] = {
    "job.completed": Operation(
        summary="A job completed: its summary and (`data.result`) the analysis",
        description=_JOB_WEBHOOK,
        params=_SIGNATURE_HEADERS,
        body=WebhookPayload,
        answers=_RECEIVED,
    ),
    "job.failed": Operation(
        summary="A job failed: `data.error` says why",
        description=_JOB_WEBHOOK,
        params=_SIGNATURE_HEADERS,
        body=WebhookPayload,
        answers=_RECEIVED,
    ),
    "batch.completed": Operation(
        summary="Every job of a batch ended",
        description="Sent once to the batch's `callback_url` when its last job ends.",
        params=_SIGNATURE_HEADERS,
        body=_envelope(
            "batch.completed",
            "`batch_id`, `total` (jobs), `counts` (jobs by state), `links` "
            "(`self`, `results`: absolute URLs)",
        ),
        answers=_RECEIVED,
    ),
    "filing.analysed": Operation(
        summary="A watchlist's analysis of a new filing ended (completed or failed)",
        description="Sent to the watchlist's `callback_url`; the same data is the "
        "`filing_analysed` event of `GET /stream/watchlists/{watchlist_id}`.",
        params=_SIGNATURE_HEADERS,
        body=_envelope(
            "filing.analysed",
            "`watchlist_id`, `watchlist` (its name), `ticker`, `filing` (`key`, `form`, "
            "`fiscal_year`), `job_id`, `years`, `status`, `error`, `similarity`, `risks`, "
            "`links` (`job`, `result`, `report`, `watchlist`: absolute URLs)",
        ),
        answers=_RECEIVED,
    ),
}
