"""Universe ranking routes (issue 24): which companies' risk factors changed most.

``GET /batches/{id}/ranking`` ranks a batch's completed pairs; ``GET
/watchlists/{id}/ranking?year=`` ranks the analyses a watchlist started for one fiscal
year. Both answer JSON, CSV with ``?format=csv`` or an HTML page with a chart and a table
with ``?format=html`` (:mod:`riskdrift.render.ranking`; the same rows and figures), ranked
by ``?by=`` (default ``change``; :mod:`riskdrift.analysis.ranking` defines the measures
and the percentile).
"""

from __future__ import annotations

import uuid

import pydantic
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from riskdrift.analysis.ranking import MEASURES, Measure, RankedPair, rank_pairs
from riskdrift.api.auth import tenant_of
from riskdrift.api.routes_batches import load_batch
from riskdrift.api.routes_jobs import model_response
from riskdrift.api.spec import TEXT, Answer, Param, operation
from riskdrift.api.state import app_state
from riskdrift.errors import InvalidQuery, UnknownQueryParameter, WatchlistNotFound
from riskdrift.models import FIRST_FISCAL_YEAR, latest_fiscal_year
from riskdrift.render.html import CONTENT_SECURITY_POLICY
from riskdrift.render.models_csv import models_csv
from riskdrift.render.ranking import ranking_html
from riskdrift.store import ranking, watchlists


class RankingRow(pydantic.BaseModel):
    """One completed pair and its place in the universe (1: the most changed)."""

    rank: int
    percentile: float = Field(
        description="percentile rank of change within the universe, 0..100 (higher: changed "
        "more than more of the others)"
    )
    job_id: uuid.UUID
    ticker: str
    current_year: int
    previous_year: int
    change: float = Field(description="1 - mean(min_edit, jaccard, cosine)")
    similarity_min_edit: float
    similarity_jaccard: float
    similarity_cosine: float
    risks_new: int
    risks_removed: int
    risks_modified: int
    risks_unchanged: int
    material_changes: int | None = Field(
        description="how many material changes the result lists; null when it lists none "
        "(results from before the materiality scorer)"
    )


class Ranking(pydantic.BaseModel):
    """A universe ranked by how much its risk factors changed."""

    batch_id: uuid.UUID | None = None
    watchlist_id: uuid.UUID | None = None
    fiscal_year: int | None = None
    by: Measure
    completed: int = Field(description="the pairs ranked: the completed ones")
    rows: list[RankingRow]


def ranking_rows(ranked: list[RankedPair]) -> list[RankingRow]:
    return [
        RankingRow(
            rank=r.rank,
            percentile=r.percentile,
            job_id=uuid.UUID(r.pair.key),
            ticker=r.pair.ticker,
            current_year=r.pair.current_year,
            previous_year=r.pair.previous_year,
            change=r.pair.change,
            similarity_min_edit=r.pair.min_edit,
            similarity_jaccard=r.pair.jaccard,
            similarity_cosine=r.pair.cosine,
            risks_new=r.pair.risks_new,
            risks_removed=r.pair.risks_removed,
            risks_modified=r.pair.risks_modified,
            risks_unchanged=r.pair.risks_unchanged,
            material_changes=r.pair.material_changes,
        )
        for r in ranked
    ]


def _options(request: Request, *, extra: set[str]) -> tuple[str, Measure]:
    params = request.query_params
    unknown = set(params) - {"format", "by"} - extra
    if unknown:
        raise UnknownQueryParameter(", ".join(sorted(unknown)))
    errors = []
    form = params.get("format", "json")
    if form not in ("json", "csv", "html"):
        errors.append({"field": "format", "message": "json, csv or html"})
    by = params.get("by", "change")
    if by not in MEASURES:
        errors.append({"field": "by", "message": f"one of {', '.join(MEASURES)}"})
    if errors:
        raise InvalidQuery("invalid query parameter(s)", errors=errors)
    return form, by  # type: ignore[return-value]


def _answer(ranking_: Ranking, form: str, filename: str, title: str = "Ranking") -> Response:
    if form == "html":
        subtitle = (
            f"{ranking_.completed} completed pairs, most changed first (ranked by {ranking_.by})"
        )
        page = ranking_html(title, subtitle, [r.model_dump() for r in ranking_.rows])
        return Response(
            page,
            media_type="text/html; charset=utf-8",
            headers={"content-security-policy": CONTENT_SECURITY_POLICY},
        )
    if form == "csv":
        return Response(
            models_csv(RankingRow, ranking_.rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return model_response(ranking_)


RANKING_PARAMS = [
    Param(
        "by",
        schema={"type": "string", "enum": list(MEASURES)},
        description="the measure ranked by: change = 1 - mean(min_edit, jaccard, cosine) "
        "(default), or 1 - one of the similarities",
    ),
    Param("format", schema={"type": "string", "enum": ["json", "csv", "html"]}),
]
RANKING_ANSWERS: dict[int | str, Answer] = {
    200: Answer(
        "the completed pairs, most changed first, with percentiles",
        media={"application/json": Ranking, "text/csv": TEXT, "text/html": TEXT},
    )
}


@operation(
    "GET",
    "The batch's completed pairs ranked by how much Item 1A changed",
    description=(
        "Lazy Prices similarities to the prior year (min-edit, Jaccard, cosine), each "
        "pair's percentile within the batch, counts of new/removed/modified risks and of "
        "material changes. ?format=csv gives the same rows."
    ),
    params=RANKING_PARAMS,
    answers=RANKING_ANSWERS,
    problems=(400, 404, 422),
)
async def batch_ranking(request: Request) -> Response:
    """``GET /batches/{id}/ranking?by=&format=``: the batch's completed pairs ranked."""
    form, by = _options(request, extra=set())
    batch = await load_batch(request)
    pairs = await ranking.batch_pairs(app_state(request)["pool"], batch.id)
    rows = ranking_rows(rank_pairs(pairs, by=by))
    result = Ranking(batch_id=batch.id, by=by, completed=len(rows), rows=rows)
    title = f"Batch {batch.id}: risk factors ranked by change"
    return _answer(result, form, f"batch-{batch.id}-ranking", title)


@operation(
    "GET",
    "The analyses a watchlist started for one fiscal year, ranked",
    params=[Param("year", schema={"type": "integer"}, required=True), *RANKING_PARAMS],
    answers=RANKING_ANSWERS,
    problems=(400, 404, 422),
)
async def watchlist_ranking(request: Request) -> Response:
    """``GET /watchlists/{id}/ranking?year=&by=&format=``: the analyses the watchlist
    started for fiscal ``year``, newest per company, ranked."""
    form, by = _options(request, extra={"year"})
    raw = request.query_params.get("year", "")
    last = latest_fiscal_year()
    if not (raw.isdigit() and FIRST_FISCAL_YEAR <= int(raw) <= last):
        raise InvalidQuery(
            "invalid query parameter(s)",
            errors=[{"field": "year", "message": f"a fiscal year {FIRST_FISCAL_YEAR}-{last}"}],
        )
    year = int(raw)
    try:
        watchlist_id = uuid.UUID(request.path_params["watchlist_id"])
    except ValueError:
        raise WatchlistNotFound("no watchlist has that id") from None
    pool = app_state(request)["pool"]
    if await watchlists.get_watchlist(pool, watchlist_id, tenant=tenant_of(request)) is None:
        raise WatchlistNotFound(f"no watchlist {watchlist_id}")
    pairs = await ranking.watchlist_pairs(pool, watchlist_id, year)
    rows = ranking_rows(rank_pairs(pairs, by=by))
    result = Ranking(
        watchlist_id=watchlist_id, fiscal_year=year, by=by, completed=len(rows), rows=rows
    )
    return _answer(
        result,
        form,
        f"watchlist-{watchlist_id}-{year}-ranking",
        f"Watchlist {watchlist_id}, fiscal {year}: risk factors ranked by change",
    )
