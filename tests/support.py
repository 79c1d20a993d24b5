"""What the tests share: the session's token and browser headers, a fake clock, settings,
request helpers, and a real `ranker serve` with readers that send through it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.core.config import Settings, Site
from ranker.core.validate import catalog_entry
from ranker.http.appkeys import FLUSHER
from ranker.store import keys
from ranker.store.engine import EmbeddedEngine, free_port
from ranker.store.redis import Store

# Fresh per session: `ranker serve` refuses a short token or one shown in these files.
# Never starting with "-", which a command line would take for an option.
TOKEN = "t" + secrets.token_urlsafe(32)
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


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    sites = {
        "news": Site(
            "news",
            half_life=3600.0,
            token=TOKEN,
            placements=frozenset({"default", "sidebar", "footer"}),
        ),
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


@contextlib.asynccontextmanager
async def receiving(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """A fake receiver (a CDN's API, a webhook, a chat) on loopback, taking POSTs to any
    path with `handle`; its base address, without a trailing slash."""
    app = web.Application()
    app.router.add_post("/{path:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


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


SITE = "news"
STORIES = {f"story-{n}": ("sport", "politics", "")[n % 3] for n in range(12)}
RESOLUTIONS = ("minute", "hour", "day")


async def catalog_stories(url: str) -> None:
    async with Redis.from_url(url, decode_responses=True) as redis:
        entries = [
            (i, catalog_entry({"title": i, "url": f"/{i}", "section": s}))
            for i, s in STORIES.items()
        ]
        await Store(redis, make_settings(url)).put_items(SITE, entries)


async def stored_views(url: str) -> dict[str, dict[str, int]]:
    """Views per story as Redis holds them: the all-time total, then the sum over every
    bucket of each resolution; an hour or day holds the views of the minutes not rolled
    into it yet too (queries add them)."""

    def views(rows: list[tuple[str, float]], into: Counter[str]) -> None:
        for item, score in rows:
            assert score == int(score), (item, score)
            into[item] += int(score)

    found: dict[str, Counter[str]] = {"tot": Counter()}
    async with Redis.from_url(url, decode_responses=True) as redis:
        views(await redis.zrange(keys.total(SITE, "all"), 0, -1, withscores=True), found["tot"])
        unrolled = await redis.zrange(keys.unrolled(SITE), 0, -1)
        for resolution in RESOLUTIONS:
            found[resolution] = Counter()
            pattern = f"{keys.prefix(SITE)}b:all:{resolution}:*"
            async for key in redis.scan_iter(match=pattern, count=1000):
                views(await redis.zrange(key, 0, -1, withscores=True), found[resolution])
            for minute in unrolled if resolution != "minute" else []:
                key = keys.bucket(SITE, "all", "minute", int(minute))
                views(await redis.zrange(key, 0, -1, withscores=True), found[resolution])
    return {what: {i: v for i, v in c.items() if v} for what, c in found.items()}


async def tallied_views(url: str) -> int:
    """Views counted in the per-day beacon tally."""
    async with Redis.from_url(url, decode_responses=True) as redis:
        return sum(
            [
                int(await redis.hget(key, "counted") or 0)
                async for key in redis.scan_iter(match=f"{keys.prefix(SITE)}beacons:*")
            ]
        )


async def assert_counted_once(url: str, answered: Counter[str]) -> None:
    """I3: each view answered 204 is in every window once; none is missing, none doubled."""
    assert answered.total() > 0
    expected = {i: v for i, v in answered.items() if v}
    stored = await stored_views(url)
    for what, views in stored.items():
        assert views == expected, (
            f"{what}: stored {sum(views.values())} views, expected {answered.total()}"
        )
    assert await tallied_views(url) == answered.total()


def crash(engine: EmbeddedEngine) -> None:
    """A hard crash of an engine: SIGKILL, no clean shutdown; then `engine` forgets it, so
    it may be started again on the same data."""
    assert engine.pid is not None
    os.kill(engine.pid, signal.SIGKILL)
    engine.stop()


class Collector:
    """`ranker serve` against a given engine, in a process group of its own so that a failed
    test can end its workers too. Production filters, behind one proxy that names each
    reader in X-Forwarded-For."""

    def __init__(
        self,
        tmp_path: Path,
        redis_url: str,
        flush_interval: str,
        workers: int = 1,
        collector: str = "",  # more [collector] settings, as TOML lines
        server: str = "",  # [server] settings, as TOML lines
        behind_proxy: bool = True,  # loopback is a trusted proxy
        extra: str = "",  # more tables, as TOML lines after the site's
    ) -> None:
        trusted = '"127.0.0.1/32"' if behind_proxy else ""
        self._config = tmp_path / "ranker.toml"
        self._config.write_text(
            f"[server]\n{server}"
            f'[collector]\nflush_interval = "{flush_interval}"\n'
            f"trusted_proxies = [{trusted}]\n{collector}"
            f'[sites.{SITE}]\nhalf_life = "1h"\ntoken = "{TOKEN}"\n{extra}'
        )
        self._log_path = tmp_path / "serve.log"
        self._redis_url = redis_url
        self._workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> Collector:
        env = {**os.environ, "REDIS_URL": self._redis_url, "RANKER_PORT": str(self.port)}
        with open(self._log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ranker", "serve", "--config", str(self._config)]
                + ["--workers", str(self._workers)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            await self._wait_listening()
        except BaseException:
            self._kill_group()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._kill_group()

    async def _wait_listening(self, timeout: float = 15.0) -> None:
        """Until every worker answers: readers' kept-alive connections made while one of
        them still starts would all go to the others."""
        deadline = time.monotonic() + timeout
        answered: set[int] = set()
        connector = aiohttp.TCPConnector(force_close=True)  # SO_REUSEPORT spreads them
        async with aiohttp.ClientSession(connector=connector) as session:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.base + "/healthz") as r:
                        if r.status == 200:
                            answered.add((await r.json())["pid"])
                if len(answered) >= self._workers:
                    return
                await asyncio.sleep(0.01 if answered else 0.05)
        pytest.fail(f"ranker serve did not start; its log:\n{self.log()}")

    def _kill_group(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the server and any worker left
        self.proc.wait()

    def log(self, full: bool = False) -> str:
        text = self._log_path.read_text(errors="replace")
        return text if full else text[-3000:]

    def send_signal(self, signum: int) -> None:
        """To the server process only: with workers, it is the one that stops them."""
        assert self.proc is not None
        self.proc.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        """To the server and every worker at once, as systemd's KillMode=control-group,
        `kill -- -PGID` or Ctrl-C in a terminal do."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signum)

    async def exit_code(self, timeout: float = 15.0) -> int:
        """How the server ended; a failure if it is still running after `timeout` (a drain
        against a live engine takes well under a second)."""
        assert self.proc is not None
        try:
            return await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"ranker serve still running {timeout} s after the signal:\n{self.log()}")

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(self.base + "/healthz") as r:
            doc: dict[str, Any] = await r.json()
            return doc

    async def accepted_per_worker(self, asks: int = 40) -> dict[int, int]:
        """Views accepted so far by each worker that answered one of `asks` health checks,
        each on a new connection so that SO_REUSEPORT spreads them."""
        accepted: dict[int, int] = {}
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(asks):
                async with session.get(self.base + "/healthz") as r:
                    doc = await r.json()
                    accepted[doc["pid"]] = doc["accepted_views"]
        return accepted


class Readers:
    """Concurrent senders on keep-alive connections; every beacon from a new reader (its own
    X-Forwarded-For address), so neither the rate limit nor the repeat filter applies.

    Tallies the answers: 204s per story (with when each came), any other status, and
    requests that failed without an answer (refused or cut connections: not counted)."""

    def __init__(self, base: str, senders: int = 8, pause: float = 0.005) -> None:
        self._url = base + "/v1/hit"
        self._senders = senders
        self._pause = pause
        self._numbers = itertools.count()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.answered: Counter[str] = Counter()
        self.answered_at: list[float] = []  # time.monotonic() of each 204
        self.other: Counter[int] = Counter()  # statuses other than 204
        self.refused = 0  # no connection: the request never reached a server
        self.cut = 0  # sent, but the connection failed before an answer: counted or not

    async def __aenter__(self) -> Readers:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._senders),
            timeout=aiohttp.ClientTimeout(total=10),
            headers={**BROWSER_HEADERS, "Content-Type": "text/plain"},
        )
        self._tasks = [asyncio.create_task(self._send()) for _ in range(self._senders)]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        if self._session is not None:
            await self._session.close()

    async def _send(self) -> None:
        assert self._session is not None
        ids = list(STORIES)
        while not self._stop.is_set():
            n = next(self._numbers)
            item = ids[n % 7 % len(ids)]  # uneven: some stories get more views
            # Consecutive readers on different networks, as a crowd's are.
            reader = f"10.{n & 255}.{n >> 8 & 255}.{n >> 16 & 255}"
            try:
                async with self._session.post(
                    self._url,
                    data=orjson.dumps({"site": SITE, "id": item}),
                    headers={"X-Forwarded-For": reader},
                ) as r:
                    await r.read()
                    status = r.status
            except aiohttp.ClientConnectorError:
                self.refused += 1
                await asyncio.sleep(0.02)
                continue
            except (aiohttp.ClientError, TimeoutError):
                self.cut += 1
                await asyncio.sleep(0.02)
                continue
            if status == 204:
                self.answered[item] += 1
                self.answered_at.append(time.monotonic())
            else:
                self.other[status] += 1
            await asyncio.sleep(self._pause)

    def answered_since(self, t: float) -> int:
        return sum(1 for at in self.answered_at if at >= t)
