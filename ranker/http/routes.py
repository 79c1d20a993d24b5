"""The route table: every operation of the HTTP interface, once. `create_app` registers it,
and /openapi.json is generated from it (with the static assets of ranker.http.assets)."""

from __future__ import annotations

from typing import Final

import orjson
from aiohttp import web

from ranker.core.config import Settings
from ranker.core.outcomes import RELEASED_BY_DEFAULT
from ranker.core.validate import ItemImport, ItemPatch, ItemWrite
from ranker.http import beacons, catalog, editors, feeds, lists, operations, pins, recirc
from ranker.http.common import MAX_JSON_BODY
from ranker.http.connections import guard
from ranker.http.errors import Handler
from ranker.http.openapi import JSON, MAX_AGE, Body, Header, Refusal, Reply, Route, build
from ranker.http.schemas import (
    Alerts,
    AlertsQuery,
    Authors,
    AuthorsQuery,
    Beacon,
    BeaconDays,
    BeaconsQuery,
    BucketsQuery,
    Conditional,
    DashboardQuery,
    Feeds,
    FeedSyncResult,
    Health,
    Held,
    HeldQuery,
    HiddenItems,
    ImportResult,
    Item,
    ItemDetail,
    ItemPage,
    ItemSeries,
    NotCounted,
    PageQuery,
    Pins,
    PinView,
    PinWrite,
    Purges,
    Ready,
    RecircEvent,
    RecircQuery,
    Recirculation,
    Release,
    Released,
    Rising,
    RisingQuery,
    Sections,
    Series,
    SeriesQuery,
    TopList,
    TopQuery,
)

SITE = "/v1/sites/{site}"
ITEM = SITE + "/items/{id}"
SITE_TOKEN: Final = ("siteToken",)

CORS: Final = {"Access-Control-Allow-Origin": Header("`*`: readable from any page")}
CACHED: Final = {
    **CORS,
    "ETag": Header("the representation's tag, for `If-None-Match`"),
    "Cache-Control": Header(
        "`public, max-age=…, stale-while-revalidate=…` from `[query]` (and `s-maxage`)"
    ),
    "Surrogate-Key": Header(
        "space-separated `ranker:SITE`, `ranker:SITE:top:WINDOW:SECTION` and `ranker:SITE:ID` "
        "of each story: what a CDN purge names"
    ),
    "Cache-Tag": Header("the same, comma-separated"),
}
RETRY_AFTER: Final = {"Retry-After": Header("seconds to wait", pattern="^[0-9]+$")}
NOT_MODIFIED: Final = Reply("the client's copy is current", headers=CACHED)
UNKNOWN_SITE: Final = Refusal("no configured site of that name", ("unknown_site",))
UNKNOWN_ITEM: Final = Refusal(
    "no configured site, or no catalogued story, of that name", ("unknown_site", "unknown_item")
)
TOO_LARGE: Final = Refusal(
    f"the body is larger than {catalog.MAX_IMPORT_BYTES // 2**20} MiB", ("payload_too_large",)
)
JSON_TOO_LARGE: Final = Refusal(
    f"the body is larger than {MAX_JSON_BODY // 1024} KiB", ("payload_too_large",)
)
NOT_JSON: Final = Refusal("not application/json", ("unsupported_media_type",))
UNAUTHORIZED: Final = Refusal(
    "no `Authorization: Bearer` header",
    ("unauthorized",),
    {"WWW-Authenticate": Header('`Bearer realm="ranker"`')},
)
# Every operation that takes the site's token can also answer these.
AUTH: Final = {401: UNAUTHORIZED, 403: Refusal("not this site's token", ("forbidden",))}
_TOKEN: Final = {**AUTH, 404: UNKNOWN_SITE}

# -- beacons ------------------------------------------------------------------------------

NOT_COUNTED: Final = (
    "received, not counted: a bot or a prefetch (answered before the id is checked), or "
    "the same visitor's repeat within `collector.dedupe_window`"
)
REFUSED: Final = {
    403: Refusal("the `token` is not valid for this id, or expired", ("bad_token",)),
    404: Refusal(
        "not a configured site, or an id neither catalogued nor with a token",
        ("unknown_site", "unknown_item"),
    ),
    429: Refusal(
        "more beacons from this address than `collector.rate_limit` allows",
        ("rate_limited",),
        RETRY_AFTER,
    ),
    503: Refusal(
        "Redis has been unreachable so long that the write buffer is full",
        ("overloaded",),
        RETRY_AFTER,
    ),
}
PIXEL_HEADERS: Final = {**CORS, "Cache-Control": Header("`no-store, max-age=0`")}
GIF: Final = {"type": "string", "format": "binary"}

BEACONS: Final = [
    Route(
        method="POST",
        path="/v1/hit",
        handler=beacons.hit,
        operation_id="hit",
        summary="Count one view",
        tag="beacons",
        description=(
            "What `beacon.js` sends with `navigator.sendBeacon` (as `text/plain`, so no "
            f"preflight). At most `collector.max_body` bytes ({Settings().max_body} by "
            "default). Every answer carries `Access-Control-Allow-Origin: *`."
        ),
        body=Body(Beacon, (JSON, "text/plain")),
        responses={
            202: Reply(NOT_COUNTED, NotCounted, headers=CORS),
            204: Reply("counted; written to Redis within a flush interval", headers=CORS),
            400: Refusal("not a beacon", ("bad_json", "bad_beacon", "bad_id")),
            **REFUSED,
            413: Refusal("longer than `collector.max_body` bytes", ("payload_too_large",)),
            415: Refusal("neither JSON nor text/plain", ("unsupported_media_type",)),
        },
    ),
    Route(
        method="POST",
        path="/v1/recirc",
        handler=recirc.collect,
        operation_id="recirc",
        summary="Count an impression or a click of a Most viewed box",
        tag="beacons",
        description=(
            "What `widget.js` sends with `navigator.sendBeacon`. Through the views' filters, "
            "with the event in the place of the story: a visitor's repeat of one event on one "
            "page is not counted again."
        ),
        body=Body(RecircEvent, (JSON, "text/plain")),
        responses={
            202: Reply(NOT_COUNTED, NotCounted, headers=CORS),
            204: Reply("counted", headers=CORS),
            400: Refusal("not an event", ("bad_json", "bad_event")),
            404: Refusal(
                "no such site, story or placement",
                ("unknown_site", "unknown_item", "unknown_placement"),
            ),
            413: Refusal("longer than `collector.max_body` bytes", ("payload_too_large",)),
            415: Refusal("neither JSON nor text/plain", ("unsupported_media_type",)),
            429: REFUSED[429],
        },
    ),
    Route(
        method="OPTIONS",
        path="/v1/hit",
        handler=beacons.hit_preflight,
        operation_id="hitPreflight",
        summary="CORS preflight for JSON beacons",
        tag="beacons",
        responses={
            204: Reply(
                "any origin may POST JSON",
                headers={
                    **CORS,
                    "Access-Control-Allow-Methods": Header("`POST`"),
                    "Access-Control-Allow-Headers": Header("`Content-Type`"),
                    "Access-Control-Max-Age": Header("seconds"),
                },
            )
        },
    ),
    Route(
        method="GET",
        path="/v1/hit.gif",
        handler=beacons.hit_gif,
        operation_id="hitPixel",
        summary="Count one view with a 1×1 GIF, for pages without JavaScript and AMP",
        tag="beacons",
        query=Beacon,
        responses={
            200: Reply("counted", GIF, "image/gif", PIXEL_HEADERS),
            202: Reply(NOT_COUNTED, GIF, "image/gif", PIXEL_HEADERS),
            400: Refusal("missing site or id", ("bad_beacon", "bad_id")),
            **REFUSED,
        },
    ),
]

# -- lists --------------------------------------------------------------------------------


def _top(route: str, handler: Handler, operation_id: str, summary: str, media: str = JSON) -> Route:
    body: type | dict[str, str] = TopList if media == JSON else {"type": "string"}
    return Route(
        method="GET",
        path=SITE + route,
        handler=handler,
        operation_id=operation_id,
        summary=summary,
        tag="lists",
        query=TopQuery,
        headers=Conditional,
        responses={
            200: Reply(
                "the list, cached in process for about a second",
                body,
                media,
                CACHED,
            ),
            304: NOT_MODIFIED,
            400: Refusal(
                "a bad parameter",
                (
                    "bad_n",
                    "bad_window",
                    "bad_section",
                    "bad_author",
                    "bad_tag",
                    "bad_exclude",
                    "bad_max_age",
                    "bad_backfill",
                ),
            ),
            **(
                {403: Refusal("an amp-list read from an origin not the site's", (AMP_DENIED,))}
                if media == JSON
                else {}
            ),
            404: UNKNOWN_SITE,
        },
    )


AMP_DENIED: Final = "amp_origin_not_allowed"


LISTS: Final = [
    _top("/top", lists.top, "top", "Most viewed stories"),
    _top(
        "/top.html",
        lists.top_html,
        "topHtml",
        "The same list as an escaped HTML fragment, for server-side includes",
        "text/html",
    ),
    _top(
        "/top.rss",
        lists.top_rss,
        "topRss",
        "The same list as an RSS 2.0 feed (the site's `base_url` is the channel's link)",
        "application/rss+xml",
    ),
    Route(
        method="GET",
        path=SITE + "/sections",
        handler=editors.sections,
        operation_id="sections",
        summary="Sections that have rankings",
        tag="lists",
        responses={200: Reply("the sections, sorted", Sections, headers=CORS), 404: UNKNOWN_SITE},
    ),
]

# -- trends -------------------------------------------------------------------------------

TRENDS: Final = [
    Route(
        method="GET",
        path=SITE + "/rising",
        handler=editors.rising,
        operation_id="rising",
        summary="Stories whose views per hour outpace their recent rate",
        tag="trends",
        security=SITE_TOKEN,
        query=RisingQuery,
        responses={
            200: Reply("the rising list", Rising),
            400: Refusal("a bad parameter", ("bad_n", "bad_section")),
            **_TOKEN,
        },
    ),
    Route(
        method="GET",
        path=SITE + "/authors/top",
        handler=editors.authors,
        operation_id="authorsTop",
        summary="Authors ranked by their stories' views",
        tag="trends",
        security=SITE_TOKEN,
        query=AuthorsQuery,
        responses={
            200: Reply("the authors, most viewed first (ties by slug)", Authors),
            400: Refusal("a bad parameter", ("bad_n", "bad_window", "bad_section")),
            **_TOKEN,
        },
    ),
    Route(
        method="GET",
        path=SITE + "/recirculation",
        handler=recirc.recirculation,
        operation_id="recirculation",
        summary="Does the box work: per placement, impressions, clicks and click-through rate",
        tag="trends",
        security=SITE_TOKEN,
        query=RecircQuery,
        responses={
            200: Reply("by placement, with clicks by position and by story", Recirculation),
            400: Refusal("a bad parameter", ("bad_window", "bad_placement")),
            **_TOKEN,
        },
    ),
    Route(
        method="GET",
        path=SITE + "/purges",
        handler=editors.purges,
        operation_id="purges",
        summary="How the site's CDN purge hooks are doing: purges sent, failed, retried",
        tag="trends",
        security=SITE_TOKEN,
        responses={200: Reply("one entry per configured hook", Purges), **_TOKEN},
    ),
    Route(
        method="GET",
        path=SITE + "/alerts",
        handler=editors.alerts,
        operation_id="alerts",
        summary="The site's alert webhooks and the alerts they were sent, newest first",
        tag="trends",
        security=SITE_TOKEN,
        query=AlertsQuery,
        responses={
            200: Reply("hooks, alerts pending, recent alerts", Alerts),
            400: Refusal("a bad parameter", ("bad_n",)),
            **_TOKEN,
        },
    ),
    Route(
        method="GET",
        path=SITE + "/series",
        handler=editors.series,
        operation_id="series",
        summary="Views per bucket for several stories, for sparklines",
        tag="trends",
        security=SITE_TOKEN,
        query=SeriesQuery,
        responses={
            200: Reply("the series", Series),
            400: Refusal("a bad parameter", ("bad_ids", "bad_res", "bad_n")),
            **_TOKEN,
        },
    ),
    Route(
        method="GET",
        path=SITE + "/beacons",
        handler=editors.beacons,
        operation_id="beacons",
        summary="Per day of the site (its time zone): views counted, beacons not counted by reason",
        tag="trends",
        security=SITE_TOKEN,
        query=BeaconsQuery,
        responses={
            200: Reply("the tallies", BeaconDays),
            400: Refusal("a bad parameter", ("bad_days",)),
            **_TOKEN,
        },
    ),
    Route(
        method="GET",
        path=ITEM + "/series",
        handler=editors.item_series,
        operation_id="itemSeries",
        summary="Views per bucket for one story",
        tag="trends",
        security=SITE_TOKEN,
        query=BucketsQuery,
        responses={
            200: Reply("the series", ItemSeries),
            400: Refusal("a bad parameter", ("bad_id", "bad_res", "bad_n")),
            **_TOKEN,
        },
    ),
    Route(
        method="GET",
        path=SITE + "/held",
        handler=editors.held,
        operation_id="held",
        summary="Stories with views held and not released, by reason, flags first",
        tag="trends",
        security=SITE_TOKEN,
        query=HeldQuery,
        responses={
            200: Reply("the stories", Held),
            400: Refusal("a bad parameter", ("bad_n",)),
            **_TOKEN,
        },
    ),
    Route(
        method="POST",
        path=ITEM + "/release",
        handler=editors.release,
        operation_id="release",
        summary="Release a story's held views into its counts",
        tag="trends",
        description=(
            "Moves the views held for the given reasons (default: "
            + ", ".join(RELEASED_BY_DEFAULT)
            + ") into the story's counts, each into the buckets of its own time."
        ),
        security=SITE_TOKEN,
        body=Body(Release, required=False),
        responses={
            200: Reply("the views released, by reason", Released),
            400: Refusal("a bad id or body", ("bad_id", "bad_json")),
            **_TOKEN,
            413: JSON_TOO_LARGE,
            415: NOT_JSON,
            422: Refusal("not a list of held reasons", ("bad_release",)),
        },
    ),
]

# -- catalog ------------------------------------------------------------------------------

BAD_BODY: Final = Refusal("a bad id or body", ("bad_id", "bad_json", "id_mismatch"))
INVALID_ITEM: Final = Refusal("not a valid entry; the message names the field", ("invalid_item",))
BAD_ID: Final = Refusal("a bad id", ("bad_id",))

CATALOG: Final = [
    Route(
        method="GET",
        path=SITE + "/items",
        handler=catalog.list_items,
        operation_id="listItems",
        summary="Catalogued ids a page at a time, or the hidden stories",
        tag="catalog",
        security=SITE_TOKEN,
        query=PageQuery,
        responses={
            200: Reply(
                "a page of ids, or with `hidden=true` the hidden stories", (ItemPage, HiddenItems)
            ),
            400: Refusal("a bad cursor or count", ("bad_page",)),
            **_TOKEN,
        },
    ),
    Route(
        method="POST",
        path=SITE + "/items",
        handler=catalog.import_items,
        operation_id="importItems",
        summary="Import entries as JSON lines, one entry with its id per line",
        tag="catalog",
        description=(
            "The body is JSON lines; its schema describes the sequence of lines. Valid "
            "lines are stored, invalid ones reported by line number and skipped. Up to "
            f"{catalog.MAX_IMPORT_BYTES // 2**20} MiB."
        ),
        security=SITE_TOKEN,
        body=Body(ItemImport, catalog.IMPORT_TYPES, lines=True),
        responses={
            200: Reply("what was stored and what was refused", ImportResult),
            **_TOKEN,
            413: TOO_LARGE,
            415: Refusal("not JSON lines", ("unsupported_media_type",)),
        },
    ),
    Route(
        method="PUT",
        path=ITEM,
        handler=catalog.put_item,
        operation_id="putItem",
        summary="Create or replace a catalog entry",
        tag="catalog",
        security=SITE_TOKEN,
        body=Body(
            ItemWrite,
            examples=(
                {
                    "title": "Council approves new tram line",
                    "url": "https://example.com/tram",
                    "section": "politics",
                    "published_at": "2026-11-26T08:00:00Z",
                },
            ),
        ),
        responses={
            200: Reply("replaced; the stored entry", Item),
            201: Reply("created; the stored entry", Item),
            400: BAD_BODY,
            **_TOKEN,
            413: JSON_TOO_LARGE,
            415: NOT_JSON,
            422: INVALID_ITEM,
        },
    ),
    Route(
        method="PATCH",
        path=ITEM,
        handler=catalog.patch_item,
        operation_id="patchItem",
        summary='Change some fields, e.g. `{"hidden": true}` to take a story down',
        tag="catalog",
        security=SITE_TOKEN,
        body=Body(ItemPatch, examples=({"hidden": True},)),
        responses={
            200: Reply("the stored entry", Item),
            400: BAD_BODY,
            **AUTH,
            404: UNKNOWN_ITEM,
            413: JSON_TOO_LARGE,
            415: NOT_JSON,
            422: INVALID_ITEM,
        },
    ),
    Route(
        method="GET",
        path=ITEM,
        handler=catalog.get_item,
        operation_id="getItem",
        summary="A catalog entry with its total views and rank per window",
        tag="catalog",
        security=SITE_TOKEN,
        responses={200: Reply("the entry", ItemDetail), 400: BAD_ID, **AUTH, 404: UNKNOWN_ITEM},
    ),
    Route(
        method="DELETE",
        path=ITEM,
        handler=catalog.delete_item,
        operation_id="deleteItem",
        summary="Delete a story with all its counts",
        tag="catalog",
        security=SITE_TOKEN,
        responses={204: Reply("deleted"), 400: BAD_ID, **AUTH, 404: UNKNOWN_ITEM},
    ),
]

# -- service ------------------------------------------------------------------------------


async def openapi_json(request: web.Request) -> web.Response:
    """GET /openapi.json: the description of this table."""
    return web.Response(body=_DESCRIPTION, content_type=JSON, headers=_DESCRIPTION_HEADERS)


SERVICE: Final = [
    Route(
        method="GET",
        path="/healthz",
        handler=operations.health,
        operation_id="health",
        summary="Alive: this process's views accepted, pending and written",
        tag="service",
        description=(
            "200 even while Redis is away (`status: degraded`): the collector keeps buffering "
            "then, and restarting it would lose what it holds."
        ),
        responses={200: Reply("alive", Health)},
    ),
    Route(
        method="GET",
        path="/readyz",
        handler=operations.ready,
        operation_id="ready",
        summary="Ready: Redis answers and accepted views reach it in time",
        tag="service",
        responses={
            200: Reply("ready", Ready),
            503: Reply("Redis unreachable, or views wait too long", Ready),
        },
    ),
    Route(
        method="GET",
        path="/metrics",
        handler=operations.metrics,
        operation_id="metrics",
        summary="Prometheus metrics: beacons by outcome, flushes, Redis, cache",
        tag="service",
        description=(
            "Needs `server.metrics_token` as a bearer token when one is set; with neither a "
            "token nor `server.metrics_port`, open only on a loopback listener; with "
            "`server.metrics_port`, served there and not here"
        ),
        security=(None, "metricsToken"),
        responses={
            200: Reply("Prometheus text exposition format", {"type": "string"}, "text/plain"),
            401: UNAUTHORIZED,
            403: Refusal(
                "not the metrics token, or a non-loopback listener without one", ("forbidden",)
            ),
            404: Refusal("served on `server.metrics_port` instead", ("not_found",)),
        },
    ),
    Route(
        method="GET",
        path="/dashboard",
        handler=editors.dashboard,
        operation_id="dashboard",
        summary="The editors' dashboard page; its data comes from the token APIs",
        tag="service",
        query=DashboardQuery,
        responses={200: Reply("the page", {"type": "string"}, "text/html")},
    ),
    Route(
        method="GET",
        path="/openapi.json",
        handler=openapi_json,
        operation_id="openapi",
        summary="This description",
        tag="service",
        responses={200: Reply("OpenAPI 3.1", {"type": "object"}, headers=CORS)},
    ),
]

FEEDS: Final = [
    Route(
        method="GET",
        path=SITE + "/feeds",
        handler=feeds.feeds,
        operation_id="feeds",
        summary="How the site's feeds and sitemaps are doing: last poll, items, errors",
        tag="catalog",
        description=(
            "One entry per `[[sites.NAME.feeds]]`, in the configuration's order. Each feed is "
            "polled by one collector every `every` seconds; its status is shared by all."
        ),
        security=SITE_TOKEN,
        responses={200: Reply("one entry per configured feed", Feeds), **_TOKEN},
    ),
    Route(
        method="POST",
        path=SITE + "/feeds/sync",
        handler=feeds.sync,
        operation_id="feedSync",
        summary="Write entries a feed brought, as feed sync writes them",
        tag="catalog",
        description=(
            "What `ranker catalog sync` sends. JSON lines, one entry with its id per line, at "
            f"most {feeds.MAX_SYNC_ENTRIES}: a story an editor deleted is not written again, a "
            "hidden one stays hidden, an entry stored as it is already is not written (and "
            "purges nothing). An id on several lines: the first wins."
        ),
        security=SITE_TOKEN,
        body=Body(ItemImport, catalog.IMPORT_TYPES, lines=True),
        responses={
            200: Reply("the ids by what became of them, and the refused lines", FeedSyncResult),
            **_TOKEN,
            413: Refusal(
                f"more than {feeds.MAX_SYNC_ENTRIES} entries, or a body over "
                f"{catalog.MAX_IMPORT_BYTES // 2**20} MiB",
                ("payload_too_large",),
            ),
            415: Refusal("not JSON lines", ("unsupported_media_type",)),
        },
    ),
]

PIN = SITE + "/pins/{id}"
INVALID_PIN: Final = Refusal("not a valid pin; the message says why", ("invalid_pin",))

PINS: Final = [
    Route(
        method="GET",
        path=SITE + "/pins",
        handler=pins.list_pins,
        operation_id="listPins",
        summary="The pins in force",
        tag="lists",
        security=SITE_TOKEN,
        responses={200: Reply("the pins", Pins), **_TOKEN},
    ),
    Route(
        method="PUT",
        path=PIN,
        handler=pins.put_pin,
        operation_id="putPin",
        summary="Pin a story at a position in the site's or a section's lists until a time",
        tag="lists",
        description=(
            "One pin per story: a later PUT replaces it. The lists of that section (or the "
            "site's) in those windows show the story at that position, marked `pinned`, "
            "whatever its views or age, until `until`; not lists by author or tag, and not "
            "a page that excludes it. A hidden story is shown nowhere, pinned or not."
        ),
        security=SITE_TOKEN,
        body=Body(PinWrite, examples=({"position": 1, "until": "2026-12-02T18:00:00Z"},)),
        responses={
            200: Reply("the pin", PinView),
            400: BAD_BODY,
            **_TOKEN,
            404: UNKNOWN_ITEM,
            413: JSON_TOO_LARGE,
            415: NOT_JSON,
            422: INVALID_PIN,
        },
    ),
    Route(
        method="DELETE",
        path=PIN,
        handler=pins.delete_pin,
        operation_id="deletePin",
        summary="Unpin a story",
        tag="lists",
        security=SITE_TOKEN,
        responses={
            204: Reply("unpinned"),
            400: BAD_ID,
            **_TOKEN,
            404: Refusal(
                "no such site, or the story is not pinned", ("unknown_site", "unknown_pin")
            ),
        },
    ),
]

ROUTES: Final = (*BEACONS, *LISTS, *PINS, *TRENDS, *CATALOG, *FEEDS, *SERVICE)
DOCUMENT: Final = build(ROUTES)
_DESCRIPTION: Final = orjson.dumps(DOCUMENT)
_DESCRIPTION_HEADERS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": f"public, max-age={MAX_AGE}",
}


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the table, each handler guarded (connections.guard); a GET also answers
    HEAD, as aiohttp's add_get does."""
    for route in ROUTES:
        if route.method == "GET":
            router.add_get(route.path, guard(route.handler))
        else:
            router.add_route(route.method, route.path, guard(route.handler))
