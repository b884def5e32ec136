"""Logging: secrets never reach the log output, JSON lines in production."""

from __future__ import annotations

import json

import httpx
import pytest
import structlog

from riskdrift.config import Settings
from riskdrift.logging import configure_logging


@pytest.fixture
def json_logs() -> Settings:
    settings = Settings(environment="production", _env_file=None)  # type: ignore[call-arg]
    configure_logging(settings)
    return settings


def test_secrets_are_redacted(json_logs: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    log = structlog.get_logger("test")
    log.info(
        "connecting",
        database_url="postgresql://riskdrift:hunter2@db:5432/riskdrift",
        dsn="redis://:s3cret@cache:6379/0",
        webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        note="key rdk_abcdefghijklmnop and header Bearer tok.en-123 and whsec_QUJDREVGR0g=",
        api_key="anything",
        password="pw",
    )
    out = capsys.readouterr().err
    for secret in [
        "hunter2",
        "s3cret",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "rdk_abcdefghijklmnop",
        "tok.en-123",
        "QUJDREVGR0g",
        "anything",
        '"pw"',
    ]:
        assert secret not in out, secret
    line = json.loads(out.strip().splitlines()[-1])
    assert line["event"] == "connecting"
    assert line["level"] == "info"
    assert line["dsn"] == "[redacted]"  # a key that names a secret is dropped whole
    assert line["database_url"] == "postgresql://riskdrift:[redacted]@db:5432/riskdrift"


def test_free_text_urls_keep_their_host(
    json_logs: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    structlog.get_logger("test").warning("retrying", target="https://user:pw@hooks.example/x")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["target"] == "https://user:[redacted]@hooks.example/x"


async def test_request_urls_of_the_http_client_stay_out_of_the_log(
    json_logs: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # A callback URL with a token in its query, as receivers often hand them out.
    url = "https://hooks.example/riskdrift?token=tok_9f8e7d6c5b4a"
    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.post(url, content=b"{}")).status_code == 204
    structlog.get_logger("test").info("after_request")
    out = capsys.readouterr().err
    assert "after_request" in out  # INFO lines are written
    assert "tok_9f8e7d6c5b4a" not in out


def test_console_tracebacks_are_plain_not_rich(capsys: pytest.CaptureFixture[str]) -> None:
    """A traceback in the console format is the plain one, without frames' locals: the
    rich one costs ~1 s of CPU on the worker's event loop, long enough for running jobs'
    claims (3 s) to lapse when a few are logged at once (bench/bench_chaos.py)."""
    configure_logging(Settings(environment="development", _env_file=None))  # type: ignore[call-arg]
    secret_local = "a-local-of-the-failing-frame"  # noqa: F841 (a local rich would print)
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except OSError:
        structlog.get_logger("test").warning("pool_floor_not_restored", exc_info=True)
    out = capsys.readouterr().err
    assert "Traceback (most recent call last):" in out
    assert "ConnectionRefusedError: [Errno 111] Connect call failed" in out
    assert "╭" not in out  # rich's box
    assert "a-local-of-the-failing-frame" not in out  # no frame locals
