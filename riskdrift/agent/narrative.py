"""Optional LLM narrative of a finished analysis (off unless ``llm_url`` is set).

The model gets the result's facts (the most material changes first, each with its
score, kind, reasons and quoted sentence; then counts, similarities, the most drifted
risks with the sentence that shows what changed, emerging and fading themes, new and
removed risks). Its narrative is kept only if every figure and quotation in it
is in those facts (:func:`ungrounded`); otherwise the result carries no
narrative and the computed summary stands alone.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any, Protocol

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riskdrift.analysis.summary import quote_for
from riskdrift.config import Settings
from riskdrift.errors import ConfigurationError
from riskdrift.models import AnalysisResult


class Narrator(Protocol):
    """Writes a prose narrative of a result, or returns ``None`` on any failure."""

    async def narrate(self, result: AnalysisResult) -> str | None: ...


# --- an OpenAI-compatible chat-completions narrator ----------------------------------------

NARRATIVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "narrative": {
            "type": "string",
            "description": "3-6 sentences; every sentence cites a number from the facts.",
        }
    },
    "required": ["narrative"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = (
    "You are a financial analyst. Given facts about how a company's 10-K Item 1A "
    "(Risk Factors) changed between two fiscal years, write a concise narrative of "
    "3 to 6 sentences for an investor. Lead with the most material changes "
    "(material_changes, most material first) and what they mean; counts and "
    "similarities come after. Use only the facts given; every sentence must "
    "cite at least one number from them or quote a sentence or title from them verbatim "
    "in “curly quotes”. Similarities are 0..1 (1 = identical text). "
    "Do not speculate beyond the facts and do not give investment advice. "
    "Answer with JSON matching the given schema."
)

TOP_RISKS = 5  # the most drifted risks quoted in the prompt
TOP_MATERIAL = 8  # the most material changes given to the model

log = structlog.get_logger(__name__)


class NarrativeReply(BaseModel):
    """The JSON the model must answer with (``NARRATIVE_SCHEMA``)."""

    model_config = ConfigDict(extra="forbid")

    narrative: str = Field(min_length=1)


class _Message(BaseModel):
    content: str | None = None
    refusal: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _Completion(BaseModel):
    """The part of a chat-completions answer the narrator reads."""

    choices: list[_Choice] = Field(min_length=1)


def narrative_facts(result: AnalysisResult) -> dict[str, Any]:
    """The numbers of a result the model may use, as a JSON-ready mapping."""
    by_status = Counter(risk.status for risk in result.risks)
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for risk in result.risks:
        by_category[risk.category][risk.status] += 1
    top = sorted(result.risks, key=lambda risk: risk.drift_score, reverse=True)[:TOP_RISKS]
    return {
        "ticker": result.ticker,
        "company": result.company,
        "fiscal_years": {"current": result.years[0], "previous": result.years[-1]},
        "material_changes": [
            {
                "score": round(m.score, 2),
                "kind": m.kind,
                "change": m.change,
                "risk": m.risk_title,
                "category": m.category,
                "sentence_current": m.current,
                "sentence_previous": m.previous,
                "reasons": m.reasons,
            }
            for m in result.material_changes[:TOP_MATERIAL]
        ],
        "item1a_similarity": {
            name: round(value, 3) for name, value in result.similarity.model_dump().items()
        },
        "risk_counts_by_status": {
            status: by_status.get(status, 0)
            for status in ("new", "removed", "modified", "unchanged")
        },
        "risk_counts_by_category": {
            category: dict(sorted(counts.items()))
            for category, counts in sorted(by_category.items())
        },
        "filings": [
            {"fiscal_year": f.year, "form": f.form, "risk_count": f.risk_count}
            for f in result.filings
        ],
        "most_drifted_risks": [
            {
                "status": risk.status,
                "category": risk.category,
                "title": risk.title_current or risk.title_previous,
                "drift_score": round(risk.drift_score, 3),
                "text_similarity": round(risk.text_similarity, 3),
                "sentiment_delta": (
                    None if risk.sentiment_delta is None else round(risk.sentiment_delta, 3)
                ),
                "what_changed": _what_changed(risk, result),
            }
            for risk in top
        ],
        "emerging_themes": _themes(result, "emerging"),
        "fading_themes": _themes(result, "fading"),
        "new_risks": [r.title_current for r in result.risks if r.status == "new"],
        "removed_risks": [r.title_previous for r in result.risks if r.status == "removed"],
        "summary": result.summary,
        "recommendations": result.recommendations,
    }


def _what_changed(risk: Any, result: AnalysisResult) -> dict[str, str] | None:
    quote = quote_for(risk, result.themes)
    return {"kind": quote[0], "sentence": quote[1]} if quote else None


def _themes(result: AnalysisResult, which: str) -> list[dict[str, Any]]:
    if result.themes is None:
        return []
    return [
        {"term": t.term, "count_current": t.count_current, "count_previous": t.count_previous}
        for t in getattr(result.themes, which)
    ]


# --- grounding: every figure and quotation of the narrative must be in the facts -------------

_FIGURE = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?%?")
_QUOTED = re.compile(r"[“\"]([^”\"]{4,})[”\"]")


def _fold(text: str) -> str:
    return " ".join(text.replace("’", "'").casefold().split())


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def ungrounded(narrative: str, facts: dict[str, Any]) -> list[str]:
    """The figures and quotations of ``narrative`` that the facts do not hold.

    A figure is grounded when a fact number, or that number as a percentage,
    rounds to it at the figure's precision ("91%" for a similarity of 0.912);
    numbers inside fact strings ("COVID-19", years in titles) count too. A
    quotation is grounded when it is part of a fact string (case and white space
    folded, "…" ends allowed).
    """
    numbers: list[float] = []
    strings: list[str] = []
    for leaf in _leaves(facts):
        if isinstance(leaf, bool) or leaf is None:
            continue
        if isinstance(leaf, int | float):
            numbers.append(float(leaf))
        elif isinstance(leaf, str):
            strings.append(_fold(leaf))
            numbers += [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", leaf)]
    corpus = "\n".join(strings)
    problems = []
    for quoted in _QUOTED.findall(narrative):
        if _fold(quoted).strip(" .…") not in corpus:
            problems.append(f"“{quoted}”")
    bare = _QUOTED.sub(" ", narrative)
    for figure in _FIGURE.findall(bare):
        text = figure.replace("−", "-").replace(",", "").rstrip("%")
        value = abs(float(text))
        decimals = len(text.split(".")[1]) if "." in text else 0
        tolerance = 0.5 * 10**-decimals + 1e-9
        if not any(abs(abs(n) - value) <= tolerance or abs(abs(n) * 100 - value) <= tolerance
                   for n in numbers):  # fmt: skip
            problems.append(figure)
    return problems


def build_request(result: AnalysisResult, model: str) -> dict[str, Any]:
    """The chat-completions request body for ``result``: facts in, schema-bound JSON out."""
    facts = json.dumps(narrative_facts(result), ensure_ascii=False)
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Facts (JSON):\n{facts}"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "risk_drift_narrative",
                "schema": NARRATIVE_SCHEMA,
                "strict": True,
            },
        },
    }


class _NoNarrative(Exception):
    """The model answered, but not with a narrative (refusal, empty, truncated)."""


class OpenAINarrator:
    """A :class:`Narrator` over an OpenAI-compatible ``POST {llm_url}/chat/completions``.

    The narrative is optional garnish on a finished analysis, so every failure
    (connection, timeout, non-2xx, malformed JSON, schema mismatch, refusal) is
    logged as a ``narrative_failed`` warning and answered with ``None``; the
    job never fails because of it. Pass ``client`` to share the process's
    httpx client (the caller closes it); otherwise the narrator owns one and
    closes it in :meth:`aclose`.
    """

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        if not settings.llm_url:
            raise ConfigurationError("OpenAINarrator needs llm_url (RISKDRIFT_LLM_URL)")
        self.url = f"{settings.llm_url.rstrip('/')}/chat/completions"
        self.model = settings.llm_model
        self._api_key = settings.llm_api_key
        self._timeout = httpx.Timeout(settings.llm_timeout)
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=self._timeout)

    async def aclose(self) -> None:
        """Close the HTTP client if the narrator made it."""
        if self._owns_client:
            await self._client.aclose()

    async def narrate(self, result: AnalysisResult) -> str | None:
        """A narrative of ``result``, or ``None`` (logged) if the model does not give one."""
        fields: dict[str, Any] = {"model": self.model, "ticker": result.ticker}
        try:
            narrative = await self._request(result)
        except httpx.HTTPStatusError as err:
            log.warning(
                "narrative_failed", reason="http_status", status=err.response.status_code, **fields
            )
        except httpx.TimeoutException as err:
            log.warning("narrative_failed", reason="timeout", error=type(err).__name__, **fields)
        except httpx.HTTPError as err:
            log.warning("narrative_failed", reason="http_error", error=type(err).__name__, **fields)
        except ValidationError as err:
            log.warning(
                "narrative_failed",
                reason="invalid_reply",
                error=err.title,
                problems=err.error_count(),
                **fields,
            )
        except _NoNarrative as err:
            log.warning("narrative_failed", reason="no_narrative", detail=str(err), **fields)
        except Exception as err:  # the narrative is optional: nothing here may fail the job
            log.warning("narrative_failed", reason="unexpected", error=type(err).__name__, **fields)
        else:
            problems = ungrounded(narrative, narrative_facts(result))
            if problems:
                # An invented figure or quotation: the computed summary stands alone.
                log.warning("narrative_failed", reason="ungrounded", claims=problems[:5], **fields)
                return None
            log.info("narrative_written", chars=len(narrative), **fields)
            return narrative
        return None

    async def _request(self, result: AnalysisResult) -> str:
        headers = {"Accept": "application/json"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        response = await self._client.post(
            self.url, json=build_request(result, self.model), headers=headers, timeout=self._timeout
        )
        response.raise_for_status()
        choice = _Completion.model_validate_json(response.content).choices[0]
        if choice.message.refusal:
            raise _NoNarrative("the model refused")
        if not choice.message.content:
            raise _NoNarrative(f"empty message (finish_reason={choice.finish_reason})")
        narrative = NarrativeReply.model_validate_json(choice.message.content).narrative.strip()
        if not narrative:
            raise _NoNarrative("blank narrative")
        return narrative


def create_narrator(
    settings: Settings, client: httpx.AsyncClient | None = None
) -> OpenAINarrator | None:
    """The narrator the settings ask for: ``None`` when ``llm_url`` is unset (narrative off).

    The returned narrator is a :class:`Narrator`; close it with ``aclose()``.
    """
    if not settings.llm_url:
        return None
    return OpenAINarrator(settings, client)
