"""Application state, all of it under typed `web.AppKey`s declared in one place."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ranker.core.aggregate import Aggregator
from ranker.core.config import Settings
from ranker.core.limits import AddressLimit
from ranker.http.admission import Admission
from ranker.http.alerts import Alerter
from ranker.http.feedsync import FeedSync
from ranker.http.metrics import Metrics
from ranker.http.purge import Purger
from ranker.http.query import TopCache
from ranker.store.catalog import CatalogIndex
from ranker.store.flusher import Flusher
from ranker.store.redis import Store

Clock = Callable[[], float]

SETTINGS = web.AppKey("SETTINGS", Settings)
REDIS_URL = web.AppKey("REDIS_URL", str)  # the configured server, or the embedded one
CLOCK: web.AppKey[Clock] = web.AppKey("CLOCK")
STORE = web.AppKey("STORE", Store)
AGGREGATOR = web.AppKey("AGGREGATOR", Aggregator)
FLUSHER = web.AppKey("FLUSHER", Flusher)
CATALOG = web.AppKey("CATALOG", CatalogIndex)
TOP_CACHE = web.AppKey("TOP_CACHE", TopCache)
ADMISSION = web.AppKey("ADMISSION", Admission)
# The per-address view limit, when the workers of one server share it (ranker.runtime.serve).
ADDRESS_LIMIT = web.AppKey("ADDRESS_LIMIT", AddressLimit)
METRICS = web.AppKey("METRICS", Metrics)
PURGER = web.AppKey("PURGER", Purger)
ALERTER = web.AppKey("ALERTER", Alerter)
# The feed sync (ranker.http.feedsync); a test may set its own before the app starts.
FEEDS = web.AppKey("FEEDS", FeedSync)
# The site whose token the dashboard page comes signed in with (only the demo's, whose
# token is public).
SIGNED_IN = web.AppKey("SIGNED_IN", str)
# Something that adds to the application before it starts: routes, cleanup contexts.
Plugin = Callable[[web.Application], None]
