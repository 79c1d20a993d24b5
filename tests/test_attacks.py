"""One outsider with a script against a real `ranker serve` (one worker and two), on
loopback, bounded in count and time: rotating user agents, the pixel, a replayed token,
forged X-Forwarded-For, evasive user agents, HEAD, pushing a story onto Rising, and
inflating the box's impressions and clicks. Each
attack asserts the bound the README promises (I7)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from redis.asyncio import Redis

from ranker.core.config import Site
from ranker.core.signing import sign
from ranker.core.validate import catalog_entry
from ranker.store.engine import EmbeddedEngine
from ranker.store.redis import Store
from tests.support import TOKEN, free_port, make_settings

SITE = "news"
LIMIT = 10  # collector.max_views_per_address, the default
# Real browsers' user agents; the attacker appends a fresh token to one on every beacon.
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/450.0.0.38.108]",
)
# Fetch Metadata is easy to forge: the attacker sends what a browser would.
FETCH = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"}
EVASIONS = (
    "puppeteer",
    "Headless Chrome",
    "GoogIebot",
    "MyBot 1.0",
    "PostmanRuntime/7.36.0",
    "x(xxxxxxxxx",
    "Mozilla/5.0 (compatible; GoogIebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Headless Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "hEaDlEsScHrOmE/120.0.0.0 Safari/537.36",
)
STORIES = ("rotate", "pixel", "forged", "evade", "head", "rise-one", "rise-24", "rise-crowd")


def agent(rng: random.Random) -> dict[str, str]:
    """A browser's user agent made new for this beacon, with forged Fetch Metadata."""
    return {"User-Agent": f"{rng.choice(AGENTS)} r{rng.getrandbits(48):x}", **FETCH}


class Server:
    """`ranker serve --workers N` on the session's engine, in its own process group."""

    def __init__(self, tmp_path: Path, redis_url: str, workers: int, collector: str) -> None:
        self.config = tmp_path / "ranker.toml"
        self.config.write_text(
            f'[collector]\n{collector}\n[sites.{SITE}]\ntoken = "{TOKEN}"\nplacements = ["side"]\n'
        )
        self.log_path = tmp_path / "serve.log"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "REDIS_URL": redis_url, "RANKER_PORT": str(self.port)}
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ranker", "serve", "--config", str(self.config)]
                + ["--workers", str(self.workers)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline and self.proc.poll() is None:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.base + "/readyz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.05)
        pytest.fail(f"ranker serve did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


async def _catalog(redis_url: str) -> None:
    async with Redis.from_url(redis_url, decode_responses=True) as redis:
        await redis.flushall()
        entries = [(i, catalog_entry({"title": i, "url": f"/{i}"})) for i in STORIES]
        await Store(redis, make_settings(redis_url)).put_items(SITE, entries)


async def _serving(
    engine: EmbeddedEngine, tmp_path: Path, workers: int, collector: str
) -> AsyncIterator[Server]:
    await _catalog(engine.url)
    srv = Server(tmp_path, engine.url, workers, collector)
    await srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
async def server(
    request: pytest.FixtureRequest, engine: EmbeddedEngine, tmp_path: Path
) -> AsyncIterator[Server]:
    """The default configuration: no proxy is trusted."""
    async for srv in _serving(engine, tmp_path, request.param, ""):
        yield srv


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
async def proxied(
    request: pytest.FixtureRequest, engine: EmbeddedEngine, tmp_path: Path
) -> AsyncIterator[Server]:
    """Behind a proxy on loopback that names each reader in X-Forwarded-For."""
    trusted = 'trusted_proxies = ["127.0.0.1/32"]'
    async for srv in _serving(engine, tmp_path, request.param, trusted):
        yield srv


def session() -> aiohttp.ClientSession:
    """A new connection per request, so SO_REUSEPORT spreads them over the workers."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True),
        timeout=aiohttp.ClientTimeout(total=10),
    )


async def post(http: aiohttp.ClientSession, srv: Server, body: dict[str, Any], **h: str) -> int:
    async with http.post(
        srv.base + "/v1/hit",
        data=orjson.dumps(body),
        headers={"Content-Type": "text/plain;charset=UTF-8", **h},
    ) as r:
        await r.read()
        return r.status


async def written(srv: Server, item: str, answered: int) -> dict[str, Any]:
    """The story's catalog view once every answered beacon is written, counted or held."""
    deadline = time.monotonic() + 10
    async with session() as http:
        while True:
            async with http.get(
                f"{srv.base}/v1/sites/{SITE}/items/{item}",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as r:
                doc: dict[str, Any] = await r.json()
            if doc["views_total"] + sum(doc["held"].values()) >= answered:
                return doc
            if time.monotonic() > deadline:
                pytest.fail(f"not all {answered} beacons were written: {doc}")
            await asyncio.sleep(0.1)


async def test_one_address_rotating_user_agents(server: Server) -> None:
    rng = random.Random(1)
    async with session() as http:
        statuses = Counter(
            [
                await post(http, server, {"site": SITE, "id": "rotate"}, **agent(rng))
                for _ in range(150)
            ]
        )
    assert statuses[204] == LIMIT and statuses[202] == 150 - LIMIT
    doc = await written(server, "rotate", 150)
    assert doc["views_total"] == LIMIT
    assert doc["held"] == {"address_limit": 150 - LIMIT}


async def test_one_address_cannot_inflate_the_box_s_clicks(server: Server) -> None:
    """Rotating user agents and pages from one address: at most LIMIT impressions of a
    placement and LIMIT clicks of one story from it are counted, however many are sent."""
    rng = random.Random(7)
    counted = Counter[str]()
    async with session() as http:
        for k in range(120):
            event = ("impression", "click")[k % 2]
            body: dict[str, Any] = {"site": SITE, "placement": "side", "event": event}
            body["page"] = "rotate"  # one page: rotating it is a new reader's page view
            if event == "click":
                body.update(id="rotate", position=1)
            async with http.post(
                server.base + "/v1/recirc",
                data=orjson.dumps(body),
                headers={"Content-Type": "text/plain;charset=UTF-8", **agent(rng)},
            ) as r:
                await r.read()
                counted[event] += r.status == 204
    assert counted == {"impression": LIMIT, "click": LIMIT}
    deadline = time.monotonic() + 10
    async with session() as http:
        while True:
            async with http.get(
                f"{server.base}/v1/sites/{SITE}/recirculation",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as r:
                doc = await r.json()
            placements = {p["placement"]: p for p in doc["placements"]}
            if "side" in placements and placements["side"]["clicks"] == LIMIT:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the counted events were not written: {doc}")
            await asyncio.sleep(0.1)
    assert placements["side"]["impressions"] == LIMIT
    assert placements["side"]["stories"][0]["clicks"] == LIMIT


async def test_the_pixel_shares_the_address_budget(server: Server) -> None:
    rng = random.Random(2)
    counted = 0
    async with session() as http:
        for k in range(120):
            if k % 2:
                counted += (
                    await post(http, server, {"site": SITE, "id": "pixel"}, **agent(rng)) == 204
                )
                continue
            async with http.get(
                f"{server.base}/v1/hit.gif?site={SITE}&id=pixel", headers=agent(rng)
            ) as r:
                await r.read()
                counted += r.status == 200
    assert counted == LIMIT
    assert (await written(server, "pixel", 120))["views_total"] == LIMIT


async def test_a_replayed_token(server: Server) -> None:
    secret = Site(SITE, 3600.0, TOKEN).signing_key
    token = sign(secret, SITE, "breaking-42", expires=int(time.time()) + 3600)
    rng = random.Random(3)
    async with session() as http:
        beacon = {"site": SITE, "id": "breaking-42", "token": token}
        statuses = Counter([await post(http, server, beacon, **agent(rng)) for _ in range(100)])
        assert statuses[204] == LIMIT
        async with http.put(
            f"{server.base}/v1/sites/{SITE}/items/breaking-42",
            json={"title": "Breaking", "url": "/b"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as r:
            assert r.status == 201
    assert (await written(server, "breaking-42", 100))["views_total"] == LIMIT


async def test_forged_forwarded_for_from_an_untrusted_peer(server: Server) -> None:
    rng = random.Random(4)
    async with session() as http:
        for _ in range(120):
            forged = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.7"
            await post(
                http,
                server,
                {"site": SITE, "id": "forged"},
                **agent(rng),
                **{"X-Forwarded-For": forged},
            )
    assert (await written(server, "forged", 120))["views_total"] == LIMIT


async def test_evasive_user_agents_are_bots(server: Server) -> None:
    async with session() as http:
        for user_agent in EVASIONS:
            async with http.post(
                server.base + "/v1/hit",
                data=orjson.dumps({"site": SITE, "id": "evade"}),
                headers={"Content-Type": "text/plain", "User-Agent": user_agent, **FETCH},
            ) as r:
                assert (r.status, await r.json()) == (202, {"counted": False, "reason": "bot"})
    doc = await written(server, "evade", len(EVASIONS))
    assert doc["views_total"] == 0 and doc["held"] == {"bot": len(EVASIONS)}


async def test_head_never_counts(server: Server) -> None:
    rng = random.Random(5)
    async with session() as http:
        for _ in range(40):
            async with http.head(
                f"{server.base}/v1/hit.gif?site={SITE}&id=head", headers=agent(rng)
            ) as r:
                assert r.status == 200 and r.headers["Content-Type"] == "image/gif"
        # One real view afterwards, so "written" has something to wait for.
        assert await post(http, server, {"site": SITE, "id": "head"}, **agent(rng)) == 204
    doc = await written(server, "head", 1)
    assert doc["views_total"] == 1 and doc["held"] == {}


async def rising(srv: Server) -> list[str]:
    async with (
        session() as http,
        http.get(
            f"{srv.base}/v1/sites/{SITE}/rising?n=20", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r,
    ):
        doc = await r.json()
    return [it["id"] for it in doc["items"]]


async def test_one_address_cannot_push_a_story_onto_rising(server: Server) -> None:
    rng = random.Random(6)
    async with session() as http:
        for _ in range(100):
            await post(http, server, {"site": SITE, "id": "rise-one"}, **agent(rng))
    await written(server, "rise-one", 100)
    await asyncio.sleep(1.1)  # past the list's cache
    assert "rise-one" not in await rising(server)


async def test_one_network_cannot_push_a_story_onto_rising(proxied: Server) -> None:
    rng = random.Random(7)
    async with session() as http:
        for k in range(60):  # sixty readers, all in 203.0.113.0/24
            reader = {"X-Forwarded-For": f"203.0.113.{k + 1}"}
            assert await post(
                http, proxied, {"site": SITE, "id": "rise-24"}, **agent(rng), **reader
            ) in (204, 202)
        for k in range(12):  # twelve readers on twelve networks: a crowd
            reader = {"X-Forwarded-For": f"198.51.{k}.9"}
            assert (
                await post(
                    http, proxied, {"site": SITE, "id": "rise-crowd"}, **agent(rng), **reader
                )
                == 204
            )
    await written(proxied, "rise-24", 60)
    await written(proxied, "rise-crowd", 12)
    await asyncio.sleep(1.1)
    listed = await rising(proxied)
    assert "rise-crowd" in listed  # the rule lets a crowd through: this test can fail
    assert "rise-24" not in listed
