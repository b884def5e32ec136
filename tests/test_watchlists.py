"""Watchlists over real HTTP, Postgres and Redis (issue 24): the API, tenant isolation, caps.

The scheduler that acts on them is tested in tests/test_watch.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.routing import Route

from riskdrift.api.app import create_app
from riskdrift.api.openapi import build_openapi
from riskdrift.config import Settings
from riskdrift.store import api_keys
from tests.conftest import serve
from tests.processes import run_cli

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "auth_enabled": True,
            "api_key_cache_ttl": 0.0,
            "max_watched_companies_per_tenant": 5,
            "max_watchlists_per_tenant": 3,
        }
    )


@pytest.fixture
async def clients(
    auth_settings: Settings, db: asyncpg.Pool
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    _, alice = await api_keys.create_key(db, name="alice", tenant="tenant-a")
    _, bob = await api_keys.create_key(db, name="bob", tenant="tenant-b")
    async with (
        serve(create_app(auth_settings)) as base_url,
        httpx.AsyncClient(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {alice}"}
        ) as a,
        httpx.AsyncClient(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {bob}"}
        ) as b,
    ):
        yield {"a": a, "b": b}


async def test_create_show_list_patch_delete(clients: dict[str, httpx.AsyncClient]) -> None:
    a = clients["a"]
    created = await a.post("/watchlists", json={"name": "chips", "tickers": ["nvda", "AMD"]})
    assert created.status_code == 201, created.text
    body = created.json()
    watchlist_id = body["watchlist_id"]
    assert created.headers["location"] == f"/watchlists/{watchlist_id}"
    assert body["name"] == "chips"
    assert body["forms"] == ["10-K"]
    assert [c["ticker"] for c in body["companies"]] == ["AMD", "NVDA"]
    assert {c["status"] for c in body["companies"]} == {"pending"}
    assert all(c["last_filing"] is None for c in body["companies"])

    shown = (await a.get(f"/watchlists/{watchlist_id}")).json()
    assert shown == body

    patched = await a.patch(
        f"/watchlists/{watchlist_id}",
        json={"name": "semis", "add": ["intc"], "remove": ["AMD"], "forms": ["10-K", "10-K/A"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "semis"
    assert [c["ticker"] for c in patched.json()["companies"]] == ["INTC", "NVDA"]
    assert patched.json()["forms"] == ["10-K", "10-K/A"]
    replaced = await a.patch(f"/watchlists/{watchlist_id}", json={"tickers": ["IBM"]})
    assert [c["ticker"] for c in replaced.json()["companies"]] == ["IBM"]

    deleted = await a.delete(f"/watchlists/{watchlist_id}")
    assert deleted.status_code == 204
    gone = await a.get(f"/watchlists/{watchlist_id}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == PROBLEM
    assert (await a.delete(f"/watchlists/{watchlist_id}")).status_code == 404


async def test_list_pages_with_a_cursor(clients: dict[str, httpx.AsyncClient]) -> None:
    a = clients["a"]
    ids = []
    for name in ("one", "two", "three"):
        response = await a.post("/watchlists", json={"name": name, "tickers": ["IBM"]})
        assert response.status_code == 201, response.text
        ids.append(response.json()["watchlist_id"])
    first = (await a.get("/watchlists", params={"limit": 2})).json()
    assert [w["watchlist_id"] for w in first["watchlists"]] == ids[::-1][:2]
    assert first["next_cursor"]
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = (await a.get("/watchlists", params=params)).json()
    assert [w["watchlist_id"] for w in second["watchlists"]] == [ids[0]]
    assert second["next_cursor"] is None
    bad = await a.get("/watchlists", params={"cursor": "!!"})
    assert bad.status_code == 422
    assert (await a.get("/watchlists", params={"colour": "red"})).status_code == 400


async def test_tenant_b_cannot_see_or_change_tenant_a_watchlists(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    a, b = clients["a"], clients["b"]
    created = await a.post("/watchlists", json={"name": "mine", "tickers": ["NVDA"]})
    watchlist_id = created.json()["watchlist_id"]
    url = f"/watchlists/{watchlist_id}"
    assert (await b.get(url)).status_code == 404
    assert (await b.patch(url, json={"name": "theirs"})).status_code == 404
    assert (await b.delete(url)).status_code == 404
    assert (await b.get(f"/stream/watchlists/{watchlist_id}")).status_code == 404
    ranking = await b.get(f"{url}/ranking", params={"year": 2024})
    assert ranking.status_code == 404
    assert (await a.get(f"{url}/ranking", params={"year": 2024})).json()["rows"] == []
    assert (await b.get("/watchlists")).json()["watchlists"] == []
    # The same name is free in another tenant.
    theirs = await b.post("/watchlists", json={"name": "mine", "tickers": ["IBM"]})
    assert theirs.status_code == 201
    after = (await a.get(url)).json()
    assert after["name"] == "mine"
    assert [c["ticker"] for c in after["companies"]] == ["NVDA"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "tickers": ["IBM", "ibm"]}, "tickers"),
        ({"name": "x", "tickers": []}, "tickers"),
        ({"name": "x", "tickers": ["not a ticker!"]}, "tickers"),
        ({"name": "x", "tickers": ["IBM"], "forms": ["10-Q"]}, "forms.0"),
        ({"name": "x", "tickers": ["IBM"], "forms": ["10-K", "10-K"]}, "forms"),
        ({"name": "x", "tickers": ["IBM"], "forms": []}, "forms"),
        ({"name": "", "tickers": ["IBM"]}, "name"),
        ({"name": "x", "tickers": ["IBM"], "backfill_years": 0}, "backfill_years"),
        ({"name": "x", "tickers": ["IBM"], "colour": "red"}, "colour"),
        ({"name": "x", "tickers": ["IBM"], "callback_url": "ftp://h/x"}, "callback_url"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    clients: dict[str, httpx.AsyncClient], body: dict[str, Any], field: str
) -> None:
    response = await clients["a"].post("/watchlists", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in {e["field"] for e in response.json()["errors"]}
    assert (await clients["a"].get("/watchlists")).json()["watchlists"] == []


async def test_caps_and_names(clients: dict[str, httpx.AsyncClient]) -> None:
    a = clients["a"]
    first = await a.post("/watchlists", json={"name": "w1", "tickers": ["A", "B", "C"]})
    assert first.status_code == 201
    taken = await a.post("/watchlists", json={"name": "w1", "tickers": ["D"]})
    assert taken.status_code == 409
    assert taken.json()["type"].endswith("/watchlist-name-taken")
    over = await a.post("/watchlists", json={"name": "w2", "tickers": ["D", "E", "F"]})
    assert over.status_code == 422
    assert over.json()["type"].endswith("/watch-limit")
    assert "limit of 5" in over.json()["detail"]
    second = await a.post("/watchlists", json={"name": "w2", "tickers": ["D", "E"]})
    assert second.status_code == 201
    grow = await a.patch(f"/watchlists/{first.json()['watchlist_id']}", json={"add": ["G"]})
    assert grow.status_code == 422
    # Swapping one company for another stays within the cap.
    swap = await a.patch(
        f"/watchlists/{first.json()['watchlist_id']}", json={"add": ["G"], "remove": ["A"]}
    )
    assert swap.status_code == 200, swap.text
    # Another tenant has caps of its own.
    assert (
        await clients["b"].post("/watchlists", json={"name": "w", "tickers": ["A", "B", "C"]})
    ).status_code == 201
    # Three watchlists per tenant at most (the cap of auth_settings).
    shrink = await a.patch(f"/watchlists/{second.json()['watchlist_id']}", json={"remove": ["E"]})
    assert [c["ticker"] for c in shrink.json()["companies"]] == ["D"]
    assert (await a.post("/watchlists", json={"name": "w3", "tickers": ["Q"]})).status_code == 201
    four = await a.post("/watchlists", json={"name": "w4", "tickers": ["Z"]})
    assert four.status_code == 422
    assert "3 watchlists" in four.json()["detail"]


async def test_a_callback_needs_webhooks_configured(clients: dict[str, httpx.AsyncClient]) -> None:
    response = await clients["a"].post(
        "/watchlists",
        json={"name": "x", "tickers": ["IBM"], "callback_url": "http://127.0.0.1:9/hook"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "webhooks_not_configured"
    created = await clients["a"].post("/watchlists", json={"name": "x", "tickers": ["IBM"]})
    url = f"/watchlists/{created.json()['watchlist_id']}"
    refused = await clients["a"].patch(url, json={"callback_url": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 422
    cleared = await clients["a"].patch(url, json={"callback_url": None})
    assert (cleared.status_code, cleared.json()["callback_url"]) == (200, None)


async def test_a_callback_is_set_and_cleared(auth_settings: Settings, db: asyncpg.Pool) -> None:
    from pydantic import SecretStr

    from tests.doubles import SECRET

    hooked = auth_settings.model_copy(
        update={
            "auth_enabled": False,
            "webhook_secrets": [SecretStr(SECRET)],
            "webhook_allowed_cidrs": ["127.0.0.0/8"],
        }
    )
    async with (
        serve(create_app(hooked)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        hook = "http://127.0.0.1:9/hook"
        created = await http.post(
            "/watchlists", json={"name": "x", "tickers": ["IBM"], "callback_url": hook}
        )
        assert created.status_code == 201, created.text
        assert created.json()["callback_url"] == hook
        url = f"/watchlists/{created.json()['watchlist_id']}"
        renamed = await http.patch(url, json={"name": "y"})
        assert (renamed.json()["name"], renamed.json()["callback_url"]) == ("y", hook)
        cleared = await http.patch(url, json={"callback_url": None})
        assert cleared.json()["callback_url"] is None


def test_every_watchlist_route_is_documented(settings: Settings) -> None:
    routes = create_app(settings).routes
    paths = build_openapi(routes)["paths"]
    for route in routes:
        if isinstance(route, Route) and route.path.startswith(
            ("/watchlists", "/stream/watchlists", "/batches/{batch_id}/ranking")
        ):
            documented = set(paths[route.path])
            assert {m.lower() for m in (route.methods or set()) - {"HEAD"}} <= documented


async def test_the_cli_manages_watchlists(settings: Settings, db: asyncpg.Pool) -> None:
    """``riskdrift watchlist …`` as a separate process against the API."""
    async with serve(create_app(settings)) as base_url:
        env = {**os.environ, "RISKDRIFT_API_URL": base_url}

        async def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return await asyncio.to_thread(run_cli, env, "watchlist", *args)

        created = await cli("create", "chips", "nvda", "amd", "--json")
        assert created.returncode == 0, created.stderr
        watchlist_id = json.loads(created.stdout)["watchlist_id"]
        listed = await cli("list")
        assert watchlist_id in listed.stdout
        assert "AMD, NVDA" in listed.stdout
        added = await cli("add", watchlist_id, "intc")
        assert added.returncode == 0, added.stderr
        assert "INTC" in added.stdout
        assert "pending" in added.stdout
        removed = await cli("remove", watchlist_id, "AMD", "--json")
        assert [c["ticker"] for c in json.loads(removed.stdout)["companies"]] == ["INTC", "NVDA"]
        shown = await cli("show", watchlist_id)
        assert shown.stdout.startswith(f"watchlist {watchlist_id}: chips")
        duplicate = await cli("create", "chips", "IBM")
        assert duplicate.returncode == 2
        assert "409" in duplicate.stderr
        assert "Traceback" not in duplicate.stderr
        deleted = await cli("delete", watchlist_id)
        assert deleted.returncode == 0, deleted.stderr
        gone = await cli("show", watchlist_id)
        assert gone.returncode == 2
        assert "404" in gone.stderr
        assert (await cli("list")).stdout.strip() == "no watchlists"
