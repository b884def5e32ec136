"""The ``riskdrift`` command answers bad input with a message and exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.corpus import REAL10K, needs_corpus
from tests.processes import run_cli


def riskdrift(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli({**os.environ, **env}, *args, timeout=120)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["analyze", "ACME", "2024", "1999"], {}, "years: fiscal year 1999 is out of range"),
        (["analyze", "B@D", "2024", "2023"], {}, "ticker: ticker must be"),
        (["analyze", "ACME", "2024", "2023"], {"RISKDRIFT_API_PORT": "abc"}, "api_port:"),
        (
            ["analyze", "ACME", "2024", "2023"],
            {"RISKDRIFT_WEBHOOK_ALLOWED_CIDRS": "nope"},
            "configuration error",
        ),
        (["analyze", "ZZZZ", "2024", "2023"], {}, "no 10-K for ZZZZ fiscal 2024"),
    ],
)
def test_bad_input_is_a_message(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    run = riskdrift(*args, "--filings-dir", str(tmp_path), **env)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_binary_junk_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "JUNK").mkdir()
    (tmp_path / "JUNK" / "2024.html").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "JUNK" / "2023.html").write_bytes(b"")
    run = riskdrift("analyze", "JUNK", "2024", "2023", "--filings-dir", str(tmp_path))
    assert run.returncode == 2
    assert "JUNK/20" in run.stderr
    assert "Traceback" not in run.stderr


@needs_corpus
def test_amendment_without_item_1a_is_named(tmp_path: Path) -> None:
    (tmp_path / "TSLA").mkdir()
    (tmp_path / "TSLA" / "2024.html").write_bytes(
        (REAL10K / "TSLA" / "2024.10-KA.html").read_bytes()
    )
    (tmp_path / "TSLA" / "2023.html").write_bytes((REAL10K / "TSLA" / "2023.html").read_bytes())
    run = riskdrift("analyze", "TSLA", "2024", "2023", "--filings-dir", str(tmp_path))
    assert run.returncode == 2
    assert "TSLA/2024.html" in run.stderr
    assert "Item 1A" in run.stderr


@needs_corpus
def test_analyze_json_is_the_result_model() -> None:
    from riskdrift.models import AnalysisResult

    run = riskdrift("analyze", "AAPL", "2025", "2024", "--filings-dir", str(REAL10K), "--json")
    assert run.returncode == 0, run.stderr
    result = AnalysisResult.model_validate_json(run.stdout)
    assert (result.ticker, result.years) == ("AAPL", [2025, 2024])
    assert result.filings[0].risk_count > 20


def test_analyze_writes_the_html_report_and_the_csv(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parent.parent / "riskdrift" / "samples" / "filings"
    page, table = tmp_path / "acme.html", tmp_path / "acme.csv"
    run = riskdrift(
        "analyze", "ACME", "2024", "2023", "--filings-dir", str(samples),
        "--html", str(page), "--csv", str(table),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"report written to {page}" in " ".join(run.stderr.split())
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    header = table.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("index,status,category,")

    for flag, path, message in (
        ("--html", tmp_path / "missing" / "x.html", "no directory"),
        ("--csv", tmp_path, "it is a directory"),
    ):
        bad = riskdrift(
            "analyze", "ACME", "2024", "2023", "--filings-dir", str(samples), flag, str(path)
        )
        assert bad.returncode == 2
        assert message in bad.stderr
        assert "Traceback" not in bad.stderr


def test_version() -> None:
    from riskdrift import __version__

    run = riskdrift("--version")
    assert run.returncode == 0
    assert run.stdout.strip() == f"riskdrift {__version__}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("whsec_c2hvcnQ=", "webhook_secrets: webhook secret #1 must decode to 24-64 bytes"),
        ("not-a-secret", "webhook_secrets: webhook secret #1 must start with 'whsec_'"),
        ('["whsec_c2hvcnQ="', "webhook_secrets: is neither one secret nor a JSON list"),
    ],
)
def test_bad_webhook_secret_stops_start_up(value: str, message: str) -> None:
    run = riskdrift("worker", RISKDRIFT_WEBHOOK_SECRETS=value)
    assert run.returncode == 2
    assert message in run.stderr
    assert value not in run.stderr.replace(message, "")
    assert "Traceback" not in run.stderr


def test_webhook_secret_alone_or_as_a_list() -> None:
    from riskdrift.config import Settings
    from riskdrift.webhooks.signing import generate_secret

    one, two = generate_secret(), generate_secret()
    alone = Settings(webhook_secrets=one)  # type: ignore[arg-type]  # as the environment passes it
    listed = Settings(webhook_secrets=f'["{one}", "{two}"]')  # type: ignore[arg-type]
    assert [s.get_secret_value() for s in alone.webhook_secrets] == [one]
    assert [s.get_secret_value() for s in listed.webhook_secrets] == [one, two]


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        (
            ["worker"],
            {"DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/x"},
            "PostgreSQL is not reachable at postgresql://u:***@127.0.0.1:1/x",
        ),
        (
            ["api", "--port", "1"],
            {"REDIS_URL": "redis://127.0.0.1:1/0"},
            "Redis is not reachable at redis://127.0.0.1:1/0",
        ),
    ],
)
def test_unreachable_service_is_one_line(
    command: list[str], env: dict[str, str], message: str
) -> None:
    run = riskdrift(*command, **env)
    assert run.returncode == 2
    assert message in run.stderr
    assert "hunter2" not in run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_submit_to_an_api_that_is_not_running_is_one_line() -> None:
    run = riskdrift(
        "submit", "NVDA", "2025", "2024", "--follow", RISKDRIFT_API_URL="http://127.0.0.1:1"
    )
    assert run.returncode == 2
    assert "cannot reach the API at http://127.0.0.1:1" in run.stderr
    assert "make run" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
