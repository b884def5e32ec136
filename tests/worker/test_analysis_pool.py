"""The analysis pool on its own: real child processes, killed and replaced as they must be."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from riskdrift.errors import (
    AnalysisMemoryExceeded,
    AnalysisProcessDied,
    AnalysisTimeLimitExceeded,
    AnalysisUnavailable,
    PermanentError,
    TransientError,
)
from riskdrift.worker.analysis_pool import AnalysisPool
from tests.conftest import eventually
from tests.processes import alive
from tests.worker import pool_calls

MEMORY_MB = 1024


@pytest.fixture
async def pool() -> object:
    # preload "": the test functions need no analysis imports, so children start fast
    pool = AnalysisPool(1, memory_mb=MEMORY_MB, preload="")
    await pool.start()
    try:
        yield pool
    finally:
        await pool.aclose()


async def test_an_overrunning_call_has_its_process_killed_and_the_next_call_gets_a_fresh_one(
    pool: AnalysisPool,
) -> None:
    first = await pool.run(pool_calls.pid)
    with pytest.raises(AnalysisTimeLimitExceeded) as caught:
        await pool.run(pool_calls.spin, 600, time_limit=0.5, subject="ACME 2024 and ACME 2023")
    assert isinstance(caught.value, PermanentError)
    assert "time limit (0.5 s)" in str(caught.value)
    assert "ACME 2024 and ACME 2023" in str(caught.value)
    await eventually(lambda: not alive(first), deadline=10)
    second = await pool.run(pool_calls.pid)
    assert second != first
    assert alive(second)


async def test_a_calls_progress_reports_arrive_while_it_runs(
    pool: AnalysisPool, tmp_path: Path
) -> None:
    """Each ``on_step`` report of the child is awaited by the caller as it is made: the
    child waits for the caller to have heard its first report before making the next."""
    go = tmp_path / "go"
    heard: list[str] = []

    async def on_step(step: str) -> None:
        heard.append(step)
        if step == "first":
            go.touch()

    outcome = await pool.run(pool_calls.report_until_told, str(go), on_step=on_step)
    assert (outcome, heard) == ("done", ["first", "second"])
    assert await pool.run(pool_calls.pid) > 0  # the protocol is back in step


async def test_a_killed_process_fails_the_call_transiently_and_is_replaced(
    pool: AnalysisPool,
) -> None:
    victim = await pool.run(pool_calls.pid)
    running = asyncio.create_task(pool.run(pool_calls.spin, 600, subject="the pair"))
    await eventually(lambda: pool_busy(pool), deadline=10)
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(AnalysisProcessDied) as caught:
        await running
    assert isinstance(caught.value, TransientError)  # the job is retried, not failed
    assert "SIGKILL" in str(caught.value)
    assert await pool.run(pool_calls.pid) != victim
    assert pool.healthy


def pool_busy(pool: AnalysisPool) -> bool:
    return pool._idle.empty()  # the one child has the call


async def test_a_memory_bomb_hits_the_ceiling_and_the_pool_lives_on(pool: AnalysisPool) -> None:
    with pytest.raises(AnalysisMemoryExceeded) as caught:
        await pool.run(pool_calls.hold_memory, 2 * MEMORY_MB, subject="BIG 2024 10-K")
    assert str(caught.value) == f"filing too large to analyse within {MEMORY_MB} MB: BIG 2024 10-K"
    assert await pool.run(pool_calls.hold_memory, 64) == 64 * 1024 * 1024


async def test_errors_come_back_as_raised_and_the_process_is_kept(pool: AnalysisPool) -> None:
    before = await pool.run(pool_calls.pid)
    with pytest.raises(ValueError, match="bad filing"):
        await pool.run(pool_calls.fail, "bad filing")
    assert await pool.run(pool_calls.pid) == before


async def test_a_cancelled_call_kills_its_process(pool: AnalysisPool) -> None:
    victim = await pool.run(pool_calls.pid)
    running = asyncio.create_task(pool.run(pool_calls.spin, 600))
    await eventually(lambda: pool_busy(pool), deadline=10)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await eventually(lambda: not alive(victim), deadline=10)
    assert await pool.run(pool_calls.pid) != victim


async def test_children_ignore_sigint_and_sigterm(pool: AnalysisPool) -> None:
    assert await pool.run(pool_calls.signals_ignored) == (True, True)
    child = await pool.run(pool_calls.pid)
    os.kill(child, signal.SIGTERM)
    os.kill(child, signal.SIGINT)
    assert await pool.run(pool_calls.pid) == child  # still the same, still answering


async def test_unhealthy_while_no_process_can_start_then_recovers(pool: AnalysisPool) -> None:
    victim = await pool.run(pool_calls.pid)
    pool.preload = "riskdrift_no_such_module"  # every new child now fails at start
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(AnalysisProcessDied):
        await pool.run(pool_calls.pid)
    await eventually(lambda: not pool.healthy, deadline=30)
    with pytest.raises(AnalysisUnavailable):
        await pool.run(pool_calls.pid)
    pool.preload = ""
    await eventually(lambda: pool.healthy, deadline=30)
    assert alive(await pool.run(pool_calls.pid))


async def test_closing_ends_every_child(pool: AnalysisPool) -> None:
    child = await pool.run(pool_calls.pid)
    await pool.aclose()
    await eventually(lambda: not alive(child), deadline=10)


async def test_a_call_that_came_near_the_ceiling_gets_its_process_replaced_not_failed(
    pool: AnalysisPool,
) -> None:
    before = await pool.run(pool_calls.pid)
    # a peak of 95 % of the ceiling: over the 90 % mark, under the ceiling
    near = int(0.95 * MEMORY_MB) - await pool.run(pool_calls.address_space_mb)
    assert await pool.run(pool_calls.hold_memory, near) == near * 1024 * 1024
    after = await pool.run(pool_calls.pid)  # a fresh process, and no error for anyone
    assert after != before
