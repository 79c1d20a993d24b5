"""The `ranker` command against a real server on loopback, its table format, and Zipf draws."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis import Redis

from ranker.core.config import Settings, Site, check_tokens
from ranker.demo import TOKEN as DEMO_TOKEN
from ranker.demo.readers import Zipf
from ranker.http.app import create_app
from ranker.runtime.cli import format_rising, format_table, main
from ranker.store.engine import EmbeddedEngine
from tests.support import TOKEN, FakeClock, auth, flush, free_port, hit, put_item

Served = tuple[TestClient[Any, Any], str]


@pytest.fixture
async def served(settings: Settings, clock: FakeClock) -> AsyncIterator[Served]:
    """The app on a free loopback port, and the URL the CLI is given."""
    app = create_app(settings, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, f"http://127.0.0.1:{client.server.port}"


async def ranker(*argv: str) -> int:
    # main() calls asyncio.run itself, so it runs in a thread while this loop serves the app.
    return await asyncio.to_thread(main, list(argv))


async def views_total(client: TestClient[Any, Any], item_id: str) -> int:
    response = await client.get(f"/v1/sites/news/items/{item_id}", headers=auth())
    assert response.status == 200, await response.text()
    return int((await response.json())["views_total"])


def table_rows(output: str) -> list[list[str]]:
    """The data rows of a printed table, each split into its columns (the title last).

    Only for tables whose rows all have a section: an empty one would shift the columns."""
    lines = output.strip().splitlines()
    assert lines[1].split() == ["#", "views", "section", "title"]
    return [line.split(maxsplit=3) for line in lines[2:]]


# -- format_table --------------------------------------------------------------------------


def item(rank: int, views: float, section: str | None, title: str) -> dict[str, Any]:
    return {"rank": rank, "views": views, "section": section, "title": title, "id": f"i{rank}"}


def test_format_table_hot() -> None:
    doc = {
        "site": "news",
        "window": "hot",
        "section": None,
        "computed_at": "2024-05-01T12:00:00Z",
        "items": [item(1, 1234.56, "tech", "Big story"), item(2, 3.0, None, "Small story")],
    }
    assert format_table(doc).splitlines() == [
        "news: most viewed, window hot, at 2024-05-01T12:00:00Z",
        "#    views  section  title",
        "1  1,234.6  tech     Big story",
        "2      3.0           Small story",
    ]


def test_format_tables_print_no_terminal_escapes() -> None:
    """A title stored before the rule may hold a CSI (C1 or ESC [) or a bidi override;
    neither reaches the terminal."""
    title = "Fine\x9b2J\x1b[31m red \u202eevil"
    doc = {
        "site": "news",
        "window": "hot",
        "section": None,
        "computed_at": "2024-05-01T12:00:00Z",
        "items": [item(1, 3.0, None, title)],
    }
    last = format_table(doc).splitlines()[-1]
    assert not any(c in last for c in "\x9b\x1b\u202e"), repr(last)
    assert last.endswith("Fine2J[31m red evil")
    rising = {
        "site": "news",
        "section": None,
        "short_window": "10m",
        "baseline_window": "24h",
        "min_views": 10,
        "min_networks": 10,
        "computed_at": "2024-05-01T12:00:00Z",
        "items": [
            {**item(1, 3.0, None, title), "ratio": 2.0, "views_short": 30, "rate_short": 180.0}
        ],
    }
    assert not any(c in format_rising(rising) for c in "\x9b\x1b\u202e")


def test_format_table_counts_use_thousands_separators() -> None:
    doc = {
        "site": "news",
        "window": "30d",
        "section": "sport",
        "computed_at": "2024-05-01T12:00:00Z",
        "items": [item(1, 1234567, "sport", "Final"), item(2, 999, "sport", "Semi")],
    }
    assert format_table(doc).splitlines() == [
        "news / sport: most viewed, window 30d, at 2024-05-01T12:00:00Z",
        "#      views  section  title",
        "1  1,234,567  sport    Final",
        "2        999  sport    Semi",
    ]


def test_format_table_aligns_two_digit_ranks() -> None:
    doc = {
        "site": "news",
        "window": "all",
        "section": None,
        "computed_at": "2024-05-01T12:00:00Z",
        "items": [item(r, 100 - r, "s" * r, f"Title {r}") for r in range(1, 13)],
    }
    lines = format_table(doc).splitlines()
    assert len(lines) == 14
    assert lines[2].startswith(" 1  ")
    assert lines[-1].startswith("12  ")
    # Every title starts in the same column.
    assert len({line.index("Title") for line in lines[2:]}) == 1


def test_format_table_without_items_is_a_header() -> None:
    doc: dict[str, Any] = {
        "site": "news",
        "window": "1h",
        "section": None,
        "computed_at": "x",
        "items": [],
    }
    assert format_table(doc).splitlines() == [
        "news: most viewed, window 1h, at x",
        "#  views  section  title",
    ]


# -- catalog import ------------------------------------------------------------------------


def jsonl(*entries: dict[str, Any] | str) -> bytes:
    lines = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in entries]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("chunk", [1000, 2, 1])
async def test_catalog_import_reports_bad_lines_and_imports_the_rest(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str], chunk: int
) -> None:
    client, url = served
    path = tmp_path / "items.jsonl"
    path.write_bytes(
        jsonl(
            {"id": "s1", "title": "One", "url": "https://example.com/1", "section": "tech"},
            {"id": "s2", "title": "Two", "url": "/2"},
            {"id": "s3", "url": "https://example.com/3"},  # no title
            {"id": "s4", "title": "Four", "url": "https://example.com/4"},
        )
    )
    code = await ranker(
        "catalog",
        "import",
        str(path),
        "--site",
        "news",
        "--url",
        url,
        "--token",
        TOKEN,
        "--chunk",
        str(chunk),
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{path}:3:" in err
    assert "title" in err
    assert f"{path}:1:" not in err
    assert "imported 3" in out
    assert "1 line(s) refused" in out
    for item_id in ("s1", "s2", "s4"):
        response = await client.get(f"/v1/sites/news/items/{item_id}", headers=auth())
        assert response.status == 200
    response = await client.get("/v1/sites/news/items/s1", headers=auth())
    assert (await response.json())["title"] == "One"
    response = await client.get("/v1/sites/news/items/s3", headers=auth())
    assert response.status == 404


async def test_catalog_import_numbers_lines_across_chunks_and_blank_lines(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = served
    path = tmp_path / "items.jsonl"
    good = {"title": "T", "url": "/t"}
    path.write_bytes(
        jsonl(
            {"id": "a", **good},
            "",
            {"id": "b", **good},
            "not json",  # line 4
            {"id": "c", **good},
            {"id": "bad id!", **good},  # line 6
            {"id": "d", **good},
        )
    )
    code = await ranker(
        "catalog",
        "import",
        str(path),
        "--site",
        "news",
        "--url",
        url,
        "--token",
        TOKEN,
        "--chunk",
        "3",
    )
    out, err = capsys.readouterr()
    assert code == 1
    refused = sorted(line.split(": ")[0] for line in err.strip().splitlines())
    assert refused == [f"{path}:4", f"{path}:6"]
    assert "imported 4 (4 new), 2 line(s) refused" in out


async def test_a_clean_catalog_import_exits_0_and_counts_new_entries(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, url = served
    await put_item(client, "old")
    path = tmp_path / "items.jsonl"
    path.write_bytes(
        jsonl(
            {"id": "old", "title": "Old", "url": "/o"}, {"id": "new", "title": "New", "url": "/n"}
        )
    )
    argv = ("catalog", "import", str(path), "--site", "news", "--url", url, "--token", TOKEN)
    assert await ranker(*argv) == 0
    out, err = capsys.readouterr()
    assert "imported 2 (1 new), 0 line(s) refused" in out
    assert err == ""


async def test_catalog_import_with_a_wrong_token_fails(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, url = served
    path = tmp_path / "items.jsonl"
    path.write_bytes(jsonl({"id": "x", "title": "X", "url": "/x"}))
    with pytest.raises(SystemExit) as info:
        await ranker(
            "catalog", "import", str(path), "--site", "news", "--url", url, "--token", "wrong"
        )
    assert info.value.code not in (0, None)
    assert "403" in str(info.value.code)
    response = await client.get("/v1/sites/news/items/x", headers=auth())
    assert response.status == 404


# -- simulate ------------------------------------------------------------------------------


async def test_simulate_sends_bounded_views_that_are_all_counted(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    client, url = served
    ids = [f"z{i}" for i in range(12)]
    for item_id in ids:
        await put_item(client, item_id, section="tech")
    code = await ranker(
        "simulate",
        "--url",
        url,
        "--site",
        "news",
        "--token",
        TOKEN,
        "--count",
        "200",
        "--rate",
        "2000",
        "--duration",
        "10",
        "--seed",
        "3",
    )
    out, _ = capsys.readouterr()
    assert code == 0
    assert "sent 200, counted 200" in out
    assert "refused 0, failed 0" in out
    await flush(client)
    totals = {item_id: await views_total(client, item_id) for item_id in ids}
    assert sum(totals.values()) == 200
    # Zipf-distributed: the most viewed story got far more than an even share.
    assert max(totals.values()) > 2 * 200 / len(ids)

    assert await ranker("top", "news", "--url", url, "--window", "all", "-n", "3") == 0
    out, _ = capsys.readouterr()
    rows = table_rows(out)
    assert [row[0] for row in rows] == ["1", "2", "3"]
    shown = [int(row[1].replace(",", "")) for row in rows]
    assert shown == sorted(totals.values(), reverse=True)[:3]
    for row in rows:  # each row's title is that of an item with the views shown
        title = row[-1]
        assert title.startswith("Story z")
        assert totals[title.removeprefix("Story ")] == int(row[1].replace(",", ""))


async def test_simulate_without_a_catalog_exits_with_a_message(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = served
    argv = ("simulate", "--url", url, "--site", "news", "--token", TOKEN, "--count", "5")
    try:
        code: int | str | None = await ranker(*argv)
        message = capsys.readouterr().err
    except SystemExit as e:
        code, message = e.code, str(e.code)
    assert code not in (0, None)
    assert message.strip()


# -- top -----------------------------------------------------------------------------------


async def test_top_prints_rows_in_order_of_views(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    client, url = served
    counts = {"b2": 3, "a1": 5, "d4": 1, "c3": 2}
    for item_id, n in counts.items():
        await put_item(client, item_id, section="tech" if item_id < "c" else "sport")
        for _ in range(n):
            assert await hit(client, item_id) == 204
    await flush(client)

    assert await ranker("top", "news", "--url", url, "--window", "all", "-n", "3") == 0
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].startswith("news: most viewed, window all, at ")
    assert table_rows(out) == [
        ["1", "5", "tech", "Story a1"],
        ["2", "3", "tech", "Story b2"],
        ["3", "2", "sport", "Story c3"],
    ]

    # The default window is "hot": decayed views, shown with one decimal.
    assert await ranker("top", "news", "--url", url) == 0
    out, _ = capsys.readouterr()
    assert "window hot" in out.splitlines()[0]
    assert [row[:2] for row in table_rows(out)] == [
        ["1", "5.0"],
        ["2", "3.0"],
        ["3", "2.0"],
        ["4", "1.0"],
    ]

    assert await ranker("top", "news", "--url", url, "--window", "all", "--section", "sport") == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].startswith("news / sport: most viewed, window all")
    assert [row[3] for row in table_rows(out)] == ["Story c3", "Story d4"]

    # Left out before the cut: the stories after them move up.
    args = ("--window", "all", "-n", "3", "--exclude", "a1,c3")
    assert await ranker("top", "news", "--url", url, *args) == 0
    out, _ = capsys.readouterr()
    assert [row[:2] for row in table_rows(out)] == [["1", "3"], ["2", "1"]]

    # By author, recent stories only, with no filling up.
    await put_item(client, "b2", section="tech", authors=["Jane Doe"])
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # No views: it fills the list up.
    await put_item(client, "e5", section="tech", authors=["Jane Doe"], published_at=now)
    args = ("--window", "all", "--author", "Jane Doe")
    assert await ranker("top", "news", "--url", url, *args) == 0
    assert [row[3] for row in table_rows(capsys.readouterr()[0])] == ["Story b2", "Story e5"]
    assert await ranker("top", "news", "--url", url, *args, "--no-backfill") == 0
    assert [row[3] for row in table_rows(capsys.readouterr()[0])] == ["Story b2"]
    assert await ranker("top", "news", "--url", url, *args, "--max-age", "1h") == 0
    assert [row[3] for row in table_rows(capsys.readouterr()[0])] == ["Story e5"]  # b2: undated


async def test_top_of_an_unknown_site_exits_with_a_message(served: Served) -> None:
    _, url = served
    with pytest.raises(SystemExit) as info:
        await ranker("top", "nosuchsite", "--url", url)
    assert info.value.code not in (0, None)
    assert "404" in str(info.value.code)
    assert "no such site" in str(info.value.code)


async def test_top_with_a_bad_window_exits_with_a_message(served: Served) -> None:
    _, url = served
    with pytest.raises(SystemExit) as info:
        await ranker("top", "news", "--url", url, "--window", "2h")
    assert "400" in str(info.value.code)
    assert "window" in str(info.value.code)


async def test_top_against_nothing_listening_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert await ranker("top", "news", "--url", f"http://127.0.0.1:{port}") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("ranker: ")


# -- Zipf ----------------------------------------------------------------------------------


def test_zipf_draws_rank_0_about_one_in_h100() -> None:
    draws = 20_000
    zipf = Zipf(100, 1.0, random.Random(7))
    counts = Counter(zipf.draw() for _ in range(draws))
    h100 = sum(1 / k for k in range(1, 101))
    assert abs(counts[0] / draws - 1 / h100) < 0.02  # ~19.3 %
    assert abs(counts[1] / draws - 1 / (2 * h100)) < 0.02
    assert counts[0] > counts[1] > counts[2]
    assert set(counts) <= set(range(100))
    assert sum(counts.values()) == draws


def test_zipf_with_a_steeper_exponent_concentrates_on_rank_0() -> None:
    draws = 20_000
    zipf = Zipf(100, 2.0, random.Random(11))
    counts = Counter(zipf.draw() for _ in range(draws))
    zeta = sum(1 / k**2 for k in range(1, 101))
    assert abs(counts[0] / draws - 1 / zeta) < 0.02  # ~60.9 %
    assert counts[0] > counts[1] > counts[2] > counts[3]


def test_zipf_with_exponent_0_is_uniform() -> None:
    draws = 20_000
    zipf = Zipf(4, 0.0, random.Random(5))
    counts = Counter(zipf.draw() for _ in range(draws))
    assert set(counts) == {0, 1, 2, 3}
    for rank in range(4):
        assert abs(counts[rank] / draws - 0.25) < 0.02


def test_zipf_is_reproducible_from_its_seed() -> None:
    first = Zipf(50, 1.0, random.Random(3))
    second = Zipf(50, 1.0, random.Random(3))
    assert [first.draw() for _ in range(500)] == [second.draw() for _ in range(500)]


def test_zipf_over_one_rank_always_draws_it() -> None:
    zipf = Zipf(1, 1.0, random.Random(0))
    assert {zipf.draw() for _ in range(100)} == {0}


# -- sign -------------------------------------------------------------------------------


def test_sign_prints_a_token_the_collector_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ranker.core.config import load_settings
    from ranker.core.signing import verify

    config = tmp_path / "ranker.toml"
    config.write_text('[sites.news]\ntoken = "t"\nsecret = "s3cret"\n')
    assert main(["sign", "news", "draft-7", "--ttl", "1h", "--config", str(config)]) == 0
    token = capsys.readouterr().out.strip()
    key = load_settings(config, {}).sites["news"].signing_key
    now = time.time()
    assert verify(key, "news", "draft-7", token, now)
    assert not verify(key, "news", "draft-8", token, now)
    assert not verify(key, "news", "draft-7", token, now + 3601)
    assert main(["sign", "nope", "draft-7", "--config", str(config)]) == 2
    assert main(["sign", "news", "bad id", "--config", str(config)]) == 2
    assert main(["sign", "news", "draft-7", "--ttl", "soon", "--config", str(config)]) == 2


# -- token, and the servers that check tokens -----------------------------------------------


def test_token_prints_a_fresh_url_safe_token_a_server_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["token"]) == 0
    first = capsys.readouterr().out
    assert main(["token"]) == 0
    second = capsys.readouterr().out
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\n", first), first
    assert first != second
    check_tokens(Settings(sites={"news": Site("news", 3600.0, token=first.strip())}))


def _status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return e.code
    except OSError:  # not listening (yet)
        return 0


def _pid(url: str) -> int | None:
    """The pid a /healthz answers with; None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(orjson.loads(response.read())["pid"])
    except (OSError, ValueError, KeyError):
        return None


@contextlib.contextmanager
def ranker_process(
    tmp_path: Path, port: int, *argv: str, **environ: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`ranker ARGV` until it answers /healthz; SIGTERM after the block, which must exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANKER_", "REDIS_"))}
    log_path = tmp_path / "ranker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ranker", *argv],
            cwd=tmp_path,
            env={**env, "RANKER_DATA_DIR": str(tmp_path / "data"), **environ},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        # Its own answer (its pid): another process that took the port would answer too.
        while _pid(f"http://127.0.0.1:{port}/healthz") != proc.pid:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ranker {' '.join(argv)} did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log_path.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_serve_starts_with_the_deployed_config_and_a_token_from_the_environment(
    engine: EmbeddedEngine, tmp_path: Path
) -> None:
    with Redis.from_url(engine.url) as redis:
        redis.flushall()
    token, port = secrets.token_urlsafe(32), free_port()
    config = str(Path(__file__).resolve().parent.parent / "deploy" / "ranker.toml")
    environ = {"REDIS_URL": engine.url, "RANKER_HOST": "127.0.0.1", "RANKER_PORT": str(port)}
    with ranker_process(tmp_path, port, "serve", "--config", config, RANKER_TOKEN=token, **environ):
        items = f"http://127.0.0.1:{port}/v1/sites/demo/items"
        assert _status(items, token) == 200
        assert _status(items, "change-me") == 403


def test_the_demo_still_serves_with_its_own_public_token(
    engine: EmbeddedEngine, tmp_path: Path
) -> None:
    with Redis.from_url(engine.url) as redis:
        redis.flushall()
    port = free_port()
    with ranker_process(
        tmp_path, port, "demo", "--port", str(port), "--rate", "0", REDIS_URL=engine.url
    ):
        assert _status(f"http://127.0.0.1:{port}/v1/sites/demo/items", DEMO_TOKEN) == 200


def test_the_demo_checks_the_sites_of_a_config_it_is_given(tmp_path: Path) -> None:
    config = tmp_path / "ranker.toml"
    config.write_text('[sites.news]\ntoken = "change-me"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "ranker", "demo", "--config", str(config), "--port", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "sites.news.token is an example" in proc.stderr
    assert "change-me" not in proc.stderr


# -- --dev ---------------------------------------------------------------------------------


def _beacon(port: int, item_id: str) -> int:
    """A beacon as curl sends it: curl's user agent, no browser headers."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/hit",
        data=f'{{"site":"demo","id":"{item_id}"}}'.encode(),
        headers={"Content-Type": "text/plain", "User-Agent": "curl/8.5.0"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


def test_dev_counts_a_developer_s_curl_beacons_and_says_so(
    engine: EmbeddedEngine, tmp_path: Path
) -> None:
    with Redis.from_url(engine.url) as redis:
        redis.flushall()
    story = "council-approves-free-school-meals-after-three-years-of-debate-0007"
    port = free_port()
    argv = ("demo", "--port", str(port), "--rate", "0")
    with ranker_process(tmp_path, port, *argv, REDIS_URL=engine.url):
        assert _beacon(port, story) == 202  # without --dev, curl is a bot
    port = free_port()
    argv = ("demo", "--port", str(port), "--rate", "0", "--dev")
    with ranker_process(tmp_path, port, *argv, REDIS_URL=engine.url):
        assert [_beacon(port, story) for _ in range(3)] == [204, 204, 204]  # reloads count
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert orjson.loads(r.read())["dev"] is True
    log = (tmp_path / "ranker.log").read_text()
    assert "DEVELOPMENT MODE (--dev)" in log and "bot filter" in log


def test_dev_is_refused_on_an_address_others_can_reach(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ranker", "serve", "--dev", "--host", "0.0.0.0"],
        cwd=tmp_path,
        env={**os.environ, "RANKER_TOKEN": secrets.token_urlsafe(32)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--dev serves on a loopback address only" in proc.stderr


def test_sign_without_a_configuration_signs_for_the_demo_site(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ranker import demo
    from ranker.core.signing import verify

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RANKER_CONFIG", raising=False)
    assert main(["sign", "demo", "story-id", "--ttl", "30d"]) == 0
    token = capsys.readouterr().out.strip()
    site = demo.settings(Settings(), None).sites["demo"]
    assert verify(site.signing_key, "demo", "story-id", token, time.time())


# -- migrate -------------------------------------------------------------------------------


async def test_migrate_brings_layout_1_data_to_this_layout_once(
    engine: EmbeddedEngine, redis: Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ranker.store import keys
    from tests.data.layout1 import load_layout1

    await redis.flushall()
    await load_layout1(redis)
    config = tmp_path / "ranker.toml"
    config.write_text(
        f'[redis]\nurl = "{engine.url}"\n'
        f'[sites.news]\ntoken = "{TOKEN}"\n'
        f'[sites.wide]\ntoken = "{TOKEN}"\nshards = 2\n'
    )
    assert await ranker("migrate", "--config", str(config)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("news: 1 shard(s) migrated to layout 2: ")
    assert out[1].startswith("wide: 2 shard(s) migrated to layout 2: ")
    assert await redis.scard(keys.section("news", "world")) > 0
    assert await ranker("migrate", "--config", str(config)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "news: already at layout 2",
        "wide: already at layout 2",
    ]
