"""HTTP handlers for the public read and the authenticated catalog: parse, call, render."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import os
import time
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from aiohttp import web

from ranker import metrics as prometheus
from ranker.appkeys import (
    AGGREGATOR,
    CATALOG,
    CLOCK,
    FLUSHER,
    METRICS,
    SETTINGS,
    STORE,
    TOP_CACHE,
)
from ranker.errors import ApiError, json_errors
from ranker.outcomes import HELD
from ranker.query import Entry, cached_response, compute_top, item_ranks, parse_top_query
from ranker.schemas import MAX_IMPORT_ERRORS, PageQuery, int_param
from ranker.store import StoreUnavailable
from ranker.validate import (
    ID_RULE,
    InvalidInput,
    catalog_entry,
    is_item_id,
    public_entry,
)

MAX_IMPORT_BYTES = 16 * 1024 * 1024
IMPORT_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain")
# An import is read IMPORT_READ bytes at a time and written IMPORT_BATCH entries at a time,
# in order, with the loop given back in between: in one go, a 16 MiB import (some 48,000
# entries) held up every other request for seconds, and its body and entries took 60 MB.
# A batch of 100 costs the process about 2 ms; from some 150 on, the entries alive across
# young collections set off full ones (30-40 ms each in a large process), for no speed.
IMPORT_READ = 64 * 1024
IMPORT_BATCH = 100
_CURSOR, _COUNT = int_param(PageQuery, "cursor"), int_param(PageQuery, "count")
_BAD_PAGE = (
    "bad_page",
    f"cursor: a number from a previous page; count: {_COUNT.low}-{_COUNT.high}",
)


def json_response(doc: Any, status: int = 200) -> web.Response:
    # Keys may be Reasons: strings, but not of exactly type str, as orjson wants by default.
    body = orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)
    return web.Response(body=body, status=status, content_type="application/json")


def path_site(request: web.Request) -> str:
    """The configured `{site}` of the path, or ApiError."""
    site = request.match_info["site"]
    if site not in request.app[SETTINGS].sites:
        raise ApiError(404, "unknown_site", "no such site")
    return site


def authorize(request: web.Request) -> str:
    """The site named in the path, once the request's bearer token is that site's."""
    site = path_site(request)
    check_bearer(request, request.app[SETTINGS].sites[site].token, "site token")
    return site


def check_bearer(request: web.Request, expected: str, what: str) -> None:
    """ApiError 401 without `Authorization: Bearer`, 403 with a token other than `expected`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "unauthorized",
            f"send Authorization: Bearer <{what}>",
            {"WWW-Authenticate": 'Bearer realm="ranker"'},
        )
    # aiohttp keeps undecodable header bytes as surrogates; compare bytes, never fail.
    if not hmac.compare_digest(token.strip().encode("utf-8", "surrogateescape"), expected.encode()):
        raise ApiError(403, "forbidden", f"wrong {what}")


def path_item_id(request: web.Request) -> str:
    """The `{id}` of the path, or ApiError."""
    item_id = request.match_info["id"]
    if not is_item_id(item_id):
        raise ApiError(400, "bad_id", ID_RULE)
    return item_id


async def json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send application/json")
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None


# -- public read ------------------------------------------------------------------------


async def _top_entry(request: web.Request) -> Entry:
    app = request.app
    settings = app[SETTINGS]
    cache = app[TOP_CACHE]
    site = request.match_info["site"]
    key = cache.key(
        site, request.query_string, lambda: parse_top_query(request.query, settings.sites, site)
    )
    return await cache.get(key, lambda: compute_top(app[STORE], settings, key, app[CLOCK]()))


async def top(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/top?n=&window=&section="""
    cache = request.app[TOP_CACHE]
    entry = cache.fresh(request.match_info["site"], request.query_string)
    if entry is None:
        entry = await _top_entry(request)
    return cached_response(request, entry.body, entry.headers)


async def top_html(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/top.html?n=&window=&section=: the list as an HTML fragment."""
    body, headers = (await _top_entry(request)).fragment()
    return cached_response(request, body, headers)


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


# -- catalog ----------------------------------------------------------------------------


async def put_item(request: web.Request) -> web.Response:
    """PUT /v1/sites/{site}/items/{id}: create or replace a catalog entry."""
    site = authorize(request)
    item_id = path_item_id(request)
    doc = await json_body(request)
    if isinstance(doc, dict) and doc.get("id", item_id) != item_id:
        raise ApiError(400, "id_mismatch", "the body's id differs from the path's")
    try:
        fields = catalog_entry(doc)
    except InvalidInput as e:
        raise ApiError(422, "invalid_item", str(e)) from None
    created = await request.app[STORE].put_items(site, [(item_id, fields)])
    request.app[CATALOG].note_added(site, item_id)
    request.app[TOP_CACHE].forget(site)
    return json_response(public_entry(item_id, fields), 201 if created else 200)


async def patch_item(request: web.Request) -> web.Response:
    """PATCH /v1/sites/{site}/items/{id}: change some fields, e.g. {"hidden": true}."""
    site = authorize(request)
    item_id = path_item_id(request)
    doc = await json_body(request)
    if not isinstance(doc, dict):
        raise ApiError(422, "invalid_item", "expected a JSON object")
    if doc.get("id", item_id) != item_id:
        raise ApiError(400, "id_mismatch", "the body's id differs from the path's")
    store = request.app[STORE]
    if set(doc) == {"hidden"} and isinstance(doc["hidden"], bool):
        found = await store.set_hidden(site, item_id, doc["hidden"])
        stored = await store.get_item(site, item_id) if found else None
    else:
        current = await store.get_item(site, item_id)
        stored = None
        if current is not None:
            # The fields the entry has; one it never had stays absent, not "".
            kept = {k: v for k, v in public_entry(item_id, current).items() if v != ""}
            merged = {**kept, **doc}
            try:
                stored = catalog_entry(merged)
            except InvalidInput as e:
                raise ApiError(422, "invalid_item", str(e)) from None
            await store.put_items(site, [(item_id, stored)])
    if stored is None:
        raise ApiError(404, "unknown_item", "no catalogued item with this id")
    request.app[TOP_CACHE].forget(site)
    return json_response(public_entry(item_id, stored))


async def get_item(request: web.Request) -> web.Response:
    site = authorize(request)
    item_id = path_item_id(request)
    store = request.app[STORE]
    stored = await store.get_item(site, item_id)
    if stored is None:
        raise ApiError(404, "unknown_item", "no catalogued item with this id")
    app = request.app
    ranks = await item_ranks(app[TOP_CACHE], store, app[SETTINGS], site, item_id, app[CLOCK]())
    return json_response(
        {
            **public_entry(item_id, stored),
            "views_total": int(await store.total(site, item_id)),
            "ranks": ranks,
            "held": (await store.held(site, [item_id], HELD))[item_id],
        }
    )


async def delete_item(request: web.Request) -> web.Response:
    site = authorize(request)
    item_id = path_item_id(request)
    if not await request.app[STORE].delete_item(site, item_id, request.app[CLOCK]()):
        raise ApiError(404, "unknown_item", "no catalogued item with this id")
    request.app[CATALOG].note_deleted(site, item_id)
    request.app[TOP_CACHE].forget(site)
    return web.Response(status=204)


async def list_items(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/items?cursor=&count=: catalogued ids, a page at a time.

    With `hidden=true`: the hidden entries (id, title, url, section), so editors find them.
    """
    site = authorize(request)
    if request.query.get("hidden") == "true":
        hidden = await request.app[STORE].hidden_items(site)
        return json_response(
            {
                "items": [
                    {
                        "id": i,
                        "title": e.get("title", ""),
                        "url": e.get("url", ""),
                        "section": e.get("section") or None,
                    }
                    for i, e in hidden
                ]
            }
        )
    cursor = _CURSOR.read(request.query, error=_BAD_PAGE)
    count = _COUNT.read(request.query, error=_BAD_PAGE)
    next_cursor, ids = await request.app[STORE].list_items(site, cursor, count)
    return json_response({"ids": ids, "cursor": str(next_cursor) if next_cursor else None})


async def import_items(request: web.Request) -> web.Response:
    """POST /v1/sites/{site}/items: JSON lines, one entry (with its "id") per line.

    Valid lines are stored, invalid ones are reported by line number and skipped. The body
    is read, checked and written a batch at a time, in order, so neither memory nor other
    requests wait for the whole of it; an id on several lines: the last wins. Should the
    store fail midway (503), or a chunked body run past MAX_IMPORT_BYTES (413), the batches
    before stay written: sending the same import again is safe, as each entry is replaced
    whole.
    """
    site = authorize(request)
    if request.content_type not in IMPORT_TYPES:
        raise ApiError(415, "unsupported_media_type", "send JSON lines (application/x-ndjson)")
    batch = _Import(request.app, site)
    try:
        async with contextlib.aclosing(_body_lines(request)) as reads:
            async for lines in reads:
                for line in lines:
                    batch.check(line)
                    if len(batch.entries) >= IMPORT_BATCH:
                        await batch.write()
                await asyncio.sleep(0)  # a read may not have waited: let others in
        await batch.write()
    finally:
        request.app[TOP_CACHE].forget(site)
    return json_response(
        {"imported": batch.imported, "created": batch.created, "errors": batch.errors}
    )


async def _body_lines(request: web.Request) -> AsyncGenerator[list[bytearray], None]:
    """The body's lines, as many as each read of IMPORT_READ bytes completes. A line ends
    as bytes.splitlines ends it (\\n, \\r\\n or \\r). ApiError 413 past MAX_IMPORT_BYTES."""
    too_large = ApiError(
        413, "payload_too_large", f"the body is larger than {MAX_IMPORT_BYTES // 2**20} MiB"
    )
    if (request.content_length or 0) > MAX_IMPORT_BYTES:
        raise too_large
    received, rest = 0, bytearray()
    while chunk := await request.content.read(IMPORT_READ):
        received += len(chunk)
        if received > MAX_IMPORT_BYTES:
            raise too_large
        # Split after the last "\n" only: a "\r" at the end of a read may be half a "\r\n".
        end = chunk.rfind(b"\n") + 1
        if not end:
            rest += chunk
            continue
        rest += memoryview(chunk)[:end]
        lines = rest.splitlines()
        rest = bytearray(chunk[end:])
        yield lines
    if rest:
        yield rest.splitlines()


class _Import:
    """An import under way: the entries checked but not yet written, and the answer so far."""

    def __init__(self, app: web.Application, site: str) -> None:
        self.store, self.catalog, self.site = app[STORE], app[CATALOG], site
        self.line = 0
        # An id on several lines of a batch is written once (the writes may run
        # concurrently on a cluster); a later batch replaces it in turn.
        self.entries: dict[str, dict[str, str]] = {}
        self.imported = self.created = 0
        self.errors: list[dict[str, Any]] = []

    def check(self, line: bytes | bytearray) -> None:
        """Take the next line: an entry to write, an error, or nothing (a blank line)."""
        self.line += 1
        if not line.strip():
            return
        try:
            doc = orjson.loads(line)
            item_id = doc.get("id") if isinstance(doc, dict) else None
            if not isinstance(item_id, str) or not is_item_id(item_id):
                raise InvalidInput(ID_RULE)
            self.entries[item_id] = catalog_entry(doc)
        except (orjson.JSONDecodeError, InvalidInput) as e:
            if len(self.errors) < MAX_IMPORT_ERRORS:
                self.errors.append({"line": self.line, "error": str(e)})
            return
        self.imported += 1

    async def write(self) -> None:
        """Store the checked entries. `created` counts each id once: a batch after the one
        that created it finds it there."""
        if not self.entries:
            return
        entries, self.entries = list(self.entries.items()), {}
        self.created += await self.store.put_items(self.site, entries)
        for item_id, _ in entries:
            self.catalog.note_added(self.site, item_id)
