"""Which ids each collector accepts views for: an in-process copy of the catalog's id sets.

Checking membership must not cost a Redis round trip per beacon, so each process keeps the
ids in memory and follows the catalog log (a capped stream of additions and deletions),
reloading everything when it has fallen behind the log's cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from ranker.store.keys import shard_of
from ranker.store.redis import Store, StoreUnavailable

log = logging.getLogger("ranker.store.catalog")


# A story catalogued through another collector is unknown here until the next refresh.
# A beacon for an id unknown here asks the store, at most once per id per LOOKUP_EVERY
# seconds (a miss is remembered that long), and at most MAX_LOOKUPS times a second in all:
# ids made up by the million cost the store no more than that.
LOOKUP_EVERY = 1.0
MAX_LOOKUPS = 200


class CatalogIndex:
    def __init__(
        self, store: Store, sites: Iterable[str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._clock = clock
        self._asked: dict[tuple[str, str], float] = {}  # misses, and when they were asked
        self._asking: dict[tuple[str, str], asyncio.Future[bool]] = {}
        self._second = 0
        self._lookups = 0
        # site -> one id set per shard; each shard has its own catalog log.
        self._shards: dict[str, list[set[str]]] = {
            site: [set() for _ in store.tags(site)] for site in sites
        }
        self._ids = {
            tag: ids
            for site, shards in self._shards.items()
            for tag, ids in zip(store.tags(site), shards, strict=True)
        }
        self._version: dict[str, int] = dict.fromkeys(self._ids, -1)
        self._cursor: dict[str, str] = dict.fromkeys(self._ids, "0-0")

    def _set(self, site: str, item_id: str) -> set[str]:
        shards = self._shards[site]
        return shards[0] if len(shards) == 1 else shards[shard_of(item_id, len(shards))]

    def has(self, site: str, item_id: str) -> bool:
        return item_id in self._set(site, item_id)

    async def look_up(self, site: str, item_id: str) -> bool:
        """Whether the store has `item_id` catalogued, for an id this process does not
        know; once found, it is known here. Beacons for one id arriving together share one
        lookup. False, without asking, within LOOKUP_EVERY of a miss or past MAX_LOOKUPS
        this second, and while the store is unreachable."""
        key = (site, item_id)
        asking = self._asking.get(key)
        if asking is not None:
            return await asyncio.shield(asking)
        now = self._clock()
        if now - self._asked.get(key, -LOOKUP_EVERY) < LOOKUP_EVERY:
            return False
        if int(now) != self._second:
            self._second, self._lookups = int(now), 0
            # Misses older than LOOKUP_EVERY will be asked again anyway: forget them.
            self._asked = {k: t for k, t in self._asked.items() if now - t < LOOKUP_EVERY}
        if self._lookups >= MAX_LOOKUPS:
            return False
        self._lookups += 1
        future = self._asking[key] = asyncio.get_running_loop().create_future()
        found = False
        try:
            found = await self._store.is_catalogued(site, item_id)
        except StoreUnavailable:
            pass
        finally:
            del self._asking[key]
            future.set_result(found)
        if found:
            self.note_added(site, item_id)
        else:
            self._asked[key] = now
        return found

    def versions(self, site: str) -> tuple[int, ...]:
        """The catalog version each of the site's shards is known here at (-1: not loaded):
        every id known here was catalogued at that version."""
        return tuple(self._version[tag] for tag in self._store.tags(site))

    def size(self, site: str) -> int:
        return sum(len(ids) for ids in self._shards[site])

    def note_added(self, site: str, item_id: str) -> None:
        """This process wrote the entry: count it at once, before the log comes round."""
        self._set(site, item_id).add(item_id)

    def note_deleted(self, site: str, item_id: str) -> None:
        self._set(site, item_id).discard(item_id)

    async def refresh(self) -> None:
        for tag in self._ids:
            await self._refresh_shard(tag)

    async def _refresh_shard(self, site: str) -> None:
        # `site` is a shard's tag (the site's name when it has one shard).
        version = await self._store.catalog_version(site)
        if version == self._version[site]:
            return
        local = self._version[site]
        changes = await self._store.catalog_changes(site, self._cursor[site]) if local >= 0 else []
        wanted = version - local
        if (
            local < 0
            or wanted < 0
            or [c.version for c in changes[:wanted]] != list(range(local + 1, version + 1))
        ):
            # First load, a reset store, or the log was trimmed past us: take it all again.
            version, ids, self._cursor[site] = await self._store.catalog_snapshot(site)
            self._version[site] = version
            self._ids[site].clear()  # in place: _shards holds the same set
            self._ids[site].update(ids)
            return
        ids = self._ids[site]
        for change in changes[:wanted]:
            if change.op == "add":
                ids.add(change.id)
            else:
                ids.discard(change.id)
            self._cursor[site] = change.stream_id
        self._version[site] = version

    async def follow(self, interval: float) -> None:
        """Refresh forever; a Redis outage only delays it."""
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(StoreUnavailable):
                await self.refresh()
