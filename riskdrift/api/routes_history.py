"""``GET /companies/{ticker}/history?from=&to=``: a company's Item 1A year by year.

Built from the caller's completed analyses of consecutive pairs ``(year, year - 1)`` of
that ticker (a history batch makes exactly those): per fiscal year the risk count, the
new/removed/modified counts and the Lazy Prices similarities against the year before,
the tone of that year's risks and the themes that emerged. A year with no analysis of its
pair has its risk count only when another pair's filing gives it, and ``null`` changes.
"""

from __future__ import annotations

from collections import Counter
from statistics import fmean

import pydantic
from starlette.requests import Request
from starlette.responses import Response

from riskdrift.api.auth import tenant_of
from riskdrift.api.routes_jobs import model_response
from riskdrift.api.spec import TEXT, Answer, Param, operation
from riskdrift.api.state import app_state
from riskdrift.errors import InvalidQuery, InvalidTicker
from riskdrift.models import (
    FIRST_FISCAL_YEAR,
    AnalysisResult,
    SimilarityScores,
    latest_fiscal_year,
    normalise_ticker,
)
from riskdrift.render.charts import history_svg
from riskdrift.store import batches

MAX_EMERGING = 10


class HistoryPoint(pydantic.BaseModel):
    """One fiscal year of a company's risk history."""

    year: int
    risk_count: int | None
    new: int | None = None
    removed: int | None = None
    modified: int | None = None
    unchanged: int | None = None
    similarity: SimilarityScores | None = None
    tone: float | None = pydantic.Field(
        default=None, description="mean sentiment of that year's risks, -1..1"
    )
    emerging_themes: list[str] | None = None


class History(pydantic.BaseModel):
    ticker: str
    company: str | None
    from_year: int
    to_year: int
    years: list[HistoryPoint]


def build_history(ticker: str, results: list[AnalysisResult], first: int, last: int) -> History:
    """The series of ``first..last`` from consecutive-pair results (pure)."""
    counts: dict[int, int] = {}
    by_year: dict[int, AnalysisResult] = {}
    for result in results:
        for filing in result.filings:
            counts.setdefault(filing.year, filing.risk_count)
        by_year[result.years[0]] = result
    points = []
    for year in range(first, last + 1):
        pair = by_year.get(year)
        if pair is None:
            points.append(HistoryPoint(year=year, risk_count=counts.get(year)))
            continue
        result = pair
        status = Counter(r.status for r in result.risks)
        tones = [
            r.sentiment_current
            for r in result.risks
            if r.status != "removed" and r.sentiment_current is not None
        ]
        themes = (
            [t.term for t in result.themes.emerging[:MAX_EMERGING]]
            if result.themes is not None
            else None
        )
        points.append(
            HistoryPoint(
                year=year,
                risk_count=counts.get(year),
                new=status["new"],
                removed=status["removed"],
                modified=status["modified"],
                unchanged=status["unchanged"],
                similarity=result.similarity,
                tone=round(fmean(tones), 4) if tones else None,
                emerging_themes=themes,
            )
        )
    company = results[-1].company if results else None
    return History(ticker=ticker, company=company, from_year=first, to_year=last, years=points)


def _year(request: Request, name: str) -> int:
    raw = request.query_params.get(name)
    last = latest_fiscal_year()
    if raw is None or not raw.isdigit() or not FIRST_FISCAL_YEAR <= int(raw) <= last:
        raise InvalidQuery(
            f"{name} must be a fiscal year {FIRST_FISCAL_YEAR}-{last}",
            errors=[{"field": name, "message": f"a fiscal year {FIRST_FISCAL_YEAR}-{last}"}],
        )
    return int(raw)


HISTORY_PARAMS = [
    Param("from", schema={"type": "integer"}, required=True),
    Param("to", schema={"type": "integer"}, required=True),
]


@operation(
    "GET",
    "A company's Item 1A year by year, from its consecutive-pair analyses",
    params=HISTORY_PARAMS,
    answers={200: Answer("the series", History)},
    problems=(422,),
)
async def company_history(request: Request) -> Response:
    """``GET /companies/{ticker}/history?from=&to=``."""
    return model_response(await _history(request))


@operation(
    "GET",
    "The same history as an SVG line chart",
    params=HISTORY_PARAMS,
    answers={200: Answer("the chart", media={"image/svg+xml": TEXT})},
    problems=(422,),
)
async def company_history_svg(request: Request) -> Response:
    """``GET /companies/{ticker}/history.svg?from=&to=``: the same history as a line chart."""
    history = await _history(request)
    return Response(
        history_svg(history.model_dump(mode="json")),
        media_type="image/svg+xml",
        headers={"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


async def _history(request: Request) -> History:
    try:
        ticker = normalise_ticker(request.path_params["ticker"])
    except ValueError as exc:
        raise InvalidTicker(str(exc)) from None
    first, last = _year(request, "from"), _year(request, "to")
    if first >= last:
        raise InvalidQuery(
            "from must be before to", errors=[{"field": "from", "message": "before to"}]
        )
    rows = await batches.history_rows(
        app_state(request)["pool"], tenant=tenant_of(request), ticker=ticker, first=first, last=last
    )
    results = [AnalysisResult.model_validate_json(r["result"]) for r in rows]
    return build_history(ticker, results, first, last)
