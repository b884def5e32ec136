"""The error tree of :mod:`riskdrift.errors` is the API's one HTTP mapping.

Every error class maps to the status, ``type`` and ``title`` it declares (the
``type`` values are a contract with clients: they are pinned here), with its
message as ``detail``, its ``errors`` and its headers; no other module declares
an HTTP error or builds a problem document by hand.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.exceptions
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from riskdrift import errors
from riskdrift.api.middleware import BodySizeLimit
from riskdrift.api.problems import EXCEPTION_HANDLERS, PROBLEM_JSON
from riskdrift.errors import PROBLEM_TYPE_BASE, RiskdriftError

PACKAGE = Path(__file__).resolve().parent.parent / "riskdrift"

#: What clients see today. Changing a ``type`` breaks them: change it here only on purpose.
CONTRACT: dict[str, tuple[int, str]] = {
    "InvalidRequest": (422, "validation"),
    "InvalidQuery": (422, "validation"),
    "InvalidTicker": (422, "validation"),
    "InvalidCallbackURL": (422, "callback-url"),
    "IdempotencyKeyReused": (422, "idempotency-conflict"),
    "MalformedJSON": (400, "malformed-json"),
    "UnknownQueryParameter": (400, "validation"),
    "UnknownResultField": (400, "validation"),
    "ConflictingParameters": (400, "validation"),
    "InvalidIdempotencyKey": (400, "idempotency-key"),
    "MalformedLastEventID": (400, "last-event-id"),
    "Unauthorized": (401, "unauthorized"),
    "JobNotFound": (404, "not-found"),
    "BatchNotFound": (404, "not-found"),
    "NoResult": (409, "no-result"),
    "NotCancellable": (409, "not-cancellable"),
    "NotRetryable": (409, "not-retryable"),
    "NotRedeliverable": (409, "not-redeliverable"),
    "PayloadTooLarge": (413, "too-large"),
    "UnsupportedMediaType": (415, "media-type"),
    "ResultMissing": (500, "about:blank"),
    "SearchUnavailable": (503, "search-unavailable"),
    "DependencyUnavailable": (503, "unavailable"),
    "RateLimited": (429, "rate-limited"),
    "QueueFull": (429, "queue-full"),
}

ERROR_CLASSES = sorted(
    (
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, RiskdriftError) and cls.__module__ == errors.__name__
    ),
    key=lambda cls: cls.__name__,
)


def _raising(exc: Exception) -> Starlette:
    async def endpoint(request: Request) -> Response:
        raise exc

    return Starlette(routes=[Route("/boom", endpoint)], exception_handlers=EXCEPTION_HANDLERS)


async def _answer(exc: Exception) -> httpx.Response:
    transport = httpx.ASGITransport(app=_raising(exc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/boom")


def test_the_tree_is_complete() -> None:
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert set(CONTRACT) <= names
    for cls in ERROR_CLASSES:
        assert 100 <= cls.status <= 599, cls
        assert cls.title, cls
        assert cls.problem_type == "about:blank" or (
            cls.problem_type.replace("-", "").isalnum() and cls.problem_type.islower()
        ), cls
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} missing from the tree"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
async def test_every_error_maps_to_its_declared_problem(cls: type[RiskdriftError]) -> None:
    exc = cls("what went wrong")
    response = await _answer(exc)
    assert response.status_code == cls.status
    assert response.headers["content-type"] == PROBLEM_JSON
    expected_type = (
        "about:blank" if cls.problem_type == "about:blank" else PROBLEM_TYPE_BASE + cls.problem_type
    )
    assert response.json() == {
        "type": expected_type,
        "title": cls.title,
        "status": cls.status,
        "detail": "what went wrong",
        "instance": "/boom",
    }
    if cls.__name__ in CONTRACT:
        assert (cls.status, cls.problem_type) == CONTRACT[cls.__name__]
    if cls.__name__ == "DependencyUnavailable":
        assert response.headers["retry-after"] == "5"
    else:
        assert "retry-after" not in response.headers


async def test_errors_and_headers_go_through() -> None:
    fields = [{"field": "limit", "message": "an integer from 1 to 200"}]
    response = await _answer(errors.InvalidQuery("invalid query parameter(s)", errors=fields))
    assert response.json()["errors"] == fields

    response = await _answer(errors.QueueFull("full", retry_after=29.2))
    assert (response.status_code, response.headers["retry-after"]) == (429, "30")

    response = await _answer(errors.NoResult("job is queued", retry_after=2))
    assert (response.status_code, response.headers["retry-after"]) == (409, "2")

    response = await _answer(errors.Unauthorized("send Authorization: Bearer <key>"))
    assert response.headers["www-authenticate"] == 'Bearer realm="riskdrift"'


async def test_a_lost_connection_is_a_503_to_retry() -> None:
    response = await _answer(redis.exceptions.ConnectionError("Connection refused"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == PROBLEM_TYPE_BASE + "unavailable"
    assert "Connection refused" not in response.text


async def test_a_bug_is_a_500_without_detail() -> None:
    response = await _answer(ZeroDivisionError("secret internals"))
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal server error",
        "status": 500,
        "instance": "/boom",
    }


# --- one home: the AST of the rest of the package ------------------------------------------

HTTP_ATTRIBUTES = {"status", "problem_type", "title"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "errors.py")


def _base_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.add(base.id)
        elif isinstance(base, ast.Attribute):
            names.add(base.attr)
    return names


def _is_exception(node: ast.ClassDef) -> bool:
    tree = {cls.__name__ for cls in ERROR_CLASSES}
    return any(
        name in tree or name.endswith(("Error", "Exception")) or name == "Exception"
        for name in _base_names(node)
    )


def _assigned(node: ast.ClassDef) -> set[str]:
    names = set()
    for statement in node.body:
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_the_error_tree_lives_in_errors_py() -> None:
    """Every class of the tree is declared in errors.py (the other packages import theirs
    from it); elsewhere only private control-flow exceptions that never leave their module
    (``_NoNarrative``) or plain ``ValueError``s may be defined, and none declares an HTTP
    mapping; the API package defines no exception classes at all."""
    found = []
    tree = {cls.__name__ for cls in ERROR_CLASSES} | {"RiskdriftError"}
    for path in _modules():
        where = path.relative_to(PACKAGE)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ClassDef) and _is_exception(node)):
                continue
            if _base_names(node) & tree:
                found.append(f"{where}: {node.name} extends the tree outside errors.py")
            elif where.parts[0] == "api":
                found.append(f"{where}: {node.name} is an exception class in the API")
            elif _assigned(node) & HTTP_ATTRIBUTES:
                found.append(f"{where}: {node.name} declares {_assigned(node) & HTTP_ATTRIBUTES}")
            elif not node.name.startswith("_") and "ValueError" not in _base_names(node):
                found.append(f"{where}: {node.name} is a public exception outside the tree")
    assert not found, found


def test_no_route_builds_a_problem_by_hand() -> None:
    builders = []
    for path in _modules():
        if path == PACKAGE / "api" / "problems.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"Problem", "problem_response"}
            ):
                builders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not builders, builders


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_body_is_the_same_413_declared_or_streamed(declared: bool) -> None:
    async def endpoint(request: Request) -> Response:
        return Response(await request.body())

    app = Starlette(
        routes=[Route("/upload", endpoint, methods=["POST"])],
        middleware=[Middleware(BodySizeLimit, max_bytes=10)],
        exception_handlers=EXCEPTION_HANDLERS,
    )

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"12345"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/upload", content=b"x" * 20 if declared else chunks())
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": PROBLEM_TYPE_BASE + "too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": "the request body exceeds 10 bytes",
        "instance": "/upload",
    }
