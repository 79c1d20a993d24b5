"""Prometheus metrics at /metrics: beacons by outcome, pending keys, flushes, Redis round
trips and query cache hits.

The hot paths keep plain integer counters; `Metrics.sync` moves their growth into
prometheus-client once a second, so a beacon pays nothing for being measured. With
`ranker serve --workers N` the workers share PROMETHEUS_MULTIPROC_DIR (set up by
`ranker.runtime.serve`) and any worker's /metrics answers for all of them.
"""

from __future__ import annotations

import asyncio
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from ranker.core.aggregate import Aggregator
from ranker.http.alerts import Alerter
from ranker.http.purge import Purger
from ranker.http.query import TopCache
from ranker.store.flusher import Flusher
from ranker.store.redis import Store

SYNC_EVERY = 1.0  # seconds

BEACONS = Counter(
    "ranker_beacons",
    "Beacons received, by site and outcome: counted, or why not (site '' when unknown)",
    ["site", "outcome"],
)
PENDING_KEYS = Gauge(
    "ranker_pending_keys",
    "Distinct (story, minute) pairs waiting to be written to Redis",
    multiprocess_mode="livesum",
)
PENDING_VIEWS = Gauge(
    "ranker_pending_views", "Views waiting to be written to Redis", multiprocess_mode="livesum"
)
FLUSH_LAG = Gauge(
    "ranker_flush_lag_seconds",
    "Seconds since everything accepted was last written (0 when nothing waits)",
    multiprocess_mode="livemax",
)
FLUSH_SECONDS = Histogram(
    "ranker_flush_seconds",
    "Time to write one site's batch to Redis",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
FLUSH_FAILURES = Counter("ranker_flush_failures", "Flush attempts that failed (and are retried)")
VIEWS_WRITTEN = Counter("ranker_views_written", "Views written to Redis")
VIEWS_DROPPED = Counter("ranker_views_dropped", "Views of stories deleted before they were written")
REDIS_ROUND_TRIPS = Counter(
    "ranker_redis_round_trips", "Round trips to Redis, by what they were for", ["purpose"]
)
PURGES = Counter(
    "ranker_purges",
    "CDN purges by site, hook and outcome: sent, failed (after every retry) or retried",
    ["site", "hook", "outcome"],
)
ALERTS = Counter(
    "ranker_alerts",
    "Alerts delivered by this process, by site, hook, kind and outcome: sent, failed (after "
    "every retry) or retried",
    ["site", "hook", "kind", "outcome"],
)
FEED_POLLS = Counter(
    "ranker_feed_polls",
    "Polls of configured feeds by site, feed and outcome: changed (entries written), "
    "unchanged (read, nothing new), not_modified (the same documents) or failed",
    ["site", "feed", "outcome"],
)
FEED_ITEMS = Counter(
    "ranker_feed_items",
    "Items of feeds read anew, by site, feed and what became of them: added, updated, "
    "unchanged, deleted (an editor deleted the story: left out) or errors (no valid entry)",
    ["site", "feed", "result"],
)
QUERY_CACHE = Counter(
    "ranker_query_cache", "Lists asked for, by whether the in-process cache had them", ["result"]
)


class Metrics:
    """Moves what the collector, flusher, store and cache counted into the metrics."""

    def __init__(
        self,
        aggregator: Aggregator,
        flusher: Flusher,
        store: Store,
        cache: TopCache,
        purger: Purger | None = None,
        alerter: Alerter | None = None,
    ) -> None:
        self._aggregator = aggregator
        self._purger = purger
        self._alerter = alerter
        self._flusher = flusher
        self._store = store
        self._cache = cache
        self._seen: dict[tuple[str, ...], int] = {}

    def _add(self, counter: Counter, key: tuple[str, ...], total: int) -> None:
        growth = total - self._seen.get(key, 0)
        if growth > 0:
            (counter.labels(*key[1:]) if len(key) > 1 else counter).inc(growth)
            self._seen[key] = total

    def sync(self) -> None:
        aggregator, flusher = self._aggregator, self._flusher
        for site, counted in aggregator.counted.items():
            self._add(BEACONS, ("beacons", site, "counted"), counted)
        for (site, reason), n in list(aggregator.filtered.items()):
            self._add(BEACONS, ("beacons", site, reason), n)
        for purpose, n in list(self._store.round_trips.items()):
            self._add(REDIS_ROUND_TRIPS, ("trips", purpose), n)
        self._add(QUERY_CACHE, ("cache", "hit"), self._cache.hits)
        self._add(QUERY_CACHE, ("cache", "miss"), self._cache.misses)
        self._add(FLUSH_FAILURES, ("failures",), flusher.failed_flushes)
        self._sync_hooks()
        self._add(VIEWS_WRITTEN, ("written",), flusher.flushed_views)
        self._add(VIEWS_DROPPED, ("dropped",), flusher.dropped_views)
        durations, flusher.flush_seconds = flusher.flush_seconds, []
        for seconds in durations:
            FLUSH_SECONDS.observe(seconds)
        PENDING_KEYS.set(flusher.pending_keys)
        PENDING_VIEWS.set(flusher.pending_views)
        FLUSH_LAG.set(flusher.lag())

    def _sync_hooks(self) -> None:
        """The CDN purges' and the alerts' outcomes, per hook."""
        if self._purger is not None:
            for site, hooks in self._purger.status.items():
                for hook, status in hooks.items():
                    for outcome in ("sent", "failed", "retried"):
                        key = ("purges", site, hook, outcome)
                        self._add(PURGES, key, getattr(status, outcome))
        if self._alerter is not None:
            for site, per_hook in self._alerter.counts.items():
                for hook_name, kinds in per_hook.items():
                    for kind, counts in kinds.items():
                        for outcome in ("sent", "failed", "retried"):
                            labels = ("alerts", site, hook_name, kind, outcome)
                            self._add(ALERTS, labels, getattr(counts, outcome))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SYNC_EVERY)
            self.sync()


def registry() -> CollectorRegistry:
    """This process's metrics, or every worker's when they share a multiprocess directory."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
    return combined


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST
