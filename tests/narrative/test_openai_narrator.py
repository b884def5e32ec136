"""OpenAINarrator against a fake OpenAI-compatible server on 127.0.0.1 (no patching)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from structlog.testing import capture_logs

from riskdrift.agent.narrative import (
    NARRATIVE_SCHEMA,
    OpenAINarrator,
    create_narrator,
    narrative_facts,
    ungrounded,
)
from riskdrift.config import Settings
from riskdrift.models import (
    AnalysisResult,
    FilingInfo,
    Heatmap,
    MaterialChange,
    RiskChange,
    SimilarityScores,
)
from tests.sources.localserver import closed_port, serve

API_KEY = "sk-test-not-a-real-key-123"
NARRATIVE = "Item 1A stayed 91% similar (cosine 0.912) while 2 new risks appeared."


def completion(content: str | None, **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_735_689_600,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 420, "completion_tokens": 40, "total_tokens": 460},
    }


@dataclass
class FakeLLM:
    """Answers ``POST /v1/chat/completions`` with ``reply``; records what it received."""

    reply: Response = field(
        default_factory=lambda: JSONResponse(completion(json.dumps({"narrative": NARRATIVE})))
    )
    hang: bool = False
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    async def _chat(self, request: Request) -> Response:
        self.bodies.append(json.loads(await request.body()))
        self.headers.append(dict(request.headers))
        if self.hang:
            await self.release.wait()
        return self.reply


@pytest.fixture
async def llm() -> AsyncIterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    async with serve(fake.app()) as url:
        try:
            yield fake, f"{url}/v1"
        finally:
            fake.release.set()


def settings(url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_url": url,
        "llm_model": "gpt-4o-mini",
        "llm_api_key": API_KEY,
        "llm_timeout": 5.0,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def result() -> AnalysisResult:
    def risk(status: str, category: str, drift: float, title: str) -> RiskChange:
        return RiskChange.model_validate(
            {
                "status": status,
                "category": category,
                "title_current": None if status == "removed" else title,
                "title_previous": None if status == "new" else title,
                "text_similarity": 1.0 - drift,
                "sentiment_current": -0.2,
                "sentiment_previous": -0.1,
                "sentiment_delta": -0.1,
                "drift_score": drift,
            }
        )

    return AnalysisResult(
        ticker="NVDA",
        company="NVIDIA CORP",
        cik="0001045810",
        years=[2025, 2024],
        filings=[
            FilingInfo(year=2025, form="10-K", source="edgar", item1a_chars=120_000, risk_count=3),
            FilingInfo(year=2024, form="10-K", source="edgar", item1a_chars=110_000, risk_count=2),
        ],
        similarity=SimilarityScores(cosine=0.9123, jaccard=0.71, min_edit=0.83, simple=0.88),
        risks=[
            risk("new", "regulatory", 1.0, "Export controls on AI chips"),
            risk("new", "regulatory", 0.9, "Antitrust investigations"),
            risk("modified", "supply_chain", 0.35, "Dependence on TSMC"),
            risk("removed", "macro", 1.0, "COVID-19"),
            risk("unchanged", "macro", 0.02, "Interest rates"),
        ],
        heatmap=Heatmap(rows=["regulatory"], columns=["drift"], values=[[0.95]]),
        summary="Two new regulatory risks; Item 1A is 91% similar to fiscal 2024.",
        recommendations=["Watch export-control disclosures."],
        material_changes=[
            MaterialChange(
                score=0.82,
                kind="new_law_regulation",
                change="added",
                reasons=["new law or regulator: AI Diffusion IFR", "new date: January 15, 2025"],
                risk=0,
                risk_title="Export controls on AI chips",
                risk_status="new",
                category="regulatory",
                current="On January 15, 2025, the USG published the AI Diffusion IFR.",
            ),
            MaterialChange(
                score=0.64,
                kind="realised",
                change="edited",
                reasons=["realised: 'may restrict' → 'has restricted'"],
                risk=2,
                risk_title="Dependence on TSMC",
                risk_status="modified",
                category="supply_chain",
                current="The USG has restricted shipments of our H20 products to China.",
                previous="The USG may restrict shipments of our products to China.",
            ),
        ],
    )


async def narrate(url: str, **overrides: Any) -> tuple[str | None, list[dict[str, Any]]]:
    narrator = OpenAINarrator(settings(url, **overrides))
    try:
        with capture_logs() as logs:
            text = await narrator.narrate(result())
    finally:
        await narrator.aclose()
    assert API_KEY not in repr(logs)  # no secrets in logs, whatever happened
    return text, logs


async def test_success_returns_the_narrative_and_sends_a_schema_request(
    llm: tuple[FakeLLM, str],
) -> None:
    fake, url = llm
    text, logs = await narrate(url)
    assert text == NARRATIVE
    assert [entry["event"] for entry in logs] == ["narrative_written"]

    (body,) = fake.bodies
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "risk_drift_narrative", "schema": NARRATIVE_SCHEMA, "strict": True},
    }
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["narrative"]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    prompt = body["messages"][1]["content"]
    facts = json.loads(prompt.split("\n", 1)[1])
    assert facts["risk_counts_by_status"] == {"new": 2, "removed": 1, "modified": 1, "unchanged": 1}
    assert facts["risk_counts_by_category"]["regulatory"] == {"new": 2}
    assert facts["risk_counts_by_category"]["macro"] == {"removed": 1, "unchanged": 1}
    assert facts["item1a_similarity"]["cosine"] == 0.912
    assert facts["fiscal_years"] == {"current": 2025, "previous": 2024}
    assert facts["summary"].startswith("Two new regulatory risks")
    assert facts["most_drifted_risks"][0]["drift_score"] == 1.0

    (headers,) = fake.headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["content-type"] == "application/json"


async def test_no_api_key_sends_no_authorization(llm: tuple[FakeLLM, str]) -> None:
    fake, url = llm
    text, _ = await narrate(url, llm_api_key=None)
    assert text == NARRATIVE
    assert "authorization" not in fake.headers[0]


async def test_shared_client_is_used_and_left_open(llm: tuple[FakeLLM, str]) -> None:
    _, url = llm
    async with httpx.AsyncClient() as client:
        narrator = create_narrator(settings(url), client)
        assert narrator is not None
        assert await narrator.narrate(result()) == NARRATIVE
        await narrator.aclose()
        assert not client.is_closed


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (JSONResponse({"error": {"message": "boom"}}, status_code=500), "http_status"),
        (JSONResponse({"error": {"message": "slow down"}}, status_code=429), "http_status"),
        (JSONResponse({"error": {"message": "bad key"}}, status_code=401), "http_status"),
        (Response("<html>gateway</html>", media_type="text/html"), "invalid_reply"),
        (JSONResponse({"choices": []}), "invalid_reply"),
        (JSONResponse(completion("this is not JSON")), "invalid_reply"),
        (JSONResponse(completion(json.dumps({"story": "x"}))), "invalid_reply"),
        (JSONResponse(completion(json.dumps({"narrative": ""}))), "invalid_reply"),
        (JSONResponse(completion(json.dumps({"narrative": "x", "extra": 1}))), "invalid_reply"),
        (JSONResponse(completion(json.dumps({"narrative": 42}))), "invalid_reply"),
        (JSONResponse(completion(None, refusal="I can't help with that.")), "no_narrative"),
        (JSONResponse(completion(json.dumps({"narrative": "   "}))), "no_narrative"),
    ],
)
async def test_failures_return_none_and_warn(
    llm: tuple[FakeLLM, str], reply: Response, reason: str
) -> None:
    fake, url = llm
    fake.reply = reply
    text, logs = await narrate(url)
    assert text is None
    (entry,) = logs
    assert entry["event"] == "narrative_failed"
    assert entry["log_level"] == "warning"
    assert entry["reason"] == reason
    assert entry["model"] == "gpt-4o-mini"


async def test_timeout_returns_none(llm: tuple[FakeLLM, str]) -> None:
    fake, url = llm
    fake.hang = True
    text, logs = await narrate(url, llm_timeout=0.1)
    assert text is None
    assert logs[0]["reason"] == "timeout"


async def test_connection_error_returns_none() -> None:
    text, logs = await narrate(f"http://127.0.0.1:{closed_port()}/v1")
    assert text is None
    assert logs[0]["reason"] == "http_error"
    assert logs[0]["error"] == "ConnectError"


async def test_create_narrator_is_off_without_llm_url() -> None:
    assert create_narrator(settings(None)) is None
    narrator = create_narrator(settings("http://127.0.0.1:9/v1/"))
    assert isinstance(narrator, OpenAINarrator)
    assert narrator.url == "http://127.0.0.1:9/v1/chat/completions"
    await narrator.aclose()


@pytest.mark.parametrize(
    ("narrative", "claim"),
    [
        ("Item 1A stayed 47% similar to fiscal 2024 while 2 new risks appeared.", "47%"),
        ("Cosine similarity fell to 0.512 as 2 new risks appeared.", "0.512"),
        ("NVIDIA added “We expect tariffs to double our costs” to 1 modified risk.", "“We expect"),
    ],
)
async def test_an_invented_figure_or_quotation_falls_back_to_the_computed_summary(
    llm: tuple[FakeLLM, str], narrative: str, claim: str
) -> None:
    fake, url = llm
    fake.reply = JSONResponse(completion(json.dumps({"narrative": narrative})))
    text, logs = await narrate(url)
    assert text is None
    (entry,) = logs
    assert (entry["event"], entry["reason"]) == ("narrative_failed", "ungrounded")
    assert any(c.startswith(claim) for c in entry["claims"])


def test_grounded_figures_and_quotations_pass() -> None:
    facts = narrative_facts(result())
    text = (
        "Item 1A is 91% similar (cosine 0.912) to fiscal 2024; 2 risks are new, including "
        "“Export controls on AI chips”, and “COVID-19” was removed."
    )
    assert ungrounded(text, facts) == []
    assert ungrounded("Drift reached 0.35 for “Dependence on TSMC”.", facts) == []
    assert ungrounded("Drift reached 0.36.", facts) == ["0.36"]


def test_facts_lead_with_the_material_changes_quoted_verbatim() -> None:
    r = result()
    facts = narrative_facts(r)
    assert next(iter(facts)) == "ticker"
    material = facts["material_changes"]
    assert [m["score"] for m in material] == [0.82, 0.64]
    assert material[0]["sentence_current"] == r.material_changes[0].current
    assert material[1]["sentence_previous"] == r.material_changes[1].previous
    assert material[1]["kind"] == "realised"
    keys = list(facts)
    assert keys.index("material_changes") < keys.index("item1a_similarity")


async def test_the_request_carries_the_material_changes(llm: tuple[FakeLLM, str]) -> None:
    fake, url = llm
    await narrate(url)
    (body,) = fake.bodies
    prompt = body["messages"][1]["content"]
    assert "On January 15, 2025, the USG published the AI Diffusion IFR." in prompt
    assert "material_changes" in body["messages"][0]["content"]


def test_a_material_change_quoted_verbatim_is_grounded() -> None:
    facts = narrative_facts(result())
    text = (
        "The most material change (0.82): “On January 15, 2025, the USG published the AI "
        "Diffusion IFR”; and a risk became real: “The USG has restricted shipments of our "
        "H20 products to China.”"
    )
    assert ungrounded(text, facts) == []


@pytest.mark.parametrize(
    "narrative",
    [
        # One word changed in the material sentence: not what the filing says.
        "NVIDIA reports “The USG has banned shipments of our H20 products to China.”",
        # A score the facts do not hold.
        "The most material change scores 0.93.",
    ],
)
async def test_a_misquoted_material_change_drops_the_narrative(
    llm: tuple[FakeLLM, str], narrative: str
) -> None:
    fake, url = llm
    fake.reply = JSONResponse(completion(json.dumps({"narrative": narrative})))
    text, logs = await narrate(url)
    assert text is None
    (entry,) = logs
    assert (entry["event"], entry["reason"]) == ("narrative_failed", "ungrounded")
