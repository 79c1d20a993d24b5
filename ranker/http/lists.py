"""The public lists: `GET /v1/sites/{site}/top` as JSON and as an HTML fragment."""

from __future__ import annotations

from aiohttp import web

from ranker.http.appkeys import (
    CLOCK,
    SETTINGS,
    STORE,
    TOP_CACHE,
)
from ranker.http.query import Entry, cached_response, compute_top, parse_top_query


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
