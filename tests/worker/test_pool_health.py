"""The analysis worker's health key (what ``arq … --check`` reads) follows its pool:
not refreshed while no analysis process can be started, refreshed again once one can."""

from __future__ import annotations

import os
import signal

import pytest
from arq import ArqRedis

from riskdrift.config import Settings
from riskdrift.errors import AnalysisProcessDied
from riskdrift.queue import health_check_key
from riskdrift.worker.analysis_pool import AnalysisPool
from riskdrift.worker.resilient import create_resilient_worker
from tests.conftest import eventually
from tests.doubles import ScriptedAgent, settings_for, tiny_result
from tests.worker import pool_calls

pytestmark = pytest.mark.integration


async def test_health_key_is_not_refreshed_while_the_pool_cannot_analyse(
    redis: ArqRedis, settings: Settings
) -> None:
    async def script(request: object, progress: object, n: int) -> object:
        return tiny_result(request)  # type: ignore[arg-type]

    worker = create_resilient_worker(
        settings_for(ScriptedAgent(script), settings),  # type: ignore[arg-type]
        redis_pool=redis,
        handle_signals=False,
        health_check_interval=0,  # every call writes, as an interval would have passed
    )
    pool = AnalysisPool(1, preload="")
    worker.ctx["analysis_pool"] = pool
    key = health_check_key(settings.queue_name)
    try:
        await pool.start()
        await worker.record_health()
        assert await redis.exists(key)

        await redis.delete(key)
        pool.preload = "riskdrift_no_such_module"  # replacements now fail at start
        os.kill(await pool.run(pool_calls.pid), signal.SIGKILL)
        with pytest.raises(AnalysisProcessDied):
            await pool.run(pool_calls.pid)
        await eventually(lambda: not pool.healthy, deadline=30)
        await worker.record_health()
        assert not await redis.exists(key)  # --check reads "down" once the key has expired

        pool.preload = ""  # the next replacement starts
        await eventually(lambda: pool.healthy, deadline=30)
        await worker.record_health()
        assert await redis.exists(key)
    finally:
        await pool.aclose()
