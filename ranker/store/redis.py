"""The only module that speaks Redis: rankings, buckets, catalog. Key names come from `keys`."""

from __future__ import annotations

import asyncio
import bisect
import functools
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import RedisClusterException, RedisError

from ranker.core.aggregate import Batch, Row
from ranker.core.config import Settings
from ranker.core.outcomes import HELD
from ranker.core.windows import BUCKET_SECONDS, day_start, next_day_start, window_buckets
from ranker.store import keys

AnyRedis = Redis | RedisCluster
# What a store outage looks like from redis-py (RedisClusterException, e.g. "no node for
# this slot", is not a RedisError); callers see StoreUnavailable instead.
_OUTAGE = (RedisError, RedisClusterException, OSError)


class StoreUnavailable(Exception):
    """Redis did not answer, or answered with an error: an outage to wait out and retry.
    Every Store method raises this and nothing else of redis-py's."""


# How long a retried batch is recognised: a flush applied but not acknowledged is retried
# within seconds of Redis answering again, unless Redis stays unreachable longer than this.
FLUSH_MARKER_TTL = 6 * 3600
SALT_TTL = 2 * 86400  # a day's salt outlives its day by one day, then is gone
# How long a minute's client networks are kept after it ends: past the rising list's short
# window, with a margin for a clock that is a little behind.
CROWD_TTL = 15 * 60
FLUSH_CHUNK = 300  # items per flush script: ~1,200 Redis calls, a millisecond or two
# Minutes are rolled into their hour and day once they ended this long ago (s), so the
# batches of the minute's last seconds have landed in it first; and at most this many
# minutes in one upkeep call, so catching up after a long pause comes in steps.
ROLL_AFTER = 10
MAX_ROLL = 120


# A hot-ranking member whose decayed count falls below this leaves the ranking at the next
# rebase: a single view 20 half-lives ago.
PRUNE_BELOW = 1e-6


def _flat_rows(rows: list[Row]) -> list[str | int]:
    """Batch rows as the flush script reads them (flush.lua says how): a few arguments an
    item, since encoding each one is most of what a flush costs here."""
    flat: list[str | int] = []
    for item_id, w, signed, minutes, held, networks, flag in rows:
        flat += (item_id, repr(w), int(signed), len(minutes))
        for minute, views in minutes:
            flat += (minute, views)
        if networks:
            by_minute: dict[int, str] = {}
            for minute, network in networks:
                by_minute[minute] = by_minute.get(minute, "") + network
            flat.append(";".join(f"{m}:{hashes}" for m, hashes in by_minute.items()))
        else:
            flat.append("")
        flat.append(len(held))
        if held:
            for reason, minute, views in held:
                flat += (reason, minute, views)
            flat.append("" if flag is None else f"{flag[0]}|{flag[1]:.3f}")
    return flat


def _scope(section: str | None, facets: Mapping[str, str]) -> str:
    """A list's scope in its cache keys: "all", the section, or with an author's or a tag's
    slug ("world+author=jane-doe"); slugs hold no "+" or "=", sections no "=", so no two
    scopes share a name."""
    parts = [section or "all", *(f"{kind}={slug}" for kind, slug in sorted(facets.items()))]
    return "+".join(parts)


def _top_keys(
    tag: str,
    section: str | None,
    facets: Mapping[str, str],
    window: str,
    resolution: str,
    starts: list[int],
    max_age: int,
) -> list[str]:
    """The keys top.lua reads for one shard (top.lua says which is which)."""
    if window == "hot":
        ranking = keys.hot(tag, "all")
    elif window == "all":
        ranking = keys.total(tag, "all")
    else:
        ranking = keys.window(tag, "all", window, starts[0])
    scope = _scope(section, facets)
    sets = [keys.section(tag, section)] if section else []
    sets += [keys.members(tag, kind, slug) for kind, slug in sorted(facets.items())]
    # The ranking's intersection with the member sets (none: the ranking, unused).
    cached = keys.window(tag, scope, window, starts[0]) if sets else ranking
    # The recent stories and the list's intersection with them (none: unused).
    recent, fresh = ranking, ranking
    if max_age:
        recent = keys.recent(tag, max_age)
        fresh = keys.fresh(tag, scope, window, starts[0], max_age)
    buckets = [keys.bucket(tag, "all", resolution, s) for s in starts] if resolution else []
    return [
        keys.meta(tag),
        ranking,
        cached,
        keys.unrolled(tag),
        keys.published(tag),
        recent,
        fresh,
        *sets,
        *buckets,
    ]


def _unix(published_at: str) -> int | str:
    """A catalog entry's `published_at` (as validate stores it: ISO-8601 in UTC) as unix
    seconds; "" for none."""
    if not published_at:
        return ""
    return int(datetime.fromisoformat(published_at).timestamp())


def _tied(score: float) -> float:
    """A score to sort by: decayed counts that are equal can differ in their last bits
    (added up in other batches, or scaled from another shard's landmark), so scores equal
    to twelve digits tie, and ties go by id."""
    return float(f"{score:.12e}")


def _tallies(batch: Batch) -> list[str | int]:
    """What the first chunk of a batch carries besides its rows: the beacons not counted
    by reason, then the boxes' impressions and clicks by hour (flush.lua)."""
    flat = _reasons(batch) + [len(batch.recirc)]
    for (hour, event), count in batch.recirc.items():
        flat += (hour, event, count)
    return flat


def _reasons(batch: Batch) -> list[str | int]:
    flat: list[str | int] = [len(batch.filtered)]
    for reason, count in batch.filtered.items():
        flat += (reason, count)
    return flat


class Counted(Protocol):
    """What round_trip counts calls on: a store, or a part of one."""

    @property
    def round_trips(self) -> dict[str, int]: ...


S = TypeVar("S", bound=Counted)
P = ParamSpec("P")
R = TypeVar("R")
Method = Callable[Concatenate[S, P], Coroutine[Any, Any, R]]


def round_trip(purpose: str) -> Callable[[Method[S, P, R]], Method[S, P, R]]:
    """Count calls of a store method (one round trip each) under `purpose`, for metrics;
    its redis-py errors become StoreUnavailable."""

    def wrap(method: Method[S, P, R]) -> Method[S, P, R]:
        @functools.wraps(method)
        async def counted(store: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            store.round_trips[purpose] = store.round_trips.get(purpose, 0) + 1
            try:
                return await method(store, *args, **kwargs)
            except _OUTAGE as e:
                raise StoreUnavailable(str(e) or type(e).__name__) from e

        return cast(Method[S, P, R], counted)

    return wrap


def _lua(name: str) -> str:
    return files("ranker.store").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Ranked:
    id: str
    score: float
    title: str
    url: str
    section: str
    summary: str
    image: str
    published_at: str
    authors: str  # one a line


@dataclass(frozen=True, slots=True)
class Pin:
    position: int  # 1 is the top
    until: float  # unix s
    section: str | None  # None: the site's lists
    windows: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Listing:
    landmark: float | None  # the decay landmark of hot scores
    rows: list[Ranked]  # by score, ties by id
    pinned: list[tuple[int, Ranked]]  # (position, row) of the list's pins, by position


@dataclass(frozen=True, slots=True)
class CatalogChange:
    stream_id: str
    op: str  # "add" or "del"
    id: str
    version: int


class Store:
    def __init__(self, redis: AnyRedis, settings: Settings) -> None:
        self.redis = redis
        self.round_trips: dict[str, int] = {}  # purpose -> calls, for metrics
        self._retention = (
            settings.minute_retention,
            settings.hour_retention,
            settings.day_retention,
        )
        self._union_ttl_ms = int(settings.window_cache * 1000)
        # site -> the hash tags of its shards (one: the site itself)
        self._tags = {name: keys.shard_tags(name, s.shards) for name, s in settings.sites.items()}
        self._half_lives = {name: s.half_life for name, s in settings.sites.items()}
        self._zones = {name: s.zone for name, s in settings.sites.items()}
        self._zoned = {name for name, s in settings.sites.items() if s.timezone != "UTC"}
        self._rebase_after = settings.rebase_after
        self._crowd = settings.rising_min_networks
        self._flush = self._script("lib_days", "lib_rebase", "flush")
        self._rebase = self._script("lib_rebase", "rebase")
        self._maintain = self._script("lib_days", "lib_rebase", "maintain")
        self._hot_max = settings.hot_max
        self._owner = secrets.token_hex(8)
        self._top = self._script("lib_listed", "top")
        self._latest = self._script("lib_listed", "latest")
        self._put = self._script("lib_facets", "catalog_put")
        self._feed_put = self._script("lib_facets", "feed_put", "catalog_put")
        self._feed_claim = self._script("feed_claim")
        self._delete = self._script("lib_days", "lib_facets", "catalog_delete")
        self._hide = self._script("catalog_hide")
        self._pin = self._script("pin")
        self._rising = self._script("rising")
        self._release = self._script("lib_days", "lib_rebase", "release")
        self._snapshot = self._script("catalog_snapshot")

    async def _run_all(
        self, script: AsyncScript, calls: list[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """Run one script many times in one round trip, in order; the replies."""
        if isinstance(self.redis, RedisCluster):
            # redis-py refuses scripts in cluster pipelines. One site's keys share a slot,
            # so these all go to one node: send them concurrently, a hundred at a time.
            replies: list[Any] = []
            for start in range(0, len(calls), 100):
                replies += await asyncio.gather(
                    *(script(keys=k, args=a) for k, a in calls[start : start + 100])
                )
            return replies
        async with self.redis.pipeline(transaction=False) as pipe:
            for k, a in calls:
                await script(keys=k, args=a, client=cast(Redis, pipe))
            replies = await pipe.execute()
            return replies

    def tags(self, site: str) -> list[str]:
        """The hash tags of the site's shards."""
        return self._tags.get(site) or [site]

    def _tag(self, site: str, item_id: str) -> str:
        """The hash tag of the shard holding `item_id`."""
        tags = self.tags(site)
        return tags[keys.shard_of(item_id, len(tags))]

    def _by_shard(self, site: str, ids: Iterable[str]) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for item_id in ids:
            grouped.setdefault(self._tag(site, item_id), []).append(item_id)
        return grouped

    async def _members(self, site: str, key: Callable[[str], str]) -> set[str]:
        """The union of one set over every shard of the site (`key` names it for a tag)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for tag in self.tags(site):
                pipe.smembers(key(tag))
            replies = await pipe.execute()
        return set().union(*replies)

    def _script(self, *names: str) -> AsyncScript:
        """One script from the named files, concatenated (a library, then the body), after
        the key-name functions and constants it uses (`keys.lua_prelude`)."""
        source = "\n".join(_lua(name) for name in names)
        return self.redis.register_script(keys.lua_prelude(source) + source)

    def _days(self, site: str, first: float, last: float) -> list[int | str]:
        """The starts of the site's days from the one holding `first` through the one after
        `last`, counted first, as the scripts read them (lib_days.lua)."""
        zone = self._zones.get(site) or UTC
        starts = [day_start(first, zone)]
        while starts[-1] <= last:
            starts.append(next_day_start(starts[-1], zone))
        return [len(starts), *starts]

    def _kept_days(self, site: str, now: float) -> list[int | str]:
        """The site's days a day bucket may still be kept for at `now`, through today."""
        return self._days(site, now - self._retention[2] - 2 * BUCKET_SECONDS["day"], now)

    # -- rankings -----------------------------------------------------------------------

    @round_trip("flush")
    async def flush(self, batch: Batch, batch_id: str) -> tuple[bool, int]:
        """Apply a batch at most once (retries with the same id are no-ops).

        The batch goes as a pipeline of scripts of at most FLUSH_CHUNK items each, so no
        single script keeps Redis from answering queries for long; each chunk is marked
        applied on its own, so a retry after a partial failure applies only the rest.
        Returns whether this call applied anything, and how many views it dropped because
        their item was deleted meanwhile.
        """
        tags = self.tags(batch.site)
        shards: list[list[Row]] = [[] for _ in tags]
        rows = batch.rows()
        minutes = [m for row in rows for m, _ in row.minutes]
        minutes += [m for row in rows for _, m, _ in row.held]
        days = self._days(batch.site, min([batch.ref, *minutes]), max([batch.ref, *minutes]))
        versions = batch.versions or (-1,) * len(tags)
        for row in rows:
            shards[keys.shard_of(row[0], len(tags))].append(row)
        calls = []
        for k, (tag, rows) in enumerate(zip(tags, shards, strict=True)):
            chunks = [rows[i : i + FLUSH_CHUNK] for i in range(0, len(rows), FLUSH_CHUNK)]
            if k == 0 and not chunks:
                chunks = [[]]  # the first shard's first chunk carries the tally of refusals
            calls += [
                (
                    [
                        keys.meta(tag),
                        keys.flushed(tag, batch_id),
                        keys.items(tag),
                        keys.unrolled(tag),
                    ],
                    [
                        repr(batch.ref),
                        repr(batch.half_life),
                        keys.prefix(tag),
                        *(int(r) for r in self._retention),
                        FLUSH_MARKER_TTL,
                        repr(self._rebase_after),
                        repr(PRUNE_BELOW),
                        n,
                        self._crowd,
                        CROWD_TTL,
                        versions[k],
                        *days,
                        *(_tallies(batch) if k == 0 and n == 0 else [0, 0]),
                        *_flat_rows(chunk),
                    ],
                )
                for n, chunk in enumerate(chunks)
            ]
        replies = await self._run_all(self._flush, calls)
        applied = any(int(r[0]) for r in replies)
        return applied, sum(int(r[1]) for r in replies)

    @round_trip("maintenance")
    async def maintain(
        self, site: str, now: float, half_life: float, period: float
    ) -> tuple[bool, int, int, int]:
        """A site's upkeep (maintain.lua), shard by shard, unless another collector did it
        within `period` seconds: (done here, hot members pruned, hot members trimmed,
        minutes rolled into hours and days)."""
        days = self._kept_days(site, now)
        replies = await self._run_all(
            self._maintain,
            [
                (
                    [keys.meta(tag), keys.maintenance_lock(tag), keys.unrolled(tag)],
                    [
                        int(now),
                        repr(half_life),
                        keys.prefix(tag),
                        repr(self._rebase_after),
                        repr(PRUNE_BELOW),
                        self._hot_max,
                        int(period * 1000),
                        self._owner,
                        *(int(r) for r in self._retention),
                        ROLL_AFTER,
                        MAX_ROLL,
                        *days,
                    ],
                )
                for tag in self.tags(site)
            ],
        )
        return (
            any(int(r[0]) for r in replies),
            sum(int(r[1]) for r in replies),
            sum(int(r[2]) for r in replies),
            sum(int(r[3]) for r in replies),
        )

    @round_trip("maintenance")
    async def rebase(
        self,
        site: str,
        new_landmark: int,
        half_life: float,
        min_move: float,
        prune: float = PRUNE_BELOW,
    ) -> float:
        """Move each shard's landmark to `new_landmark` if it lags by `min_move` s; the
        (first shard's) landmark after."""
        landmarks = await self._run_all(
            self._rebase,
            [
                (
                    [keys.meta(tag)],
                    [new_landmark, repr(half_life), keys.prefix(tag), repr(min_move), repr(prune)],
                )
                for tag in self.tags(site)
            ],
        )
        return float(landmarks[0])

    @round_trip("maintenance")
    async def migrate(self, site: str, now: float) -> dict[str, int]:
        """Bring a site's data written by an earlier release to this release's layout
        (keys.LAYOUT), shard by shard. A shard already there is left alone; every step can
        be done again, so a migration cut short is finished by the next call. Returns what
        it did: shards migrated, section memberships written, keys of the old per-section
        copies removed.

        Layout 1 wrote every view to its minute, hour and day at once, and a copy of every
        ranking per section. Here a section's lists read the site's through the section's
        members set, built from the catalog; the copies go.
        """
        done = {"shards": 0, "members": 0, "removed": 0}
        for tag in self.tags(site):
            meta = keys.meta(tag)
            # No meta: no data yet (what is written from now on is in this layout).
            layout = await self.redis.hget(meta, "layout")
            if layout == str(keys.LAYOUT) or not await self.redis.exists(meta):
                continue
            # Every view written so far is in its hour and day already.
            await self.redis.hsetnx(meta, "rolled", int(now // 60 * 60))
            cursor = 0
            while True:
                cursor, found = await self.redis.sscan(keys.items(tag), cursor, count=1000)
                ids = cast(list[str], found)
                async with self.redis.pipeline(transaction=False) as pipe:
                    for item_id in ids:
                        pipe.hmget(keys.item(tag, item_id), "section", "published_at")
                    fields = await pipe.execute()
                async with self.redis.pipeline(transaction=False) as pipe:
                    for item_id, (section, published_at) in zip(ids, fields, strict=True):
                        if section:
                            pipe.sadd(keys.section(tag, section), item_id)
                            pipe.sadd(keys.scopes(tag), section)
                            done["members"] += 1
                        if published_at:
                            pipe.zadd(keys.published(tag), {item_id: _unix(published_at)})
                    await pipe.execute()
                if int(cursor) == 0:
                    break
            copies = [
                key
                for section in cast(set[str], await self.redis.smembers(keys.scopes(tag)))
                for key in (keys.hot(tag, section), keys.total(tag, section))
            ]
            site_wide = keys.bucket(tag, "all", "", 0).rsplit(":", 2)[0] + ":"
            async for key in self.redis.scan_iter(match=f"{keys.prefix(tag)}b:*", count=1000):
                if not key.startswith(site_wide):
                    copies.append(key)
            for start in range(0, len(copies), 500):
                done["removed"] += await self.redis.unlink(*copies[start : start + 500])
            await self.redis.hset(meta, "layout", keys.LAYOUT)
            done["shards"] += 1
        return done

    @round_trip("query")
    async def landmark(self, site: str) -> float | None:
        """The decay landmark (of the site's first shard)."""
        value = await self.redis.hget(keys.meta(self.tags(site)[0]), "landmark")
        return None if value is None else float(value)

    async def top(
        self,
        site: str,
        section: str | None,
        window: str,
        n: int,
        now: float,
        max_scan: int,
        max_age: int = 0,
        facets: Mapping[str, str] | None = None,
    ) -> tuple[float | None, list[Ranked]]:
        """The top `n` visible items of a window (ties by id), and the landmark for `hot`;
        with `max_age` (s), of the items published that recently only; with `facets`
        ({"author" or "tag": slug}), of the items naming that author and tag only."""
        found = await self.listing(site, section, window, n, now, max_scan, max_age, facets)
        return found.landmark, found.rows

    @round_trip("query")
    async def listing(
        self,
        site: str,
        section: str | None,
        window: str,
        n: int,
        now: float,
        max_scan: int,
        max_age: int = 0,
        facets: Mapping[str, str] | None = None,
        pins: bool = False,
    ) -> Listing:
        """`top`, with the list's pins when `pins` (a list by author or tag has none).

        A site with several shards gets each shard's top (read on past the n-th while
        scores tie) and merges them, which is exact because shards hold disjoint stories.
        Hot scores are first put on one landmark, the latest of the shards'.
        """
        resolution, starts = "", [0]
        if window not in ("hot", "all"):
            resolution, starts = window_buckets(window, now, self._zones.get(site) or UTC)
            if resolution == "day" and site in self._zoned:
                # Days written before the site had its time zone are UTC days.
                utc = window_buckets(window, now)[1]
                starts += [s for s in utc if s >= min(starts) and s not in starts]
        # A section's hot list is the hot ranking's intersection: kept a second at most,
        # as the top list's cache (the ranking moves).
        ttl = self._union_ttl_ms if window != "hot" else min(self._union_ttl_ms, 1000)
        cutoff = int(now - max_age) if max_age else ""
        facets = facets or {}
        sets = len(facets) + (1 if section else 0)
        pinned_here = "1" if pins and not facets else "0"
        args = [section or "", ttl, max_scan, resolution, min(starts), cutoff, sets]
        args += [int(now), window, pinned_here]
        calls = [
            (
                _top_keys(tag, section, facets, window, resolution, starts, max_age),
                [n, keys.prefix(tag), *args],
            )
            for tag in self.tags(site)
        ]
        replies = await self._run_all(self._top, calls)
        landmarks = [None if reply[0] is None else float(reply[0]) for reply in replies]
        common = max((x for x in landmarks if x is not None), default=None)
        half_life = self._half_lives[site]
        merged: list[tuple[float, Ranked]] = []
        pinned: list[tuple[int, Ranked]] = []
        for landmark, reply in zip(landmarks, replies, strict=True):
            # Hot scores onto the common landmark: 2^((L_k - L)/H) <= 1, so nothing
            # overflows. Window counts are plain integers.
            scale = 1.0
            if window == "hot" and landmark is not None and common is not None:
                scale = 2 ** ((landmark - common) / half_life)
            for r in reply[2:]:
                row = Ranked(r[0], float(r[1]) * scale, *r[2:9])
                merged.append((_tied(row.score), row))
            pinned += [(int(r[9]), Ranked(r[0], float(r[1]) * scale, *r[2:9])) for r in reply[1]]
        merged.sort(key=lambda sr: (-sr[0], sr[1].id))
        pinned.sort(key=lambda pr: (pr[0], pr[1].id))
        return Listing(common, [row for _, row in merged[:n]], pinned)

    @round_trip("query")
    async def recirculation(self, site: str, hours: list[int]) -> dict[str, int]:
        """The boxes' impressions and clicks in those hours, summed by event."""
        tag = self.tags(site)[0]
        async with self.redis.pipeline(transaction=False) as pipe:
            for hour in hours:
                pipe.hgetall(keys.recirc(tag, hour))
            replies = await pipe.execute()
        out: dict[str, int] = {}
        for reply in replies:
            for event, count in cast(dict[str, str], reply).items():
                out[event] = out.get(event, 0) + int(count)
        return out

    @round_trip("query")
    async def traffic(self, site: str, starts: list[int], length: int) -> list[int]:
        """The views counted in the `length` seconds (a multiple of keys.TRAFFIC_SLOT) from
        each of `starts` (multiples of it), every shard's summed."""
        tags, slots = self.tags(site), length // keys.TRAFFIC_SLOT
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in starts:
                for k in range(slots):
                    for tag in tags:
                        pipe.get(keys.traffic(tag, start + k * keys.TRAFFIC_SLOT))
            replies = await pipe.execute()
        n = len(tags) * slots
        return [sum(int(r or 0) for r in replies[i * n : (i + 1) * n]) for i in range(len(starts))]

    @round_trip("query")
    async def since(self, site: str) -> float | None:
        """When the site began counting (unix s): None when it has not; 0 when it began
        before that was kept (long enough ago for any baseline)."""
        known = []
        for tag in self.tags(site):
            since, landmark = await self.redis.hmget(keys.meta(tag), "since", "landmark")
            if since is not None:
                known.append(float(since))
            elif landmark is not None:
                return 0.0
        return min(known, default=None)

    @round_trip("query")
    async def latest(
        self,
        site: str,
        section: str | None,
        n: int,
        published_after: float,
        max_scan: int,
        facets: Mapping[str, str] | None = None,
    ) -> list[Ranked]:
        """The `n` latest published visible stories (in `section`, naming the `facets`),
        published at or after `published_after` (unix s; 0 for any time), newest first,
        ties by id; `score` is the publish time."""
        facets = facets or {}
        replies = await self._run_all(
            self._latest,
            [
                (
                    [
                        keys.published(tag),
                        *(keys.members(tag, kind, slug) for kind, slug in facets.items()),
                    ],
                    [n, keys.prefix(tag), section or "", published_after or "-inf", max_scan],
                )
                for tag in self.tags(site)
            ],
        )
        rows = [Ranked(r[0], float(r[1]), *r[2:9]) for reply in replies for r in reply]
        rows.sort(key=lambda r: (-r.score, r.id))
        return rows[:n]

    @round_trip("query")
    async def series(
        self, site: str, ids: list[str], resolution: str, starts: list[int]
    ) -> dict[str, list[int]]:
        """Views per bucket for each id, in the order of `starts` (ascending); an hour or
        day gets the views of its minutes not rolled into it yet too."""
        groups = list(self._by_shard(site, ids).items())
        zone = self._zones.get(site) or UTC
        ends = [
            s + BUCKET_SECONDS["hour"] if resolution == "hour" else next_day_start(s, zone)
            for s in starts
        ]
        unrolled: list[list[int]] = [[] for _ in groups]
        if resolution != "minute":
            async with self.redis.pipeline(transaction=False) as pipe:
                for tag, _ in groups:
                    pipe.zrange(keys.unrolled(tag), 0, -1)
                unrolled = [[int(m) for m in reply] for reply in await pipe.execute()]
        async with self.redis.pipeline(transaction=False) as pipe:
            for (tag, group), minutes in zip(groups, unrolled, strict=True):
                for start in starts:
                    pipe.zmscore(keys.bucket(tag, "all", resolution, start), group)
                for minute in minutes:
                    pipe.zmscore(keys.bucket(tag, "all", "minute", minute), group)
            replies = iter(await pipe.execute())
        out: dict[str, list[int]] = {}
        for (_, group), minutes in zip(groups, unrolled, strict=True):
            per_start = [[v or 0.0 for v in next(replies)] for _ in starts]
            for minute in minutes:
                counts = next(replies)
                # The bucket holding the minute: the last start not after it, if it ends after.
                k = bisect.bisect_right(starts, minute) - 1
                if k < 0 or minute >= ends[k]:
                    continue
                for i, views in enumerate(counts):
                    per_start[k][i] += views or 0.0
            for i, item_id in enumerate(group):
                out[item_id] = [int(reply[i]) for reply in per_start]
        return {item_id: out[item_id] for item_id in ids}

    @round_trip("query")
    async def rising_candidates(
        self,
        site: str,
        section: str | None,
        short: list[int],
        baseline: list[int],
        min_views: int,
        limit: int = 500,
    ) -> list[tuple[str, int, int, str, str, str, int]]:
        """(id, short-window views, baseline views, title, url, section, distinct client
        networks in the short window, counted up to rising_min_networks) of visible ids with
        at least `min_views` in the short window."""
        scope = section or "all"
        replies = await self._run_all(
            self._rising,
            [
                (
                    [
                        keys.rising_tmp(tag, scope, "short"),
                        keys.rising_tmp(tag, scope, "baseline"),
                        *(keys.bucket(tag, "all", "minute", s) for s in short),
                        *(keys.bucket(tag, "all", "minute", s) for s in baseline),
                        *(keys.networks(tag, s) for s in short),
                    ],
                    [len(short), min_views, keys.prefix(tag), section or "", limit, self._crowd],
                )
                for tag in self.tags(site)
            ],
        )
        return [
            (r[0], int(float(r[1])), int(float(r[2])), r[3], r[4], r[5], int(r[6]))
            for reply in replies
            for r in reply
        ]

    # -- held views -----------------------------------------------------------------------

    @round_trip("held")
    async def release(
        self, site: str, item_id: str, reasons: Iterable[str], now: float
    ) -> dict[str, int]:
        """Move an item's held views of `reasons` into its counts (release.lua); the views
        released per reason."""
        tag = self._tag(site, item_id)
        reply = await self._release(
            keys=[keys.meta(tag), keys.unrolled(tag), keys.flags(tag)],
            args=[
                item_id,
                keys.prefix(tag),
                int(now),
                *(int(r) for r in self._retention),
                repr(self._half_lives[site]),
                repr(self._rebase_after),
                repr(PRUNE_BELOW),
                *self._kept_days(site, now),
                *reasons,
            ],
        )
        return {reply[i]: int(reply[i + 1]) for i in range(0, len(reply), 2)}

    @round_trip("held")
    async def held(
        self, site: str, ids: list[str], reasons: Iterable[str]
    ) -> dict[str, dict[str, int]]:
        """Views held and not released, per id and reason (reasons with none left out)."""
        reasons = list(reasons)
        groups = list(self._by_shard(site, ids).items())
        async with self.redis.pipeline(transaction=False) as pipe:
            for tag, group in groups:
                for reason in reasons:
                    pipe.zmscore(keys.held_total(tag, reason), group)
            replies = iter(await pipe.execute())
        out: dict[str, dict[str, int]] = {}
        for _, group in groups:
            for reason in reasons:
                for item_id, views in zip(group, next(replies), strict=True):
                    if views:
                        out.setdefault(item_id, {})[reason] = int(views)
        return {item_id: out.get(item_id, {}) for item_id in ids}

    @round_trip("held")
    async def most_held(self, site: str, reasons: Iterable[str], n: int) -> list[str]:
        """The ids with the most views held for any of `reasons` (and not released)."""
        best: dict[str, float] = {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for tag in self.tags(site):
                for reason in reasons:
                    pipe.zrange(keys.held_total(tag, reason), 0, n - 1, desc=True, withscores=True)
            replies = await pipe.execute()
        for reply in replies:
            for item_id, views in reply:
                best[item_id] = best.get(item_id, 0.0) + views
        return sorted(best, key=lambda i: (-best[i], i))[:n]

    @round_trip("held")
    async def flags(self, site: str) -> dict[str, tuple[str, float, int]]:
        """id -> (network, share, unix time) of the last views held as concentrated."""
        out: dict[str, tuple[str, float, int]] = {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for tag in self.tags(site):
                pipe.hgetall(keys.flags(tag))
            replies = await pipe.execute()
        for reply in replies:
            for item_id, value in reply.items():
                network, share, at = str(value).split("|")
                out[item_id] = (network, float(share), int(at))
        return out

    @round_trip("query")
    async def sections(self, site: str) -> list[str]:
        return sorted(await self._members(site, keys.scopes))

    @round_trip("query")
    async def hidden_items(self, site: str, limit: int = 500) -> list[tuple[str, dict[str, str]]]:
        ids = sorted(await self._members(site, keys.hidden))[:limit]
        entries = await self._entries(site, ids)
        return [(i, entries[i]) for i in ids if i in entries]

    @round_trip("catalog")
    async def get_items(self, site: str, ids: list[str]) -> dict[str, dict[str, str]]:
        """The catalog entries of those of `ids` that have one."""
        return await self._entries(site, ids)

    async def _entries(self, site: str, ids: list[str]) -> dict[str, dict[str, str]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for item_id in ids:
                pipe.hgetall(keys.item(self._tag(site, item_id), item_id))
            entries = await pipe.execute()
        return {i: e for i, e in zip(ids, entries, strict=True) if e}

    @round_trip("query")
    async def total(self, site: str, item_id: str) -> float:
        return await self.redis.zscore(keys.total(self._tag(site, item_id), "all"), item_id) or 0.0

    @round_trip("query")
    async def beacons(self, site: str, days: list[int]) -> list[dict[str, int]]:
        """For each start of the site's day in `days`: views counted, and beacons not counted
        by reason."""
        tags = self.tags(site)
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                for tag in tags:
                    pipe.hgetall(keys.beacons(tag, day))
            replies = await pipe.execute()
        tallies: list[dict[str, int]] = []
        for d in range(len(days)):
            tally: dict[str, int] = {}
            for reply in replies[d * len(tags) : (d + 1) * len(tags)]:
                for reason, n in reply.items():
                    tally[reason] = tally.get(reason, 0) + int(n)
            tallies.append(tally)
        return tallies

    @round_trip("ping")
    async def ping(self) -> None:
        await self.redis.ping()

    @round_trip("salt")
    async def salt(self, day: str) -> bytes:
        """The day's visitor-hash salt, made by whichever collector asks first."""
        key = keys.salt(day)
        await self.redis.set(key, secrets.token_hex(32), nx=True, ex=SALT_TTL)
        value = await self.redis.get(key)
        if value is None:  # expired between the two calls: only if the clock is far off
            raise RedisError(f"salt {key} vanished")
        return bytes.fromhex(str(value))

    # -- catalog ------------------------------------------------------------------------

    def _catalog_keys(self, site: str, item_id: str) -> list[str]:
        tag = self._tag(site, item_id)
        return [
            keys.item(tag, item_id),
            keys.items(tag),
            keys.meta(tag),
            keys.catalog_log(tag),
            keys.hidden(tag),
        ]

    def _put_calls(
        self, site: str, entries: Iterable[tuple[str, Mapping[str, str]]]
    ) -> list[tuple[list[str], list[Any]]]:
        """The keys and arguments of catalog_put.lua (and feed_put.lua) for each entry."""
        return [
            (
                [
                    *self._catalog_keys(site, item_id),
                    keys.scopes(self._tag(site, item_id)),
                    keys.published(self._tag(site, item_id)),
                    keys.deleted(self._tag(site, item_id)),
                ],
                [
                    item_id,
                    keys.prefix(self._tag(site, item_id)),
                    _unix(f.get("published_at", "")),
                    *(v for kv in f.items() for v in kv),
                ],
            )
            for item_id, f in entries
        ]

    @round_trip("catalog")
    async def put_items(self, site: str, entries: Iterable[tuple[str, Mapping[str, str]]]) -> int:
        """Create or replace catalog entries in one pipeline; the number that were new."""
        replies = await self._run_all(self._put, self._put_calls(site, entries))
        return sum(int(r) for r in replies)

    @round_trip("catalog")
    async def sync_items(
        self, site: str, entries: Iterable[tuple[str, Mapping[str, str]]]
    ) -> list[str]:
        """Write entries a feed brings (feed_put.lua): for each, "added", "updated",
        "unchanged" (nothing written) or "deleted" (an editor deleted it: not written).
        An entry's `hidden` is the stored one's, whatever the entry says."""
        outcomes = {0: "updated", 1: "added", 2: "unchanged", 3: "deleted"}
        replies = await self._run_all(self._feed_put, self._put_calls(site, entries))
        return [outcomes[int(r)] for r in replies]

    # -- feeds --------------------------------------------------------------------------

    @round_trip("feeds")
    async def feed_claim(
        self, site: str, feed: str, now: float, every: float
    ) -> tuple[bool, float]:
        """Whether this collector polls the feed now (it was due, and the next poll is now
        `every` seconds away), and when the next poll is due."""
        claimed, due = await self._feed_claim(
            keys=[keys.feed(self.tags(site)[0], feed)], args=[repr(now), repr(now + every)]
        )
        return bool(int(claimed)), float(due)

    @round_trip("feeds")
    async def feed_states(self, site: str, feeds: list[str]) -> list[dict[str, str]]:
        """What is kept of each feed: its status and the validators of its documents."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in feeds:
                pipe.hgetall(keys.feed(self.tags(site)[0], name))
            return cast(list[dict[str, str]], await pipe.execute())

    @round_trip("feeds")
    async def feed_save(
        self, site: str, feed: str, fields: Mapping[str, Any], add: Mapping[str, int]
    ) -> None:
        """Set fields of a feed's hash and add to its running totals."""
        key = keys.feed(self.tags(site)[0], feed)
        async with self.redis.pipeline(transaction=False) as pipe:
            if fields:
                pipe.hset(key, mapping={name: str(value) for name, value in fields.items()})
            for name, n in add.items():
                if n:
                    pipe.hincrby(key, name, n)
            await pipe.execute()

    @round_trip("catalog")
    async def pin(self, site: str, item_id: str, pin: Pin) -> bool:
        """Pin a catalogued story (replacing its pin); False when it is not catalogued."""
        tag = self._tag(site, item_id)
        spec = f"{pin.position}|{int(pin.until)}|{pin.section or ''}|{','.join(pin.windows)}"
        return bool(await self._pin(keys=[keys.items(tag), keys.pins(tag)], args=[item_id, spec]))

    @round_trip("catalog")
    async def unpin(self, site: str, item_id: str) -> bool:
        """Remove a story's pin; False when it had none."""
        return bool(await self.redis.hdel(keys.pins(self._tag(site, item_id)), item_id))

    @round_trip("catalog")
    async def pins(self, site: str, now: float) -> dict[str, Pin]:
        """The pins in force, by story id; expired ones are removed."""
        out: dict[str, Pin] = {}
        for tag in self.tags(site):
            stored = cast(dict[str, str], await self.redis.hgetall(keys.pins(tag)))
            expired = []
            for item_id, spec in stored.items():
                position, until, section, windows = spec.split("|")
                if float(until) <= now:
                    expired.append(item_id)
                    continue
                out[item_id] = Pin(
                    int(position), float(until), section or None, tuple(windows.split(","))
                )
            if expired:
                await self.redis.hdel(keys.pins(tag), *expired)
        return out

    @round_trip("catalog")
    async def is_catalogued(self, site: str, item_id: str) -> bool:
        tag = self._tag(site, item_id)
        return bool(await self.redis.sismember(keys.items(tag), item_id))

    @round_trip("catalog")
    async def get_item(self, site: str, item_id: str) -> dict[str, str] | None:
        fields = await self.redis.hgetall(keys.item(self._tag(site, item_id), item_id))
        return cast(dict[str, str], fields) or None

    @round_trip("catalog")
    async def delete_item(self, site: str, item_id: str, now: float) -> bool:
        """Delete an entry and all its counts; False when there was no such entry."""
        tag = self._tag(site, item_id)
        deleted = await self._delete(
            keys=[
                *self._catalog_keys(site, item_id),
                keys.flags(tag),
                keys.unrolled(tag),
                keys.published(tag),
                keys.deleted(tag),
            ],
            args=[
                item_id,
                keys.prefix(tag),
                int(now),
                *(int(r) for r in self._retention),
                *self._kept_days(site, now),
                *HELD,
            ],
        )
        return bool(deleted)

    @round_trip("catalog")
    async def set_hidden(self, site: str, item_id: str, hidden: bool) -> bool:
        """Hide or show an existing entry; False when there is no such entry."""
        tag = self._tag(site, item_id)
        found = await self._hide(
            keys=[keys.item(tag, item_id), keys.hidden(tag)],
            args=[item_id, "1" if hidden else "0"],
        )
        return bool(found)

    @round_trip("catalog")
    async def list_items(self, site: str, cursor: int, count: int) -> tuple[int, list[str]]:
        """A page of catalogued ids and the cursor of the next (0: done). With several
        shards the cursor holds the shard too (shard + shards * the shard's SSCAN cursor),
        and pages go through the shards in turn."""
        tags = self.tags(site)
        shard, position = cursor % len(tags), cursor // len(tags)
        position, ids = await self.redis.sscan(keys.items(tags[shard]), position, count=count)
        if int(position) == 0:
            shard, position = shard + 1, 0
            if shard == len(tags):
                return 0, sorted(cast(list[str], ids))
        return shard + len(tags) * int(position), sorted(cast(list[str], ids))

    @round_trip("catalog")
    async def catalog_snapshot(self, tag: str) -> tuple[int, set[str], str]:
        """(version, every catalogued id, last log entry id) of one shard (`tags`), read
        atomically."""
        reply = await self._snapshot(
            keys=[keys.meta(tag), keys.items(tag), keys.catalog_log(tag)], args=[]
        )
        return int(reply[0]), set(reply[2:]), reply[1]

    @round_trip("catalog")
    async def catalog_version(self, tag: str) -> int:
        return int(await self.redis.hget(keys.meta(tag), "catver") or 0)

    @round_trip("catalog")
    async def catalog_changes(self, tag: str, after: str) -> list[CatalogChange]:
        entries = cast(
            list[tuple[str, dict[str, Any]]],
            await self.redis.xrange(keys.catalog_log(tag), min=f"({after}", max="+"),
        )
        return [CatalogChange(sid, f["op"], f["id"], int(f["v"])) for sid, f in entries]
