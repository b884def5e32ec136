"""``/docs`` and ``/openapi.json``: readable without a key, served offline, bearer auth declared."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from tests.conftest import serve

pytestmark = pytest.mark.integration


@pytest.fixture
async def anonymous(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a key against an app that requires one."""
    app = create_app(settings.model_copy(update={"auth_enabled": True}))
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        yield http


async def test_openapi_needs_no_key_and_declares_bearer_auth(
    anonymous: httpx.AsyncClient,
) -> None:
    assert (await anonymous.get("/jobs")).status_code == 401
    response = await anonymous.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "security" not in spec["paths"]["/analyze"]["post"]  # inherits the default


async def test_docs_page_loads_only_its_own_assets(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert all(src.startswith("/docs/") for src in sources), sources  # no CDN
    for src in [*sources, "/docs/init.js"]:
        asset = await anonymous.get(src)
        assert asset.status_code == 200, src
        assert len(asset.content) > 0
    bundle = await anonymous.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    assert len(bundle.content) > 100_000  # the real Swagger UI bundle, not a stub
    init = (await anonymous.get("/docs/init.js")).text
    assert '"/openapi.json"' in init
    assert "http" not in init
