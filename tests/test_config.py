"""Settings: environment names, and .env.example documenting every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from riskdrift.config import Settings

ROOT = Path(__file__).resolve().parent.parent
ALIASES = {"REDIS_URL": "redis_url", "DATABASE_URL": "database_url"}


def documented_names() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s?([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match[1])
    return names


def test_env_example_documents_every_setting() -> None:
    fields = {ALIASES.get(n) or n.removeprefix("RISKDRIFT_").lower() for n in documented_names()}
    assert fields == set(Settings.model_fields)


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example:6380/2")
    monkeypatch.setenv("RISKDRIFT_DATABASE_URL", "postgresql://x@db/riskdrift")
    monkeypatch.setenv("RISKDRIFT_FILINGS_DIR", "/srv/filings")
    monkeypatch.setenv("RISKDRIFT_WEBHOOK_ALLOWED_CIDRS", '["10.0.0.0/8"]')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.redis_url == "redis://example:6380/2"
    assert settings.database_url == "postgresql://x@db/riskdrift"
    assert settings.resolved_filings_source == "local"
    assert settings.webhook_allowed_cidrs == ["10.0.0.0/8"]


def test_bad_cidr_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKDRIFT_WEBHOOK_ALLOWED_CIDRS", '["not-a-network"]')
    with pytest.raises(ValueError, match="not-a-network"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_claim_ttl_follows_the_heartbeat_unless_set() -> None:
    """Recovery in seconds by default: the claim outlives three heartbeats."""
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert default.heartbeat_interval == 1.0
    assert default.job_claim_ttl == 3 * default.heartbeat_interval
    slower = Settings(_env_file=None, heartbeat_interval=2.5)  # type: ignore[call-arg]
    assert slower.job_claim_ttl == 7.5
    explicit = Settings(_env_file=None, job_claim_ttl=30, heartbeat_interval=10)  # type: ignore[call-arg]
    assert explicit.job_claim_ttl == 30


def test_a_claim_ttl_a_late_heartbeat_would_break_fails_loudly() -> None:
    with pytest.raises(ValueError, match="at least two heartbeat intervals"):
        Settings(_env_file=None, job_claim_ttl=1.5, heartbeat_interval=1.0)  # type: ignore[call-arg]
