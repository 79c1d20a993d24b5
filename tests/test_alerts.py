"""Alerts and digests (`[[sites.NAME.alerts]]`): the rules against hand-made counts, and
every kind delivered exactly once to a fake chat and a fake ops receiver on loopback that
fail each alert twice first, through a collector restart and a crash."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from ranker.core import alerts as rules
from ranker.core.aggregate import Batch
from ranker.core.alerts import Alert
from ranker.core.config import AlertHook, ConfigError, Settings, settings_from_mapping
from ranker.core.windows import bucket_start
from ranker.http.alerts import Alerter
from ranker.http.app import create_app
from ranker.http.appkeys import ALERTER, METRICS, STORE
from ranker.store import keys
from ranker.store.keys import TRAFFIC_SLOT
from ranker.store.redis import Pin, Store
from tests.support import TOKEN, Collector, FakeClock, auth, make_settings, receiving

HOOK_TOKEN = "ops-hook-token-that-must-stay-secret"
INTERVAL = 1.0  # alerts.interval in these tests (the fake clock's seconds)


# -- the rules --------------------------------------------------------------------------


def test_the_usual_growth_is_the_median_of_earlier_days_and_never_below_one() -> None:
    assert rules.usual_growth([]) == 1.0
    assert rules.usual_growth([(0, 0), (10, 0)]) == 1.0  # nothing to compare
    # 300 against 200 in two hours (100 an hour) is 3x; the median of 3x, 2x, 1x is 2x.
    assert rules.usual_growth([(300, 200), (200, 200), (100, 200)]) == 2.0
    assert rules.usual_growth([(50, 200), (50, 200)]) == 1.0  # quieter than before: 1


def test_beacons_dropping_needs_history_a_floor_and_a_real_fall() -> None:
    usual = [1000, 1100, 900, 0, 1000]  # a day without views is not history
    assert rules.dropped(100, usual, 0.25, 100) == 1000.0
    assert rules.dropped(250, usual, 0.25, 100) is None  # 25% exactly is not below it
    assert rules.dropped(249, usual, 0.25, 100) == 1000.0
    assert rules.dropped(0, [1000, 1000], 0.25, 100) is None  # two days are too few
    assert rules.dropped(0, [90, 90, 90], 0.25, 100) is None  # too small to judge
    assert rules.dropped(0, [0] * 7, 0.25, 100) is None  # data from before hourly counts


def test_the_same_time_follows_the_wall_clock_across_a_change_of_clocks() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 08:00 in Berlin on 26 October 2026 is 07:00 UTC (CET); the clocks went back on the
    # 25th at 03:00, so 08:00 on the 25th is 07:00 UTC too, and on the 24th 06:00 UTC.
    hour = int(datetime(2026, 10, 26, 7, tzinfo=UTC).timestamp())
    earlier = rules.same_time(hour, berlin, 2)
    assert [datetime.fromtimestamp(h, UTC).hour for h in earlier] == [7, 6]
    assert [datetime.fromtimestamp(h, berlin).hour for h in earlier] == [8, 8]


def test_a_digest_is_due_from_its_time_for_three_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    at = datetime(2026, 12, 2, 8, 0, tzinfo=berlin).timestamp()
    assert rules.digest_due(at - 1, (8, 0), berlin) is None
    assert rules.digest_due(at, (8, 0), berlin) == "2026-12-02"
    assert rules.digest_due(at + 3 * 3600 - 1, (8, 0), berlin) == "2026-12-02"
    assert rules.digest_due(at + 3 * 3600, (8, 0), berlin) is None
    late = datetime(2026, 12, 2, 23, 0, tzinfo=berlin).timestamp()
    assert rules.digest_due(late + 2 * 3600, (23, 0), berlin) == "2026-12-02"  # after midnight
    assert rules.digest_due(late + 3 * 3600, (23, 0), berlin) is None


def test_a_slack_message_shows_titles_as_text_and_links_as_links() -> None:
    alert = Alert(
        kind="digest",
        key="digest:2026-12-02",
        site="news",
        title="Most viewed <b>&",
        items=(("<script>x</script> | y", "https://news.example/a|b>c", 12.0),),
    )
    text = rules.slack_body(alert)["text"]
    assert "*Most viewed &lt;b&gt;&amp;*" in text
    assert "<https://news.example/a%7Cb%3Ec|&lt;script&gt;x&lt;/script&gt; | y> (12 views)" in text
    assert "<script>" not in text
    plain = rules.slack_body(replace(alert, items=(("t", "javascript:alert(1)", 1.0),)))
    assert "javascript" not in plain["text"]  # only http(s) becomes a link


# -- configuration ----------------------------------------------------------------------


def _site(alerts: list[dict[str, Any]], environ: dict[str, str] | None = None) -> Settings:
    return settings_from_mapping(
        {"sites": {"news": {"token": "t" * 32, "alerts": alerts}}}, environ or {}
    )


def test_alert_hooks_are_read_with_defaults_and_names() -> None:
    secret_url = "https://hooks.slack.com/services/T000/B000/secretsecretsecret"
    settings = _site(
        [
            {"url_env": "CHAT_URL"},
            {"url": "https://ops.example/hook", "format": "json", "kinds": ["dropping"]},
        ],
        {"CHAT_URL": secret_url},
    )
    chat, ops = settings.sites["news"].alerts
    assert chat.name == "slack:hooks.slack.com" and chat.url == secret_url
    assert chat.kinds == {"rising", "held", "dropping", "digest"} and chat.digest_at == (8, 0)
    assert ops.name == "json:ops.example" and ops.kinds == {"dropping"}
    assert "secretsecret" not in repr(settings)


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ({"url": "ftp://x/secret-path"}, "url: an http(s) address"),
        ({"url": "https://a.example", "format": "xml"}, "format: one of slack, json"),
        ({"url": "https://a.example", "kinds": ["rising", "weather"]}, "kinds: a list of"),
        ({"url": "https://a.example", "digest_at": "8am"}, 'a time of day like "08:00"'),
        ({"url": "https://a.example", "digest_at": "24:00"}, 'a time of day like "08:00"'),
        ({"url": "https://a.example", "digest_window": "1y"}, "digest_window: one of"),
        ({"url": "https://a.example", "digest_n": 51}, "digest_n: at most 50"),
        ({"url": "https://a.example", "rising_ratio": 1}, "rising_ratio: more than 1"),
        ({"url": "https://a.example", "drop_share": 2}, "drop_share: a fraction"),
        ({"url": "https://a.example", "name": "Chat Room"}, "name: 1-64 of"),
        ({"url": "https://a.example", "colour": "red"}, "unknown key(s) colour"),
        ({"url": "https://a.example", "section": "all"}, "section: 1-32 of a-z"),
        ({"format": "json"}, "url: the webhook's http(s) address"),
    ],
)
def test_bad_alert_hooks_stop_start_up_without_echoing_the_address(
    hook: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _site([hook])
    assert message in str(caught.value)
    assert "secret-path" not in str(caught.value)


def test_two_hooks_need_two_names() -> None:
    with pytest.raises(ConfigError, match="names another hook too"):
        _site([{"url": "https://a.example/1"}, {"url": "https://a.example/2"}])
    named = _site([{"url": "https://a.example/1"}, {"url": "https://a.example/2", "name": "b"}])
    assert [h.name for h in named.sites["news"].alerts] == ["slack:a.example", "b"]


# -- hourly counts ----------------------------------------------------------------------


@hypothesis_settings(max_examples=15, deadline=None)
@given(
    views=st.lists(
        st.tuples(st.integers(0, 4 * 60 - 1), st.sampled_from("abcdef"), st.integers(1, 5)),
        min_size=1,
        max_size=40,
    ),
    shards=st.sampled_from([1, 3]),
)
async def test_the_counts_are_the_views_counted_in_each_slot_of_time(
    engine: Any, views: list[tuple[int, str, int]], shards: int
) -> None:
    redis = Redis.from_url(engine.url, decode_responses=True)
    try:
        await redis.flushall()
        settings = make_settings(engine.url)
        site = replace(settings.sites["news"], shards=shards)
        store = Store(redis, replace(settings, sites={"news": site}))
        await store.put_items("news", [(i, {"title": i, "url": f"/{i}"}) for i in "abcdef"])
        start = bucket_start(time.time(), "hour") - 4 * 3600
        expected: Counter[int] = Counter()
        # A batch per hour and a last one with late views of every hour, as after an outage.
        batches: dict[int, Batch] = {}
        for k, (minute, item, count) in enumerate(views):
            t = start + minute * 60 + 7
            ref = start + (minute // 60) * 3600 if k % 2 else start + 4 * 3600
            batches.setdefault(ref, Batch("news", 3600.0, ref=ref)).add(item, t, count)
            expected[t - t % TRAFFIC_SLOT] += count
        for n, batch in enumerate(batches.values()):
            await store.flush(batch, f"b{n}")
            await store.flush(batch, f"b{n}")  # a retry counts nothing twice
        slots = [start + TRAFFIC_SLOT * k for k in range(5 * 3600 // TRAFFIC_SLOT)]
        assert await store.traffic("news", slots, TRAFFIC_SLOT) == [expected[s] for s in slots]
        hours = [start + 3600 * h for h in range(5)]
        by_hour = [sum(n for s, n in expected.items() if h <= s < h + 3600) for h in hours]
        assert await store.traffic("news", hours, 3600) == by_hour
    finally:
        await redis.aclose()


# -- delivery ---------------------------------------------------------------------------


@dataclass
class Receiver:
    """A fake chat (/chat) and ops receiver (/ops): records every request, and answers the
    first `failures` attempts of each alert (by its Idempotency-Key) with 503."""

    failures: int = 2
    status: int = 200
    calls: list[tuple[str, dict[str, str], Any, int]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        tried = sum(
            1
            for path, h, _, _ in self.calls
            if (path, h.get("Idempotency-Key")) == (request.path, key)
        )
        status = 503 if tried < self.failures else self.status
        self.calls.append(
            (request.path, dict(request.headers), orjson.loads(await request.read()), status)
        )
        return web.Response(status=status, text="ok")

    def delivered(self, path: str) -> list[tuple[str, Any]]:
        """(alert key, body) of each request to `path` answered 2xx."""
        return [
            (h["Idempotency-Key"].split("|", 1)[1], body)
            for p, h, body, status in self.calls
            if p == path and status < 300
        ]

    def attempts(self, path: str) -> Counter[str]:
        return Counter(
            h["Idempotency-Key"].split("|", 1)[1] for p, h, _, _ in self.calls if p == path
        )


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    fake = Receiver()
    async with receiving(fake.handle) as base:
        yield fake, base


def _mid_hour() -> FakeClock:
    """Now, or a little later: between the 5th and the 40th minute of an hour, so that the
    looks of a test stay in one hour. Never earlier than now: what Redis is told expires
    relative to its own clock (a minute's client networks, 15 minutes after it)."""
    real = time.time()
    hour = bucket_start(real, "hour")
    if real < hour + 300:
        return FakeClock(hour + 300)
    if real > hour + 2400:
        return FakeClock(hour + 3600 + 300)
    return FakeClock(real)


def _alerting(url: str, base: str, now: float) -> Settings:
    settings = make_settings(url, alert_interval=INTERVAL)
    local = datetime.fromtimestamp(now, UTC)
    hooks = (
        AlertHook(
            "chat", base + "/chat", "slack", digest_at=(local.hour, local.minute), digest_n=3
        ),
        AlertHook("ops", base + "/ops", "json", token=HOOK_TOKEN, digest_at=(local.hour, 0)),
    )
    site = replace(settings.sites["news"], alerts=hooks, title="The News")
    return replace(settings, sites={**settings.sites, "news": site})


async def _views(store: Store, t: float, counts: dict[str, int]) -> None:
    """Views at `t`, each story's from a network of its own (Rising wants a crowd)."""
    batch = Batch("news", 3600.0, ref=t)
    for item, n in counts.items():
        batch.add(item, t, n)
        batch.networks[item] = {secrets.token_hex(6): bucket_start(t, "minute")}
    await store.flush(batch, secrets.token_hex(8))


async def _newsroom(store: Store, now: float) -> None:
    """A site counted for a week: at this hour it usually reads twice as fast as in the two
    hours before (2000 views at its start, 1000 at the start of each hour before). Today the
    hour before had 100. "breaking" reads 30 views in ten minutes from nothing; "steady" 20
    against 48 in the two hours before (5.5x, but under 3x once the usual doubling is taken
    out); and "surge" had a network's views held."""
    stories = ("old", "breaking", "steady", "surge")
    await store.put_items(
        "news", [(i, {"title": f"Story {i}", "url": f"https://news.example/{i}"}) for i in stories]
    )
    hour = bucket_start(now, "hour")
    await _views(store, now - 3 * 3600, {"old": 1})  # counting began three hours ago
    for earlier in rules.same_time(hour, ZoneInfo("UTC")):
        await _views(store, earlier + 60, {"old": 2000})
        await _views(store, earlier - 3600 + 60, {"old": 1000})
        await _views(store, earlier - 7200 + 60, {"old": 1000})
    await _views(store, hour - 3600 + 60, {"old": 100})
    for k in range(10):
        await _views(store, now - 60 * k, {"breaking": 3})
    for k in range(10):
        await _views(store, now - 60 * k, {"steady": 2})
    for k in range(48):
        await _views(store, now - 60 * (11 + 2 * k), {"steady": 1})
    batch = Batch("news", 3600.0, ref=now)
    for _ in range(60):
        batch.hold("surge", "concentrated", now)
    batch.flags["surge"] = ("203.0.113.0/24", 0.8)
    await store.flush(batch, "surge")


class Newsroom(NamedTuple):
    fake: Receiver  # its chat (/chat) and ops (/ops) receivers
    clock: FakeClock
    settings: Settings  # the site "news" with a chat hook and an ops hook
    store: Store


@pytest.fixture
async def newsroom(engine: Any, redis: Redis, receiver: tuple[Receiver, str]) -> Newsroom:
    """_newsroom's week of reading, in the middle of an hour, with its two hooks."""
    fake, base = receiver
    clock = _mid_hour()
    settings = _alerting(engine.url, base, clock())
    store = Store(redis, settings)
    await _newsroom(store, clock())
    return Newsroom(fake, clock, settings, store)


KINDS = {"rising", "held", "dropping", "digest"}


async def test_every_kind_arrives_once_through_a_restart_and_two_failures(
    newsroom: Newsroom,
) -> None:
    fake, clock, settings, store = newsroom
    now = clock()
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    expected = {
        f"rising:breaking:{day}",
        f"held:surge:{day}",
        f"dropping:{bucket_start(now, 'hour')}",
        f"digest:{day}",
    }
    async with aiohttp.ClientSession() as session:
        first = Alerter(settings, store, clock)
        assert await first.look(session, "news")
        assert {key for key, _ in fake.delivered("/chat")} == set()  # each failed once
        await first.release()  # a clean shutdown hands the alerts over at once
        second = Alerter(settings, store, clock)
        for wait in (INTERVAL, 2 * INTERVAL, 0, 60, 600):  # within the hour: no new alerts
            clock.advance(wait)
            assert await second.look(session, "news")
        await second.release()
        third = Alerter(settings, store, clock)  # and once more, with nothing pending
        assert await third.look(session, "news")
    for path in ("/chat", "/ops"):
        keys_sent = [key for key, _ in fake.delivered(path)]
        assert sorted(keys_sent) == sorted(expected), path
        assert set(fake.attempts(path).values()) == {3}  # two failures, then delivered
    # The ratio taken out of the usual growth keeps "steady" quiet; "breaking" rises.
    chat = dict(fake.delivered("/chat"))
    assert "Story breaking" in chat[f"rising:breaking:{day}"]["text"]
    assert "<https://news.example/breaking|" in chat[f"rising:breaking:{day}"]["text"]
    digest = chat[f"digest:{day}"]["text"]
    assert digest.index("Story old") < digest.index("Story breaking")
    ops = dict(fake.delivered("/ops"))
    assert ops[f"rising:breaking:{day}"]["data"]["usual_growth"] == 2.0
    # The hour judged ends with the last ten minutes judged: before this hour began, the
    # usual hour held the 1000 views of the hour before; once it began, this hour's 2000.
    end = (now - 120) // TRAFFIC_SLOT * TRAFFIC_SLOT
    dropping = ops[f"dropping:{bucket_start(now, 'hour')}"]["data"]
    assert dropping["usual"] == (1000 if end == bucket_start(now, "hour") else 2000)
    assert dropping["views"] < 250
    assert ops[f"held:surge:{day}"]["data"]["held"] == 60
    assert [it["title"] for it in ops[f"digest:{day}"]["items"]][:1] == ["Story old"]
    for path, headers, body, _ in fake.calls:
        assert ("Authorization" in headers) == (path == "/ops")
        if path == "/ops":
            assert headers["Authorization"] == f"Bearer {HOOK_TOKEN}"
        assert set(body) >= ({"text"} if path == "/chat" else {"kind", "key", "site", "data"})
    # Every attempt of an alert sent the same bytes.
    bodies: dict[tuple[str, str], set[bytes]] = {}
    for path, headers, body, _ in fake.calls:
        bodies.setdefault((path, headers["Idempotency-Key"]), set()).add(orjson.dumps(body))
    assert all(len(b) == 1 for b in bodies.values())


async def test_without_the_usual_growth_steady_would_rise(redis: Redis, newsroom: Newsroom) -> None:
    """The same newsroom, but the earlier days read evenly: "steady" then rises too."""
    fake, clock, settings, store = newsroom
    fake.failures = 0
    for earlier in rules.same_time(bucket_start(clock(), "hour"), ZoneInfo("UTC")):
        await redis.set(keys.traffic("news", earlier), 1000)  # as even as the hours before
    async with aiohttp.ClientSession() as session:
        assert await Alerter(settings, store, clock).look(session, "news")
    rising = {k for k, _ in fake.delivered("/chat") if k.startswith("rising:")}
    assert {k.split(":")[1] for k in rising} == {"breaking", "steady"}


async def test_a_crashed_collector_s_alerts_are_taken_over_when_its_lock_lapses(
    newsroom: Newsroom,
) -> None:
    fake, clock, settings, store = newsroom
    fake.failures = 1
    async with aiohttp.ClientSession() as session:
        crashed = Alerter(settings, store, clock)
        assert await crashed.look(session, "news")  # every first attempt fails; then it dies
        other = Alerter(settings, store, clock)
        assert not await other.look(session, "news")  # its lock holds: nothing sent twice
        assert len(fake.calls) == 8
        await asyncio.sleep(5.1)  # the lock lapses (3 intervals, at least 5 s)
        clock.advance(INTERVAL)
        assert await other.look(session, "news")
    assert len(fake.delivered("/chat")) == len(fake.delivered("/ops")) == 4
    assert len(fake.calls) == 16


async def test_a_hook_refusing_for_good_is_given_up_and_reported(
    engine: Any, redis: Redis, receiver: tuple[Receiver, str]
) -> None:
    fake, base = receiver
    fake.failures, fake.status = 0, 404
    clock = _mid_hour()
    # The background look is an hour away: the test looks itself.
    settings = replace(_alerting(engine.url, base, clock()), alert_interval=3600.0)
    app = create_app(settings, clock=clock)
    async with TestClient(TestServer(app)) as client:
        await redis.flushall()
        await _newsroom(app[STORE], clock())
        async with aiohttp.ClientSession() as session:
            assert await app[ALERTER].look(session, "news")
            clock.advance(60)
            assert await app[ALERTER].look(session, "news")
        assert len(fake.calls) == 8  # a 404 is not retried
        response = await client.get("/v1/sites/news/alerts?n=5", headers=auth())
        assert response.status == 200
        text = await response.text()
        doc = orjson.loads(text)
        assert base not in text and HOOK_TOKEN not in text
        assert [h["name"] for h in doc["hooks"]] == ["chat", "ops"]
        assert doc["hooks"][0]["kinds"] == ["rising", "held", "dropping", "digest"]
        assert doc["pending"] == 0 and len(doc["recent"]) == 5
        assert {r["state"] for r in doc["recent"]} == {"failed"}
        assert {r["last_error"] for r in doc["recent"]} == {"answered 404"}
        assert (await client.get("/v1/sites/news/alerts")).status == 401
        assert (await client.get("/v1/sites/news/alerts?n=0", headers=auth())).status == 400
        other = await (
            await client.get("/v1/sites/other/alerts", headers=auth("other-token"))
        ).json()
        assert other == {"timezone": "UTC", "hooks": [], "pending": 0, "recent": []}
        labels = {"site": "news", "hook": "chat", "kind": "digest", "outcome": "failed"}
        before = REGISTRY.get_sample_value("ranker_alerts_total", labels) or 0.0
        app[METRICS].sync()
        assert REGISTRY.get_sample_value("ranker_alerts_total", labels) == before + 1


async def test_data_from_before_hourly_counts_raises_no_dropping_alert(
    redis: Redis, newsroom: Newsroom
) -> None:
    """A site upgraded from a release without `rk:{site}:traffic:*`: its earlier days have
    views in their buckets but no hourly counts, which is no reason to say beacons drop."""
    fake, clock, settings, store = newsroom
    fake.failures = 0
    for key in await redis.keys("rk:{news}:traffic:*"):
        if int(key.rsplit(":", 1)[1]) < bucket_start(clock(), "hour") - 3600:
            await redis.delete(key)
    async with aiohttp.ClientSession() as session:
        assert await Alerter(settings, store, clock).look(session, "news")
    kinds = {k.split(":")[0] for k, _ in fake.delivered("/chat")}
    assert kinds == {"rising", "held", "digest"}


# -- the command line and a real server ---------------------------------------------------


def _config(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "alerts.toml"
    path.write_text(
        f'[sites.news]\ntoken = "{TOKEN}"\n'
        f'[[sites.news.alerts]]\nname = "chat"\nurl = "{base}/chat"\n'
        f'[[sites.news.alerts]]\nname = "ops"\nurl = "{base}/ops"\nformat = "json"\n'
    )
    return path


async def test_ranker_alerts_test_sends_a_sample_to_each_hook(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    fake, base = receiver
    fake.failures = 1  # the command retries
    command = [
        sys.executable,
        "-m",
        "ranker",
        "alerts",
        "test",
        "news",
        "--config",
        str(_config(tmp_path, base)),
    ]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["chat: sent (HTTP 200)", "ops: sent (HTTP 200)"]
    assert base not in done.stdout + done.stderr
    [(_, chat)] = fake.delivered("/chat")
    assert "reach this channel" in chat["text"]
    [(_, ops)] = fake.delivered("/ops")
    assert ops["kind"] == "test" and ops["site"] == "news"
    fake.status, fake.failures = 404, 0
    refused = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1
    assert refused.stdout.splitlines() == [
        "chat: failed: answered 404",
        "ops: failed: answered 404",
    ]
    unknown = subprocess.run([*command[:5], "nope", *command[6:]], capture_output=True, text=True)
    assert unknown.returncode == 2 and "no site 'nope'" in unknown.stderr


def _zone_at_one_pm() -> str:
    """A zone whose local time is 13:xx now, so a digest at 13:00 is due for the next hour."""
    hour = datetime.now(UTC).hour
    for offset in range(-12, 15):
        if (hour + offset) % 24 == 13:
            return f"Etc/GMT{-offset:+d}" if offset else "UTC"
    raise AssertionError(hour)


async def test_a_real_server_sends_the_digest_once_through_a_crash(
    tmp_path: Path, engine: Any, redis: Redis, receiver: tuple[Receiver, str]
) -> None:
    fake, base = receiver
    await redis.flushall()
    extra = (
        f'timezone = "{_zone_at_one_pm()}"\n'
        '[alerts]\ninterval = "250ms"\n'
        f'[[sites.news.alerts]]\nname = "chat"\nurl = "{base}/chat"\ndigest_at = "13:00"\n'
        'kinds = ["digest"]\n'
    )

    async def until(condition: Any, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, fake.calls
            await asyncio.sleep(0.05)

    async with Collector(tmp_path, engine.url, "250ms", extra=extra) as first:
        await until(lambda: len(fake.calls) >= 1)  # the first attempt failed
        first.signal_group(signal.SIGKILL)  # killed: its lock is left to lapse
    async with Collector(tmp_path, engine.url, "250ms", extra=extra):
        await until(lambda: fake.delivered("/chat"), timeout=30.0)
        await asyncio.sleep(2.0)  # a second look, and a third, find nothing new
    [(key, body)] = fake.delivered("/chat")
    assert key.startswith("digest:") and "Nothing was counted" in body["text"]
    assert len(fake.calls) == 3  # two failures, one delivery, across the two processes


async def test_a_flood_of_rising_stories_comes_three_a_look_and_none_is_lost(
    newsroom: Newsroom,
) -> None:
    fake, clock, settings, store = newsroom
    fake.failures = 0
    now = clock()
    flood = [f"flood-{k}" for k in range(4)]
    await store.put_items("news", [(i, {"title": i, "url": f"/{i}"}) for i in flood])
    for k in range(10):
        await _views(store, now - 60 * k, dict.fromkeys(flood, 3))

    def rising() -> list[str]:
        return [k for k, _ in fake.delivered("/chat") if k.startswith("rising:")]

    async with aiohttp.ClientSession() as session:
        alerter = Alerter(settings, store, clock)
        assert await alerter.look(session, "news")
        assert len(rising()) == 3
        clock.advance(INTERVAL)
        assert await alerter.look(session, "news")
        assert len(rising()) == 5
        clock.advance(INTERVAL)
        assert await alerter.look(session, "news")
    assert sorted(k.split(":")[1] for k in rising()) == sorted(["breaking", *flood])


async def test_the_digest_lists_the_most_viewed_not_the_pinned(newsroom: Newsroom) -> None:
    fake, clock, settings, store = newsroom
    fake.failures = 0
    await store.put_items("news", [("notice", {"title": "Notice", "url": "/notice"})])
    await store.pin("news", "notice", Pin(1, clock() + 3600, None, ("24h",)))
    async with aiohttp.ClientSession() as session:
        assert await Alerter(settings, store, clock).look(session, "news")
    [digest] = [body for key, body in fake.delivered("/ops") if key.startswith("digest:")]
    titles = [it["title"] for it in digest["items"]]
    assert titles[:3] == ["Story old", "Story steady", "Story breaking"]
    assert "Notice" not in titles


async def test_a_desk_s_hook_is_told_of_its_section_and_of_the_site_s_beacons(
    engine: Any, redis: Redis, receiver: tuple[Receiver, str]
) -> None:
    fake, base = receiver
    fake.failures = 0
    clock = _mid_hour()
    now = clock()
    local = datetime.fromtimestamp(now, UTC)
    settings = make_settings(engine.url, alert_interval=INTERVAL)
    desks = tuple(
        AlertHook(desk, f"{base}/{desk}", "json", digest_at=(local.hour, 0), section=desk)
        for desk in ("sport", "politics")
    )
    site = replace(settings.sites["news"], alerts=desks)
    settings = replace(settings, sites={**settings.sites, "news": site})
    store = Store(redis, settings)
    await _newsroom(store, now)
    for story in ("breaking", "surge"):  # the sport desk's
        entry = {"title": f"Story {story}", "url": f"/{story}", "section": "sport"}
        await store.put_items("news", [(story, entry)])
    async with aiohttp.ClientSession() as session:
        assert await Alerter(settings, store, clock).look(session, "news")
    sport = dict(fake.delivered("/sport"))
    politics = dict(fake.delivered("/politics"))
    assert sorted(k.split(":")[0] for k in sport) == ["digest", "dropping", "held", "rising"]
    assert sorted(k.split(":")[0] for k in politics) == ["digest", "dropping"]
    [digest] = [body for key, body in sport.items() if key.startswith("digest:")]
    assert [it["title"] for it in digest["items"]] == ["Story breaking"]
    assert digest["title"].startswith("Most viewed on news in sport,")
    [nothing] = [body for key, body in politics.items() if key.startswith("digest:")]
    assert nothing["items"] == [] and nothing["lines"] == ["Nothing was counted in the window."]
