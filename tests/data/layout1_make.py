"""Redis data as release 1 (commit 1515dc6, storage layout 1) writes it: layout1.json, from
which a test shows that a later release reads or upgrades what release 1 left.

Five weeks of two sites' traffic up to a fixed NOW, written by release 1's own code (its
aggregator, flush script, catalog scripts and upkeep) into a private engine, then every key
of the engine with its type, value and the milliseconds it has left at NOW:

- "news": one shard, half-life 6h; "wide": two shards ({wide:0}, {wide:1}), half-life 2h;
- 30 catalogued stories each in the sections "world", "sport", "tech" and none, published
  over the five weeks (two in the last two hours); one story hidden a day before NOW, one
  deleted five hours before NOW (a few of its views arrive after and are dropped), one
  retitled, and one whose views held as concentrated or over the address limit an editor
  released half an hour before NOW;
- views counted, held (every reason of `Held`) and refused (every `Refusal`), denser in the
  last two hours, so every bucket resolution, every window, the current minute and hour,
  the per-day tallies and the client networks of the last minutes hold data; two ids per
  site counted on signed tokens without a catalog entry;
- the day's and the previous day's visitor salts, and the upkeep lock of a collector that
  did the sites' upkeep at NOW.

"expected" holds what release 1 answers at NOW: rankings of every scope and window, series
at each resolution, totals, beacon tallies, held views, landmarks, sections, hidden ids and
flags. NOW lies far ahead so that expiry times set from it are in the engine's future
whenever the data is loaded.

Made from the repository's root with release 1's code:

    git worktree add /tmp/v1 1515dc6
    PYTHONPATH=/tmp/v1 .venv/bin/python tests/data/layout1_make.py
    git worktree remove /tmp/v1
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, cast

from redis.asyncio import Redis

import ranker
from ranker.core.aggregate import Aggregator
from ranker.core.config import Settings, Site, check_tokens
from ranker.core.outcomes import HELD, RELEASED_BY_DEFAULT, Held, Refusal
from ranker.core.validate import catalog_entry
from ranker.core.visitors import salt_day
from ranker.core.windows import BUCKET_SECONDS, WINDOWS, Resolution, bucket_start
from ranker.store import keys
from ranker.store.engine import EmbeddedEngine, free_port
from ranker.store.redis import FLUSH_MARKER_TTL, SALT_TTL, Store

RELEASE = "1515dc6"
OUT = Path(__file__).with_name("layout1.json")
NOW = 4099817243  # 2099-12-01 14:07:23 UTC
SEED = 1515
DAY, HOUR, MINUTE = 86400, 3600, 60
SECTIONS = ("world", "sport", "tech", "")
SITES = {"news": (6 * HOUR, 1), "wide": (2 * HOUR, 2)}  # name -> (half-life s, shards)
STORIES = 30
# Beacons per site: (from, to) seconds relative to NOW, and how many.
TRAFFIC = (
    (-35 * DAY, -7 * DAY, 280),
    (-7 * DAY, -DAY, 240),
    (-DAY, -2 * HOUR, 360),
    (-2 * HOUR, 0, 650),
    (-(NOW % MINUTE), 0, 6),  # the current minute
)
REFUSED, HELD_SHARE = 0.03, 0.07  # shares of beacons refused and held
HELD_WEIGHTS = {
    Held.BOT: 4,
    Held.PREFETCH: 2,
    Held.INCONSISTENT: 1,
    Held.DATACENTER: 2,
    Held.DUPLICATE: 4,
    Held.ADDRESS_LIMIT: 1,
    Held.CONCENTRATED: 1,
}
REFUSAL_WEIGHTS = {
    Refusal.UNSIGNED: 3,
    Refusal.RATE_LIMITED: 2,
    Refusal.MALFORMED: 2,
    Refusal.OVERLOADED: 1,
}
# Stories with a part to play, by their number in the site's catalog.
DELETED, HIDDEN, RELEASED, RETITLED, NEW = 24, 26, 27, 5, (28, 29)
DELETED_AT, HIDDEN_AT, RELEASED_AT, RETITLED_AT = (
    NOW - 5 * HOUR,
    NOW - DAY,
    NOW - 1800,
    NOW - 20 * DAY,
)
SUBJECTS = (
    "Harbour bridge", "City council", "Rail strike", "Coastal storm", "Chess final",
    "Local derby", "Chip plant", "Heat pump grants", "Museum night", "River clean-up",
    "Transfer window", "Data centre", "Night buses", "Ferry timetable", "School meals",
)  # fmt: skip
PREDICATES = (
    "reopens after repairs", "votes on budget", "ends after talks", "leaves damage",
    "goes to a tie-break", "draws record crowd", "plans expansion", "draw new applicants",
    "return for winter", "finds new support", "closes with surprise", "opens in spring",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Story:
    number: int  # in the site's catalog
    id: str
    section: str
    published: float
    appeal: float  # relative popularity
    title: str


class Event(NamedTuple):
    t: float
    kind: str  # view, signed, hold, refuse, put, retitle, hide, delete, release, salt
    site: str
    item: str = ""
    reason: str = ""
    network: str = ""  # a counted view: its client network's hash; concentrated: the label
    share: float = 0.0  # a view held as concentrated: its network's share


@dataclass(slots=True)
class Plan:
    """One site's catalog and traffic."""

    site: str
    stories: list[Story]
    signed: list[str]  # ids counted on signed tokens, never catalogued
    events: list[Event] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # ids with views held


def _time(event: Event) -> float:
    return event.t


def _site(name: str) -> Site:
    half_life, shards = SITES[name]
    # Only ever in this process: a token of the length the config checks want.
    token = hashlib.sha256(f"layout1 {name}".encode()).hexdigest()[:32]
    return Site(name, half_life=float(half_life), token=token, shards=shards)


def _stories(site: str, rng: random.Random) -> list[Story]:
    stories = []
    for n in range(STORIES):
        published = NOW - 35 * DAY + (n + 0.8 * rng.random()) * (34 * DAY / STORIES)
        if n == 0:
            published = NOW - 35 * DAY - 3 * HOUR
        elif n in NEW:
            published = NOW - (100 if n == NEW[0] else 38) * MINUTE
        title = f"{rng.choice(SUBJECTS)} {rng.choice(PREDICATES)}"
        if n == 3:
            title = "Café owners in Zürich count the cost — and the customers"
        appeal = rng.lognormvariate(0, 0.8) * (3 if n == NEW[0] else 1)
        item_id = f"{site[0]}{n:03d}-{title.split()[0].lower().replace('é', 'e')}"
        stories.append(Story(n, item_id, SECTIONS[n % 4], round(published, 3), appeal, title))
    return stories


def _entry(site: str, story: Story, title: str | None = None) -> dict[str, str]:
    section = story.section or "front"
    doc: dict[str, Any] = {
        "title": title or story.title,
        "url": f"https://{site}.example.com/{section}/{story.id}",
        "section": story.section,
        "published_at": int(story.published),
    }
    if story.number < 20:  # the older stories have a summary and an image
        doc["summary"] = f"What happened: {story.title.lower()}."
        doc["image"] = f"/images/{story.id}.jpg"
    return catalog_entry(doc)


def _pick(plan: Plan, rng: random.Random, t: float) -> tuple[str, bool]:
    """The id a beacon at `t` is for, and whether it came on a signed token."""
    ids, weights = [], []
    for story in plan.stories:
        if story.published <= t and not (story.number == DELETED and t >= DELETED_AT):
            age = (t - story.published) / (2 * DAY)
            ids.append(story.id)
            weights.append(story.appeal * (2.0**-age + 0.03))
    ids += plan.signed
    weights += [0.15] * len(plan.signed)
    item = rng.choices(ids, weights)[0]
    return item, item in plan.signed


def _beacon(plan: Plan, rng: random.Random, t: float, networks: list[str]) -> Event:
    roll = rng.random()
    if roll < REFUSED:
        refusal = rng.choices(list(REFUSAL_WEIGHTS), list(REFUSAL_WEIGHTS.values()))[0]
        return Event(t, "refuse", plan.site, reason=refusal)
    item, signed = _pick(plan, rng, t)
    if roll < REFUSED + HELD_SHARE and not signed:
        reason = rng.choices(list(HELD_WEIGHTS), list(HELD_WEIGHTS.values()))[0]
        return _hold(plan, rng, t, item, reason)
    return Event(t, "signed" if signed else "view", plan.site, item, network=rng.choice(networks))


def _hold(plan: Plan, rng: random.Random, t: float, item: str, reason: Held) -> Event:
    plan.held.add(item)
    if reason is Held.CONCENTRATED:
        label = f"198.51.{rng.randrange(256)}.0/24"
        return Event(t, "hold", plan.site, item, reason, label, round(rng.uniform(0.35, 0.8), 3))
    return Event(t, "hold", plan.site, item, reason)


def _plan(site: str, rng: random.Random) -> Plan:
    plan = Plan(site, _stories(site, rng), [f"{site}-feed-{k}" for k in (1, 2)])
    networks = [f"{rng.getrandbits(48):012x}" for _ in range(60)]
    events = plan.events
    for story in plan.stories:
        events.append(Event(story.published, "put", site, story.id))
    stories = plan.stories
    events.append(Event(RETITLED_AT, "retitle", site, stories[RETITLED].id))
    events.append(Event(HIDDEN_AT, "hide", site, stories[HIDDEN].id))
    events.append(Event(DELETED_AT, "delete", site, stories[DELETED].id))
    events.append(Event(RELEASED_AT, "release", site, stories[RELEASED].id))
    for start, end, count in TRAFFIC:
        for _ in range(count):
            t = round(rng.uniform(NOW + start, NOW + end), 3)
            events.append(_beacon(plan, rng, t, networks))
    # Views of the deleted story from a collector whose copy of the catalog was behind.
    deleted = stories[DELETED].id
    events += [
        Event(DELETED_AT + s, "view", site, deleted, network=networks[0]) for s in (5, 9, 40)
    ]
    # A story whose views came from few networks: held, some of them released.
    released = stories[RELEASED]
    for k in range(14):
        t = RELEASED_AT + (k - 10) * 1.1 * HOUR if k < 10 else RELEASED_AT + (k - 9) * 300
        reason = Held.ADDRESS_LIMIT if k % 3 == 0 else Held.CONCENTRATED
        events.append(
            _hold(plan, rng, round(max(t, released.published + 60), 3), released.id, reason)
        )
    day = bucket_start(NOW, "day")
    events += [Event(day - DAY + 1.5, "salt", site), Event(day + 0.8, "salt", site)]
    events.sort(key=_time)  # stable: at equal times, in the order made
    return plan


def _entries(reply: object) -> list[tuple[str, dict[str, str]]]:
    """A stream's entries as XRANGE answers them: (id, fields)."""
    return cast(list[tuple[str, dict[str, str]]], reply)


class Writer:
    """Plays the sites' events into release 1's store as its collectors and editors would:
    views aggregated and flushed a batch per period (two minutes in the last two hours, ten
    minutes before), catalog changes and releases as they happen."""

    def __init__(self, redis: Redis, settings: Settings, plans: dict[str, Plan]) -> None:
        self.redis = redis
        self.settings = settings
        self.plans = plans
        self.store = Store(redis, settings)
        self.store._owner = "6c61796f75743121"  # the collector that does the upkeep at NOW
        half_lives = {name: s.half_life for name, s in settings.sites.items()}
        self.aggregator = Aggregator(half_lives, crowd=settings.rising_min_networks)
        self.batch_ids = (f"4c317e5f0a11-{n}" for n in itertools.count())
        self.period_end = 0.0
        self.flushed_at: dict[str, float] = {}  # batch id -> when it was written
        self.salted_at: dict[str, float] = {}  # salt key -> when it was made
        self.dropped = 0  # views of deleted stories
        # catalog log -> entry id as written -> the id its time gives (ms-seq)
        self.log_ids: dict[str, dict[str, str]] = {}
        self._log_last: dict[str, tuple[str, int, int]] = {}  # log -> (id, ms, seq) last

    async def play(self) -> None:
        events = sorted(itertools.chain(*(p.events for p in self.plans.values())), key=_time)
        for event in events:
            if event.t >= self.period_end:
                await self.flush(self.period_end)
                period = 2 * MINUTE if event.t >= NOW - 2 * HOUR else 10 * MINUTE
                self.period_end = min((event.t // period + 1) * period, float(NOW))
            if event.kind in ("view", "signed", "hold", "refuse"):
                self.beacon(event)
            else:
                await self.edit(event)
        await self.flush(NOW)
        for name, site in self.settings.sites.items():
            await self.store.maintain(name, NOW, site.half_life, self.settings.maintenance_interval)

    async def flush(self, t: float) -> None:
        for site in self.aggregator.sites():
            batch = self.aggregator.take(site)
            assert batch is not None
            batch_id = next(self.batch_ids)
            _, dropped = await self.store.flush(batch, batch_id)
            self.flushed_at[batch_id] = t
            self.dropped += dropped

    def beacon(self, e: Event) -> None:
        aggregator = self.aggregator
        if e.kind == "refuse":
            aggregator.refuse(e.site, Refusal(e.reason), e.t)
        elif e.kind == "hold":
            aggregator.hold(e.site, e.item, Held(e.reason), e.t)
            if e.reason == Held.CONCENTRATED:
                aggregator.flag(e.site, e.item, e.network, e.share, e.t)
        else:
            aggregator.add(e.site, e.item, e.t, signed=e.kind == "signed")
            aggregator.network(e.site, e.item, e.network, e.t)

    async def edit(self, e: Event) -> None:
        store = self.store
        story = next((s for s in self.plans[e.site].stories if s.id == e.item), None)
        if e.kind in ("put", "retitle"):
            assert story is not None
            title = f"{story.title}: updated" if e.kind == "retitle" else None
            await store.put_items(e.site, [(e.item, _entry(e.site, story, title))])
        elif e.kind == "hide":
            assert await store.set_hidden(e.site, e.item, True)
        elif e.kind == "delete":
            assert await store.delete_item(e.site, e.item, e.t)
        elif e.kind == "release":
            assert await store.release(e.site, e.item, RELEASED_BY_DEFAULT, e.t)
        elif e.kind == "salt":
            await self.salt(e.t)
        await self._follow_logs(e.site, e.t)

    async def salt(self, t: float) -> None:
        """The day's salt, made by the first beacon of the day (a fixed value here)."""
        name = keys.salt(salt_day(t))
        if name not in self.salted_at:
            await self.store.salt(salt_day(t))
            value = hashlib.sha256(name.encode()).hexdigest()
            assert await self.redis.set(name, value, xx=True, keepttl=True)
            self.salted_at[name] = t

    async def _follow_logs(self, site: str, t: float) -> None:
        """Give the catalog log's new entries the ids their time gives (ms-seq)."""
        for tag in self.store.tags(site):
            log = keys.catalog_log(tag)
            last, last_ms, seq = self._log_last.get(log, ("0-0", 0, -1))
            for written, _ in _entries(await self.redis.xrange(log, min=f"({last}", max="+")):
                ms = int(t * 1000)
                ms, seq = (last_ms, seq + 1) if ms <= last_ms else (ms, 0)
                self.log_ids.setdefault(log, {})[written] = f"{ms}-{seq}"
                last, last_ms = written, ms
            self._log_last[log] = (last, last_ms, seq)

    def ttl_ms(self, name: str, expires_ms: int) -> int | None:
        """Milliseconds a key has left at NOW (-1: none), or None when it is gone by then.
        Most expiry times come from the site's clock (a bucket's or a day's end); a flush
        marker, the upkeep lock and a salt live a while from when they were written."""
        if expires_ms < 0:
            return -1
        if ":flushed:" in name:
            at = (self.flushed_at[name.rsplit(":", 1)[1]] + FLUSH_MARKER_TTL) * 1000
        elif name.endswith(":lock:maintenance"):
            at = (NOW + self.settings.maintenance_interval) * 1000
        elif name.startswith("rk:salt:"):
            at = (self.salted_at[name] + SALT_TTL) * 1000
        elif expires_ms < (NOW - 40 * DAY) * 1000:
            raise ValueError(f"{name}: expires at {expires_ms} ms, not a time of the site's")
        else:
            at = expires_ms
        left = round(at) - NOW * 1000
        return left if left > 0 else None

    async def value(self, name: str, kind: str) -> Any:
        r = self.redis
        if kind == "string":
            return await r.get(name)
        if kind == "hash":
            return dict(sorted((await r.hgetall(name)).items()))
        if kind == "set":
            return sorted(await r.smembers(name))
        if kind == "zset":
            scored = cast(list[tuple[str, float]], await r.zrange(name, 0, -1, withscores=True))
            return [[m, repr(s)] for m, s in scored]
        if kind == "stream":
            ids = self.log_ids[name]
            return [[ids[i], fields] for i, fields in _entries(await r.xrange(name))]
        raise ValueError(f"{name}: a {kind}")

    async def export(self) -> dict[str, dict[str, Any]]:
        """Every key alive at NOW: type, milliseconds left at NOW (-1: no expiry), value."""
        out = {}
        for name in sorted([str(n) async for n in self.redis.scan_iter(count=1000)]):
            ttl = self.ttl_ms(name, await self.redis.pexpiretime(name))
            if ttl is None:
                continue
            kind = str(await self.redis.type(name))
            out[name] = {"type": kind, "ttl_ms": ttl, "value": await self.value(name, kind)}
        if not any(n.endswith(":lock:maintenance") for n in out):
            raise RuntimeError("the upkeep lock expired before the export: run it again")
        return out


def starts(resolution: Resolution, count: int) -> list[int]:
    """The `count` bucket starts up to NOW's, newest first, as the windows have them."""
    size = BUCKET_SECONDS[resolution]
    return [bucket_start(NOW, resolution) - k * size for k in range(count)]


SERIES: dict[Resolution, int] = {"minute": 60, "hour": 48, "day": 35}


async def answers(store: Store, picks: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    """What release 1 answers at NOW, per site: `picks` names the ids of its series, totals
    and held views."""
    out: dict[str, Any] = {}
    for site, chosen in picks.items():
        ids, held_ids = chosen["series"], chosen["held"]
        days = starts("day", 35)
        top: dict[str, dict[str, list[list[Any]]]] = {}
        for scope in ("all", *(s for s in SECTIONS if s)):
            top[scope] = {}
            for window in WINDOWS:
                _, rows = await store.top(
                    site, None if scope == "all" else scope, window, n=50, now=NOW, max_scan=10000
                )
                top[scope][window] = [[r.id, r.score] for r in rows]
        series = {}
        for resolution, count in SERIES.items():
            s = starts(resolution, count)
            views = await store.series(site, ids, resolution, s)
            series[resolution] = {"starts": s, "views": views}
        hot_landmark, _ = await store.top(site, None, "hot", n=1, now=NOW, max_scan=10000)
        out[site] = {
            "landmark": await store.landmark(site),
            "hot_landmark": hot_landmark,
            "sections": await store.sections(site),
            "hidden": [i for i, _ in await store.hidden_items(site)],
            "flags": {i: list(f) for i, f in sorted((await store.flags(site)).items())},
            "top": top,
            "series": series,
            "totals": {i: await store.total(site, i) for i in ids},
            "beacons": {"days": days, "tallies": await store.beacons(site, days)},
            "held": {
                "reasons": list(HELD),
                "views": await store.held(site, held_ids, HELD),
            },
        }
    return out


def picks(plans: dict[str, Plan]) -> dict[str, dict[str, list[str]]]:
    """Per site: the ids whose series and totals are kept (a new story, the hidden, the
    deleted and the released ones, an id on signed tokens), and every id with held views."""
    return {
        site: {
            "series": [
                p.stories[NEW[0]].id,
                p.stories[HIDDEN].id,
                p.stories[DELETED].id,
                p.stories[RELEASED].id,
                p.signed[0],
            ],
            "held": sorted(p.held),
        }
        for site, p in plans.items()
    }


def dumps(doc: dict[str, Any]) -> str:
    """The fixture as JSON: a line per Redis key and per expected answer."""
    depths = {"keys": 1, "expected": 4}

    def block(obj: Any, depth: int, indent: int) -> str:
        if depth <= 0 or not isinstance(obj, dict) or not obj:
            return json.dumps(obj, ensure_ascii=False)
        pad = " " * (indent + 1)
        lines = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {block(v, depth - 1, indent + 1)}"
            for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(lines) + "\n" + " " * indent + "}"

    lines = [f" {json.dumps(k)}: {block(v, depths.get(k, 0), 1)}" for k, v in doc.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def check_release() -> None:
    """Refuse to write the fixture with any code but release 1's, unchanged."""
    root = Path(ranker.__file__).resolve().parents[1]

    def git(*args: str) -> str:
        run = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else ""

    head, changed = git("rev-parse", "HEAD"), git("status", "--porcelain", "--", "ranker")
    if not head.startswith(RELEASE) or changed:
        sys.exit(
            f"ranker is imported from {root}, not an unchanged checkout of {RELEASE}: "
            f"git worktree add /tmp/v1 {RELEASE} and run with PYTHONPATH=/tmp/v1"
        )


async def make(url: str) -> dict[str, Any]:
    sites = {name: _site(name) for name in SITES}
    settings = Settings(redis_url=url, sites=sites, window_cache=0.0)
    check_tokens(settings)
    rng = random.Random(SEED)
    plans = {name: _plan(name, rng) for name in SITES}
    async with Redis.from_url(url, decode_responses=True) as redis:
        writer = Writer(redis, settings, plans)
        await writer.play()
        exported = await writer.export()
        expected = await answers(writer.store, picks(plans))
        assert await redis.dbsize() >= len(exported)
    views = sum(e.kind in ("view", "signed") for p in plans.values() for e in p.events)
    print(f"{views} views counted or sent, {writer.dropped} dropped, {len(exported)} keys")
    return {
        "release": RELEASE,
        "now": NOW,
        "sites": {
            n: {"name": n, "half_life": s.half_life, "shards": s.shards} for n, s in sites.items()
        },
        "settings": {
            "minute_retention": settings.minute_retention,
            "hour_retention": settings.hour_retention,
            "day_retention": settings.day_retention,
            "rebase_after": settings.rebase_after,
            "hot_max": settings.hot_max,
            "rising_min_networks": settings.rising_min_networks,
            "maintenance_interval": settings.maintenance_interval,
        },
        "keys": exported,
        "expected": expected,
    }


def main() -> None:
    check_release()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="layout1-") as tmp:
        engine = EmbeddedEngine(Path(tmp), persist=False, port=free_port())
        engine.start()
        try:
            doc = asyncio.run(make(engine.url))
        finally:
            engine.stop()
    OUT.write_text(dumps(doc), encoding="utf-8")
    took = time.monotonic() - started
    print(f"{OUT}: {OUT.stat().st_size} bytes in {took:.1f} s")


if __name__ == "__main__":
    main()
