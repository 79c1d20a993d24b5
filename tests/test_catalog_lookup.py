"""A story catalogued through one collector is counted by the others at once: a beacon for
an id a collector does not know yet asks the store, within bounds, before refusing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.core.config import Settings
from ranker.http.app import create_app
from ranker.store.catalog import LOOKUP_EVERY, MAX_LOOKUPS
from tests.support import BROWSER_HEADERS, hit, put_item


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    """A second collector on the same store, which refreshes its catalog only hourly."""
    server = TestServer(create_app(settings), host="127.0.0.1")
    async with TestClient(server, headers=BROWSER_HEADERS) as test_client:
        yield test_client


async def _lookups(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_sismember", {}).get("calls", 0))


async def test_a_story_catalogued_elsewhere_counts_at_once(
    client: TestClient[Any, Any], other: TestClient[Any, Any]
) -> None:
    await put_item(client, "breaking")
    # Beacons arriving together for the new id: one lookup, all counted.
    statuses = await asyncio.gather(*(hit(other, "breaking") for _ in range(5)))
    assert statuses == [204] * 5
    assert await hit(other, "breaking") == 204  # known from now on


async def test_a_miss_is_remembered_for_a_second(
    client: TestClient[Any, Any], other: TestClient[Any, Any], redis: Redis
) -> None:
    assert await hit(other, "later") == 404
    await put_item(client, "later")
    before = await _lookups(redis)
    assert await hit(other, "later") == 404  # the miss is remembered: no lookup
    assert await _lookups(redis) == before
    await asyncio.sleep(LOOKUP_EVERY)
    assert await hit(other, "later") == 204


async def test_made_up_ids_cost_the_store_a_bounded_number_of_lookups(
    other: TestClient[Any, Any], redis: Redis
) -> None:
    before = await _lookups(redis)
    for n in range(3 * MAX_LOOKUPS):
        assert await hit(other, f"made-up-{n}") == 404
    # Within one or two seconds of the clock: at most MAX_LOOKUPS each.
    assert 0 < await _lookups(redis) - before <= 2 * MAX_LOOKUPS
    # A malformed id is never asked about.
    before = await _lookups(redis)
    response = await other.post("/v1/hit", json={"site": "news", "id": "../x"})
    assert response.status == 400
    assert await _lookups(redis) == before
