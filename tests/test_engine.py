"""The embedded engine: persistence across restarts, the data-dir lock, binaries, long paths,
and the app starting and stopping its own engine when no REDIS_URL is set."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.exceptions
from aiohttp.test_utils import TestClient, TestServer

from ranker.core.config import Settings, Site
from ranker.http.app import REDIS_URL, create_app
from ranker.store.engine import EmbeddedEngine, EngineError, find_server_binary
from tests.support import TOKEN, FakeClock, auth, crash, flush, hit, make_settings, put_item


@contextlib.contextmanager
def running(engine: EmbeddedEngine) -> Iterator[EmbeddedEngine]:
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5
    )


def answers(url: str) -> bool:
    client = connect(url)
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False
    finally:
        client.close()


def lock_is_free(data_dir: Path) -> bool:
    with open(data_dir / "engine.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


async def top(client: TestClient[Any, Any], window: str = "all") -> list[tuple[str, Any]]:
    response = await client.get(f"/v1/sites/news/top?n=10&window={window}")
    assert response.status == 200, await response.text()
    return [(it["id"], it["views"]) for it in (await response.json())["items"]]


# -- persistence ---------------------------------------------------------------------------


def test_a_persisted_engine_keeps_data_across_a_restart(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "data", persist=True)
    with running(engine):
        client = connect(engine.url)
        client.zadd("scores", {"a": 3, "b": 1})
        client.set("plain", "value")
        client.close()
    assert not answers(engine.url)
    with running(engine):
        client = connect(engine.url)
        assert client.zrange("scores", 0, -1, withscores=True) == [("b", 1.0), ("a", 3.0)]
        assert client.get("plain") == "value"
        client.close()


def test_the_engines_files_are_its_owners_alone(tmp_path: Path) -> None:
    """They hold the day's visitor salt: no other user of the machine may read them, also
    what an earlier release left readable."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    old = data / "engine.log"
    old.write_text("")
    old.chmod(0o644)
    engine = EmbeddedEngine(data, persist=True)
    with running(engine):
        client = connect(engine.url)
        client.set("rk:salt:2026-12-01", "secret")
        client.close()
    assert data.stat().st_mode & 0o777 == 0o700
    found = list(data.rglob("*"))
    assert any(p.name.endswith(".aof") for p in found)  # the append-only files are there
    for path in found:
        if not path.is_symlink():
            assert path.stat().st_mode & 0o077 == 0, path


def test_an_unpersisted_engine_starts_empty_after_a_restart(tmp_path: Path) -> None:
    # The counterpart of the test above: it shows that test observes the AOF, not luck.
    engine = EmbeddedEngine(tmp_path / "data", persist=False)
    with running(engine):
        client = connect(engine.url)
        client.set("plain", "value")
        client.close()
    with running(engine):
        client = connect(engine.url)
        assert client.get("plain") is None
        client.close()


async def test_rankings_and_catalog_survive_an_engine_restart(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "data", persist=True)
    clock = FakeClock()
    await asyncio.to_thread(engine.start)
    try:
        app = create_app(make_settings(engine.url), clock=clock)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await put_item(client, "a1", section="tech")
            await put_item(client, "a2", section="sport")
            for item_id in ("a1", "a1", "a1", "a2"):
                assert await hit(client, item_id) == 204
            await flush(client)
            assert await top(client) == [("a1", 3), ("a2", 1)]

        await asyncio.to_thread(engine.stop)
        assert not await asyncio.to_thread(answers, engine.url)
        await asyncio.to_thread(engine.start)

        clock.advance(60)
        app = create_app(make_settings(engine.url), clock=clock)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            assert await top(client) == [("a1", 3), ("a2", 1)]
            assert await top(client, "1h") == [("a1", 3), ("a2", 1)]
            hot = await top(client, "hot")
            assert [item_id for item_id, _ in hot] == ["a1", "a2"]
            assert all(views > 0 for _, views in hot)
            response = await client.get("/v1/sites/news/items/a1", headers=auth(TOKEN))
            assert response.status == 200
            doc = await response.json()
            assert (doc["title"], doc["section"], doc["views_total"]) == ("Story a1", "tech", 3)
            # The restarted catalog accepts views for the persisted items.
            assert await hit(client, "a2") == 204
            assert await hit(client, "a2") == 204
            assert await hit(client, "a2") == 204
            await flush(client)
            clock.advance(2)  # past the in-process cache of the list read above
            assert await top(client) == [("a2", 4), ("a1", 3)]
    finally:
        await asyncio.to_thread(engine.stop)


# -- kill and the data-dir lock ------------------------------------------------------------


def test_start_after_kill_works_and_the_lock_is_released(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    engine = EmbeddedEngine(data_dir, persist=True)
    engine.start()
    try:
        url = engine.url
        assert answers(url)
        assert not lock_is_free(data_dir)
        crash(engine)
        assert not answers(url)
        assert lock_is_free(data_dir)
        # Another engine may take the directory over ...
        with running(EmbeddedEngine(data_dir, persist=True)) as other:
            assert answers(other.url)
        # ... and so may the killed one.
        engine.start()
        assert answers(engine.url)
        client = connect(engine.url)
        client.set("after", "kill")
        assert client.get("after") == "kill"
        client.close()
    finally:
        engine.stop()
    assert lock_is_free(data_dir)


def test_two_engines_cannot_share_a_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = EmbeddedEngine(data_dir, persist=True)
    second = EmbeddedEngine(data_dir, persist=True)
    with running(first):
        client = connect(first.url)
        client.set("owner", "first")
        with pytest.raises(EngineError, match="in use"):
            second.start()
        second.stop()  # harmless after a refused start
        # The refused start left the running engine alone.
        assert client.get("owner") == "first"
        client.close()
    # Once the first has stopped the second may start, and it sees the first's data.
    with running(second):
        client = connect(second.url)
        assert client.get("owner") == "first"
        client.close()


# -- the server binary ---------------------------------------------------------------------


def test_find_server_binary_returns_an_executable_file() -> None:
    path = Path(find_server_binary())
    assert path.is_file()
    assert os.access(path, os.X_OK)


def test_the_given_binary_is_the_one_started(tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "data", persist=False, binary=find_server_binary())
    with running(engine):
        client = connect(engine.url)
        assert client.info("server")["executable"] == find_server_binary()
        client.close()


def _not_executable(tmp_path: Path) -> str:
    path = tmp_path / "valkey-server"
    path.write_text("not a program\n")
    path.chmod(0o644)
    return str(path)


BAD_BINARIES = {
    "missing": lambda tmp_path: "/nonexistent/valkey-server",
    "not-executable": _not_executable,
}


@pytest.mark.parametrize("kind", sorted(BAD_BINARIES))
def test_a_binary_that_cannot_run_raises_engine_error(tmp_path: Path, kind: str) -> None:
    bad = EmbeddedEngine(tmp_path / "data", binary=BAD_BINARIES[kind](tmp_path))
    try:
        with pytest.raises(EngineError):
            bad.start()
    finally:
        bad.stop()


@pytest.mark.parametrize("kind", sorted(BAD_BINARIES))
def test_a_binary_that_cannot_run_leaves_no_lock_behind(tmp_path: Path, kind: str) -> None:
    data_dir = tmp_path / "data"
    bad = EmbeddedEngine(data_dir, binary=BAD_BINARIES[kind](tmp_path))
    try:
        with pytest.raises((EngineError, OSError)):
            bad.start()
        assert lock_is_free(data_dir)
        with running(EmbeddedEngine(data_dir, persist=False)) as good:
            assert answers(good.url)
    finally:
        bad.stop()  # releases whatever a failed start kept, so this test leaks nothing


def test_a_server_that_exits_at_once_raises_engine_error_and_frees_the_lock(
    tmp_path: Path,
) -> None:
    script = tmp_path / "fake-server"
    script.write_text("#!/bin/sh\necho 'fake server: refusing to start' > engine.log\nexit 3\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    data_dir = tmp_path / "data"
    engine = EmbeddedEngine(data_dir, binary=str(script))
    with pytest.raises(EngineError, match="did not start"):
        engine.start()
    assert lock_is_free(data_dir)
    with running(EmbeddedEngine(data_dir, persist=False)) as good:
        assert answers(good.url)


# -- long paths ----------------------------------------------------------------------------


def test_a_long_data_dir_uses_a_temporary_socket_dir_and_removes_it(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * 60) / ("e" * 60)
    assert len(str(data_dir / "engine.sock")) > 100
    engine = EmbeddedEngine(data_dir, persist=True)
    engine.start()
    try:
        socket_path = engine.socket_path
        assert not socket_path.is_relative_to(data_dir)
        assert len(str(socket_path)) < 100
        assert socket_path.parent.is_dir()
        client = connect(engine.url)
        client.set("long", "path")
        assert client.get("long") == "path"
        client.close()
        # The data still lives in the data dir.
        assert (data_dir / "engine.lock").exists()
    finally:
        engine.stop()
    assert not socket_path.parent.exists()
    assert lock_is_free(data_dir)


def test_a_long_data_dir_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / ("x" * 110)
    engine = EmbeddedEngine(data_dir, persist=True)
    with running(engine):
        first_dir = engine.socket_path.parent
        client = connect(engine.url)
        client.set("k", "v")
        client.close()
    with running(engine):
        second_dir = engine.socket_path.parent
        client = connect(engine.url)
        assert client.get("k") == "v"
        client.close()
    assert not first_dir.exists()
    assert not second_dir.exists()


# -- the app's own engine ------------------------------------------------------------------


def own_engine_settings(data_dir: Path) -> Settings:
    return Settings(
        sites={"news": Site("news", half_life=3600.0, token=TOKEN)},
        data_dir=data_dir,
        redis_url=None,
        flush_interval=3600.0,
        catalog_refresh=3600.0,
        window_cache=0.0,
        dedupe_window=0.0,  # one client sends every view
    )


async def test_the_app_starts_and_stops_its_own_engine(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    app = create_app(own_engine_settings(data_dir), clock=FakeClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert (await response.json())["status"] == "ok"
        url = app[REDIS_URL]
        assert await asyncio.to_thread(answers, url)
        assert not lock_is_free(data_dir)
        await put_item(client, "a1")
        assert await hit(client, "a1") == 204
        await flush(client)
        assert await top(client) == [("a1", 1)]
    assert lock_is_free(data_dir)
    assert not await asyncio.to_thread(answers, url)


async def test_the_apps_own_engine_keeps_rankings_across_app_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    clock = FakeClock()
    app = create_app(own_engine_settings(data_dir), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await put_item(client, "a1")
        await put_item(client, "a2")
        for item_id in ("a2", "a2", "a1"):
            assert await hit(client, item_id) == 204
        await flush(client)
    app = create_app(own_engine_settings(data_dir), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert await top(client) == [("a2", 2), ("a1", 1)]


async def test_views_still_buffered_at_shutdown_are_written_before_the_engine_stops(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    clock = FakeClock()
    app = create_app(own_engine_settings(data_dir), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await put_item(client, "a1")
        assert await hit(client, "a1") == 204
        assert await hit(client, "a1") == 204
        # No flush: the shutdown drain must write these before the engine goes away.
    app = create_app(own_engine_settings(data_dir), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert await top(client) == [("a1", 2)]


async def test_an_app_cannot_use_a_data_dir_whose_engine_is_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    engine = EmbeddedEngine(data_dir)
    await asyncio.to_thread(engine.start)
    try:
        app = create_app(own_engine_settings(data_dir), clock=FakeClock())
        server = TestServer(app, host="127.0.0.1")
        try:
            with pytest.raises(EngineError, match="in use"):
                await server.start_server()
        finally:
            await server.close()
        assert await asyncio.to_thread(answers, engine.url)
    finally:
        await asyncio.to_thread(engine.stop)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_second_server_on_the_same_data_says_so_in_one_line(tmp_path: Path, workers: str) -> None:
    data_dir = tmp_path / "data"
    config = tmp_path / "ranker.toml"
    config.write_text(f'[sites.news]\ntoken = "{TOKEN}"\n')
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(RANKER_DATA_DIR=str(data_dir), RANKER_PORT="0")
    with running(EmbeddedEngine(data_dir, persist=True)):
        second = subprocess.run(
            [sys.executable, "-m", "ranker", "serve", "--config", str(config)]
            + ["--workers", workers],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert second.returncode == 1
    assert "serving" not in second.stdout
    assert second.stderr.strip().splitlines() == [f"ranker: {data_dir} is in use by another Ranker"]
