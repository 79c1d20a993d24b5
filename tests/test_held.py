"""Views an outsider sends are held, not counted: the per-address limit, Fetch Metadata,
hosting networks, concentrated surges and the rising list's crowd rule; held views are
kept per story and reason, and an editor's release puts them back exactly. In process, on
the real engine, with a fake clock and a trusted proxy naming each reader."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from ranker.http.app import create_app
from ranker.http.appkeys import STORE
from ranker.store import keys
from tests.support import (
    BROWSER,
    BROWSER_HEADERS,
    FakeClock,
    auth,
    flush,
    make_settings,
    put_item,
)

Client = TestClient[Any, Any]
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)


def production(engine_url: str, **overrides: Any) -> Any:
    """The defaults of a real deployment behind one proxy on loopback."""
    defaults: dict[str, Any] = {
        "dedupe_window": 1800.0,
        "max_views_per_address": 10,
        "max_network_share": 0.3,
        "concentration_min_views": 50,
        "rising_min_networks": 10,
        "trusted_proxies": ("127.0.0.1/32",),
    }
    return make_settings(engine_url, **{**defaults, **overrides})


@pytest.fixture
async def guarded(engine: Any, redis: Redis, clock: FakeClock) -> AsyncIterator[Client]:
    app = create_app(production(engine.url), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1"), headers=BROWSER_HEADERS) as c:
        yield c


async def send(client: Client, item: str, reader: str, **headers: str) -> tuple[int, str | None]:
    """One beacon from `reader` (named by the trusted proxy): (status, reason if held)."""
    response = await client.post(
        "/v1/hit",
        json={"site": "news", "id": item},
        headers={"X-Forwarded-For": reader, **headers},
    )
    if response.status == 202:
        return 202, (await response.json())["reason"]
    return response.status, None


async def item(client: Client, item_id: str) -> dict[str, Any]:
    await flush(client)
    response = await client.get(f"/v1/sites/news/items/{item_id}", headers=auth())
    assert response.status == 200
    doc: dict[str, Any] = await response.json()
    return doc


# -- one address, any user agents -------------------------------------------------------


async def test_one_address_rotating_user_agents_counts_ten(guarded: Client) -> None:
    await put_item(guarded, "a")
    await put_item(guarded, "b")
    outcomes: Counter[tuple[int, str | None]] = Counter()
    for k in range(40):
        agent = {"User-Agent": f"{BROWSER} r{k}"}
        outcomes[await send(guarded, "a", "203.0.113.5", **agent)] += 1
    # The pixel from the same address shares the budget.
    for k in range(5):
        response = await guarded.get(
            "/v1/hit.gif?site=news&id=a",
            headers={"X-Forwarded-For": "203.0.113.5", "User-Agent": f"{BROWSER} p{k}"},
        )
        outcomes[(response.status, "pixel")] += 1
    assert outcomes[(204, None)] == 10
    assert outcomes[(202, "address_limit")] == 30
    assert outcomes[(202, "pixel")] == 5
    # Another story, another address, the next /64 of IPv6: budgets of their own.
    assert (await send(guarded, "b", "203.0.113.5"))[0] == 204
    assert (await send(guarded, "a", "203.0.113.6"))[0] == 204
    doc = await item(guarded, "a")
    assert doc["views_total"] == 11
    assert doc["held"] == {"address_limit": 35}


async def test_an_ipv6_64_is_one_address(guarded: Client) -> None:
    await put_item(guarded, "a")
    statuses = [
        (await send(guarded, "a", f"2001:db8:1:2::{k:x}", **{"User-Agent": f"{BROWSER} {k}"}))[0]
        for k in range(1, 16)
    ]
    assert statuses.count(204) == 10
    assert (await send(guarded, "a", "2001:db8:1:3::1"))[0] == 204  # the next /64


async def test_the_limit_forgets_after_its_window(guarded: Client, clock: FakeClock) -> None:
    await put_item(guarded, "a")
    for k in range(12):
        await send(guarded, "a", "203.0.113.5", **{"User-Agent": f"{BROWSER} {k}"})
    clock.advance(1800 + 450 + 1)  # the window and one slice of the memory
    assert (await send(guarded, "a", "203.0.113.5", **{"User-Agent": f"{BROWSER} new"}))[0] == 204


# -- browser-shaped beacons ---------------------------------------------------------------


async def test_a_current_browser_without_fetch_metadata_is_inconsistent(guarded: Client) -> None:
    await put_item(guarded, "a")
    bare = {"Sec-Fetch-Site": "", "Sec-Fetch-Mode": "", "Sec-Fetch-Dest": ""}
    assert await send(guarded, "a", "198.51.100.1", **bare) == (202, "inconsistent")
    # An old Chrome never sent it, and an in-app browser may not.
    old = CHROME.format(v=70)
    assert (await send(guarded, "a", "198.51.100.2", **bare, **{"User-Agent": old}))[0] == 204
    assert (await item(guarded, "a"))["held"] == {"inconsistent": 1}


async def test_fetch_metadata_is_not_asked_of_plain_http_to_a_named_host(
    engine: Any, redis: Redis, clock: FakeClock
) -> None:
    """Browsers send Fetch Metadata only to secure origins: http://news.example is not."""
    app = create_app(production(engine.url), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await put_item(client, "a")
        headers = {"User-Agent": BROWSER, "X-Forwarded-For": "198.51.100.1"}
        named = {**headers, "Host": "news.example"}
        response = await client.post("/v1/hit", json={"site": "news", "id": "a"}, headers=named)
        assert response.status == 204
        https = {**named, "X-Forwarded-For": "198.51.100.2", "X-Forwarded-Proto": "https"}
        response = await client.post("/v1/hit", json={"site": "news", "id": "a"}, headers=https)
        assert (await response.json())["reason"] == "inconsistent"


async def test_head_of_the_pixel_counts_nothing(guarded: Client) -> None:
    await put_item(guarded, "a")
    for k in range(5):
        response = await guarded.head(
            "/v1/hit.gif?site=news&id=a", headers={"X-Forwarded-For": f"198.51.100.{k}"}
        )
        assert response.status == 200 and response.content_type == "image/gif"
    doc = await item(guarded, "a")
    assert doc["views_total"] == 0 and doc["held"] == {}


# -- hosting networks ---------------------------------------------------------------------


async def test_views_from_listed_hosting_networks_are_held(
    engine: Any, redis: Redis, clock: FakeClock, tmp_path: Path
) -> None:
    listed = tmp_path / "hosting.txt"
    listed.write_text("# a provider's ranges\n192.0.2.0/24\n\n2001:db8:dc::/48\n")
    settings = production(engine.url, deny_networks=(str(listed),))
    async with TestClient(
        TestServer(create_app(settings, clock=clock), host="127.0.0.1"), headers=BROWSER_HEADERS
    ) as client:
        await put_item(client, "a")
        assert await send(client, "a", "192.0.2.77") == (202, "datacenter")
        assert await send(client, "a", "2001:db8:dc:1::5") == (202, "datacenter")
        assert (await send(client, "a", "198.51.100.1"))[0] == 204
        assert (await item(client, "a"))["held"] == {"datacenter": 2}


# -- concentrated surges ------------------------------------------------------------------


async def test_one_network_over_its_share_is_held_and_flagged(guarded: Client) -> None:
    await put_item(guarded, "a", title="Office favourite")
    outcomes = []
    # Four readers in one /24 for every reader elsewhere: 80% from one network.
    for k in range(100):
        reader = f"203.0.113.{k % 250 + 1}" if k % 5 else f"10.{k}.0.1"
        outcomes.append(await send(guarded, "a", reader))
    # Under 50 views nothing is held; from then on the office's views are, as its share is
    # far above 30%, and the crowd's still count.
    assert outcomes[:49] == [(204, None)] * 49
    for k in range(49, 100):
        assert outcomes[k] == ((204, None) if k % 5 == 0 else (202, "concentrated"))
    counted = outcomes.count((204, None))
    held = outcomes.count((202, "concentrated"))
    doc = await item(guarded, "a")
    assert doc["views_total"] == counted and doc["held"] == {"concentrated": held}
    listing = await (await guarded.get("/v1/sites/news/held", headers=auth())).json()
    flagged = listing["items"][0]
    assert flagged["id"] == "a" and flagged["title"] == "Office favourite"
    assert flagged["flag"]["network"] == "203.0.113.0/24"
    assert flagged["flag"]["share"] > 0.3
    assert flagged["held"] == {"concentrated": held}


async def test_a_crowd_is_not_concentrated(guarded: Client) -> None:
    await put_item(guarded, "a")
    statuses = [(await send(guarded, "a", f"10.{k}.{k}.1"))[0] for k in range(120)]
    assert statuses == [204] * 120


async def test_a_mobile_carrier_is_counted_in_full(guarded: Client) -> None:
    """Many readers behind a few addresses of one carrier network, each reading stories of
    their own: none of the limits may refuse them."""
    stories = [f"s{k}" for k in range(60)]
    for story in stories:
        await put_item(guarded, story)
    statuses = Counter()
    for reader in range(600):
        address = f"100.64.0.{reader % 4 + 1}"  # four CGNAT addresses
        agent = {"User-Agent": f"{BROWSER} reader{reader}"}
        statuses[(await send(guarded, stories[reader % 60], address, **agent))[0]] += 1
    assert statuses == {204: 600}


# -- rising needs a crowd -----------------------------------------------------------------


async def rising(client: Client) -> list[str]:
    await flush(client)
    response = await client.get("/v1/sites/news/rising?n=10", headers=auth())
    assert response.status == 200
    return [it["id"] for it in (await response.json())["items"]]


async def test_one_network_cannot_make_a_story_rise(guarded: Client, clock: FakeClock) -> None:
    await put_item(guarded, "a")
    await put_item(guarded, "b")
    for k in range(40):  # forty readers, every one in 203.0.113.0/24
        assert (await send(guarded, "a", f"203.0.113.{k + 1}"))[0] == 204
    assert await rising(guarded) == []
    for k in range(10):  # ten readers on ten networks
        assert (await send(guarded, "b", f"10.{k}.0.1"))[0] == 204
    clock.advance(2)  # past the list's cache
    assert await rising(guarded) == ["b"]


async def test_one_address_cannot_make_a_story_rise(guarded: Client) -> None:
    await put_item(guarded, "a")
    for k in range(30):
        await send(guarded, "a", "203.0.113.9", **{"User-Agent": f"{BROWSER} {k}"})
    assert await rising(guarded) == []


# -- releasing held views -----------------------------------------------------------------


async def test_release_needs_the_token_and_known_reasons(guarded: Client) -> None:
    path = "/v1/sites/news/items/a/release"
    assert (await guarded.post(path)).status == 401
    assert (await guarded.post(path, headers=auth("nope"))).status == 403
    for body in ({"reasons": ["bogus"]}, {"reasons": []}, {"other": 1}, [1]):
        response = await guarded.post(path, json=body, headers=auth())
        assert response.status == 422
        assert (await response.json())["error"] == "bad_release"
    response = await guarded.post(path, headers=auth())
    assert await response.json() == {"id": "a", "released": {}, "views": 0}


async def test_deleting_a_story_drops_its_held_views(guarded: Client, redis: Redis) -> None:
    await put_item(guarded, "a")
    for k in range(15):
        await send(guarded, "a", "203.0.113.5", **{"User-Agent": f"{BROWSER} {k}"})
    await flush(guarded)
    assert (await guarded.delete("/v1/sites/news/items/a", headers=auth())).status == 204
    assert [k for k in await redis.keys("rk:*held*") if await redis.zscore(k, "a")] == []


async def _play(
    client: Client, clock: FakeClock, events: list[tuple[str, int, bool, int]]
) -> tuple[Counter[tuple[str, int]], Counter[tuple[str, str, int]]]:
    """Send the events' beacons: (story, minute) -> views counted, and (story, reason,
    minute) -> views held, as the answers said."""
    counted: Counter[tuple[str, int]] = Counter()
    held: Counter[tuple[str, str, int]] = Counter()
    for n, (story, who, crowd, later) in enumerate(events):
        clock.advance(later)
        reader = f"10.{n}.{who}.1" if crowd else f"203.0.113.{who + 1}"
        status, reason = await send(client, story, reader, **{"User-Agent": f"{BROWSER} v{n}"})
        minute = int(clock.now // 60 * 60)
        if status == 204:
            counted[(story, minute)] += 1
        else:
            assert status == 202 and reason is not None
            held[(story, reason, minute)] += 1
    return counted, held


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),  # the story
            st.integers(0, 3),  # which of four addresses in one /24, or of a crowd
            st.booleans(),  # from the crowd (its own network) or the office
            st.integers(0, 400),  # seconds later
        ),
        min_size=1,
        max_size=90,
    ),
    reasons=st.sampled_from(
        [["address_limit"], ["concentrated"], ["address_limit", "concentrated"], None]
    ),
    roll_first=st.booleans(),
)
async def test_release_is_exact(
    engine: Any,
    redis: Redis,
    events: list[tuple[str, int, bool, int]],
    reasons: Any,
    roll_first: bool,
) -> None:
    """Reference model: every view the server answered is either counted (204) or held for
    its reason (202); a release moves exactly the held views of the reasons released into
    the story's total, its windows and its per-minute, hourly and daily series, and no
    others, whether the minutes were rolled into their hours and days before the release
    or are after it."""
    await redis.flushall()
    clock = FakeClock()
    settings_ = production(
        engine.url, max_views_per_address=3, concentration_min_views=8, dedupe_window=900.0
    )
    app = create_app(settings_, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1"), headers=BROWSER_HEADERS) as client:
        for story in ("a", "b"):
            await put_item(client, story, section="city")
        counted, held = await _play(client, clock, events)
        await flush(client)
        store = client.app[STORE]

        async def roll() -> None:
            await redis.delete(keys.maintenance_lock("news"))
            assert (await store.maintain("news", clock.now + 60, 3600.0, 60.0))[0]

        if roll_first:
            await roll()
        released_reasons = reasons or ["concentrated", "address_limit", "datacenter"]
        body = {"reasons": reasons} if reasons else None
        response = await client.post("/v1/sites/news/items/a/release", json=body, headers=auth())
        assert response.status == 200
        doc = await response.json()
        expected = Counter()
        for (story, reason, _), views in held.items():
            if story == "a" and reason in released_reasons:
                expected[reason] += views
        assert doc["released"] == dict(expected)
        after: Counter[tuple[str, int]] = Counter(counted)
        for (story, reason, minute), views in held.items():
            if story == "a" and reason in released_reasons:
                after[(story, minute)] += views
        now = clock.now
        city = {r.id: r.score for r in (await store.top("news", "city", "all", 2, now, 10))[1]}
        for story in ("a", "b"):
            total = sum(v for (s, _), v in after.items() if s == story)
            assert await store.total("news", story) == total
            assert city.get(story, 0) == total
            left = Counter()
            for (s, reason, _), views in held.items():
                if s == story and not (s == "a" and reason in released_reasons):
                    left[reason] += views
            assert (await store.held("news", [story], ["address_limit", "concentrated"]))[
                story
            ] == dict(left)
        # The per-minute series (what the 1h window sums) has every released view in its
        # own minute.
        now = clock.now
        starts = sorted({m for (_, m) in after} | {int(now // 60 * 60)})
        starts = [s for s in starts if s > now - 3 * 3600]
        series = await store.series("news", ["a"], "minute", starts)
        assert series["a"] == [after[("a", s)] for s in starts]
        # Hours hold the same views, whether their minutes are rolled into them or not yet.
        hourly: Counter[int] = Counter()
        for (s, m), v in after.items():
            hourly[m // 3600 * 3600] += v if s == "a" else 0
        hours = sorted({*hourly, int(now // 3600 * 3600)})
        assert (await store.series("news", ["a"], "hour", hours))["a"] == [hourly[h] for h in hours]
        await roll()
        assert (await store.series("news", ["a"], "hour", hours))["a"] == [hourly[h] for h in hours]


async def test_data_the_previous_release_wrote_reads_as_before(
    guarded: Client, redis: Redis, clock: FakeClock
) -> None:
    """The previous release kept no held views, flags or networks: its counts read as they
    were, nothing is held, a release moves nothing, and its stories can rise again once
    ten minutes of crowd data have been written."""
    await put_item(guarded, "old", section="city")
    minute = int(clock.now // 60 * 60)
    # What the previous release's flush left for 12 views of "old" this minute.
    for scope in ("all", "city"):
        await redis.zadd(f"rk:{{news}}:tot:{scope}", {"old": 12})
        await redis.zadd(f"rk:{{news}}:b:{scope}:minute:{minute}", {"old": 12})
    await redis.hset(f"rk:{{news}}:beacons:{minute // 86400 * 86400}", "counted", 12)
    doc = await item(guarded, "old")
    assert doc["views_total"] == 12 and doc["held"] == {}
    response = await guarded.post("/v1/sites/news/items/old/release", headers=auth())
    assert (await response.json())["views"] == 0
    assert await item(guarded, "old") == doc
    tally = await (await guarded.get("/v1/sites/news/beacons?days=1", headers=auth())).json()
    assert tally["days"][0]["counted"] == 12 and tally["days"][0]["released"] == 0
    assert await rising(guarded) == []  # no networks known yet
    for k in range(10):
        assert (await send(guarded, "old", f"10.{k}.0.1"))[0] == 204
    clock.advance(2)
    assert await rising(guarded) == ["old"]
