"""Connections to a real `ranker serve`, from the outside: broken requests, slow clients,
many connections from one address, clients that leave mid-body, requests in flight at
shutdown, a worker that dies, and who may read /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.http.app import create_app
from ranker.store.engine import EmbeddedEngine
from tests.support import (
    BROWSER,
    SITE,
    STORIES,
    TOKEN,
    Collector,
    Readers,
    assert_counted_once,
    catalog_stories,
    free_port,
    make_settings,
    stored_views,
)

SECRET = "Bearer s3cr3t-" + TOKEN
STORY = next(iter(STORIES))
BEACON = orjson.dumps({"site": SITE, "id": STORY})


def beacon(reader: str) -> bytes:
    """A kept-alive beacon from `reader`, named in X-Forwarded-For."""
    return (
        b"POST /v1/hit HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
        + f"User-Agent: {BROWSER}\r\nX-Forwarded-For: {reader}\r\n".encode()
        + b"Content-Length: %d\r\n\r\n%s" % (len(BEACON), BEACON)
    )


class Raw:
    """One TCP connection speaking HTTP/1.1 by hand, from a chosen loopback address."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, source: str = "127.0.0.1") -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
        """The next response: status, headers (lower-case names) and body."""
        async with asyncio.timeout(timeout):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0].split()[1]), headers, body

    async def closed_within(self, timeout: float) -> bool:
        """Whether the server closes the connection within `timeout`, reading what comes."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(4096):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    def close(self) -> None:
        self.writer.close()


# -- broken requests --------------------------------------------------------------------

MALFORMED = [
    b"GET /healthz HTTP/1.1\r\nHost: a\r\nAuthorization: " + SECRET.encode() + b"\r\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: a\r\nAuthorization: " + SECRET.encode() + b"\x00\r\n\r\n",
    b"GET /healthz HTTP/1.1\nHost: a\nAuthorization: " + SECRET.encode() + b"\n\n",
    b"GET /healthz HTTP/1.1\r\nHost: a\r\nAuthorization : " + SECRET.encode() + b"\r\n\r\n",
    b"GET /hea lthz HTTP/1.1\r\nAuthorization: " + SECRET.encode() + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + SECRET.encode() + b"\r\n\r\n",
]


async def test_malformed_requests_get_json_echo_nothing_and_log_a_summary(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """The review's requests: each gets a JSON 400 naming the kind of error and nothing
    sent; the log has no token and no traceback, and 1,200 of them make a few lines."""
    async with Collector(tmp_path, own_engine.url, "100ms") as collector:
        for request in MALFORMED:
            raw = await Raw.open(collector.port)
            await raw.send(request)
            status, headers, body = await raw.answer()
            raw.close()
            assert status == 400, (request, body)
            assert headers["content-type"].startswith("application/json")
            doc = orjson.loads(body)
            assert doc["error"] == "bad_request" and doc["message"].startswith("malformed")
            assert b"s3cr3t" not in body and TOKEN.encode() not in body
        for _ in range(200):
            for request in MALFORMED:
                raw = await Raw.open(collector.port)
                await raw.send(request)
                await raw.answer()
                raw.close()
        log = collector.log(full=True)
    assert "s3cr3t" not in log and TOKEN not in log
    assert "Traceback" not in log and "Error handling request" not in log
    # One line per kind for the minute (two if it turned), not one per request.
    assert 0 < log.count("malformed request") <= 2 * len(MALFORMED), log


# -- slow clients -----------------------------------------------------------------------


async def test_slow_headers_and_slow_bodies_are_cut_after_read_timeout(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """Headers trickled a line at a time, a body that stops after 4 of 100 bytes, a body
    trickled a byte at a time: none holds its connection past `read_timeout` (and its
    length's worth at the minimum rate)."""
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "100ms", server='read_timeout = "1s"\n') as c:
        headers = await Raw.open(c.port)
        started = time.monotonic()
        with contextlib.suppress(ConnectionError):
            for n in range(20):
                await headers.send(b"GET /healthz HTTP/1.1\r\n" if n == 0 else b"X-A: b\r\n")
                if headers.reader.at_eof():
                    break
                await asyncio.sleep(0.3)
        assert await headers.closed_within(3.0)
        assert time.monotonic() - started < 3.0

        stalled = await Raw.open(c.port)
        await stalled.send(
            b"POST /v1/hit HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 100\r\n\r\nabcd"
        )
        started = time.monotonic()
        status, head, body = await stalled.answer(timeout=5)
        assert status == 408 and head["connection"] == "close"
        assert orjson.loads(body)["error"] == "request_timeout"
        assert 0.9 < time.monotonic() - started < 3.0
        assert await stalled.closed_within(2.0)

        trickled = await Raw.open(c.port)
        await trickled.send(
            b"POST /v1/hit HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        started = time.monotonic()
        answered = None
        with contextlib.suppress(ConnectionError):
            for _ in range(30):  # a byte every 0.5 s: never idle for 1 s, but far too slow
                await trickled.send(b"x")
                with contextlib.suppress(TimeoutError):
                    answered = await trickled.answer(timeout=0.5)
                    break
        assert answered is not None and answered[0] == 408
        assert time.monotonic() - started < 3.5  # 1 s + 100 B at 64 KiB/s, plus a tick
        for raw in (headers, stalled, trickled):
            raw.close()
        assert (await c.health())["accepted_views"] == 0


async def test_one_address_holds_at_most_its_connections(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """A bounded slow-client attack: 300 connections from one address, each trickling
    headers. It holds 16 at a time, each for at most `read_timeout`; the rest are refused
    at once, and a reader at another address is served throughout."""
    server = 'read_timeout = "1s"\nmax_connections_per_address = 16\n'
    async with Collector(
        tmp_path, own_engine.url, "100ms", server=server, behind_proxy=False
    ) as collector:
        attack = [await Raw.open(collector.port) for _ in range(300)]
        await asyncio.gather(*(raw.send(b"GET /healthz HTTP/1.1\r\n") for raw in attack))
        # All waited for at once, for less than read_timeout: the refused answer at once
        # (however busy the machine), the 16 held ones not before their second is up.
        answers = await asyncio.gather(
            *(raw.answer(timeout=0.7) for raw in attack), return_exceptions=True
        )
        refused = [a for a in answers if isinstance(a, tuple)]
        assert all(
            isinstance(a, tuple | TimeoutError | asyncio.IncompleteReadError | ConnectionError)
            for a in answers
        )
        assert len(refused) == 300 - 16
        assert all(
            status == 503 and orjson.loads(body)["error"] == "too_many_connections"
            for status, _, body in refused
        )
        reader = await Raw.open(collector.port, source="127.0.0.2")
        await reader.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert (await reader.answer(timeout=1))[0] == 200
        reader.close()
        closed = await asyncio.gather(*(raw.closed_within(2.5) for raw in attack))
        assert all(closed)
        for raw in attack:
            raw.close()
        # The address's connections are free again.
        again = await Raw.open(collector.port)
        await again.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert (await again.answer(timeout=1))[0] == 200
        again.close()


async def test_trusted_proxies_are_not_capped(own_engine: EmbeddedEngine, tmp_path: Path) -> None:
    server = "max_connections_per_address = 4\n"
    async with Collector(tmp_path, own_engine.url, "100ms", server=server) as collector:
        connections = [await Raw.open(collector.port) for _ in range(12)]
        for raw in connections:
            await raw.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        answers = [await raw.answer(timeout=2) for raw in connections]
        assert [status for status, _, _ in answers] == [200] * 12
        for raw in connections:
            raw.close()


async def test_a_client_gone_mid_body_is_not_a_store_error(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    async with Collector(tmp_path, own_engine.url, "100ms") as collector:
        for path in (b"/v1/hit", b"/v1/sites/news/items"):
            raw = await Raw.open(collector.port)
            await raw.send(
                b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
                b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                b"Content-Length: 1000\r\n\r\nabcd"
            )
            await asyncio.sleep(0.2)
            raw.writer.transport.abort()
        await asyncio.sleep(0.3)
        log = collector.log(full=True)
    assert "store unavailable" not in log and "Traceback" not in log, log


# -- shutdown ---------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
async def test_requests_received_at_shutdown_are_answered(
    own_engine: EmbeddedEngine, tmp_path: Path, workers: int
) -> None:
    """Kept-alive connections send their next beacon just after SIGTERM reaches the
    process group: each is answered (with `Connection: close`) and counted, none dropped."""
    await catalog_stories(own_engine.url)
    readers = [f"10.0.{n}" for n in range(1, 17)]
    async with Collector(tmp_path, own_engine.url, "1h", workers) as collector:
        connections = [await Raw.open(collector.port) for _ in readers]
        for raw, reader in zip(connections, readers, strict=True):
            await raw.send(beacon(reader + ".1"))
            assert (await raw.answer())[0] == 204
        collector.signal_group(signal.SIGTERM)
        await asyncio.sleep(0.01)
        for raw, reader in zip(connections, readers, strict=True):
            await raw.send(beacon(reader + ".2"))
        answers = [await raw.answer() for raw in connections]
        assert [(status, head["connection"]) for status, head, _ in answers] == [
            (204, "close")
        ] * len(readers)
        assert all([await raw.closed_within(2) for raw in connections])
        for raw in connections:
            raw.close()
        assert await collector.exit_code() == 0, collector.log()
    await assert_counted_once(own_engine.url, Counter({STORY: 2 * len(readers)}))


# -- workers ----------------------------------------------------------------------------


async def _pids(base: str, asks: int = 30) -> set[int]:
    pids = set()
    connector = aiohttp.TCPConnector(force_close=True)  # SO_REUSEPORT spreads them
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(asks):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(base + "/healthz") as r:
                    pids.add((await r.json())["pid"])
    return pids


async def test_a_killed_worker_is_replaced_and_the_survivor_loses_nothing(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """SIGKILL one of two workers while readers send: the other serves on, a new worker
    serves within 2 s, the restart shows in /metrics and the log, and every view the
    living workers accepted is written."""
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "100ms", workers=2) as collector:
        async with Readers(collector.base, senders=8) as readers:
            await asyncio.sleep(0.8)
            before = await _pids(collector.base)
            assert len(before) == 2
            victim = min(before)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            while not await _pids(collector.base, 10) - before:
                assert time.monotonic() - killed_at < 2.0, collector.log()
            assert victim not in await _pids(collector.base)
            await asyncio.sleep(0.5)
        assert not readers.other
        survivors = await collector.accepted_per_worker()
        assert victim not in survivors and len(survivors) == 2, survivors
        async with aiohttp.ClientSession() as session:
            async with session.get(collector.base + "/metrics") as r:
                assert "ranker_worker_restarts_total 1.0" in await r.text()
        collector.signal_group(signal.SIGTERM)
        assert await collector.exit_code() == 1  # a worker died: the server says so
        assert f"pid {victim}) died" in collector.log(full=True)
    stored = sum((await stored_views(own_engine.url))["tot"].values())
    # What the killed worker had not flushed is lost; nothing the others accepted is.
    assert sum(survivors.values()) <= stored <= readers.answered.total() + readers.cut
    assert readers.answered.total() - stored < readers.answered_since(killed_at - 1.0)


# -- /metrics ---------------------------------------------------------------------------


async def test_metrics_need_the_token_when_one_is_set(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    metrics_token = "m" + TOKEN
    server = f'metrics_token = "{metrics_token}"\n'
    async with Collector(tmp_path, own_engine.url, "100ms", server=server) as collector:
        async with aiohttp.ClientSession() as session:
            url = collector.base + "/metrics"
            async with session.get(url) as r:
                assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
            async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 403
                assert metrics_token not in await r.text()
            async with session.get(url, headers={"Authorization": f"Bearer {metrics_token}"}) as r:
                assert r.status == 200 and "ranker_beacons" in await r.text()


async def test_metrics_on_their_own_port(own_engine: EmbeddedEngine, tmp_path: Path) -> None:
    port = free_port()
    server = f"metrics_port = {port}\n"
    async with Collector(tmp_path, own_engine.url, "100ms", server=server) as collector:
        async with aiohttp.ClientSession() as session:
            async with session.get(collector.base + "/metrics") as r:
                assert r.status == 404
            async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
                assert r.status == 200 and "ranker_beacons" in await r.text()
            async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 404


async def test_metrics_are_refused_on_a_public_listener_without_a_token(
    engine: EmbeddedEngine, redis: Redis
) -> None:
    """With neither a token nor a port of their own, metrics are only for loopback."""
    for host, status in (("0.0.0.0", 403), ("::", 403), ("127.0.0.1", 200), ("::1", 200)):
        app = create_app(make_settings(engine.url, host=host))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            response = await client.get("/metrics")
            assert response.status == status, host
            if status == 403:
                assert "metrics_token" in (await response.json())["message"]
