"""The public lists: `GET /v1/sites/{site}/top` as JSON and as an HTML fragment."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ranker.http.appkeys import (
    CLOCK,
    SETTINGS,
    STORE,
    TOP_CACHE,
)
from ranker.http.errors import ApiError
from ranker.http.query import (
    Entry,
    Renderer,
    cached_response,
    compute_top,
    parse_backfill,
    parse_exclude,
    parse_top_query,
    render_fragment,
    render_rss,
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
    if AMP_SOURCE in query:
        headers = amp_headers(request, headers)
    return cached_response(request, body, headers)


AMP_SOURCE = "__amp_source_origin"  # what amp-list adds: the page's own origin


def amp_headers(request: web.Request, headers: dict[str, str]) -> dict[str, str]:
    """An amp-list read (AMP's CORS protocol): the page's origin must be one of the site's
    `origins`, and is named back so the AMP runtime uses the answer; else ApiError 403."""
    site = request.app[SETTINGS].sites[request.match_info["site"]]
    source = request.query[AMP_SOURCE]
    if source not in site.origins:
        raise ApiError(
            403, "amp_origin_not_allowed", f"{AMP_SOURCE}: not one of the site's origins"
        )
    return {
        **headers,
        "AMP-Access-Control-Allow-Source-Origin": source,
        "Access-Control-Expose-Headers": "AMP-Access-Control-Allow-Source-Origin",
    }


async def top_html(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/top.html?n=&window=&section=&exclude=: the list as an HTML
    fragment."""
    return await _rendered(request, render_fragment, "text/html; charset=utf-8")


async def top_rss(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/top.rss?n=&window=&section=&exclude=: the list as RSS 2.0."""

    def render(doc: dict[str, Any]) -> bytes:
        return render_rss(doc, request.app[SETTINGS].sites[doc["site"]])

    return await _rendered(request, render, "application/rss+xml; charset=utf-8")


async def _rendered(request: web.Request, render: Renderer, content_type: str) -> web.Response:
    entry = await _top_entry(request)
    query = request.query
    doc = entry.filtered(parse_exclude(query), parse_backfill(query))
    body, headers = entry.rendered(render, content_type, doc)
    return cached_response(request, body, headers)
