"""`create_app(settings)`: the aiohttp application, its routes and the resources it owns."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from ranker.core.aggregate import Aggregator
from ranker.core.config import Settings
from ranker.core.limits import AddressLimit
from ranker.http import assets, catalog, routes
from ranker.http.admission import Admission
from ranker.http.alerts import Alerter
from ranker.http.appkeys import (
    ADDRESS_LIMIT,
    ADMISSION,
    AGGREGATOR,
    ALERTER,
    CATALOG,
    CLOCK,
    FEEDS,
    FLUSHER,
    METRICS,
    PURGER,
    REDIS_URL,
    SETTINGS,
    STORE,
    TOP_CACHE,
    Plugin,
)
from ranker.http.connections import guard, unmatched
from ranker.http.feedsync import FeedSync
from ranker.http.metrics import Metrics
from ranker.http.purge import Purger
from ranker.http.query import TopCache, cache_control
from ranker.store.catalog import CatalogIndex
from ranker.store.engine import EmbeddedEngine
from ranker.store.flusher import Flusher
from ranker.store.keys import LAYOUT
from ranker.store.purges import PurgeLog
from ranker.store.redis import Store, StoreUnavailable

log = logging.getLogger("ranker")

DRAIN_TIMEOUT = 10.0
STORE_RETRIES = 3
PURGE_DRAIN = 5.0  # seconds waiting purges get at shutdown
SALT_CHECK = 60.0  # seconds between looks at the clock for a new day's salt


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel a background loop and wait until it has ended.

    One cancel is not always enough on Python 3.11: a cancel that lands just as an
    `asyncio.wait_for` inside redis-py completes is swallowed (CPython gh-86296), and the
    loop would go on forever, so shutdown would hang. Cancel again until it is done.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the embedded engine unless a REDIS_URL was given."""
    settings = app[SETTINGS]
    if settings.redis_url:
        app[REDIS_URL] = settings.redis_url
        yield
        return
    engine = EmbeddedEngine(settings.data_dir)
    # Started from the loop's own thread (see engine._die_with_parent): a short block at
    # start-up, before anything is served.
    app[REDIS_URL] = engine.start()
    log.info("embedded engine on %s, data in %s", app[REDIS_URL], settings.data_dir)
    try:
        yield
    finally:
        engine.stop()


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        # A pooled connection that died with a restarted engine fails its first command:
        # that is retried at once on a new connection (and twice more, 10-40 ms apart),
        # so callers see an outage, never a restart. Idle connections are checked first.
        "retry": Retry(ExponentialWithJitterBackoff(cap=0.1, base=0.01), STORE_RETRIES),
        "retry_on_error": [redis_errors.ConnectionError, redis_errors.TimeoutError],
        "health_check_interval": 10,
    }
    redis: Redis | RedisCluster = (
        RedisCluster.from_url(app[REDIS_URL], **options)
        if app[SETTINGS].redis_cluster
        else Redis.from_url(app[REDIS_URL], **options)
    )
    try:
        await redis.ping()
        store = app[STORE] = Store(redis, app[SETTINGS])
        for site in app[SETTINGS].sites:
            # Data an earlier release wrote is brought to this one's layout before serving.
            done = await store.migrate(site, app[CLOCK]())
            if done["shards"]:
                log.info("data of %s migrated to layout %d: %s", site, LAYOUT, done)
        yield
    finally:
        await redis.aclose()


async def catalog_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    index = app[CATALOG] = CatalogIndex(app[STORE], settings.sites)
    await index.refresh()
    task = asyncio.create_task(index.follow(settings.catalog_refresh))
    yield
    await stop(task)


async def admission_ctx(app: web.Application) -> AsyncIterator[None]:
    """The beacon filters, and the day's visitor salt: read at start, then each new day."""
    admission = app[ADMISSION] = Admission(app[SETTINGS], app[CATALOG], app.get(ADDRESS_LIMIT))
    store, clock = app[STORE], app[CLOCK]
    await admission.refresh_salt(store, clock())

    async def follow_days() -> None:
        while True:
            await asyncio.sleep(SALT_CHECK)
            try:
                await admission.refresh_salt(store, clock())
            except StoreUnavailable as e:  # keep the last salt until Redis answers
                log.warning("cannot read the day's visitor salt: %s", e)

    task = asyncio.create_task(follow_days())
    yield
    await stop(task)


async def flusher_ctx(app: web.Application) -> AsyncIterator[None]:
    """Flush every interval; at shutdown, write what is left before Redis goes away."""
    settings = app[SETTINGS]
    half_lives = {name: site.half_life for name, site in settings.sites.items()}
    aggregator = app[AGGREGATOR] = Aggregator(
        half_lives, settings.rising_min_networks, app[CATALOG].versions
    )
    flusher = app[FLUSHER] = Flusher(
        app[STORE],
        aggregator,
        interval=settings.flush_interval,
        max_pending=settings.max_pending,
    )
    task = asyncio.create_task(flusher.run())
    yield
    await stop(task)
    await flusher.drain(DRAIN_TIMEOUT)


async def maintenance_ctx(app: web.Application) -> AsyncIterator[None]:
    """Every interval, each site's upkeep: done by one collector, whichever locks it first."""
    settings, store, clock = app[SETTINGS], app[STORE], app[CLOCK]

    async def run() -> None:
        while True:
            await asyncio.sleep(settings.maintenance_interval)
            for name, site in settings.sites.items():
                try:
                    done, pruned, trimmed, _ = await store.maintain(
                        name, clock(), site.half_life, settings.maintenance_interval
                    )
                except StoreUnavailable as e:
                    log.warning("upkeep of %s failed, will retry: %s", name, e)
                    continue
                if pruned or trimmed:
                    log.info("upkeep of %s: %d pruned, %d trimmed", name, pruned, trimmed)

    task = asyncio.create_task(run())
    yield
    await stop(task)


async def feeds_ctx(app: web.Application) -> AsyncIterator[None]:
    """The sites' feeds and sitemaps, each polled by one collector (whichever claims it
    first) into the catalog."""
    sync = app[FEEDS] = app.get(FEEDS) or FeedSync(app[SETTINGS], app[CLOCK])
    sync.bind(app[STORE], app[CATALOG], app[TOP_CACHE], app[PURGER])
    task = asyncio.create_task(sync.run()) if sync.background else None
    yield
    if task is not None:
        await stop(task)


async def purger_ctx(app: web.Application) -> AsyncIterator[None]:
    """The sites' CDN purges, sent in the background; at shutdown, those waiting get a few
    seconds to go out."""
    purger = app[PURGER]
    purger.keep_in(PurgeLog(app[STORE]))
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(purger.run(session))
        yield
        await purger.settle(PURGE_DRAIN)
        await stop(task)
        await purger.cancel()


async def alerts_ctx(app: web.Application) -> AsyncIterator[None]:
    """The sites' alerts, looked for and sent by whichever collector holds each site's
    alert lock; at shutdown the lock is let go, so another collector goes on at once."""
    alerter = app[ALERTER] = Alerter(app[SETTINGS], app[STORE], app[CLOCK])
    if not alerter.sites:
        yield
        return
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(alerter.run(session))
        yield
        await stop(task)
        await alerter.release()


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Move the collector's counters into the Prometheus metrics every second."""
    metrics = app[METRICS] = Metrics(
        app[AGGREGATOR], app[FLUSHER], app[STORE], app[TOP_CACHE], app[PURGER], app[ALERTER]
    )
    task = asyncio.create_task(metrics.run())
    yield
    await stop(task)


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    address_limit: AddressLimit | None = None,
    plugins: Sequence[Plugin] = (),
) -> web.Application:
    """The application; `address_limit` is the per-address limit when processes share one
    (else each app makes its own); `plugins` add to it (the demo's page and readers)."""
    # No middlewares: each route is guarded on its own (connections.guard), so a beacon
    # pays for no chain of them.
    app = web.Application(client_max_size=catalog.MAX_IMPORT_BYTES)
    app[SETTINGS] = settings
    if address_limit is not None:
        app[ADDRESS_LIMIT] = address_limit
    app[CLOCK] = clock
    app[TOP_CACHE] = TopCache(settings.cache_ttl, clock, cache_control(settings))
    app[PURGER] = Purger(settings.sites)
    app.cleanup_ctx.extend(
        [
            engine_ctx,
            store_ctx,
            catalog_ctx,
            admission_ctx,
            flusher_ctx,
            maintenance_ctx,
            feeds_ctx,
            purger_ctx,
            alerts_ctx,
            metrics_ctx,
        ]
    )
    routes.add_routes(app.router)
    assets.add_routes(app.router)
    for plugin in plugins:
        plugin(app)
    app.router.add_route("*", r"/{path:[\s\S]*}", guard(unmatched))  # last: what no route answers
    return app
