"""Standard Webhooks signing, checked against the reference ``standardwebhooks`` library."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid

import pytest
from pydantic import SecretStr, ValidationError
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as ReferenceVerificationError

from riskdrift.errors import ConfigurationError, InvalidWebhookSecret, WebhookVerificationError
from riskdrift.models import (
    AnalysisResult,
    FilingInfo,
    Heatmap,
    JobLinks,
    RiskCounts,
    SimilarityScores,
)
from riskdrift.webhooks.signing import (
    WebhookPayload,
    generate_secret,
    parse_secret,
    sign,
    verify,
    webhook_headers,
    webhook_id,
)

JOB_ID = uuid.UUID("3f1c1d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f")
LINKS = JobLinks(
    self=f"https://riskdrift.example/jobs/{JOB_ID}",
    stream=f"https://riskdrift.example/stream/{JOB_ID}",
    result=f"https://riskdrift.example/jobs/{JOB_ID}/result",
    report=f"https://riskdrift.example/jobs/{JOB_ID}/report",
)
AT = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def sample_result() -> AnalysisResult:
    return AnalysisResult(
        ticker="AAPL",
        company="Apple Inc. — “quoted” ü",
        cik="0000320193",
        years=[2024, 2023],
        filings=[
            FilingInfo(year=2024, form="10-K", source="local", item1a_chars=10, risk_count=1),
            FilingInfo(year=2023, form="10-K", source="local", item1a_chars=9, risk_count=1),
        ],
        similarity=SimilarityScores(cosine=0.9, jaccard=0.8, min_edit=0.7, simple=0.6),
        risks=[],
        heatmap=Heatmap(rows=[], columns=[], values=[]),
        summary="Item 1A is 90% similar (cosine) to fiscal 2023.",
        recommendations=[],
    )


@pytest.fixture
def rotation() -> list[str]:
    return [generate_secret(), generate_secret(24), generate_secret(64)]


def completed_body() -> bytes:
    return WebhookPayload.completed(
        job_id=JOB_ID, result=sample_result(), links=LINKS, at=AT
    ).to_bytes()


def test_every_secret_of_a_rotation_set_verifies_with_the_reference_library(
    rotation: list[str],
) -> None:
    body = completed_body()
    msg_id = webhook_id(JOB_ID, "job.completed")
    headers = webhook_headers(rotation, msg_id, int(time.time()), body)

    assert headers["content-type"] == "application/json"
    assert len(headers["webhook-signature"].split(" ")) == len(rotation)
    for secret in rotation:
        parsed = Webhook(secret).verify(body, headers)
        assert parsed["type"] == "job.completed"
        assert parsed["data"]["job_id"] == str(JOB_ID)
        verify([secret], headers, body, now=time.time())


def test_signature_matches_a_known_vector() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = sign([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("secret_value", [str, SecretStr])
def test_settings_secretstr_and_plain_strings_are_accepted(secret_value: type) -> None:
    secret = generate_secret()
    body = b"{}"
    headers = webhook_headers([secret_value(secret)], "msg_1", int(time.time()), body)
    Webhook(secret).verify(body, headers)


def test_tampered_body_fails(rotation: list[str]) -> None:
    body = completed_body()
    headers = webhook_headers(rotation, "msg_1", int(time.time()), body)
    tampered = body.replace(b"AAPL", b"MSFT")
    with pytest.raises(ReferenceVerificationError):
        Webhook(rotation[0]).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        verify(rotation, headers, tampered, now=time.time())


def test_tampered_timestamp_fails(rotation: list[str]) -> None:
    body = completed_body()
    now = int(time.time())
    headers = webhook_headers(rotation, "msg_1", now, body)
    headers["webhook-timestamp"] = str(now + 1)
    with pytest.raises(ReferenceVerificationError):
        Webhook(rotation[0]).verify(body, headers)
    with pytest.raises(WebhookVerificationError, match="no matching"):
        verify(rotation, headers, body, now=now)


def test_tampered_id_fails(rotation: list[str]) -> None:
    body = b"{}"
    headers = webhook_headers(rotation, "msg_1", int(time.time()), body)
    headers["webhook-id"] = "msg_2"
    with pytest.raises(WebhookVerificationError):
        verify(rotation, headers, body, now=time.time())


def test_other_secret_fails(rotation: list[str]) -> None:
    body = b"{}"
    headers = webhook_headers(rotation, "msg_1", int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        verify([generate_secret()], headers, body, now=time.time())


def test_verify_enforces_the_timestamp_tolerance() -> None:
    secret = generate_secret()
    body = b"{}"
    now = 1_700_000_000
    headers = webhook_headers([secret], "msg_1", now - 301, body)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify([secret], headers, body, now=now)
    verify([secret], headers, body, now=now, tolerance=600)
    future = webhook_headers([secret], "msg_1", now + 301, body)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify([secret], future, body, now=now)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "msg_1", "webhook-timestamp": "1"},
        {"webhook-id": "msg_1", "webhook-timestamp": "abc", "webhook-signature": "v1,AAAA"},
        {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,%%%"},
        {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v2,AAAA"},
    ],
)
def test_verify_rejects_malformed_headers(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookVerificationError):
        verify([generate_secret()], headers, b"{}", now=1)


def test_verify_matches_headers_case_insensitively() -> None:
    secret = generate_secret()
    headers = webhook_headers([secret], "msg_1", 1000, b"{}")
    verify([secret], {k.upper(): v for k, v in headers.items()}, b"{}", now=1000)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_not base64!!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24-64 bytes, got 5"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "24-64 bytes, got 65"),
        ("whsec_", "24-64 bytes, got 0"),
    ],
)
def test_bad_secret_is_a_clear_configuration_error(secret: str, message: str) -> None:
    with pytest.raises(InvalidWebhookSecret, match=message) as caught:
        sign([secret], "msg_1", 1, b"{}")
    assert isinstance(caught.value, ConfigurationError)
    if len(secret) > len("whsec_"):
        assert secret not in str(caught.value)
        assert secret.removeprefix("whsec_") not in str(caught.value)


def test_bad_secret_names_its_position_in_the_rotation_set() -> None:
    with pytest.raises(InvalidWebhookSecret, match="#2"):
        sign([generate_secret(), "nope"], "msg_1", 1, b"{}")


def test_no_secret_is_an_error() -> None:
    with pytest.raises(InvalidWebhookSecret, match="no webhook secret"):
        sign([], "msg_1", 1, b"{}")


def test_a_single_string_is_not_taken_for_a_list_of_secrets() -> None:
    with pytest.raises(TypeError):
        sign(generate_secret(), "msg_1", 1, b"{}")


def test_parse_secret_round_trips() -> None:
    key = bytes(range(32))
    assert parse_secret("whsec_" + base64.b64encode(key).decode()) == key


@pytest.mark.parametrize(("msg_id", "timestamp"), [("", 1), ("msg 1", 1), ("msg_1", -1)])
def test_sign_rejects_bad_ids_and_timestamps(msg_id: str, timestamp: int) -> None:
    with pytest.raises(ValueError, match=r"msg_id|timestamp"):
        sign([generate_secret()], msg_id, timestamp, b"{}")


def test_webhook_id_is_deterministic_per_job_and_type() -> None:
    completed = webhook_id(JOB_ID, "job.completed")
    assert completed == webhook_id(str(JOB_ID), "job.completed")
    assert completed.startswith("msg_")
    assert completed != webhook_id(JOB_ID, "job.failed")
    assert completed != webhook_id(uuid.uuid4(), "job.completed")


def test_completed_payload_shape() -> None:
    payload = WebhookPayload.completed(job_id=JOB_ID, result=sample_result(), links=LINKS, at=AT)
    body = payload.to_bytes()
    decoded = json.loads(body)
    assert decoded["type"] == "job.completed"
    assert dt.datetime.fromisoformat(decoded["timestamp"]) == AT
    data = decoded["data"]
    assert data["job_id"] == str(JOB_ID)
    assert data["ticker"] == "AAPL"
    assert data["years"] == [2024, 2023]
    assert data["status"] == "completed"
    assert data["summary"] == sample_result().summary
    assert data["error"] is None
    assert data["links"] == LINKS.model_dump()
    assert AnalysisResult.model_validate(data["result"]) == sample_result()
    assert WebhookPayload.model_validate_json(body) == payload
    assert payload.webhook_id == webhook_id(JOB_ID, "job.completed")
    assert "ü".encode() in body  # UTF-8 JSON, not \u escapes or Python repr


def test_completed_payload_may_leave_out_the_result() -> None:
    payload = WebhookPayload.completed(
        job_id=JOB_ID, result=sample_result(), links=LINKS, at=AT, include_result=False
    )
    assert json.loads(payload.to_bytes())["data"]["result"] is None


def test_a_stored_results_bytes_are_spliced_into_the_envelope_as_they_are() -> None:
    """``with_result_json``: the body of a full job.completed webhook holds the stored
    result's bytes verbatim (never re-serialised) and reads as the model-built payload."""
    result = sample_result()
    stored = json.dumps(result.model_dump(mode="json"), indent=1).encode()  # any valid JSON
    envelope = WebhookPayload.completed_envelope(
        job_id=JOB_ID,
        ticker=result.ticker,
        years=result.years,
        summary=result.summary,
        counts=RiskCounts.of(result),
        links=LINKS,
        at=AT,
    )
    body = envelope.with_result_json(stored)
    assert body.endswith(b',"result":' + stored + b"}}")
    expected = WebhookPayload.completed(job_id=JOB_ID, result=result, links=LINKS, at=AT)
    assert WebhookPayload.model_validate_json(body) == expected
    assert json.loads(envelope.to_bytes())["data"]["result"] is None  # thin


def test_failed_payload_shape() -> None:
    payload = WebhookPayload.failed(
        job_id=JOB_ID,
        ticker="AAPL",
        years=[2024, 2023],
        error="no 10-K for AAPL fiscal 2024",
        links=LINKS,
        at=AT,
    )
    data = json.loads(payload.to_bytes())["data"]
    assert payload.type == "job.failed"
    assert data["status"] == "failed"
    assert data["error"] == "no 10-K for AAPL fiscal 2024"
    assert data["summary"] is None
    assert data["result"] is None


@pytest.mark.parametrize(
    "data",
    [
        {"status": "failed", "summary": "s"},
        {"status": "completed"},
    ],
)
def test_payload_type_and_data_must_agree(data: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        WebhookPayload.model_validate(
            {
                "type": "job.completed",
                "timestamp": AT,
                "data": {
                    "job_id": JOB_ID,
                    "ticker": "AAPL",
                    "years": [2024, 2023],
                    "links": LINKS,
                    **data,
                },
            }
        )


def test_payload_timestamp_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError):
        WebhookPayload.completed(
            job_id=JOB_ID, result=sample_result(), links=LINKS, at=dt.datetime(2025, 1, 1)
        )
