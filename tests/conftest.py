"""Test fixtures: a private real engine for the session, a clean database per test, a fake
clock, the app served on loopback, and an engine of its own for a test that breaks it.
What tests share besides fixtures is in tests/support.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.core.config import Settings
from ranker.http.app import create_app
from ranker.store.engine import EmbeddedEngine
from tests.support import BROWSER_HEADERS, FakeClock, make_settings


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


@pytest.fixture
def settings(engine: EmbeddedEngine, redis: Redis) -> Settings:
    return make_settings(engine.url)


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(settings, clock=clock)
    server = TestServer(app, host="127.0.0.1")
    async with TestClient(server, headers=BROWSER_HEADERS) as test_client:
        yield test_client


@pytest.fixture
def own_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEngine]:
    """An engine this test may pause, kill and restart, persisted like the embedded default.
    Started from the main thread: the engine gets SIGTERM when the starting thread ends."""
    # A short data dir keeps the unix socket in it, so a restart serves the same URL.
    server = EmbeddedEngine(tmp_path_factory.mktemp("eng"), persist=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
