"""The per-receiver cap on webhook attempts in flight, on real Redis."""

from __future__ import annotations

import uuid

import pytest
from arq import ArqRedis

from riskdrift.webhooks.slots import give_slot, receiver_of, receiver_slot, take_slot
from tests.conftest import eventually

pytestmark = pytest.mark.integration


def test_a_receiver_is_its_lower_case_host_and_port() -> None:
    assert receiver_of("https://Hooks.Example.com/a?b=1") == "hooks.example.com:443"
    assert receiver_of("http://hooks.example.com/a") == "hooks.example.com:80"
    assert receiver_of("http://hooks.example.com:8080/a") == "hooks.example.com:8080"
    assert receiver_of("http://[::1]:9000/") == "::1:9000"


async def test_at_most_limit_leases_and_a_given_back_one_is_free_again(redis: ArqRedis) -> None:
    receiver = f"test-{uuid.uuid4().hex}:443"
    first = await take_slot(redis, receiver, limit=2, lease=60)
    second = await take_slot(redis, receiver, limit=2, lease=60)
    assert first is not None
    assert second is not None
    assert first != second
    assert await take_slot(redis, receiver, limit=2, lease=60) is None
    # Another receiver is not affected.
    assert await take_slot(redis, f"other-{receiver}", limit=2, lease=60) is not None
    await give_slot(redis, receiver, first)
    assert await take_slot(redis, receiver, limit=2, lease=60) is not None


async def test_a_lease_whose_holder_died_lapses_by_itself(redis: ArqRedis) -> None:
    receiver = f"test-{uuid.uuid4().hex}:443"
    assert await take_slot(redis, receiver, limit=1, lease=0.2) is not None  # never given back
    assert await take_slot(redis, receiver, limit=1, lease=0.2) is None

    async def lapsed() -> bool:
        return await take_slot(redis, receiver, limit=1, lease=60) is not None

    await eventually(lapsed, deadline=5)


async def test_the_context_manager_gives_back_what_it_took(redis: ArqRedis) -> None:
    url = f"https://test-{uuid.uuid4().hex}.example/hook"
    async with receiver_slot(redis, url, limit=1, lease=60) as held:
        assert held
        async with receiver_slot(redis, url, limit=1, lease=60) as second:
            assert not second
    async with receiver_slot(redis, url, limit=1, lease=60) as again:
        assert again
