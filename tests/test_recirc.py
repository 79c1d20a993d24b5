"""Does the box work: impressions and clicks of Most viewed boxes, collected like views
(POST /v1/recirc) and read by editors (GET /v1/sites/{site}/recirculation)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from ranker.core.aggregate import Batch
from ranker.http.app import create_app
from ranker.store import keys
from ranker.store.redis import Store
from tests.support import BROWSER_HEADERS, FakeClock, auth, flush, make_settings, put_item

Client = TestClient[Any, Any]


async def send(client: Client, headers: dict[str, str] | None = None, **event: Any) -> int:
    body = orjson.dumps({"site": "news", **event})
    response = await client.post(
        "/v1/recirc",
        data=body,
        headers={"Content-Type": "text/plain;charset=UTF-8", **(headers or {})},
    )
    return response.status


async def report(client: Client, query: str = "") -> Any:
    response = await client.get(f"/v1/sites/news/recirculation?{query}", headers=auth())
    assert response.status == 200, await response.text()
    return await response.json()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["sidebar", "footer"]),
            st.one_of(st.none(), st.tuples(st.integers(1, 4), st.sampled_from(["a", "b", "c"]))),
        ),
        max_size=30,
    )
)
async def test_every_counted_event_is_reported_once(
    client: Client, redis: Redis, events: list[tuple[str, tuple[int, str] | None]]
) -> None:
    """Reference: a tally of what was sent (nothing lost, nothing doubled), per placement,
    position and story, with CTR = clicks / impressions."""
    await redis.flushall()
    for story in ("a", "b", "c"):
        await put_item(client, story)
    for placement, click in events:
        if click is None:
            assert await send(client, placement=placement, event="impression") == 204
        else:
            position, story = click
            status = await send(
                client, placement=placement, event="click", id=story, position=position
            )
            assert status == 204
    await flush(client)
    await flush(client)  # nothing new: nothing written twice
    doc = await report(client)
    impressions = Counter(p for p, click in events if click is None)
    clicks = Counter(p for p, click in events if click is not None)
    by_position = Counter((p, c[0]) for p, c in events if c is not None)
    by_story = Counter((p, c[1]) for p, c in events if c is not None)
    got = {p["placement"]: p for p in doc["placements"]}
    assert set(got) == set(impressions) | set(clicks)
    for name, p in got.items():
        assert p["impressions"] == impressions[name]
        assert p["clicks"] == clicks[name]
        ctr = round(clicks[name] / impressions[name], 4) if impressions[name] else None
        assert p["ctr"] == ctr
        assert {q["position"]: q["clicks"] for q in p["positions"]} == {
            k: v for (pl, k), v in by_position.items() if pl == name
        }
        assert {s["id"]: s["clicks"] for s in p["stories"]} == {
            k: v for (pl, k), v in by_story.items() if pl == name
        }
        assert all(s["title"] == f"Story {s['id']}" for s in p["stories"])


async def test_placements_are_apart_and_windows_end(client: Client, clock: FakeClock) -> None:
    await put_item(client, "a")
    assert await send(client, placement="sidebar", event="impression") == 204
    assert await send(client, placement="footer", event="click", id="a", position=2) == 204
    await flush(client)
    only = await report(client, "placement=footer")
    assert [p["placement"] for p in only["placements"]] == ["footer"]
    assert only["placements"][0]["ctr"] is None  # clicks, but no impression
    clock.advance(2 * 3600)
    assert (await report(client, "window=1h"))["placements"] == []
    assert len((await report(client, "window=24h"))["placements"]) == 2


async def test_events_pass_the_views_filters(engine: Any, redis: Redis, clock: FakeClock) -> None:
    await redis.flushall()
    base = make_settings(engine.url)
    app = create_app(replace(base, dedupe_window=1800.0), clock=clock)
    async with TestClient(TestServer(app), headers=BROWSER_HEADERS) as client:
        await put_item(client, "a")
        bot = {"User-Agent": "curl/8.5.0"}
        response = await client.post(
            "/v1/recirc",
            data=orjson.dumps({"site": "news", "event": "impression"}),
            headers={"Content-Type": "text/plain", **bot},
        )
        assert response.status == 202
        assert await response.json() == {"counted": False, "reason": "bot"}
        # One impression per placement and page per reader: a repeat is a repeat.
        assert await send(client, placement="sidebar", event="impression", page="a") == 204
        assert await send(client, placement="sidebar", event="impression", page="a") == 202
        assert await send(client, placement="sidebar", event="impression", page="b1") == 204
        assert await send(client, placement="footer", event="impression", page="a") == 204
        await flush(client)
        doc = await (await client.get("/v1/sites/news/recirculation", headers=auth())).json()
        assert {p["placement"]: p["impressions"] for p in doc["placements"]} == {
            "footer": 1,
            "sidebar": 2,
        }


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        ({"event": "view"}, 400, "bad_event"),
        ({"event": "impression", "placement": "Side Bar"}, 400, "bad_event"),
        ({"event": "impression", "placement": "made-up"}, 404, "unknown_placement"),
        ({"event": "impression", "page": "a b"}, 400, "bad_event"),
        ({"event": "click", "id": "a"}, 400, "bad_event"),
        ({"event": "click", "id": "a", "position": 0}, 400, "bad_event"),
        ({"event": "click", "id": "a", "position": True}, 400, "bad_event"),
        ({"event": "click", "id": "nope", "position": 1}, 404, "unknown_item"),
        ({"event": "impression", "site": "nope"}, 404, "unknown_site"),
        ({"event": "impression", "site": 7}, 400, "bad_event"),
    ],
)
async def test_a_bad_event_is_refused_with_json(
    client: Client, event: dict[str, Any], status: int, code: str
) -> None:
    await put_item(client, "a")
    body = {"site": "news", **event}
    response = await client.post(
        "/v1/recirc", data=orjson.dumps(body), headers={"Content-Type": "text/plain"}
    )
    assert response.status == status
    assert (await response.json())["error"] == code
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_the_report_needs_the_token_and_good_parameters(client: Client) -> None:
    assert (await client.get("/v1/sites/news/recirculation")).status == 401
    for query, code in (("window=hot", "bad_window"), ("placement=A", "bad_placement")):
        response = await client.get(f"/v1/sites/news/recirculation?{query}", headers=auth())
        assert response.status == 400 and (await response.json())["error"] == code


async def test_a_batch_s_events_are_written_once_however_often_it_is_retried(
    redis: Redis, clock: FakeClock, engine: Any
) -> None:
    await redis.flushall()
    store = Store(redis, make_settings(engine.url))
    hour = int(clock.now // 3600) * 3600
    batch = Batch("news", 3600.0, ref=clock.now)
    batch.recirc = {(hour, "side|impression"): 3, (hour, "side|click|1|a"): 1}
    for _ in range(3):
        await store.flush(batch, "batch-1")
    assert await redis.hgetall(keys.recirc(keys.shard_tags("news", 1)[0], hour)) == {
        "side|impression": "3",
        "side|click|1|a": "1",
    }


async def test_a_click_on_a_story_another_collector_just_catalogued_counts(
    client: Client, redis: Redis, engine: Any
) -> None:
    from ranker.core.validate import catalog_entry

    store = Store(redis, make_settings(engine.url))  # as another collector writes it
    await store.put_items("news", [("elsewhere", catalog_entry({"title": "T", "url": "/t"}))])
    assert await send(client, placement="sidebar", event="click", id="elsewhere", position=3) == 204
    assert await send(client, placement="sidebar", event="click", id="never", position=3) == 404
