"""Watchlist routes (issue 24): the companies a tenant follows, and what the watch saw of them.

``POST /watchlists`` stores a watchlist and its companies; the scheduler
(:mod:`riskdrift.watch`) polls each company's filings and starts the analysis of every
new 10-K. These routes only parse, call :mod:`riskdrift.store.watchlists` and answer;
another tenant's watchlist is a 404, as for jobs and batches.

A ticker is checked for its form here; whether the filing source knows it is learnt at
the company's first poll, and shown as its ``status`` (``unknown_ticker``) with the
source's message in ``last_error``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from typing import Annotated, Literal

import pydantic
import structlog
from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import Response

from riskdrift.api.auth import tenant_of
from riskdrift.api.callbacks import check_callback
from riskdrift.api.problems import read_json
from riskdrift.api.routes_jobs import cursor_checked, cursor_page, model_response
from riskdrift.api.spec import (
    CURSOR,
    EVENT_STREAM,
    Answer,
    created,
    delegates,
    last_event_id,
    limit_param,
    operation,
)
from riskdrift.api.sse import ResumableStreamResponse, requested_position
from riskdrift.api.state import AppState, app_state
from riskdrift.errors import (
    WatchlistNotFound,
)
from riskdrift.events.replay import Resync, open_stream
from riskdrift.models import CallbackURL, Strict, normalise_ticker
from riskdrift.queue.keys import watchlist_stream_key
from riskdrift.store import watchlists
from riskdrift.store.watchlists import CompanyState, WatchlistRecord

log = structlog.get_logger(__name__)

MAX_WATCHLIST_TICKERS = 1000
Form = Literal["10-K", "10-K/A"]


def _tickers(value: list[str] | None, *, allow_empty: bool = False) -> list[str] | None:
    if value is None:
        return None
    if not value and not allow_empty:
        raise ValueError("tickers must name at least one company")
    if len(value) > MAX_WATCHLIST_TICKERS:
        raise ValueError(f"a watchlist takes at most {MAX_WATCHLIST_TICKERS} tickers")
    tickers = [normalise_ticker(t) for t in value]
    duplicates = sorted(t for t, n in Counter(tickers).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate tickers: {', '.join(duplicates)}")
    return tickers


def _forms(value: list[Form] | None) -> list[Form] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("forms must name at least one form: 10-K, 10-K/A")
    if len(set(value)) != len(value):
        raise ValueError("duplicate forms")
    return value


Name = Annotated[str, Field(min_length=1, max_length=100, examples=["semiconductors"])]


class WatchlistRequest(Strict):
    """``POST /watchlists``."""

    name: Name
    tickers: Annotated[list[str], Field(examples=[["NVDA", "AMD"]])]
    callback_url: CallbackURL = None
    forms: Annotated[
        list[Form],
        Field(
            default_factory=lambda: ["10-K"],
            description="the forms that start an analysis; a 10-K/A replaces its year's",
        ),
    ]
    backfill_years: Annotated[
        int | None,
        Field(
            default=None,
            ge=1,
            le=20,
            description="at each company's first poll, submit the analyses of its last N "
            "fiscal years as a history batch",
        ),
    ] = None

    @field_validator("tickers")
    @classmethod
    def _check_tickers(cls, value: list[str]) -> list[str] | None:
        return _tickers(value)

    @field_validator("forms")
    @classmethod
    def _check_forms(cls, value: list[Form]) -> list[Form] | None:
        return _forms(value)


class WatchlistPatch(Strict):
    """``PATCH /watchlists/{id}``: every field optional; ``tickers`` replaces the companies,
    ``add`` and ``remove`` change them; ``"callback_url": null`` clears the callback."""

    name: Name | None = None
    tickers: list[str] | None = None
    add: list[str] | None = None
    remove: list[str] | None = None
    callback_url: CallbackURL = None
    forms: list[Form] | None = None

    @field_validator("tickers", "add", "remove")
    @classmethod
    def _check_tickers(cls, value: list[str] | None) -> list[str] | None:
        return _tickers(value, allow_empty=True)

    @field_validator("forms")
    @classmethod
    def _check_forms(cls, value: list[Form] | None) -> list[Form] | None:
        return _forms(value)


class WatchedFiling(pydantic.BaseModel):
    key: str = Field(description="EDGAR accession number, or local:<year> for a local file")
    form: str
    fiscal_year: int
    seen_at: dt.datetime


class WatchedCompany(pydantic.BaseModel):
    """A company of a watchlist, and what the watch has seen of it."""

    ticker: str
    status: Literal["pending", "watching", "unknown_ticker", "failing"] = Field(
        description="pending until its first poll, which records its filings so far "
        "(none of them analysed); unknown_ticker when the filing source does not know it"
    )
    cik: str | None
    added_at: dt.datetime
    last_polled_at: dt.datetime | None
    next_poll_at: dt.datetime
    last_error: str | None
    last_filing: WatchedFiling | None
    last_job_id: uuid.UUID | None = Field(description="the newest analysis a filing started")


class WatchlistLinks(pydantic.BaseModel):
    self: str
    jobs: str


class Watchlist(pydantic.BaseModel):
    """A watchlist as ``GET /watchlists/{id}`` shows it."""

    watchlist_id: uuid.UUID
    name: str
    forms: list[str]
    callback_url: str | None
    backfill_years: int | None
    companies: list[WatchedCompany]
    created_at: dt.datetime
    updated_at: dt.datetime
    links: WatchlistLinks


class WatchlistPage(pydantic.BaseModel):
    watchlists: list[Watchlist]
    next_cursor: str | None


def _company_view(c: CompanyState) -> WatchedCompany:
    last = None
    if c.last_filing_key is not None:
        assert c.last_filing_form is not None
        assert c.last_filing_year is not None
        assert c.last_filing_seen_at is not None
        last = WatchedFiling(
            key=c.last_filing_key,
            form=c.last_filing_form,
            fiscal_year=c.last_filing_year,
            seen_at=c.last_filing_seen_at,
        )
    return WatchedCompany(
        ticker=c.ticker,
        status=c.status,
        cik=c.cik,
        added_at=c.added_at,
        last_polled_at=c.last_polled_at,
        next_poll_at=c.next_poll_at,
        last_error=c.last_error,
        last_filing=last,
        last_job_id=c.last_job_id,
    )


def watchlist_view(w: WatchlistRecord, companies: list[CompanyState]) -> Watchlist:
    return Watchlist(
        watchlist_id=w.id,
        name=w.name,
        forms=list(w.forms),
        callback_url=w.callback_url,
        backfill_years=w.backfill_years,
        companies=[_company_view(c) for c in companies],
        created_at=w.created_at,
        updated_at=w.updated_at,
        links=WatchlistLinks(self=f"/watchlists/{w.id}", jobs="/jobs"),
    )


def _watchlist_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["watchlist_id"])
    except ValueError:
        raise WatchlistNotFound("no watchlist has that id") from None


async def _view(request: Request, w: WatchlistRecord) -> Watchlist:
    found = await watchlists.companies(app_state(request)["pool"], [w.id])
    return watchlist_view(w, found[w.id])


@operation(
    "POST",
    "Watch companies: every new 10-K they file is analysed",
    description=(
        "The scheduler polls each company's filings every RISKDRIFT_WATCH_INTERVAL "
        "seconds. Its first poll records what the company has filed so far (the "
        "baseline, not analysed); a filing seen after that starts the analysis of its "
        "fiscal year against the previous one, once, as an ordinary job with trigger "
        "`watch` and this watchlist's id. A ticker the filing source does not know shows "
        "status `unknown_ticker` after its first poll. 422 for duplicates, bad forms, or "
        "more companies (over all the tenant's watchlists) or watchlists than the "
        "tenant's caps; 409 for a name taken."
    ),
    body=WatchlistRequest,
    answers={201: created("created", Watchlist)},
    problems=(400, 409, 413, 415, 422),
)
async def create(request: Request) -> Response:
    """``POST /watchlists``: 201 with the watchlist; nothing is analysed until a company
    files something new after its first poll."""
    state = app_state(request)
    settings = state["settings"]
    body = await read_json(request, WatchlistRequest)
    await check_callback(body.callback_url, settings)
    created = await watchlists.create_watchlist(
        state["pool"],
        tenant=tenant_of(request),
        name=body.name,
        tickers=body.tickers,
        forms=body.forms,
        callback_url=str(body.callback_url) if body.callback_url else None,
        backfill_years=body.backfill_years,
        max_companies=settings.max_watched_companies_per_tenant,
        max_watchlists=settings.max_watchlists_per_tenant,
    )
    log.info("watchlist_created", watchlist_id=str(created.id), companies=len(body.tickers))
    return model_response(
        await _view(request, created), 201, {"Location": f"/watchlists/{created.id}"}
    )


@operation(
    "GET",
    "List watchlists, newest first",
    params=[CURSOR, limit_param()],
    answers={200: Answer("a page", WatchlistPage)},
    problems=(400, 422),
)
async def list_all(request: Request) -> Response:
    """``GET /watchlists?cursor=&limit=``, newest first."""
    cursor, limit = cursor_page(request.query_params)
    pool = app_state(request)["pool"]
    with cursor_checked():
        page, next_cursor = await watchlists.list_watchlists(
            pool, tenant=tenant_of(request), cursor=cursor, limit=limit
        )
    found = await watchlists.companies(pool, [w.id for w in page])
    return model_response(
        WatchlistPage(
            watchlists=[watchlist_view(w, found[w.id]) for w in page], next_cursor=next_cursor
        )
    )


@delegates(create, list_all)
async def collection(request: Request) -> Response:
    """``/watchlists``: ``POST`` creates, ``GET`` lists (one route, so a 405 names both)."""
    if request.method == "POST":
        return await create(request)
    return await list_all(request)


@operation(
    "GET",
    "A watchlist: its companies, their last filing seen and last analysis",
    answers={200: Answer("the watchlist", Watchlist)},
    problems=(404,),
)
async def get_one(request: Request) -> Response:
    """``GET /watchlists/{id}``: the watchlist, its companies, their last filing and job."""
    watchlist_id = _watchlist_id(request)
    found = await watchlists.get_watchlist(
        app_state(request)["pool"], watchlist_id, tenant=tenant_of(request)
    )
    if found is None:
        raise WatchlistNotFound(f"no watchlist {watchlist_id}")
    return model_response(await _view(request, found))


@operation(
    "PATCH",
    "Rename, change forms or callback, replace/add/remove companies",
    body=WatchlistPatch,
    answers={200: Answer("the watchlist after the change", Watchlist)},
    problems=(400, 404, 409, 415, 422),
)
async def patch(request: Request) -> Response:
    """``PATCH /watchlists/{id}``: rename, change forms or callback, add or remove companies."""
    state = app_state(request)
    settings = state["settings"]
    watchlist_id = _watchlist_id(request)
    body = await read_json(request, WatchlistPatch)
    await check_callback(body.callback_url, settings)
    updated = await watchlists.update_watchlist(
        state["pool"],
        watchlist_id,
        tenant=tenant_of(request),
        name=body.name,
        forms=body.forms,
        callback_url=str(body.callback_url) if body.callback_url else None,
        set_callback="callback_url" in body.model_fields_set,
        tickers=body.tickers,
        add=body.add or (),
        remove=body.remove or (),
        max_companies=settings.max_watched_companies_per_tenant,
    )
    if updated is None:
        raise WatchlistNotFound(f"no watchlist {watchlist_id}")
    log.info("watchlist_updated", watchlist_id=str(watchlist_id))
    return model_response(await _view(request, updated))


@operation(
    "DELETE",
    "Stop watching: the watchlist goes, the jobs it started stay",
    answers={204: Answer("deleted")},
    problems=(404,),
)
async def delete(request: Request) -> Response:
    """``DELETE /watchlists/{id}``: 204; the watch stops, the jobs it started stay."""
    watchlist_id = _watchlist_id(request)
    deleted = await watchlists.delete_watchlist(
        app_state(request)["pool"], watchlist_id, tenant=tenant_of(request)
    )
    if not deleted:
        raise WatchlistNotFound(f"no watchlist {watchlist_id}")
    log.info("watchlist_deleted", watchlist_id=str(watchlist_id))
    return Response(status_code=204)


def watchlist_state(state: AppState, watchlist_id: uuid.UUID) -> Resync:
    """The watchlist's current view: what its stream's ``resync`` event carries where the
    client's entries are gone."""

    async def read() -> str:
        found = await watchlists.get_watchlist(state["pool"], watchlist_id)
        if found is None:
            return "{}"
        companies = await watchlists.companies(state["pool"], [found.id])
        return watchlist_view(found, companies[found.id]).model_dump_json()

    return read


@operation(
    "GET",
    "The watchlist's new analyses as Server-Sent Events",
    description=(
        "One `filing_analysed` frame per analysis a new filing started, when it ends "
        "(completed or failed): the `filing.analysed` webhook's data. Last-Event-ID "
        "resumes exactly; where entries are gone, a `resync` frame carries the watchlist. "
        "The stream does not end."
    ),
    params=[last_event_id()],
    answers={200: EVENT_STREAM},
    problems=(400, 404),
)
async def stream(request: Request) -> Response:
    """``GET /stream/watchlists/{id}``: the watchlist's ``filing_analysed`` events as SSE,
    resumable with ``Last-Event-ID``; it does not end (a watchlist has no last filing)."""
    watchlist_id = _watchlist_id(request)
    state = app_state(request)
    found = await watchlists.get_watchlist(state["pool"], watchlist_id, tenant=tenant_of(request))
    if found is None:
        raise WatchlistNotFound(f"no watchlist {watchlist_id}")
    source = await open_stream(
        state["hub"],
        watchlist_stream_key(found.id),
        requested=requested_position(request),
        terminal_events=(),
        comment=f"watchlist {found.id}",
        resync=watchlist_state(state, found.id),
        log_fields={"watchlist_id": str(found.id)},
    )
    return ResumableStreamResponse(source)


@delegates(get_one, patch, delete)
async def item(request: Request) -> Response:
    """``/watchlists/{id}``: ``GET``, ``PATCH``, ``DELETE``."""
    if request.method == "PATCH":
        return await patch(request)
    if request.method == "DELETE":
        return await delete(request)
    return await get_one(request)
