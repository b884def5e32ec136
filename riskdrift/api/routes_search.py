"""``GET /risks/search``: semantic search over the risk factors of the caller's analyses.

The query is embedded with the configured embedder (the same model the
embeddings worker stores vectors with; vectors of other models are ignored)
and ranked against stored risk vectors in Postgres. A tenant only sees risks
of filings its own jobs analysed. The embedder is loaded on the first search,
not at start-up, so an API that never searches never loads a model; if it
cannot load, search answers ``503`` and the rest of the API is unaffected.
"""

from __future__ import annotations

import asyncio

import structlog
from starlette.requests import Request
from starlette.responses import Response

from riskdrift.api.auth import tenant_of
from riskdrift.api.routes_jobs import model_response
from riskdrift.api.spec import Answer, Param, operation
from riskdrift.api.state import app_state
from riskdrift.config import Settings
from riskdrift.embeddings import Embedder, create_embedder
from riskdrift.errors import (
    EmbedderUnavailable,
    InvalidQuery,
    SearchUnavailable,
    UnknownQueryParameter,
)
from riskdrift.models import (
    FIRST_FISCAL_YEAR,
    RiskSearchHit,
    RiskSearchResults,
    latest_fiscal_year,
    normalise_ticker,
)
from riskdrift.store import embeddings as store

log = structlog.get_logger(__name__)

MAX_LIMIT = 100
MAX_QUERY = 1000
PARAMS = frozenset({"q", "ticker", "year", "limit", "key"})


class RiskSearch:
    """The search endpoint of one app: holds its embedder, loaded on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._embedder: Embedder | None = None
        self._storage: store.VectorStorage | None = None
        self._lock = asyncio.Lock()

    async def _ready(self, request: Request) -> tuple[Embedder, store.VectorStorage]:
        async with self._lock:
            if self._embedder is None:
                try:
                    self._embedder = await asyncio.to_thread(create_embedder, self._settings)
                except EmbedderUnavailable as exc:
                    log.warning("search_unavailable", reason=str(exc))
                    raise SearchUnavailable(str(exc)) from None
            if self._storage is None:
                self._storage = await store.vector_storage(app_state(request)["pool"])
            return self._embedder, self._storage

    async def aclose(self) -> None:
        if self._embedder is not None:
            await self._embedder.aclose()

    @operation(
        "GET",
        "Semantic search over the risk factors of your analyses",
        description=(
            "Ranks the stored risk factors of filings your own jobs analysed by cosine "
            "similarity to q, embedded with the server's embedding model. 503 if the "
            "embedder cannot load. See docs/EMBEDDINGS.md."
        ),
        params=[
            Param(
                "q",
                schema={"type": "string", "minLength": 1, "maxLength": MAX_QUERY},
                required=True,
            ),
            Param("ticker"),
            Param(
                "year",
                schema={
                    "type": "integer",
                    "minimum": FIRST_FISCAL_YEAR,
                    "maximum": latest_fiscal_year(),
                },
            ),
            Param(
                "limit",
                schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10},
            ),
        ],
        answers={200: Answer("matching risks, best first", RiskSearchResults)},
        problems=(400, 422, 503),
    )
    async def endpoint(self, request: Request) -> Response:
        """The route (a bound method, so Starlette treats it as request → response)."""
        params = request.query_params
        unknown = set(params) - PARAMS
        if unknown:
            raise UnknownQueryParameter(", ".join(sorted(unknown)))
        errors = []
        query = params.get("q", "").strip()
        if not 1 <= len(query) <= MAX_QUERY:
            errors.append({"field": "q", "message": f"1 to {MAX_QUERY} characters"})
        ticker = year = None
        limit = 10
        if "ticker" in params:
            try:
                ticker = normalise_ticker(params["ticker"])
            except ValueError as exc:
                errors.append({"field": "ticker", "message": str(exc)})
        if "year" in params:
            # ASCII digits only ("²".isdigit() holds) and in range before it reaches
            # Postgres: 2147483648 overflows the int4 column's parameter.
            raw, last = params["year"], latest_fiscal_year()
            if raw.isascii() and raw.isdigit() and FIRST_FISCAL_YEAR <= int(raw) <= last:
                year = int(raw)
            else:
                errors.append(
                    {
                        "field": "year",
                        "message": f"a fiscal year from {FIRST_FISCAL_YEAR} to {last}, e.g. 2024",
                    }
                )
        if "limit" in params:
            if params["limit"].isdigit() and 1 <= int(params["limit"]) <= MAX_LIMIT:
                limit = int(params["limit"])
            else:
                errors.append({"field": "limit", "message": f"an integer from 1 to {MAX_LIMIT}"})
        if errors:
            raise InvalidQuery("invalid query parameter(s)", errors=errors)
        embedder, storage = await self._ready(request)
        [vector] = await embedder.embed([query])
        hits = await store.search(
            app_state(request)["pool"],
            storage,
            vector,
            model=embedder.model,
            tenant=tenant_of(request),
            ticker=ticker,
            year=year,
            limit=limit,
        )
        return model_response(
            RiskSearchResults(
                query=query,
                model=embedder.model,
                results=[RiskSearchHit.model_validate(h, from_attributes=True) for h in hits],
            )
        )
