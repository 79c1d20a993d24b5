"""Feed sync (`[[sites.NAME.feeds]]`): each feed is polled once per its `every` by one
collector, whichever claims it first (Store.feed_claim), however many processes share the
store. A pass reads only the documents that changed (ranker.http.feedfetch) and writes its
entries as a feed writes them (Store.sync_items): a story an editor deleted stays deleted,
a takedown stays, an entry stored as it is already is not written, so an unchanged feed
changes nothing and purges nothing. The status of each feed is kept with it in Redis, so
any collector can show it (`GET /v1/sites/{site}/feeds`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from ranker.core.config import Settings
from ranker.core.feedread import FeedError
from ranker.core.feeds import Feed
from ranker.http.feedfetch import (
    AddressCheck,
    Collected,
    FetchError,
    address_check,
    collect,
    refusal,
    session,
)
from ranker.http.metrics import FEED_ITEMS, FEED_POLLS
from ranker.http.purge import Purger, changed
from ranker.http.query import TopCache
from ranker.store.catalog import CatalogIndex
from ranker.store.redis import Store, StoreUnavailable

log = logging.getLogger("ranker.feeds")

CONCURRENCY: Final = 4  # feeds polled at once by one collector
# Seconds a collector waits between looks at its feeds' due times: no more than MAX_SLEEP,
# so it notices soon when another collector that claimed a poll is gone.
MIN_SLEEP, MAX_SLEEP = 0.5, 5.0
WRITE_BATCH: Final = 200  # entries written in one round trip
MAX_SKIPPED: Final = 20  # reasons an item was skipped kept per feed for editors
OUTCOMES: Final = ("changed", "unchanged", "not_modified", "failed")


@dataclass(slots=True)
class Applied:
    """The ids of a pass's entries by what became of them."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # by an editor: left out


async def apply(
    store: Store,
    catalog: CatalogIndex,
    cache: TopCache,
    purger: Purger,
    site: str,
    entries: Iterable[tuple[str, dict[str, str]]],
) -> Applied:
    """Write a feed's entries (Store.sync_items), then tell what lists show: this process
    counts new stories at once, and the CDN drops its copies of changed ones."""
    done = Applied()
    pending = list(entries)
    for start in range(0, len(pending), WRITE_BATCH):
        batch = pending[start : start + WRITE_BATCH]
        outcomes = await store.sync_items(site, batch)
        for (item_id, _), outcome in zip(batch, outcomes, strict=True):
            getattr(done, outcome).append(item_id)
    for item_id in done.added:
        catalog.note_added(site, item_id)
    if done.added or done.updated:
        cache.forget(site)
    changed(purger, site, done.updated, reason="feed")
    return done


@dataclass(frozen=True, slots=True)
class Pass:
    """One poll of a feed, as tests and logs see it."""

    site: str
    feed: str
    outcome: str  # one of OUTCOMES
    applied: Applied
    collected: Collected | None = None
    error: str = ""


class FeedSync:
    """Polls the configured feeds (`run`); `bind` gives it the store and what it tells."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float],
        check: AddressCheck = refusal,
        background: bool = True,
    ) -> None:
        self.feeds = [(name, f) for name, site in settings.sites.items() for f in site.feeds]
        # False: polls only when asked (poll_due), for tests that drive the clock.
        self.background = background and bool(self.feeds)
        self._clock = clock
        self._check = check  # what a feed on the public internet may be fetched from
        self._due: dict[tuple[str, str], float] = {}  # when each feed's next poll is due
        self._lock = asyncio.Lock()  # one round at a time in this process
        self._parts: tuple[Store, CatalogIndex, TopCache, Purger] | None = None

    def bind(self, store: Store, catalog: CatalogIndex, cache: TopCache, purger: Purger) -> None:
        self._parts = (store, catalog, cache, purger)

    async def run(self) -> None:
        while True:
            try:
                await self.poll_due()
            except StoreUnavailable as e:
                log.warning("feed sync waits for the store: %s", e)
            except Exception:  # a bug in one pass must not end the sync for good
                log.exception("feed sync failed")
            await asyncio.sleep(self._pause())

    def _pause(self) -> float:
        now = self._clock()
        due = min(self._due.values(), default=now)
        return min(max(due - now, MIN_SLEEP), MAX_SLEEP)

    async def poll_due(self) -> list[Pass]:
        """Poll the feeds that are due and that this collector claims first."""
        assert self._parts is not None, "bind() first"
        store = self._parts[0]
        async with self._lock:
            now = self._clock()
            claimed = []
            for site, feed in self.feeds:
                if self._due.get((site, feed.name), 0.0) > now:
                    continue
                mine, due = await store.feed_claim(site, feed.name, now, feed.every)
                self._due[(site, feed.name)] = due
                if mine:
                    claimed.append((site, feed))
            slots = asyncio.Semaphore(CONCURRENCY)

            async def one(site: str, feed: Feed) -> Pass:
                async with slots:
                    return await self.poll(site, feed)

            return list(await asyncio.gather(*(one(site, feed) for site, feed in claimed)))

    async def poll(self, site: str, feed: Feed) -> Pass:
        """One pass over a feed, whether due or not; its status saved with it."""
        assert self._parts is not None, "bind() first"
        store = self._parts[0]
        now = self._clock()
        state = (await store.feed_states(site, [feed.name]))[0]
        seen = orjson.loads(state.get("documents") or "{}")
        check = address_check(feed, self._check)
        try:
            async with session(check) as client:
                collected = await collect(client, feed, seen, check)
        except (FetchError, FeedError) as e:
            error = str(e)
            log.warning("feed %s of %s not read: %s", feed.name, site, error)
            fields = {"attempt_at": now, "outcome": "failed", "error": error, "error_at": now}
            await store.feed_save(site, feed.name, fields, {"failures": 1})
            FEED_POLLS.labels(site, feed.name, "failed").inc()
            return Pass(site, feed.name, "failed", Applied(), error=error)
        applied = Applied()
        if collected.changed:
            applied = await apply(*self._parts, site, collected.entries.items())
        outcome = "not_modified"
        if collected.changed:
            outcome = "changed" if applied.added or applied.updated else "unchanged"
        counts = _counts(collected, applied)
        totals = {f"total_{k}": counts[k] for k in ("added", "updated", "errors")}
        await store.feed_save(site, feed.name, _status(now, outcome, collected, applied), totals)
        FEED_POLLS.labels(site, feed.name, outcome).inc()
        for result, n in counts.items():
            if n and result != "seen":
                FEED_ITEMS.labels(site, feed.name, result).inc(n)
        if applied.added or applied.updated:
            log.info(
                "feed %s of %s: %d added, %d updated",
                feed.name,
                site,
                len(applied.added),
                len(applied.updated),
            )
        return Pass(site, feed.name, outcome, applied, collected)


def _counts(collected: Collected, applied: Applied) -> dict[str, int]:
    return {
        "seen": collected.seen,
        "added": len(applied.added),
        "updated": len(applied.updated),
        "unchanged": len(applied.unchanged),
        "deleted": len(applied.deleted),
        "errors": len(collected.skipped),
    }


def _status(now: float, outcome: str, collected: Collected, applied: Applied) -> dict[str, Any]:
    """The fields of a feed's hash a successful pass sets: what it read is kept only when
    it read something anew, so the status says what the feed last brought."""
    fields: dict[str, Any] = {
        "attempt_at": now,
        "success_at": now,
        "outcome": outcome,
        "failures": 0,
        "documents": orjson.dumps(collected.documents).decode(),
    }
    if collected.changed:
        skipped = [{"item": what, "reason": why} for what, why in collected.skipped]
        fields.update(_counts(collected, applied))
        fields["kind"] = collected.kind
        fields["read_at"] = now
        fields["reasons"] = orjson.dumps(skipped[:MAX_SKIPPED]).decode()
    return fields
