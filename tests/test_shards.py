"""A site spread over several shards answers exactly as a site in one: the same stream of
views and catalog changes sent to both gives the same lists, counts and catalog."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.core.config import Settings, Site
from ranker.http.app import create_app
from ranker.store import keys
from tests.support import BROWSER_HEADERS, FakeClock, auth, flush

Client = TestClient[Any, Any]
ONE, MANY = "one", "many"  # the same site, unsharded and over five shards
TOKENS = {ONE: "one-token", MANY: "many-token"}
SECTIONS = ["world", "sport", "tech", ""]


@pytest.fixture
async def twins(settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    sites = {
        ONE: Site(ONE, half_life=1800.0, token=TOKENS[ONE]),
        MANY: Site(MANY, half_life=1800.0, token=TOKENS[MANY], shards=5),
    }
    app = create_app(replace(settings, sites=sites), clock=clock)
    async with TestClient(TestServer(app), headers=BROWSER_HEADERS) as client:
        yield client


async def both(client: Client, method: str, path: str, **kwargs: Any) -> list[Any]:
    """The same request to both sites; their JSON answers with the site's name blanked."""
    answers = []
    for site in (ONE, MANY):
        response = await client.request(
            method,
            path.format(site=site),
            headers={**auth(TOKENS[site]), **kwargs.pop("headers", {})},
            **kwargs,
        )
        assert response.status < 300, (path, await response.text())
        doc = await response.json() if response.status != 204 else None
        if isinstance(doc, dict) and "site" in doc:
            doc["site"] = "?"
        answers.append(doc)
    return answers


async def play(client: Client, clock: FakeClock, ids: list[str]) -> None:
    """The same catalog and Zipf-like views to both sites, with a hide and a delete."""
    rng = random.Random(7)
    for k, item_id in enumerate(ids):
        body = {"title": f"Story {k}", "url": f"/{item_id}", "section": SECTIONS[k % 4]}
        await both(client, "PUT", "/v1/sites/{site}/items/" + item_id, json=body)
    for minute in range(90):
        for _ in range(rng.randrange(1, 12)):
            item_id = ids[min(int(rng.paretovariate(1.2)) - 1, len(ids) - 1)]
            if minute > 40 and item_id == "s002":
                continue  # deleted
            for site in (ONE, MANY):
                response = await client.post("/v1/hit", json={"site": site, "id": item_id})
                assert response.status == 204
            clock.advance(rng.randrange(1, 20))
        if minute % 7 == 0:
            await flush(client)
        if minute == 40:
            await both(client, "PATCH", "/v1/sites/{site}/items/s001", json={"hidden": True})
            await both(client, "DELETE", "/v1/sites/{site}/items/s002")
    await flush(client)
    clock.advance(2)  # past the list cache


async def all_ids(client: Client, site: str, count: int = 7) -> list[str]:
    """Every catalogued id, sorted, paging `count` at a time (an id seen twice stays twice)."""
    cursor, seen = "0", []
    for _ in range(1000):
        response = await client.get(
            f"/v1/sites/{site}/items?cursor={cursor}&count={count}", headers=auth(TOKENS[site])
        )
        page = await response.json()
        seen += page["ids"]
        if page["cursor"] is None:
            break
        cursor = page["cursor"]
    return sorted(seen)


async def views(redis: Redis, tags: list[str]) -> float:
    total = 0.0
    for tag in tags:
        total += sum(
            s for _, s in await redis.zrange(keys.total(tag, "all"), 0, -1, withscores=True)
        )
    return total


async def test_a_sharded_site_answers_as_one_unsharded(
    twins: Client, clock: FakeClock, redis: Redis
) -> None:
    ids = [f"s{k:03d}" for k in range(60)]
    await play(twins, clock, ids)
    stored = [t async for t in redis.scan_iter(f"rk:{{{MANY}:*}}:items")]
    assert len(stored) == 5  # the stories are spread over every shard

    for window in ("hot", "1h", "24h", "7d", "30d", "all"):
        for section in ("", "world", "sport"):
            one, many = await both(
                twins, "GET", f"/v1/sites/{{site}}/top?n=25&window={window}&section={section}"
            )
            if window == "hot":  # decayed counts: equal to rounding
                for a, b in zip(one["items"], many["items"], strict=True):
                    assert a["views"] == pytest.approx(b["views"], rel=1e-9)
                    a["views"] = b["views"]
            assert one == many, (window, section)
    for path in (
        "/v1/sites/{site}/rising?n=20",
        "/v1/sites/{site}/sections",
        "/v1/sites/{site}/series?ids=s000,s003,s010,s059&res=minute&n=90",
        "/v1/sites/{site}/items?hidden=true",
        "/v1/sites/{site}/items/s000",
        "/v1/sites/{site}/beacons?days=1",
    ):
        one, many = await both(twins, "GET", path)
        assert one == many, path
    assert await all_ids(twins, ONE) == await all_ids(twins, MANY) == sorted(set(ids) - {"s002"})
    assert await views(redis, [ONE]) == await views(redis, keys.shard_tags(MANY, 5)) > 0


async def test_paging_through_a_sharded_catalog_sees_every_id_once(twins: Client) -> None:
    ids = [f"p{k:04d}" for k in range(900)]  # past the small-set encoding in every shard
    lines = b"\n".join(orjson.dumps({"id": i, "title": f"Story {i}", "url": f"/{i}"}) for i in ids)
    response = await twins.post(
        f"/v1/sites/{MANY}/items",
        data=lines,
        headers={**auth(TOKENS[MANY]), "Content-Type": "application/x-ndjson"},
    )
    assert (await response.json())["imported"] == 900
    assert await all_ids(twins, MANY, count=50) == ids  # every id, none twice
