"""The research agent's bounds outside the worker's pool (``riskdrift analyze``, tests):
the budget from Settings, the time limit and a broken executor's process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from riskdrift.agent.research import ResearchAgent, document_limits
from riskdrift.config import Settings
from riskdrift.errors import AnalysisProcessDied, AnalysisTimeLimitExceeded, FilingTooComplex
from riskdrift.models import AnalyzeRequest
from riskdrift.sources.local import LocalFilingSource
from tests.conftest import eventually
from tests.worker.filings import deeply_nested, valid_filing, write

REQUEST = AnalyzeRequest(ticker="ACME", years=[2024, 2023])


def filings(tmp_path: Path, current: bytes, *, risks: int = 12) -> LocalFilingSource:
    write(tmp_path, "ACME", 2024, current)
    write(tmp_path, "ACME", 2023, valid_filing(2023, risks=risks))
    return LocalFilingSource(tmp_path)


async def test_the_settings_budget_refuses_a_hostile_filing(tmp_path: Path) -> None:
    limits = document_limits(Settings(analysis_max_depth=100))
    agent = ResearchAgent(filings(tmp_path, deeply_nested(5_000)), limits=limits)
    with pytest.raises(FilingTooComplex, match="more than 100 nesting depth") as caught:
        await agent.arun(REQUEST)
    assert caught.value.filing == str(tmp_path / "ACME" / "2024.html")


async def test_an_analysis_past_its_time_limit_fails_naming_the_filings(tmp_path: Path) -> None:
    source = filings(tmp_path, valid_filing(2024, risks=300), risks=300)
    agent = ResearchAgent(source, analysis_time_limit=0.05)  # the loop's thread pool
    with pytest.raises(AnalysisTimeLimitExceeded, match=r"time limit \(0.05 s\)") as caught:
        await agent.arun(REQUEST)
    assert str(tmp_path / "ACME" / "2024.html") in str(caught.value)
    assert str(tmp_path / "ACME" / "2023.html") in str(caught.value)


async def test_a_dead_executor_process_is_a_transient_error(tmp_path: Path) -> None:
    source = filings(tmp_path, valid_filing(2024, risks=300), risks=300)
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as executor:
        agent = ResearchAgent(source, executor=executor)
        running = asyncio.create_task(agent.arun(REQUEST))

        def started() -> bool:
            return bool(executor._processes)  # the child exists once the call went out

        await eventually(started, deadline=30)
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(AnalysisProcessDied, match="BrokenProcessPool"):
            await running
