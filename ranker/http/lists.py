"""The public lists: `GET /v1/sites/{site}/top` as JSON and as an HTML fragment."""

from __future__ import annotations

from aiohttp import web

from ranker.http.appkeys import (
    CLOCK,
    SETTINGS,
    STORE,
    TOP_CACHE,
)
from ranker.http.query import (
    Entry,
    cached_response,
    compute_top,
    parse_backfill,
    parse_exclude,
    parse_top_query,
)
from ranker.http.schemas import MAX_EXCLUDE


async def _top_entry(request: web.Request) -> Entry:
    app = request.app
    settings = app[SETTINGS]
    cache = app[TOP_CACHE]
    site = request.match_info["site"]
    key = cache.key(
        site, request.query_string, lambda: parse_top_query(request.query, settings.sites, site)
    )
    # Computed with the stories ranked next, so a request that excludes some still gets n.
    return await cache.get(
        key, lambda: compute_top(app[STORE], settings, key, app[CLOCK](), MAX_EXCLUDE)
    )


async def top(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/top?n=&window=&section=&exclude=&max_age=&backfill="""
    cache = request.app[TOP_CACHE]
    entry = cache.fresh(request.match_info["site"], request.query_string)
    if entry is None:
        entry = await _top_entry(request)
    query = request.query
    body, headers = entry.without(parse_exclude(query), backfill=parse_backfill(query))
    return cached_response(request, body, headers)


async def top_html(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/top.html?n=&window=&section=&exclude=: the list as an HTML
    fragment."""
    entry = await _top_entry(request)
    query = request.query
    body, headers = entry.without(parse_exclude(query), html=True, backfill=parse_backfill(query))
    return cached_response(request, body, headers)
