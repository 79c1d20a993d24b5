"""The only module that speaks Redis: rankings, buckets, catalog. Key names come from `keys`."""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import RedisClusterException, RedisError

from ranker import keys
from ranker.aggregate import Batch
from ranker.config import Settings
from ranker.windows import window_buckets

AnyRedis = Redis | RedisCluster
# What a store outage looks like to callers that retry (RedisClusterException, e.g. "no
# node for this slot", is not a RedisError).
STORE_ERRORS = (RedisError, RedisClusterException, OSError)

FLUSH_MARKER_TTL = 86400  # a retried batch is recognised for a day
SALT_TTL = 2 * 86400  # a day's salt outlives its day by one day, then is gone
FLUSH_CHUNK = 300  # items per flush script: ~3,600 Redis calls, a few milliseconds


# A hot-ranking member whose decayed count falls below this leaves the ranking at the next
# rebase: a single view 20 half-lives ago.
PRUNE_BELOW = 1e-6


Row = tuple[str, float, bool, list[tuple[int, int]]]


def _flat_rows(rows: list[Row]) -> list[str | int]:
    """Batch rows as the flush script reads them: id, weight, signed, k, then k (minute,
    views)."""
    flat: list[str | int] = []
    for item_id, w, signed, minutes in rows:
        flat += (item_id, repr(w), int(signed), len(minutes))
        for minute, views in minutes:
            flat += (minute, views)
    return flat


def _reasons(batch: Batch) -> list[str | int]:
    flat: list[str | int] = [len(batch.filtered)]
    for reason, count in batch.filtered.items():
        flat += (reason, count)
    return flat


S = TypeVar("S", bound="Store")
P = ParamSpec("P")
R = TypeVar("R")
Method = Callable[Concatenate[S, P], Coroutine[Any, Any, R]]


def _round_trip(purpose: str) -> Callable[[Method[S, P, R]], Method[S, P, R]]:
    """Count calls of a store method (one round trip each) under `purpose`, for metrics."""

    def wrap(method: Method[S, P, R]) -> Method[S, P, R]:
        @functools.wraps(method)
        async def counted(store: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            store.round_trips[purpose] = store.round_trips.get(purpose, 0) + 1
            return await method(store, *args, **kwargs)

        return cast(Method[S, P, R], counted)

    return wrap


def _lua(name: str) -> str:
    return files("ranker").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


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
        self._rebase_after = settings.rebase_after
        self._flush = self._script("lib_rebase", "flush")
        self._rebase = self._script("lib_rebase", "rebase")
        self._maintain = self._script("lib_rebase", "maintain")
        self._hot_max = settings.hot_max
        self._owner = secrets.token_hex(8)
        self._top = self._script("top")
        self._put = self._script("catalog_put")
        self._delete = self._script("catalog_delete")
        self._hide = self._script("catalog_hide")
        self._rising = self._script("rising")
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

    def _script(self, *names: str) -> AsyncScript:
        """One script from the named files, concatenated (a library, then the body)."""
        return self.redis.register_script("\n".join(_lua(name) for name in names))

    # -- rankings -----------------------------------------------------------------------

    @_round_trip("flush")
    async def flush(self, batch: Batch, batch_id: str) -> tuple[bool, int]:
        """Apply a batch at most once (retries with the same id are no-ops).

        The batch goes as a pipeline of scripts of at most FLUSH_CHUNK items each, so no
        single script keeps Redis from answering queries for long; each chunk is marked
        applied on its own, so a retry after a partial failure applies only the rest.
        Returns whether this call applied anything, and how many views it dropped because
        their item was deleted meanwhile.
        """
        site = batch.site
        rows = batch.rows()
        chunks = [rows[i : i + FLUSH_CHUNK] for i in range(0, len(rows), FLUSH_CHUNK)] or [[]]
        replies = await self._run_all(
            self._flush,
            [
                (
                    [keys.meta(site), keys.flushed(site, f"{batch_id}.{n}"), keys.scopes(site)],
                    [
                        repr(batch.ref),
                        repr(batch.half_life),
                        keys.prefix(site),
                        *(int(r) for r in self._retention),
                        FLUSH_MARKER_TTL,
                        repr(self._rebase_after),
                        repr(PRUNE_BELOW),
                        *(_reasons(batch) if n == 0 else [0]),
                        *_flat_rows(chunk),
                    ],
                )
                for n, chunk in enumerate(chunks)
            ],
        )
        applied = any(int(r[0]) for r in replies)
        return applied, sum(int(r[1]) for r in replies)

    @_round_trip("maintenance")
    async def maintain(
        self, site: str, now: float, half_life: float, period: float
    ) -> tuple[bool, int, int]:
        """A site's upkeep (maintain.lua), unless another collector did it within `period`
        seconds: (done here, hot members pruned, hot members trimmed)."""
        reply = await self._maintain(
            keys=[keys.meta(site), keys.scopes(site), keys.maintenance_lock(site)],
            args=[
                int(now),
                repr(half_life),
                keys.prefix(site),
                repr(self._rebase_after),
                repr(PRUNE_BELOW),
                self._hot_max,
                int(period * 1000),
                self._owner,
            ],
        )
        return bool(reply[0]), int(reply[1]), int(reply[2])

    @_round_trip("maintenance")
    async def rebase(
        self,
        site: str,
        new_landmark: int,
        half_life: float,
        min_move: float,
        prune: float = PRUNE_BELOW,
    ) -> float:
        """Move the landmark to `new_landmark` if it lags by `min_move` s; the landmark after."""
        landmark = await self._rebase(
            keys=[keys.meta(site), keys.scopes(site)],
            args=[new_landmark, repr(half_life), keys.prefix(site), repr(min_move), repr(prune)],
        )
        return float(landmark)

    @_round_trip("query")
    async def landmark(self, site: str) -> float | None:
        value = await self.redis.hget(keys.meta(site), "landmark")
        return None if value is None else float(value)

    @_round_trip("query")
    async def top(
        self, site: str, section: str | None, window: str, n: int, now: float, max_scan: int
    ) -> tuple[float | None, list[Ranked]]:
        """The top `n` visible items of a window (ties by id), and the landmark for `hot`."""
        scope = section or "all"
        ranking_keys = [keys.meta(site)]
        if window == "hot":
            ranking_keys.append(keys.hot(site, scope))
        elif window == "all":
            ranking_keys.append(keys.total(site, scope))
        else:
            resolution, starts = window_buckets(window, now)
            ranking_keys.append(keys.window(site, scope, window, starts[0]))
            ranking_keys += [keys.bucket(site, scope, resolution, s) for s in starts]
        reply = await self._top(
            keys=ranking_keys,
            args=[n, keys.prefix(site), section or "", self._union_ttl_ms, max_scan],
        )
        landmark = None if reply[0] is None else float(reply[0])
        rows = [Ranked(r[0], float(r[1]), *r[2:8]) for r in reply[1:]]
        rows.sort(key=lambda r: (-r.score, r.id))
        return landmark, rows[:n]

    @_round_trip("query")
    async def series(
        self, site: str, ids: list[str], resolution: str, starts: list[int], scope: str = "all"
    ) -> dict[str, list[int]]:
        """Views per bucket for each id, in the order of `starts`."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in starts:
                pipe.zmscore(keys.bucket(site, scope, resolution, start), ids)
            replies = await pipe.execute()
        return {item_id: [int(reply[i] or 0) for reply in replies] for i, item_id in enumerate(ids)}

    @_round_trip("query")
    async def rising_candidates(
        self,
        site: str,
        section: str | None,
        short: list[int],
        baseline: list[int],
        min_views: int,
        limit: int = 500,
    ) -> list[tuple[str, int, int, str, str, str]]:
        """(id, short-window views, baseline views, title, url, section) of visible ids with
        at least `min_views` in the short window."""
        scope = section or "all"
        reply = await self._rising(
            keys=[
                keys.rising_tmp(site, scope, "short"),
                keys.rising_tmp(site, scope, "baseline"),
                *(keys.bucket(site, scope, "minute", s) for s in short),
                *(keys.bucket(site, scope, "minute", s) for s in baseline),
            ],
            args=[len(short), min_views, keys.prefix(site), section or "", limit],
        )
        return [(r[0], int(float(r[1])), int(float(r[2])), r[3], r[4], r[5]) for r in reply]

    @_round_trip("query")
    async def sections(self, site: str) -> list[str]:
        return sorted(cast(set[str], await self.redis.smembers(keys.scopes(site))))

    @_round_trip("query")
    async def hidden_items(self, site: str, limit: int = 500) -> list[tuple[str, dict[str, str]]]:
        ids = sorted(cast(set[str], await self.redis.smembers(keys.hidden(site))))[:limit]
        async with self.redis.pipeline(transaction=False) as pipe:
            for item_id in ids:
                pipe.hgetall(keys.item(site, item_id))
            entries = await pipe.execute()
        return [(i, e) for i, e in zip(ids, entries, strict=True) if e]

    @_round_trip("query")
    async def total(self, site: str, item_id: str, scope: str = "all") -> float:
        return await self.redis.zscore(keys.total(site, scope), item_id) or 0.0

    @_round_trip("query")
    async def beacons(self, site: str, days: list[int]) -> list[dict[str, int]]:
        """For each UTC day start in `days`: views counted, and beacons not counted by reason."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(keys.beacons(site, day))
            replies = await pipe.execute()
        return [{reason: int(n) for reason, n in reply.items()} for reply in replies]

    @_round_trip("ping")
    async def ping(self) -> None:
        await self.redis.ping()

    @_round_trip("salt")
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
        return [
            keys.item(site, item_id),
            keys.items(site),
            keys.meta(site),
            keys.catalog_log(site),
            keys.hidden(site),
        ]

    @_round_trip("catalog")
    async def put_items(self, site: str, entries: Iterable[tuple[str, Mapping[str, str]]]) -> int:
        """Create or replace catalog entries in one pipeline; the number that were new."""
        replies = await self._run_all(
            self._put,
            [
                (self._catalog_keys(site, item_id), [item_id, *(v for kv in f.items() for v in kv)])
                for item_id, f in entries
            ],
        )
        return sum(int(r) for r in replies)

    @_round_trip("catalog")
    async def get_item(self, site: str, item_id: str) -> dict[str, str] | None:
        fields = await self.redis.hgetall(keys.item(site, item_id))
        return cast(dict[str, str], fields) or None

    @_round_trip("catalog")
    async def delete_item(self, site: str, item_id: str, now: float) -> bool:
        """Delete an entry and all its counts; False when there was no such entry."""
        deleted = await self._delete(
            keys=[*self._catalog_keys(site, item_id), keys.scopes(site)],
            args=[item_id, keys.prefix(site), int(now), *(int(r) for r in self._retention)],
        )
        return bool(deleted)

    @_round_trip("catalog")
    async def set_hidden(self, site: str, item_id: str, hidden: bool) -> bool:
        """Hide or show an existing entry; False when there is no such entry."""
        found = await self._hide(
            keys=[keys.item(site, item_id), keys.hidden(site)],
            args=[item_id, "1" if hidden else "0"],
        )
        return bool(found)

    @_round_trip("catalog")
    async def list_items(self, site: str, cursor: int, count: int) -> tuple[int, list[str]]:
        next_cursor, ids = await self.redis.sscan(keys.items(site), cursor, count=count)
        return int(next_cursor), sorted(cast(list[str], ids))

    @_round_trip("catalog")
    async def catalog_snapshot(self, site: str) -> tuple[int, set[str], str]:
        """(version, every catalogued id, last log entry id), read atomically."""
        reply = await self._snapshot(
            keys=[keys.meta(site), keys.items(site), keys.catalog_log(site)], args=[]
        )
        return int(reply[0]), set(reply[2:]), reply[1]

    @_round_trip("catalog")
    async def catalog_version(self, site: str) -> int:
        return int(await self.redis.hget(keys.meta(site), "catver") or 0)

    @_round_trip("catalog")
    async def catalog_changes(self, site: str, after: str) -> list[CatalogChange]:
        entries = cast(
            list[tuple[str, dict[str, Any]]],
            await self.redis.xrange(keys.catalog_log(site), min=f"({after}", max="+"),
        )
        return [CatalogChange(sid, f["op"], f["id"], int(f["v"])) for sid, f in entries]
