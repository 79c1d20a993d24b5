"""Test fixtures: a private real engine for the session, a clean database per test, a fake
clock, and the app served on loopback."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.app import create_app
from ranker.appkeys import FLUSHER
from ranker.config import Settings, Site
from ranker.engine import EmbeddedEngine

# Fresh per session: `ranker serve` refuses a short token or one shown in these files.
TOKEN = secrets.token_urlsafe(32)
# What a reader's browser sends; the default of the test client, whose own user agent
# ("Python/3.11 aiohttp/...") is a bot's.
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# What that browser sends with a beacon (navigator.sendBeacon): its user agent and Fetch
# Metadata, without which a current Chrome's beacon is held as `inconsistent`.
BROWSER_HEADERS = {
    "User-Agent": BROWSER,
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "no-cors",
    "Sec-Fetch-Dest": "empty",
}


class FakeClock:
    """Injected wherever Ranker reads the time; tests move it instead of sleeping.

    It starts at the real time so the expiry times Redis is given lie in Redis' future.
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(start if start is not None else time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEngine]:
    server = EmbeddedEngine(tmp_path_factory.mktemp("engine"), persist=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis(engine: EmbeddedEngine) -> AsyncIterator[Redis]:
    client = Redis.from_url(engine.url, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    sites = {
        "news": Site("news", half_life=3600.0, token=TOKEN),
        "other": Site("other", half_life=600.0, token="other-token"),
    }
    base = Settings(
        redis_url=redis_url,
        sites=sites,
        flush_interval=3600.0,  # tests flush explicitly
        cache_ttl=1.0,
        window_cache=0.0,
        catalog_refresh=3600.0,
        # Most tests send many views of one story from one client: the filters that would
        # count them once have tests of their own.
        dedupe_window=0.0,
        rate_limit=0.0,
        max_views_per_address=0,
        max_network_share=1.0,
        deny_hosting=False,
        # The test client is one address on one network.
        rising_min_networks=1,
    )
    return replace(base, **overrides)


@pytest.fixture
def settings(engine: EmbeddedEngine, redis: Redis) -> Settings:
    return make_settings(engine.url)


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(settings, clock=clock)
    server = TestServer(app, host="127.0.0.1")
    async with TestClient(server, headers=BROWSER_HEADERS) as test_client:
        yield test_client


async def flush(client: TestClient[Any, Any]) -> None:
    """Write everything the collector has aggregated, as the background flusher would."""
    assert await client.app[FLUSHER].flush()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def put_item(
    client: TestClient[Any, Any],
    item_id: str,
    site: str = "news",
    token: str = TOKEN,
    **fields: Any,
) -> None:
    body = {"title": f"Story {item_id}", "url": f"https://example.com/{item_id}", **fields}
    response = await client.put(f"/v1/sites/{site}/items/{item_id}", json=body, headers=auth(token))
    assert response.status in (200, 201), await response.text()


async def hit(client: TestClient[Any, Any], item_id: str, site: str = "news") -> int:
    response = await client.post(
        "/v1/hit", json={"site": site, "id": item_id}, headers=BROWSER_HEADERS
    )
    return response.status


async def data_keys(redis: Redis) -> list[str]:
    """Every key holding views or catalog data: not the day's visitor salt, and not the
    tally of beacons (with the marker of the flush that wrote it), which counts refused
    ones too."""
    return [
        key
        for key in await redis.keys("rk:*")
        if not key.startswith("rk:salt:") and ":beacons:" not in key and ":flushed:" not in key
    ]


def web_app(client: TestClient[Any, Any]) -> web.Application:
    return client.app  # type: ignore[no-any-return]


__all__ = ["Path"]
