"""Standard Webhooks signing: payload model, message ids, headers and verification.

Pure: bytes, strings and models in, bytes, strings and models out; no I/O.

The contract (https://www.standardwebhooks.com/, DESIGN.md "Contracts"):

* A webhook body is a :class:`WebhookPayload` serialised **once** with
  :meth:`WebhookPayload.to_bytes`, or, for a ``job.completed`` body that carries the
  result, :meth:`WebhookPayload.with_result_json`: the envelope with the stored
  result's JSON bytes spliced in as they are (the result is never re-serialised).
  Whatever the bytes, they are exactly what an attempt signs and sends.
* ``webhook-id`` is :func:`webhook_id` of the job and event type: fixed across
  retries (and across at-least-once re-runs of the job) so receivers can
  de-duplicate.
* ``webhook-timestamp`` is the time of the *attempt*, and the signature is
  recomputed per attempt with :func:`webhook_headers`. A retry 24 hours later
  therefore still passes a receiver's timestamp tolerance (5 minutes in the
  reference libraries), while the body and id stay the same.
* ``webhook-signature`` is ``v1,<base64 HMAC-SHA256>`` over
  ``f"{id}.{timestamp}.".encode() + body``, one per configured secret,
  space-separated, so a receiver keeps verifying during secret rotation.

Secrets are ``whsec_<base64>`` strings of 24-64 random bytes (the spec's range);
:func:`parse_secret` rejects anything else with :class:`InvalidWebhookSecret`,
whose message never contains the secret.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets as _secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, SecretStr, model_validator

from riskdrift.errors import (
    InvalidWebhookSecret,
    WebhookVerificationError,
)
from riskdrift.models import AnalysisResult, JobLinks, RiskCounts

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = 300  # seconds, as in the reference Standard Webhooks libraries

# Fixed namespace for message ids: uuid5(this, "<job_id>:<event type>").
WEBHOOK_ID_NAMESPACE = uuid.UUID("6f0c1f55-4c1e-5b8a-9d1e-72a5d5f0a7e1")

EventType = Literal["job.completed", "job.failed"]


# --- secrets ------------------------------------------------------------------------------


SecretInput = str | SecretStr


def _reveal(secret: SecretInput) -> str:
    return secret if isinstance(secret, str) else secret.get_secret_value()


def parse_secret(secret: SecretInput, *, position: int | None = None) -> bytes:
    """Decode a ``whsec_<base64>`` secret to its key bytes.

    ``secret`` may be a plain string or a ``pydantic.SecretStr``. Raises
    :class:`InvalidWebhookSecret` naming the problem (and ``position`` in the
    configured list, if given) but never the secret itself.
    """
    where = f"webhook secret #{position + 1}" if position is not None else "webhook secret"
    value = _reveal(secret).strip()
    if not value.startswith(SECRET_PREFIX):
        raise InvalidWebhookSecret(f"{where} must start with {SECRET_PREFIX!r}")
    encoded = value[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidWebhookSecret(
            f"{where} is not valid base64 after the {SECRET_PREFIX!r} prefix"
        ) from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"{where} must decode to {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes, got {len(key)}"
        )
    return key


def parse_secrets(secrets: Sequence[SecretInput]) -> list[bytes]:
    """Decode every secret of a rotation set; at least one is required."""
    if isinstance(secrets, str):
        raise TypeError("secrets must be a sequence of secrets, not a single string")
    if not secrets:
        raise InvalidWebhookSecret("no webhook secret configured (set RISKDRIFT_WEBHOOK_SECRETS)")
    return [parse_secret(secret, position=i) for i, secret in enumerate(secrets)]


def generate_secret(nbytes: int = 32) -> str:
    """A fresh random ``whsec_`` secret, for operators and tests."""
    if not MIN_SECRET_BYTES <= nbytes <= MAX_SECRET_BYTES:
        raise ValueError(f"nbytes must be {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES}")
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(nbytes)).decode("ascii")


# --- signing ------------------------------------------------------------------------------


def webhook_id(job_id: uuid.UUID | str, event_type: EventType) -> str:
    """The message id of a job's webhook: deterministic per job and event type.

    Retries and at-least-once re-runs of the same job produce the same id, so a
    receiver can de-duplicate on ``webhook-id``.
    """
    job = uuid.UUID(str(job_id))
    return "msg_" + uuid.uuid5(WEBHOOK_ID_NAMESPACE, f"{job}:{event_type}").hex


def _check_header_value(name: str, value: str) -> None:
    # The id and timestamp go into HTTP headers and into the signed content,
    # where a "." or whitespace would make the signed string ambiguous.
    if not value or any(ch.isspace() for ch in value) or not value.isprintable():
        raise ValueError(f"{name} must be non-empty printable text without whitespace")


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _signature(key: bytes, content: bytes) -> str:
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def sign(secrets: Sequence[SecretInput], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,<base64>`` per secret, space-separated.

    ``timestamp`` is whole seconds since the epoch (the attempt time).
    """
    _check_header_value("msg_id", msg_id)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("timestamp must be a non-negative integer of epoch seconds")
    content = _signed_content(msg_id, timestamp, body)
    return " ".join(_signature(key, content) for key in parse_secrets(secrets))


def webhook_headers(
    secrets: Sequence[SecretInput], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """All headers of one delivery attempt: id, timestamp, signature and content type."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(
    secrets: Sequence[SecretInput],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int | float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Check a received webhook; raise :class:`WebhookVerificationError` if it fails.

    Headers are matched case-insensitively. The timestamp must be within
    ``tolerance`` seconds of ``now`` (epoch seconds, passed in to keep this pure)
    and at least one ``v1`` signature must match one of ``secrets`` (compared in
    constant time).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    raw_timestamp = lowered.get("webhook-timestamp")
    raw_signatures = lowered.get("webhook-signature")
    if not (msg_id and raw_timestamp and raw_signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not integer epoch seconds")
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance window")

    content = _signed_content(msg_id, timestamp, body)
    expected = [hmac.new(key, content, hashlib.sha256).digest() for key in parse_secrets(secrets)]
    for candidate in raw_signatures.split(" "):
        version, _, encoded = candidate.partition(",")
        if version != SIGNATURE_VERSION or not encoded:
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Compare against every key without short-circuiting on the key index.
        matched = False
        for digest in expected:
            matched |= hmac.compare_digest(digest, given)
        if matched:
            return
    raise WebhookVerificationError("no matching webhook signature")


# --- payload ------------------------------------------------------------------------------


class WebhookJobData(BaseModel):
    """``data`` of a webhook: the finished job, its links and (on success) its risk counts
    and its result; a thin webhook (``callback_payload: "thin"``) leaves the result out."""

    model_config = ConfigDict(extra="forbid")

    job_id: uuid.UUID
    ticker: str
    years: list[int]
    status: Literal["completed", "failed"]
    summary: str | None = None
    error: str | None = None
    links: JobLinks
    counts: RiskCounts | None = None
    result: AnalysisResult | None = None


class WebhookPayload(BaseModel):
    """The JSON body of a webhook: ``{"type", "timestamp", "data"}``.

    ``timestamp`` is when the event happened (the job finished), not the
    attempt time; that one travels in the ``webhook-timestamp`` header.
    ``summary`` and ``error`` are both always present, one of them ``null``.
    """

    model_config = ConfigDict(extra="forbid")

    type: EventType
    timestamp: AwareDatetime
    data: WebhookJobData

    @model_validator(mode="after")
    def _consistent(self) -> WebhookPayload:
        expected = "completed" if self.type == "job.completed" else "failed"
        if self.data.status != expected:
            raise ValueError(f"{self.type} must carry data.status={expected!r}")
        if self.type == "job.completed" and self.data.summary is None:
            raise ValueError("job.completed must carry data.summary")
        if self.type == "job.failed" and not self.data.error:
            raise ValueError("job.failed must carry data.error")
        return self

    @classmethod
    def completed(
        cls,
        *,
        job_id: uuid.UUID,
        result: AnalysisResult,
        links: JobLinks,
        at: dt.datetime,
        include_result: bool = True,
    ) -> WebhookPayload:
        """The ``job.completed`` payload of a finished analysis."""
        return cls(
            type="job.completed",
            timestamp=at,
            data=WebhookJobData(
                job_id=job_id,
                ticker=result.ticker,
                years=result.years,
                status="completed",
                summary=result.summary,
                links=links,
                counts=RiskCounts.of(result),
                result=result if include_result else None,
            ),
        )

    @classmethod
    def completed_envelope(
        cls,
        *,
        job_id: uuid.UUID,
        ticker: str,
        years: list[int],
        summary: str,
        counts: RiskCounts,
        links: JobLinks,
        at: dt.datetime,
    ) -> WebhookPayload:
        """The ``job.completed`` payload without its result: a thin webhook as it is, or
        the envelope :meth:`with_result_json` fills with the stored result's bytes."""
        return cls(
            type="job.completed",
            timestamp=at,
            data=WebhookJobData(
                job_id=job_id,
                ticker=ticker,
                years=years,
                status="completed",
                summary=summary,
                links=links,
                counts=counts,
            ),
        )

    def with_result_json(self, result: bytes) -> bytes:
        """This payload's bytes with ``result`` (a stored result's JSON, as it is) as
        ``data.result``: the result is the last member of ``data``, ``data`` the last of
        the payload, so the envelope is dumped without it and the bytes spliced in."""
        envelope = self.model_dump_json(exclude={"data": {"result"}}).encode("utf-8")
        if not envelope.endswith(b"}}"):
            raise ValueError("a webhook envelope must end with its data object")
        return envelope[:-2] + b',"result":' + result + b"}}"

    @classmethod
    def failed(
        cls,
        *,
        job_id: uuid.UUID,
        ticker: str,
        years: list[int],
        error: str,
        links: JobLinks,
        at: dt.datetime,
    ) -> WebhookPayload:
        """The ``job.failed`` payload; ``error`` is the user-facing message."""
        return cls(
            type="job.failed",
            timestamp=at,
            data=WebhookJobData(
                job_id=job_id,
                ticker=ticker,
                years=years,
                status="failed",
                error=error,
                links=links,
            ),
        )

    @property
    def webhook_id(self) -> str:
        """The deterministic ``webhook-id`` of this job and event type."""
        return webhook_id(self.data.job_id, self.type)

    def to_bytes(self) -> bytes:
        """Serialise once: the exact bytes to store, sign and send (UTF-8 JSON)."""
        return self.model_dump_json().encode("utf-8")
