"""Which beacons count: bots, prefetch, repeats, rate limits, signed ids, and the tally of
what was not counted and why, through the HTTP API against the real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.core.config import Settings
from ranker.core.signing import sign
from ranker.http.app import create_app
from ranker.http.appkeys import ADMISSION, SETTINGS, STORE
from tests.support import (
    BROWSER,
    BROWSER_HEADERS,
    TOKEN,
    FakeClock,
    auth,
    flush,
    make_settings,
    put_item,
)

Client = TestClient[Any, Any]
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"


@pytest.fixture
async def filtered(engine: Any, redis: Redis, clock: FakeClock) -> AsyncIterator[Client]:
    """The app with the production filters: repeats counted once, a low rate limit."""
    settings = make_settings(
        engine.url,
        dedupe_window=1800.0,
        rate_limit=5.0,
        rate_burst=10,
        trusted_proxies=("127.0.0.1/32",),
    )
    async with TestClient(
        TestServer(create_app(settings, clock=clock), host="127.0.0.1"),
        headers=BROWSER_HEADERS,
    ) as client:
        yield client


async def beacon(
    client: Client, item_id: str, reader: str = "203.0.113.1", **headers: str
) -> tuple[int, Any]:
    response = await client.post(
        "/v1/hit",
        json={"site": "news", "id": item_id},
        headers={"X-Forwarded-For": reader, **headers},
    )
    body = await response.json() if response.status not in (204,) else None
    return response.status, body


async def total(client: Client, item_id: str) -> float:
    await flush(client)
    return await client.app[STORE].total("news", item_id)


async def tally(client: Client, token: str = TOKEN) -> dict[str, Any]:
    await flush(client)
    response = await client.get("/v1/sites/news/beacons?days=2", headers=auth(token))
    assert response.status == 200, await response.text()
    doc: dict[str, Any] = await response.json()
    return doc


async def not_counted(client: Client, reason: str) -> int:
    """Beacons not counted for `reason` today and yesterday (the fake clock may have
    crossed midnight)."""
    return sum(day["not_counted"][reason] for day in (await tally(client))["days"])


# -- bots and prefetch ------------------------------------------------------------------


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.0.0 Safari/537.36",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "python-requests/2.32.3",
        "",
    ],
)
async def test_bots_are_answered_but_not_counted(filtered: Client, agent: str) -> None:
    await put_item(filtered, "a")
    status, body = await beacon(filtered, "a", **{"User-Agent": agent})
    assert (status, body) == (202, {"counted": False, "reason": "bot"})
    assert await total(filtered, "a") == 0
    assert await not_counted(filtered, "bot") == 1


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Sec-Purpose", "prefetch"),
        ("Sec-Purpose", "prefetch;prerender"),
        ("Purpose", "prefetch"),
        ("X-Purpose", "preview"),
        ("X-moz", "prefetch"),
    ],
)
async def test_prefetches_are_not_counted(filtered: Client, header: str, value: str) -> None:
    await put_item(filtered, "a")
    status, body = await beacon(filtered, "a", **{header: value})
    assert (status, body) == (202, {"counted": False, "reason": "prefetch"})
    assert await total(filtered, "a") == 0


async def test_a_pixel_from_a_bot_still_gets_its_image(filtered: Client) -> None:
    await put_item(filtered, "a")
    response = await filtered.get(
        "/v1/hit.gif?site=news&id=a", headers={"User-Agent": "Twitterbot/1.0"}
    )
    assert response.status == 202
    assert response.content_type == "image/gif"
    assert await total(filtered, "a") == 0


# -- one reader, one view ---------------------------------------------------------------


async def test_a_readers_reloads_count_once(filtered: Client, clock: FakeClock) -> None:
    await put_item(filtered, "a")
    await put_item(filtered, "b")
    assert (await beacon(filtered, "a"))[0] == 204
    for _ in range(3):
        assert await beacon(filtered, "a") == (202, {"counted": False, "reason": "duplicate"})
    assert (await beacon(filtered, "b"))[0] == 204  # another story: counts
    assert (await beacon(filtered, "a", "203.0.113.2"))[0] == 204  # another reader
    assert (await beacon(filtered, "a", **{"User-Agent": FIREFOX}))[0] == 204  # another browser
    assert await total(filtered, "a") == 3
    # The window (and the quarter-window granularity of the memory) has passed.
    clock.advance(1800 + 450 + 1)
    assert (await beacon(filtered, "a"))[0] == 204
    assert await total(filtered, "a") == 4
    assert await not_counted(filtered, "duplicate") == 3


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(
    engine: Any, redis: Redis, clock: FakeClock
) -> None:
    settings = make_settings(engine.url, dedupe_window=1800.0)
    async with TestClient(
        TestServer(create_app(settings, clock=clock), host="127.0.0.1"),
        headers=BROWSER_HEADERS,
    ) as client:
        await put_item(client, "a")
        assert (await beacon(client, "a", "198.51.100.1"))[0] == 204
        # A forged address does not make a new reader: the peer is the same.
        assert (await beacon(client, "a", "198.51.100.2"))[0] == 202
        assert await total(client, "a") == 1


async def test_a_trusted_proxy_names_the_reader(filtered: Client) -> None:
    await put_item(filtered, "a")
    # The reader forged the first entry; the proxy appended what it saw.
    assert (await beacon(filtered, "a", "1.1.1.1, 203.0.113.9"))[0] == 204
    assert (await beacon(filtered, "a", "2.2.2.2, 203.0.113.9"))[0] == 202


async def test_collectors_share_the_days_salt(filtered: Client, engine: Any, clock: Any) -> None:
    settings = make_settings(engine.url, dedupe_window=1800.0)
    async with TestClient(TestServer(create_app(settings, clock=clock))) as other:
        mine, theirs = filtered.app[ADMISSION], other.app[ADMISSION]
        assert len(mine.salt) >= 16
        assert mine.salt == theirs.salt
        day = mine.salt_day
        clock.advance(86400)
        await mine.refresh_salt(filtered.app[STORE], clock())
        assert mine.salt_day != day and mine.salt != theirs.salt
    redis = filtered.app[STORE].redis
    ttl = await redis.ttl(f"rk:salt:{mine.salt_day}")
    assert 86400 < ttl <= 2 * 86400  # the old day's salt is deleted by expiry


# -- flooding ---------------------------------------------------------------------------


async def test_a_flooding_client_gets_429(filtered: Client, clock: FakeClock) -> None:
    await put_item(filtered, "a")
    statuses = [
        (await beacon(filtered, "a", "203.0.113.7", **{"User-Agent": f"{BROWSER} r{i}"}))[0]
        for i in range(12)
    ]
    assert statuses[:10] == [204] * 10  # the burst
    response = await filtered.post(
        "/v1/hit", json={"site": "news", "id": "a"}, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert response.status == 429
    assert response.headers["Retry-After"]
    assert (await response.json())["error"] == "rate_limited"
    assert (await beacon(filtered, "a", "203.0.113.8"))[0] == 204  # others are unaffected
    clock.advance(2)  # 5 per second refill
    assert (await beacon(filtered, "a", "203.0.113.7", **{"User-Agent": FIREFOX}))[0] == 204
    assert await total(filtered, "a") == 12
    assert await not_counted(filtered, "rate_limited") == 3


# -- signed ids -------------------------------------------------------------------------


def _key(settings: Settings, site: str = "news") -> str:
    return settings.sites[site].signing_key


async def test_a_signed_id_counts_but_never_reaches_a_public_list(
    filtered: Client, clock: FakeClock
) -> None:
    token = sign(_key(filtered.app[SETTINGS]), "news", "draft-1", int(clock() + 3600))
    response = await filtered.post(
        "/v1/hit", json={"site": "news", "id": "draft-1", "token": token}
    )
    assert response.status == 204
    assert await total(filtered, "draft-1") == 1
    top = await (await filtered.get("/v1/sites/news/top?n=10")).json()
    assert [i["id"] for i in top["items"]] == []


@pytest.mark.parametrize(
    "case", ["none", "garbage", "expired", "other-id", "other-site", "tampered"]
)
async def test_an_uncatalogued_id_needs_a_valid_token(
    filtered: Client, clock: FakeClock, case: str
) -> None:
    key = _key(filtered.app[SETTINGS])
    other_key = _key(filtered.app[SETTINGS], "other")
    later = int(clock() + 3600)
    token: str | None = {
        "none": None,
        "garbage": "not a token \u00e9",
        "expired": sign(key, "news", "draft-1", int(clock() - 1)),
        "other-id": sign(key, "news", "draft-2", later),
        "other-site": sign(other_key, "other", "draft-1", later),
        "tampered": sign(key, "news", "draft-1", later)[:-2] + "AA",
    }[case]
    body: dict[str, Any] = {"site": "news", "id": "draft-1"}
    if token is not None:
        body["token"] = token
    response = await filtered.post("/v1/hit", json=body)
    assert response.status == (404 if case == "none" else 403)
    assert (await response.json())["error"] == ("unknown_item" if case == "none" else "bad_token")
    assert await total(filtered, "draft-1") == 0
    assert not await filtered.app[STORE].redis.keys("rk:{news}:b:*")
    assert await not_counted(filtered, "unsigned") == 1


# -- the tally --------------------------------------------------------------------------


async def test_the_tally_adds_up_and_is_private_to_the_site(filtered: Client) -> None:
    await put_item(filtered, "a")
    await beacon(filtered, "a")
    await beacon(filtered, "a")
    await beacon(filtered, "a", **{"User-Agent": "Googlebot/2.1"})
    await filtered.post("/v1/hit", data=b"{not json", headers={"Content-Type": "text/plain"})
    await filtered.post("/v1/hit", json={"site": "news", "id": "bad id!"})
    doc = await tally(filtered)
    today = doc["days"][0]
    assert today["counted"] == 1
    assert today["not_counted"] == {
        "bot": 1,
        "prefetch": 0,
        "inconsistent": 0,
        "datacenter": 0,
        "duplicate": 1,
        "address_limit": 0,
        "concentrated": 0,
        "unsigned": 0,
        "rate_limited": 0,
        "malformed": 1,  # the bad id; the broken body names no site
        "overloaded": 0,
    }
    assert today["total"] == 4
    assert doc["days"][1]["total"] == 0
    health = await (await filtered.get("/healthz")).json()
    assert health["not_counted"]["malformed"] == 2
    assert (await filtered.get("/v1/sites/news/beacons")).status == 401
    assert (await filtered.get("/v1/sites/news/beacons", headers=auth("other-token"))).status == 403
    response = await filtered.get("/v1/sites/news/beacons", headers=auth())
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_beacon_refused_while_overloaded_counts_when_retried(
    engine: Any, redis: Redis, clock: FakeClock
) -> None:
    """A 503 is not a view: the repeat filter must not remember it."""
    settings = make_settings(engine.url, dedupe_window=1800.0, max_pending=1)
    async with TestClient(
        TestServer(create_app(settings, clock=clock), host="127.0.0.1"),
        headers=BROWSER_HEADERS,
    ) as client:
        await put_item(client, "a")
        await put_item(client, "b")
        assert (await beacon(client, "a"))[0] == 204
        assert (await beacon(client, "b"))[0] == 503  # one pending key is the cap
        await flush(client)
        assert (await beacon(client, "b"))[0] == 204
        assert await total(client, "b") == 1


async def test_deleting_a_signed_id_removes_its_counts(filtered: Client, clock: FakeClock) -> None:
    token = sign(_key(filtered.app[SETTINGS]), "news", "draft-9", int(clock() + 3600))
    body = {"site": "news", "id": "draft-9", "token": token}
    assert (await filtered.post("/v1/hit", json=body)).status == 204
    assert await total(filtered, "draft-9") == 1
    response = await filtered.delete("/v1/sites/news/items/draft-9", headers=auth())
    assert response.status == 204  # not catalogued, but it had counts
    assert await total(filtered, "draft-9") == 0
    assert not await filtered.app[STORE].redis.keys("rk:{news}:b:*")
    response = await filtered.delete("/v1/sites/news/items/draft-9", headers=auth())
    assert response.status == 404
