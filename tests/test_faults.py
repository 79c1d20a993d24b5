"""I3 through process faults, on a real engine and a real `ranker serve`: the engine paused,
killed or its flush replies lost, the collector SIGTERMed or SIGKILLed while readers keep
sending. Every beacon answered 204 is counted exactly once in the all-time total, in the
minute, hour and day buckets and in the day's tally; a hard crash of the collector loses
only what it had not yet flushed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from ranker.store.engine import EmbeddedEngine
from tests.support import (
    RESOLUTIONS,
    SITE,
    Collector,
    Readers,
    assert_counted_once,
    catalog_stories,
    crash,
    stored_views,
    tallied_views,
)


class ReplyCutter:
    """A TCP proxy to the engine's unix socket. While armed, it lets each flush script reach
    the engine, then drops the reply and cuts the connection: applied, never acknowledged."""

    def __init__(self, engine_socket: Path) -> None:
        self._engine_socket = str(engine_socket)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.armed = False
        self.cut = 0  # flush replies dropped
        self.url = ""

    async def __aenter__(self) -> ReplyCutter:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/0"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # each pipe then reads its end of file and returns
            writer.close()
        await asyncio.gather(*self._pipes)
        await self._server.wait_closed()

    async def _connect(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        engine, to_engine = await asyncio.open_unix_connection(self._engine_socket)
        self._writers |= {to_client, to_engine}
        doomed = False

        async def requests() -> None:
            nonlocal doomed
            while data := await client.read(1 << 16):
                # redis-py sends a pipeline in one write: the flush scripts name the marker key.
                if self.armed and b":flushed:" in data:
                    doomed = True
                to_engine.write(data)
                await to_engine.drain()

        async def replies() -> None:
            while data := await engine.read(1 << 16):
                if doomed:
                    self.cut += 1
                    return
                to_client.write(data)
                await to_client.drain()

        try:
            # Either direction ending (or failing) ends both: closing its writer gives the
            # other pipe its end of file.
            await asyncio.gather(
                self._then_close(requests(), to_engine),
                self._then_close(replies(), to_client),
                return_exceptions=True,
            )
        finally:
            self._writers -= {to_client, to_engine}
            self._pipes.discard(task)

    @staticmethod
    async def _then_close(pipe: Coroutine[Any, Any, None], writer: asyncio.StreamWriter) -> None:
        try:
            await pipe
        finally:
            writer.close()


async def _engine_pid(url: str) -> int:
    async with Redis.from_url(url, decode_responses=True) as redis:
        return int((await redis.info("server"))["process_id"])


async def test_an_engine_paused_mid_stream_delays_views_but_loses_none(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    await catalog_stories(own_engine.url)
    pid = await _engine_pid(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "100ms") as collector:
        async with Readers(collector.base) as readers:
            await asyncio.sleep(0.6)
            os.kill(pid, signal.SIGSTOP)
            try:
                before = readers.answered.total()
                await asyncio.sleep(1.5)
                # Beacons are still answered at once; the flush waits on the engine.
                assert readers.answered.total() > before + 50
                assert (await collector.health())["pending_views"] > 0
            finally:
                os.kill(pid, signal.SIGCONT)
            await asyncio.sleep(0.6)
        collector.send_signal(signal.SIGTERM)
        assert await collector.exit_code() == 0, collector.log()
    assert not readers.other and not readers.refused and not readers.cut
    await assert_counted_once(own_engine.url, readers.answered)


async def test_a_flush_applied_but_unacknowledged_is_retried_without_counting_twice(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """The ambiguous failure: the engine ran a flush script but the collector never got the
    reply, so it sends the same batch again. Its marker must make the retry a no-op."""
    await catalog_stories(own_engine.url)
    async with ReplyCutter(own_engine.socket_path) as proxy:
        async with Collector(tmp_path, proxy.url, "100ms") as collector:
            async with Readers(collector.base) as readers:
                await asyncio.sleep(0.5)
                proxy.armed = True
                await asyncio.sleep(1.0)
                proxy.armed = False
                await asyncio.sleep(0.5)
            collector.send_signal(signal.SIGTERM)
            assert await collector.exit_code() == 0, collector.log()
        assert proxy.cut > 0
    assert not readers.other and not readers.refused and not readers.cut
    await assert_counted_once(own_engine.url, readers.answered)


async def test_an_engine_killed_and_restarted_mid_stream_loses_no_view(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    await catalog_stories(own_engine.url)
    url = own_engine.url
    async with Collector(tmp_path, url, "100ms") as collector:
        async with Readers(collector.base) as readers:
            await asyncio.sleep(0.6)
            crash(own_engine)  # SIGKILL: no clean shutdown, only what the AOF has
            before = readers.answered.total()
            await asyncio.sleep(1.0)
            assert readers.answered.total() > before + 50  # buffered while it is down
            health = await collector.health()
            assert health["status"] == "degraded" and health["pending_views"] > 0
            own_engine.start()  # from the main thread; the same data dir and socket
            assert own_engine.url == url
            await asyncio.sleep(0.8)
        collector.send_signal(signal.SIGTERM)
        assert await collector.exit_code() == 0, collector.log()
    assert not readers.other and not readers.refused and not readers.cut
    await assert_counted_once(url, readers.answered)


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_mid_stream_counts_every_view_it_answered(
    own_engine: EmbeddedEngine, tmp_path: Path, workers: int
) -> None:
    """Readers keep sending through the shutdown: the collector stops accepting, and what it
    answered 204 before that is all written. Refused or cut requests are not counted."""
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "100ms", workers) as collector:
        async with Readers(collector.base, senders=16) as readers:
            await asyncio.sleep(1.0)
            accepted = await collector.accepted_per_worker()
            assert len(accepted) == workers and all(accepted.values()), accepted
            collector.send_signal(signal.SIGTERM)
            assert await collector.exit_code() == 0, collector.log()
            await asyncio.sleep(0.2)  # senders meet a closed port
        assert readers.refused > 0
    assert not readers.other
    await assert_counted_once(own_engine.url, readers.answered)


@pytest.mark.parametrize(
    ("workers", "signals"),
    [
        (1, (signal.SIGTERM, signal.SIGTERM)),
        (2, (signal.SIGTERM, signal.SIGTERM)),
        (2, (signal.SIGINT, signal.SIGINT, signal.SIGINT)),
        (1, (signal.SIGTERM,) * 3),
    ],
)
async def test_a_process_group_signalled_again_and_again_loses_no_view(
    own_engine: EmbeddedEngine, tmp_path: Path, workers: int, signals: tuple[int, ...]
) -> None:
    """Every process gets the signal directly, the workers again from the parent, and more
    arrive while they drain: none may cut the final flush short. Every beacon from a new
    reader, so each view is a flush's worth of work; the flush interval is long, so all of
    them are still buffered when the signals come."""
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "1h", workers) as collector:
        async with Readers(collector.base, senders=8) as readers:
            await asyncio.sleep(1.0)
            for signum in signals:
                collector.signal_group(signum)
                await asyncio.sleep(0.0005)
            assert await collector.exit_code() == 0, collector.log()
            await asyncio.sleep(0.1)
    assert readers.answered.total() > 100
    assert not readers.other
    await assert_counted_once(own_engine.url, readers.answered)


async def test_a_worker_that_cannot_drain_makes_the_server_exit_non_zero(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """Views buffered while the engine is gone cannot be written at shutdown: the worker
    says so and exits 1, and so does the server, so a process manager sees it."""
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "1h", workers=2) as collector:
        async with Readers(collector.base, senders=4) as readers:
            await asyncio.sleep(0.5)
        assert readers.answered.total() > 0
        crash(own_engine)  # the buffered views have nowhere to go
        collector.signal_group(signal.SIGTERM)
        assert await collector.exit_code(timeout=30) == 1, collector.log()
        assert "views unwritten" in collector.log()


async def test_sigkill_after_the_last_flush_loses_nothing(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "200ms") as collector:
        async with Readers(collector.base) as readers:
            await asyncio.sleep(0.8)
        # Several flush ticks without beacons: everything answered has been written.
        deadline = time.monotonic() + 5
        while (health := await collector.health())["flushed_views"] < readers.answered.total():
            assert time.monotonic() < deadline, health
            await asyncio.sleep(0.1)
        assert health["pending_views"] == 0
        collector.send_signal(signal.SIGKILL)
        assert await collector.exit_code() == -signal.SIGKILL
    assert not readers.other and not readers.refused and not readers.cut
    await assert_counted_once(own_engine.url, readers.answered)


async def test_sigkill_loses_at_most_the_views_not_yet_flushed(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """The documented bound of a hard crash: what was buffered since the last flush. With
    an hour between flushes, that is every view answered."""
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "1h") as collector:
        async with Readers(collector.base, senders=4) as readers:
            await asyncio.sleep(0.5)
        health = await collector.health()
        assert health["pending_views"] == readers.answered.total() > 0
        collector.send_signal(signal.SIGKILL)
        assert await collector.exit_code() == -signal.SIGKILL
    assert not readers.other and not readers.refused and not readers.cut
    assert await stored_views(own_engine.url) == {"tot": {}, **{r: {} for r in RESOLUTIONS}}
    assert await tallied_views(own_engine.url) == 0


async def test_sigkill_mid_stream_loses_only_the_last_flush_interval(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """Killed while readers send: nothing is counted that was not answered, and what is
    lost was answered within the last moments (a flush interval, plus slack for a busy
    machine's scheduling)."""
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "200ms") as collector:
        async with Readers(collector.base) as readers:
            await asyncio.sleep(1.5)
            killed_at = time.monotonic()
            collector.send_signal(signal.SIGKILL)
            assert await collector.exit_code() == -signal.SIGKILL
    assert not readers.other
    stored = await stored_views(own_engine.url)
    counted = sum(stored["tot"].values())
    # A request cut by the kill may have been counted without its answer reaching us.
    assert counted <= readers.answered.total() + readers.cut
    for resolution in RESOLUTIONS:
        assert stored[resolution] == stored["tot"]
    assert await tallied_views(own_engine.url) == counted
    assert readers.answered.total() - counted <= readers.answered_since(killed_at - 1.0)


async def test_oversized_request_lines_and_headers_are_refused(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """`collector.max_field_size` on a real server: a longer request line or header gets a
    4xx before any handler, and nothing is counted."""
    await catalog_stories(own_engine.url)
    limit = "max_field_size = 2048\n"
    async with Collector(tmp_path, own_engine.url, "100ms", collector=limit) as collector:
        host, port = "127.0.0.1", collector.port
        for request in (
            b"GET /v1/hit.gif?site=" + b"x" * 3000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST /v1/hit HTTP/1.1\r\nHost: a\r\nX-Long: " + b"y" * 3000 + b"\r\n\r\n",
        ):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
            assert status_line.split()[1] in (b"400", b"414", b"431"), status_line
        async with aiohttp.ClientSession() as session:
            async with session.get(collector.base + "/healthz") as r:
                assert (await r.json())["accepted_views"] == 0


async def _probe(session: aiohttp.ClientSession, url: str) -> int:
    try:
        async with session.get(url) as r:
            await r.read()
            return r.status
    except aiohttp.ClientError:
        return 0


async def test_readiness_holds_once_a_restarted_engine_is_back(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """The engine is killed and restarted: once /readyz says ready again it stays ready,
    and the first reads after it answer 200; pooled connections that died with the old
    engine are retried on new ones, never failed to the caller."""
    await catalog_stories(own_engine.url)
    async with Collector(tmp_path, own_engine.url, "100ms") as collector:
        top = collector.base + f"/v1/sites/{SITE}/top"
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                # Fill the pool with connections that the restart will kill.
                statuses = await asyncio.gather(
                    *(_probe(session, top + f"?n={n}") for n in range(1, 9))
                )
                assert set(statuses) == {200}
                crash(own_engine)
                await asyncio.sleep(0.3)
                assert await _probe(session, collector.base + "/readyz") == 503
                own_engine.start()
                deadline = time.monotonic() + 10
                while await _probe(session, collector.base + "/readyz") != 200:
                    assert time.monotonic() < deadline, collector.log()
                    await asyncio.sleep(0.05)
                after = [await _probe(session, collector.base + "/readyz") for _ in range(20)]
                reads = await asyncio.gather(
                    *(_probe(session, top + f"?n={n}") for n in range(10, 18))
                )
                assert set(after) == {200} and set(reads) == {200}, (after, reads)


async def test_an_engine_stalled_for_two_seconds_shows_in_readiness(
    own_engine: EmbeddedEngine, tmp_path: Path
) -> None:
    """A stall a load balancer should see: /readyz answers 503 within a probe's time and
    says why, then ready again once the engine answers."""
    async with Collector(tmp_path, own_engine.url, "100ms") as collector:
        pid = await _engine_pid(own_engine.url)
        async with aiohttp.ClientSession() as session:
            os.kill(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(0.5)
                started = time.monotonic()
                async with session.get(collector.base + "/readyz") as r:
                    doc = await r.json()
                    assert r.status == 503, doc
                assert doc["redis"] == "unreachable: no answer in 1 s"
                assert time.monotonic() - started < 1.5
            finally:
                os.kill(pid, signal.SIGCONT)
            deadline = time.monotonic() + 5
            while await _probe(session, collector.base + "/readyz") != 200:
                assert time.monotonic() < deadline, collector.log()
                await asyncio.sleep(0.05)
