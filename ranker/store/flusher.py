"""Writes aggregated views to Redis every flush interval, exactly once, through outages.

Each site has at most one batch in flight. A batch that failed is resent unchanged under
the same id (the flush script ignores an id it has applied), so an ambiguous failure can
never count twice; meanwhile new views keep aggregating in memory, which grows with
distinct (item, minute) pairs, not with events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import time

from ranker.core.aggregate import Aggregator, Batch
from ranker.store.redis import Store, StoreUnavailable

log = logging.getLogger("ranker.store.flusher")

MAX_BACKOFF = 5.0


class Flusher:
    def __init__(
        self,
        store: Store,
        aggregator: Aggregator,
        *,
        interval: float,
        max_pending: int,
    ) -> None:
        self._store = store
        self._aggregator = aggregator
        self._interval = interval
        self._max_pending = max_pending
        self._in_flight: dict[str, tuple[str, Batch]] = {}
        self._in_flight_keys = 0  # kept with _in_flight: `full` is asked on every beacon
        self._ids = (f"{secrets.token_hex(6)}-{n}" for n in itertools.count())
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one flush at a time: the tick, a nudge or shutdown
        self.flushed_views = 0  # views this process has written
        self.dropped_views = 0  # views of items deleted before they were written
        self.failures = 0  # consecutive failed flushes
        self.failed_flushes = 0  # all failed attempts since start
        self.flush_seconds: list[float] = []  # durations of written batches, for metrics
        # When everything accepted was last known written (monotonic): the flush lag.
        self.caught_up_at = time.monotonic()

    @property
    def pending_keys(self) -> int:
        return self._aggregator.pending_keys + self._in_flight_keys

    @property
    def pending_views(self) -> int:
        return self._aggregator.pending_views + sum(b.views for _, b in self._in_flight.values())

    @property
    def full(self) -> bool:
        """Past the hard cap: new views must be refused rather than risk memory."""
        return self.pending_keys >= self._max_pending

    def nudge(self) -> None:
        """Flush now instead of at the next tick (a large batch is waiting)."""
        self._wake.set()

    async def flush(self) -> bool:
        """Write every site's waiting views; True when nothing is left unwritten."""
        async with self._lock:
            return await self._flush_all()

    async def _flush_all(self) -> bool:
        ok = True
        for site in dict.fromkeys([*self._in_flight, *self._aggregator.sites()]):
            if site in self._in_flight and not await self._send(site):
                ok = False
                continue
            batch = self._aggregator.take(site)
            if batch is not None:
                self._in_flight[site] = (next(self._ids), batch)
                self._in_flight_keys += batch.keys
                ok = await self._send(site) and ok
        self.failures = 0 if ok else self.failures + 1
        if ok:
            self.caught_up_at = time.monotonic()
        return ok

    async def _send(self, site: str) -> bool:
        batch_id, batch = self._in_flight[site]
        started = time.monotonic()
        try:
            _, dropped = await self._store.flush(batch, batch_id)
        except StoreUnavailable as e:
            self.failed_flushes += 1
            if self.failures == 0:
                log.warning("flush of %s failed, will retry: %s", site, e)
            return False
        if len(self.flush_seconds) < 10_000:  # taken by the metrics every second
            self.flush_seconds.append(time.monotonic() - started)
        del self._in_flight[site]
        self._in_flight_keys -= batch.keys
        # Written now or by an earlier attempt whose reply was lost: only this process uses
        # the batch's id. (Views dropped by a lost reply's chunks are counted as written.)
        self.flushed_views += batch.views - dropped
        self.dropped_views += dropped
        return True

    def lag(self) -> float:
        """Seconds since everything accepted was last written; 0 when nothing waits."""
        if not self._in_flight and not self._aggregator.sites():
            return 0.0
        return time.monotonic() - self.caught_up_at

    async def run(self) -> None:
        delay = self._interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            ok = await self.flush()
            # Backoff with jitter, so collectors that lost Redis together do not return
            # in step.
            backoff = min(max(delay, self._interval) * 2, MAX_BACKOFF)
            delay = self._interval if ok else backoff * random.uniform(0.5, 1.0)

    async def drain(self, timeout: float) -> bool:
        """At shutdown: keep flushing until everything is written or `timeout` runs out."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while not await self.flush():
            if time.monotonic() + delay > deadline:
                log.error("shutting down with %d views unwritten", self.pending_views)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        return True
