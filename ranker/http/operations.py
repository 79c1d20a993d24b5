"""What operators and their tools read: liveness, readiness and Prometheus metrics (on the
main port, or on a port of their own)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time

from aiohttp import web

from ranker.http import metrics as prometheus
from ranker.http.appkeys import (
    AGGREGATOR,
    FLUSHER,
    METRICS,
    SETTINGS,
    STORE,
)
from ranker.http.common import (
    check_bearer,
    json_response,
)
from ranker.http.errors import ApiError, json_errors
from ranker.store.redis import StoreUnavailable


def _not_counted(filtered: dict[tuple[str, str], int]) -> dict[str, int]:
    """This process's beacons not counted, by reason, over all sites."""
    totals: dict[str, int] = {}
    for (_, reason), n in filtered.items():
        totals[reason] = totals.get(reason, 0) + n
    return totals


async def health(request: web.Request) -> web.Response:
    """GET /healthz: alive. 200 even while Redis is away: the collector keeps accepting and
    buffering then, and restarting it would lose what it holds (see /readyz)."""
    flusher = request.app[FLUSHER]
    doc = {
        "pid": os.getpid(),  # which worker answered, when several share the port
        "accepted_views": request.app[AGGREGATOR].accepted,
        "not_counted": _not_counted(request.app[AGGREGATOR].filtered),
        "status": "ok" if flusher.failures == 0 else "degraded",
        "pending_views": flusher.pending_views,
        "flushed_views": flusher.flushed_views,
        "dropped_views": flusher.dropped_views,
        "dev": request.app[SETTINGS].dev,  # `--dev`: filters relaxed for one machine
    }
    return json_response(doc)


# An engine that takes longer than this to answer a PING is not ready: a load balancer
# should send readers elsewhere while it stalls.
READY_PING_TIMEOUT = 1.0


async def ready(request: web.Request) -> web.Response:
    """GET /readyz: 200 while Redis answers and accepted views reach it within
    `server.ready_max_lag`; else 503, so a load balancer can send traffic elsewhere."""
    app = request.app
    lag = app[FLUSHER].lag()
    started = time.monotonic()
    try:
        await asyncio.wait_for(app[STORE].ping(), READY_PING_TIMEOUT)
        redis: str = "ok"
    except TimeoutError:
        redis = f"unreachable: no answer in {READY_PING_TIMEOUT:g} s"
    except StoreUnavailable as e:
        redis = f"unreachable: {str(e) or type(e).__name__}"
    ready = redis == "ok" and lag <= app[SETTINGS].ready_max_lag
    doc = {
        "status": "ready" if ready else "not_ready",
        "redis": redis,
        "redis_ping_ms": round((time.monotonic() - started) * 1000, 2),
        "flush_lag_s": round(lag, 3),
        "max_flush_lag_s": app[SETTINGS].ready_max_lag,
    }
    return json_response(doc, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text format, where `server.metrics_*` let it be read."""
    settings = request.app[SETTINGS]
    if settings.metrics_port:
        raise ApiError(404, "not_found", "metrics are served on server.metrics_port")
    if settings.metrics_token:
        check_bearer(request, settings.metrics_token, "metrics token")
    elif not is_loopback(settings.host):
        raise ApiError(
            403,
            "forbidden",
            "/metrics is open only on a loopback address: set server.metrics_token "
            "or server.metrics_port",
        )
    return metrics_response(request.app)


def metrics_response(app: web.Application) -> web.Response:
    app[METRICS].sync()
    body, content_type = prometheus.exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


def metrics_app(app: web.Application) -> web.Application:
    """The application of `server.metrics_port`: /metrics of `app`, and nothing else."""

    async def serve(request: web.Request) -> web.Response:
        token = app[SETTINGS].metrics_token
        if token:
            check_bearer(request, token, "metrics token")
        return metrics_response(app)

    only = web.Application(middlewares=[json_errors])
    only[SETTINGS] = app[SETTINGS]
    only.router.add_get("/metrics", serve)
    return only


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
