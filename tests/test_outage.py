"""I3 through trouble: a Redis outage and restart, the hard cap, and SIGTERM. Nothing the
collector accepted (answered 2xx) may go uncounted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from ranker.core.validate import catalog_entry
from ranker.http import logs
from ranker.http.app import create_app
from ranker.http.appkeys import FLUSHER
from ranker.store import keys
from ranker.store.engine import EmbeddedEngine
from ranker.store.redis import Store
from tests.support import BROWSER_HEADERS, TOKEN, FakeClock, free_port, hit, make_settings, put_item


@pytest.fixture
async def own_engine(tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    """An engine this test may stop and start: persisted, like the embedded default."""
    server = EmbeddedEngine(tmp_path / "engine", persist=True)
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def _totals(url: str, site: str = "news") -> dict[str, float]:
    async with Redis.from_url(url, decode_responses=True) as r:
        return dict(await r.zrange(keys.total(site, "all"), 0, -1, withscores=True))


async def test_views_accepted_during_an_outage_are_counted_after_it(
    own_engine: EmbeddedEngine,
) -> None:
    clock = FakeClock()
    app = create_app(make_settings(own_engine.url), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for item in ("a", "b"):
            await put_item(client, item)
        accepted = {"a": 0, "b": 0}
        for _ in range(3):
            assert await hit(client, "a") == 204
            accepted["a"] += 1
        assert await app[FLUSHER].flush()

        await asyncio.to_thread(own_engine.stop)
        for k in range(10):
            clock.advance(45)
            item = "ab"[k % 2]
            assert await hit(client, item) == 204
            accepted[item] += 1
            assert not await app[FLUSHER].flush()  # in flight, kept, retried unchanged
        health = await client.get("/healthz")
        assert health.status == 200  # alive: a restart now would lose the buffered views
        assert (await health.json())["status"] == "degraded"
        assert (await health.json())["pending_views"] == 10
        ready = await client.get("/readyz")
        assert ready.status == 503
        reason = (await ready.json())["redis"]
        assert reason.startswith("unreachable: ") and len(reason) > len("unreachable: ")

        await asyncio.to_thread(own_engine.start)
        assert await app[FLUSHER].flush()
        assert (await (await client.get("/healthz")).json())["pending_views"] == 0
        assert (await client.get("/readyz")).status == 200
    assert await _totals(own_engine.url) == accepted


async def test_past_the_hard_cap_beacons_are_refused_not_lost(
    own_engine: EmbeddedEngine,
) -> None:
    clock = FakeClock()
    app = create_app(make_settings(own_engine.url, max_pending=3), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await put_item(client, "a")
        await asyncio.to_thread(own_engine.stop)
        statuses = []
        for _ in range(6):
            clock.advance(60)  # each view a new minute: a new pending key
            response = await client.post(
                "/v1/hit", json={"site": "news", "id": "a"}, headers=BROWSER_HEADERS
            )
            statuses.append(response.status)
            if response.status == 503:
                assert response.headers["Retry-After"]
                assert (await response.json())["error"] == "overloaded"
        assert statuses == [204, 204, 204, 503, 503, 503]
        await asyncio.to_thread(own_engine.start)
        assert await app[FLUSHER].flush()
        assert await hit(client, "a") == 204
        await app[FLUSHER].flush()
    assert await _totals(own_engine.url) == {"a": 4.0}


async def test_rankings_survive_an_engine_restart(own_engine: EmbeddedEngine) -> None:
    clock = FakeClock()
    settings = make_settings(own_engine.url)
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        await put_item(client, "a")
        await put_item(client, "b")
        for item in "abb":
            await hit(client, item)
        await client.app[FLUSHER].flush()
        before = await (await client.get("/v1/sites/news/top?window=hot")).json()
    await asyncio.to_thread(own_engine.stop)
    await asyncio.to_thread(own_engine.start)
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        after = await (await client.get("/v1/sites/news/top?window=hot")).json()
        assert await hit(client, "a") == 204  # the new process learned the catalog
    assert after["items"] == before["items"]
    assert [i["id"] for i in after["items"]] == ["b", "a"]


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_flushes_everything_accepted(
    engine: EmbeddedEngine, redis: Redis, tmp_path: Path, workers: int
) -> None:
    """A real `ranker serve` (one process, or two sharing the port): beacons, then SIGTERM
    before the next flush tick."""
    store = Store(redis, make_settings(engine.url))
    await store.put_items(
        "news", [(i, catalog_entry({"title": i, "url": f"/{i}"})) for i in ("x", "y")]
    )
    config = tmp_path / "ranker.toml"
    config.write_text(
        # Production filters, behind one proxy that names each reader.
        f'[collector]\nflush_interval = "1h"\ntrusted_proxies = ["127.0.0.1/32"]\n'
        f'[sites.news]\nhalf_life = "1h"\ntoken = "{TOKEN}"\n'
    )
    port = free_port()
    env = {**os.environ, "REDIS_URL": engine.url, "RANKER_PORT": str(port)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ranker",
            "serve",
            "--config",
            str(config),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # A new connection per request, so SO_REUSEPORT spreads them over the workers.
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)
        ) as session:
            for _ in range(200):  # until it listens (bounded: ~10 s)
                try:
                    async with session.get(base + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("ranker serve did not start")
            accepted = 0
            for k in range(150):
                beacon = {"site": "news", "id": "y" if k % 3 == 0 else "x"}
                async with session.post(
                    base + "/v1/hit",
                    data=orjson.dumps(beacon),
                    headers={
                        "Content-Type": "text/plain",
                        **BROWSER_HEADERS,
                        "X-Forwarded-For": f"10.{k}.0.1",  # a reader on a network of their own
                    },
                ) as r:
                    accepted += r.status == 204
            # Whichever worker answers /metrics answers for all of them.
            await asyncio.sleep(1.2)  # each worker moves its counters over every second
            for _ in range(4):
                async with session.get(base + "/metrics") as r:
                    families = text_string_to_metric_families(await r.text())
                    counted = {
                        s.labels["site"]: s.value
                        for f in families
                        for s in f.samples
                        if s.name == "ranker_beacons_total" and s.labels["outcome"] == "counted"
                    }
                    assert counted == {"news": 150}
        assert accepted == 150
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    totals = dict(await redis.zrange(keys.total("news", "all"), 0, -1, withscores=True))
    assert totals == {"x": 100.0, "y": 50.0}


async def test_reads_during_an_outage_are_503_not_500(own_engine: EmbeddedEngine) -> None:
    clock = FakeClock()
    app = create_app(make_settings(own_engine.url, cache_ttl=0.001), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await put_item(client, "a")
        await asyncio.to_thread(own_engine.stop)
        for path in ("/v1/sites/news/top", "/v1/sites/news/items/a"):
            clock.advance(1)
            response = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status == 503, path
            assert response.headers["Retry-After"]
            assert (await response.json())["error"] == "store_unavailable"
        assert await hit(client, "a") == 204  # beacons are buffered meanwhile
        await asyncio.to_thread(own_engine.start)
        assert await app[FLUSHER].flush()
        assert (await client.get("/v1/sites/news/top")).status == 200


def test_workers_stop_when_their_parent_is_killed(engine: EmbeddedEngine, tmp_path: Path) -> None:
    config = tmp_path / "ranker.toml"
    config.write_text(f'[sites.news]\ntoken = "{TOKEN}"\n')
    port = free_port()
    env = {**os.environ, "REDIS_URL": engine.url, "RANKER_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ranker", "serve", "--config", str(config), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
            workers = [int(p) for p in children.read_text().split()] if children.exists() else []
            time.sleep(0.05)
        assert len(workers) == 2
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 15
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_a_logged_store_failure_names_its_request(
    own_engine: EmbeddedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(own_engine.url), clock=FakeClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await put_item(client, "a")
        await asyncio.to_thread(own_engine.stop)
        logs.setup("json")
        try:
            response = await client.get(
                "/v1/sites/news/items/a",
                headers={"Authorization": f"Bearer {TOKEN}", "X-Request-ID": "trace-7"},
            )
            assert response.status == 503
            assert response.headers["X-Request-ID"] == "trace-7"
            err = capsys.readouterr().err
        finally:
            logging.getLogger().handlers.clear()
        await asyncio.to_thread(own_engine.start)
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    failure = [x for x in lines if x["logger"] == "ranker" and x["level"] == "WARNING"]
    assert failure and failure[0]["request_id"] == "trace-7", lines
    assert "store unavailable" in failure[0]["message"]
