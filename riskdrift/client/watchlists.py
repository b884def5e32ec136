"""The terminal side of watchlists: ``riskdrift watchlist create|list|show|add|remove|delete``.

Each command is one or a few calls to the API's watchlist routes through
:mod:`riskdrift.client.api` (so errors are one line), the answers validated into the
API's own models. The text renderings are pure functions of those models; ``--json``
prints the models as the API sent them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pydantic

from riskdrift.api.routes_watchlists import Watchlist, WatchlistPage
from riskdrift.client.api import check, connect, parse

WATCHLISTS = pydantic.TypeAdapter(list[Watchlist])


async def create_watchlist(
    api: str,
    name: str,
    tickers: Sequence[str],
    *,
    api_key: str | None,
    callback_url: str | None = None,
    forms: Sequence[str] | None = None,
) -> Watchlist:
    """``POST /watchlists``."""
    body: dict[str, Any] = {"name": name, "tickers": list(tickers)}
    if callback_url:
        body["callback_url"] = callback_url
    if forms:
        body["forms"] = list(forms)
    async with connect(api, api_key=api_key) as http:
        return parse(await http.post("/watchlists", json=body), Watchlist, "create watchlist")


async def list_watchlists(api: str, *, api_key: str | None) -> list[Watchlist]:
    """``GET /watchlists``, every page, newest first."""
    found: list[Watchlist] = []
    params: dict[str, str | int] = {"limit": 200}
    async with connect(api, api_key=api_key) as http:
        while True:
            page = parse(
                await http.get("/watchlists", params=params), WatchlistPage, "list watchlists"
            )
            found.extend(page.watchlists)
            if page.next_cursor is None:
                return found
            params["cursor"] = page.next_cursor


async def get_watchlist(api: str, watchlist_id: str, *, api_key: str | None) -> Watchlist:
    """``GET /watchlists/{id}``."""
    async with connect(api, api_key=api_key) as http:
        return parse(
            await http.get(f"/watchlists/{watchlist_id}"), Watchlist, f"watchlist {watchlist_id}"
        )


async def change_companies(
    api: str,
    watchlist_id: str,
    *,
    api_key: str | None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> Watchlist:
    """``PATCH /watchlists/{id}`` with ``add`` and ``remove``."""
    body = {"add": list(add), "remove": list(remove)}
    async with connect(api, api_key=api_key) as http:
        return parse(
            await http.patch(f"/watchlists/{watchlist_id}", json=body),
            Watchlist,
            f"change watchlist {watchlist_id}",
        )


async def delete_watchlist(api: str, watchlist_id: str, *, api_key: str | None) -> None:
    """``DELETE /watchlists/{id}``."""
    async with connect(api, api_key=api_key) as http:
        check(await http.delete(f"/watchlists/{watchlist_id}"), f"delete watchlist {watchlist_id}")


def _when(at: dt.datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "-"


def watchlists_table(found: Sequence[Watchlist]) -> str:
    """One line per watchlist: id, name, companies, forms."""
    if not found:
        return "no watchlists"
    lines = [f"{'WATCHLIST':36}  {'NAME':20}  COMPANIES"]
    for w in found:
        tickers = ", ".join(c.ticker for c in w.companies)
        lines.append(f"{w.watchlist_id!s:36}  {w.name[:20]:20}  {tickers}")
    return "\n".join(lines)


def watchlist_detail(w: Watchlist) -> str:
    """A watchlist and, per company, its status, last filing seen and last analysis."""
    lines = [
        f"watchlist {w.watchlist_id}: {w.name}",
        f"forms: {', '.join(w.forms)}   callback: {w.callback_url or '-'}",
        "",
        f"{'TICKER':8}  {'STATUS':14}  {'LAST POLL':19}  {'LAST FILING':24}  LAST ANALYSIS",
    ]
    for c in w.companies:
        filing = (
            f"{c.last_filing.form} FY{c.last_filing.fiscal_year} ({c.last_filing.key})"
            if c.last_filing
            else "-"
        )
        lines.append(
            f"{c.ticker:8}  {c.status:14}  {_when(c.last_polled_at):19}  {filing[:24]:24}  "
            f"{c.last_job_id or '-'}"
        )
        if c.last_error:
            lines.append(f"{'':8}  {c.last_error[:100]}")
    return "\n".join(lines)
