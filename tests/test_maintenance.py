"""Upkeep: one collector at a time keeps the hot rankings small; nothing else changes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.http.app import create_app
from ranker.store import keys
from ranker.store.redis import Store
from tests.support import BROWSER_HEADERS, FakeClock, flush, hit, make_settings, put_item

Client = TestClient[Any, Any]
HOUR = 3600.0  # the "news" site's half-life in make_settings


async def hot(redis: Redis, scope: str = "all") -> dict[str, float]:
    return dict(await redis.zrange(keys.hot("news", scope), 0, -1, withscores=True))


async def top_ids(client: Client, window: str) -> list[str]:
    doc = await (await client.get(f"/v1/sites/news/top?n=10&window={window}")).json()
    return [i["id"] for i in doc["items"]]


async def test_stories_whose_decayed_views_are_negligible_leave_the_hot_ranking(
    client: Client, redis: Redis, clock: FakeClock, engine: Any
) -> None:
    store = Store(redis, make_settings(engine.url))
    for item in ("old", "new"):
        await put_item(client, item, section="tech")
    await hit(client, "old")
    await flush(client)
    # One view 20 half-lives ago is 9.5e-7 views now, under the threshold; 20 half-lives
    # is short of a rebase (24), which would prune as well.
    clock.advance(20 * HOUR)
    await hit(client, "new")
    await flush(client)
    done, pruned, trimmed, _ = await store.maintain("news", clock(), HOUR, 60.0)
    assert (done, pruned, trimmed) == (True, 1, 0)  # the one hot ranking (sections read it)
    assert set(await hot(redis)) == {"new"}
    assert await top_ids(client, "all") == ["new", "old"]  # all-time counts stay


async def test_the_long_tail_is_trimmed_to_hot_max(
    client: Client, redis: Redis, clock: FakeClock, engine: Any
) -> None:
    store = Store(redis, make_settings(engine.url, hot_max=3))
    for k in range(5):
        await put_item(client, f"s{k}")
        for _ in range(k + 1):
            await hit(client, f"s{k}")
    await flush(client)
    before = await top_ids(client, "hot")
    assert await store.maintain("news", clock(), HOUR, 60.0) == (True, 0, 2, 0)
    assert set(await hot(redis)) == {"s4", "s3", "s2"}
    clock.advance(2)  # past the list cache
    assert await top_ids(client, "hot") == before[:3] == ["s4", "s3", "s2"]


async def test_one_collector_at_a_time_does_the_upkeep(
    client: Client, redis: Redis, clock: FakeClock, engine: Any
) -> None:
    await put_item(client, "a")
    await hit(client, "a")
    await flush(client)
    first, second = (Store(redis, make_settings(engine.url)) for _ in range(2))
    assert (await first.maintain("news", clock(), HOUR, 30.0))[0]
    assert not (await second.maintain("news", clock(), HOUR, 30.0))[0]
    assert not (await first.maintain("news", clock(), HOUR, 30.0))[0]
    ttl = await redis.pttl(keys.maintenance_lock("news"))
    assert 0 < ttl <= 30_000  # the next period anyone may take it again
    await redis.delete(keys.maintenance_lock("news"))
    assert (await second.maintain("news", clock(), HOUR, 30.0))[0]


async def test_upkeep_rebases_a_landmark_that_lags(
    client: Client, redis: Redis, clock: FakeClock, engine: Any
) -> None:
    store = Store(redis, make_settings(engine.url))
    await put_item(client, "a")
    await put_item(client, "b")
    for item in "abb":
        await hit(client, item)
    await flush(client)
    landmark = await store.landmark("news")
    clock.advance(30 * HOUR)  # past rebase_after (24 half-lives), with no views since
    before = await (await client.get("/v1/sites/news/top?window=hot")).json()
    assert (await store.maintain("news", clock(), HOUR, 60.0))[0]
    assert await store.landmark("news") == int(clock()) != landmark
    after = await (await client.get("/v1/sites/news/top?window=hot")).json()
    # Decayed counts shown are unchanged by the move (to float precision), and so is order.
    assert [i["id"] for i in after["items"]] == [i["id"] for i in before["items"]]
    for a, b in zip(after["items"], before["items"], strict=True):
        assert abs(a["views"] - b["views"]) <= 1e-9 * max(1.0, b["views"])


async def test_the_service_does_its_upkeep_by_itself(
    settings: Any, redis: Redis, clock: FakeClock
) -> None:
    app = create_app(replace(settings, maintenance_interval=0.05), clock=clock)
    async with TestClient(TestServer(app), headers=BROWSER_HEADERS) as client:
        await put_item(client, "old")
        await hit(client, "old")
        await flush(client)
        assert set(await hot(redis)) == {"old"}
        clock.advance(30 * HOUR)
        for _ in range(100):  # bounded: ~5 s
            if not await hot(redis):
                break
            await asyncio.sleep(0.05)
        assert await hot(redis) == {}
        assert await top_ids(client, "all") == ["old"]
