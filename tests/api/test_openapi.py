"""The OpenAPI document is generated from the route table: every routed method is in it,
nothing else is, and it is a valid OpenAPI 3.1 document whose ``$ref``\\ s all resolve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from riskdrift.api.app import create_app
from riskdrift.api.openapi import build_openapi
from riskdrift.api.spec import Answer, operation
from riskdrift.config import Settings
from riskdrift.errors import RouteNotDocumented
from riskdrift.models import Job

# Routes deliberately left out of the document (include_in_schema=False): the document's
# viewer and the dashboard page with its own feeds. Hiding another route is a decision
# this list must be told about.
HIDDEN = {
    ("GET", "/docs"),
    ("GET", "/docs/init.js"),
    ("GET", "/dashboard"),
    ("GET", "/dashboard/summary"),
    ("GET", "/dashboard/events"),
    ("GET", "/dashboard/timeseries"),
}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def app() -> Starlette:
    return create_app(Settings())


@pytest.fixture(scope="module")
def document(app: Starlette) -> dict[str, Any]:
    return build_openapi(app.routes)


def routed(app: Starlette) -> Iterator[tuple[str, str, bool]]:
    """``(method, path, in the schema)`` of every route of the table (static mounts aside)."""
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route), route
        for method in (route.methods or set()) - {"HEAD"}:
            yield method, route.path, route.include_in_schema


def test_the_document_has_exactly_the_routed_methods(
    app: Starlette, document: dict[str, Any]
) -> None:
    table = {(m, p) for m, p, shown in routed(app) if shown}
    hidden = {(m, p) for m, p, shown in routed(app) if not shown}
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented - table == set(), "documented but not routed"
    assert table - documented == set(), "routed but not documented"
    assert hidden == HIDDEN
    assert len(table) >= 30


def test_the_app_refuses_an_undocumented_route() -> None:
    async def undocumented(request: Request) -> Response:
        return Response()

    with pytest.raises(RouteNotDocumented, match="/undocumented"):
        build_openapi([Route("/undocumented", undocumented, methods=["GET"])])


def test_a_documented_method_the_route_does_not_serve_is_refused() -> None:
    @operation("POST", "make one", answers={201: Answer("made", Job)})
    @operation("GET", "read them", answers={200: Answer("them", Job)})
    async def things(request: Request) -> Response:
        return Response()

    assert "/things" in build_openapi([Route("/things", things, methods=["GET", "POST"])])["paths"]
    with pytest.raises(RouteNotDocumented, match=r"\['POST'\] /things"):
        build_openapi([Route("/things", things, methods=["GET"])])


def test_a_path_parameter_without_a_schema_is_refused() -> None:
    @operation("GET", "one", answers={200: Answer("it", Job)})
    async def one(request: Request) -> Response:
        return Response()

    with pytest.raises(RouteNotDocumented, match="'gizmo_id'"):
        build_openapi([Route("/gizmos/{gizmo_id}", one, methods=["GET"])])


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    """The official OAS 3.1 schema (as schemathesis ships it) and, for each component,
    the JSON Schema 2020-12 meta-schema; the OAS schema does not look inside those."""
    validator = jsonschema_rs.Draft202012Validator(OPENAPI_31)
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    schemas = document["components"]["schemas"]
    assert [
        name for name, schema in schemas.items() if not jsonschema_rs.meta.is_valid(schema)
    ] == []
    assert document["openapi"] == "3.1.0"


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    found = set(refs(document))
    assert "#/components/schemas/AnalysisResult" in found
    for ref in found:
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict), ref
            assert part in node, ref
            node = node[part]
    # and every component is used by something
    used = {ref.rsplit("/", 1)[1] for ref in found}
    assert set(document["components"]["schemas"]) == used


def test_derived_parts(document: dict[str, Any]) -> None:
    """What no route writes: path parameters, 401, public security, Retry-After, SSE."""
    paths = document["paths"]
    job = paths["/jobs/{job_id}"]["get"]
    assert job["parameters"][0] == {
        "name": "job_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    assert "WWW-Authenticate" in job["responses"]["401"]["headers"]
    assert "application/problem+json" in job["responses"]["404"]["content"]
    for public in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        operation_ = paths[public]["get"]
        assert operation_["security"] == []
        assert "401" not in operation_["responses"]
    submit = paths["/analyze"]["post"]
    assert submit["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AnalyzeRequest"
    }
    assert "Location" in submit["responses"]["202"]["headers"]
    assert "Retry-After" in submit["responses"]["429"]["headers"]
    assert "Retry-After" in submit["responses"]["503"]["headers"]
    assert "Idempotency-Key" in [p["name"] for p in submit["parameters"]]
    stream = paths["/stream/{job_id}"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert "Last-Event-ID" in [p["name"] for p in stream["parameters"]]
    assert set(document["webhooks"]) == {
        "job.completed",
        "job.failed",
        "batch.completed",
        "filing.analysed",
    }


async def test_openapi_json_serves_the_generated_document(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        served = await client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == build_openapi(app.routes)
