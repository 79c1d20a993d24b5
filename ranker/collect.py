"""The collector: view beacons in, 204 out at once; views go to the aggregator, not Redis."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from aiohttp import web

from ranker.appkeys import AGGREGATOR, CATALOG, CLOCK, FLUSHER, SETTINGS
from ranker.errors import ApiError
from ranker.validate import ID_RULE, is_item_id

# The smallest transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_ACCEPTED_TYPES = ("application/json", "text/plain")
_COMMON_TYPES = frozenset(
    {
        "text/plain;charset=UTF-8",  # navigator.sendBeacon with a string or text Blob
        "text/plain",
        "application/json",
    }
)
# Beacons are read from any page; text/plain needs no preflight, JSON does.
_CORS = {"Access-Control-Allow-Origin": "*"}
_NUDGE_KEYS = 50_000  # flush before the tick once this many (item, minute) pairs wait


def _count(request: web.Request, site: object, item_id: object) -> None:
    """Validate one view and hand it to the aggregator, or raise ApiError."""
    app = request.app
    if not isinstance(site, str) or not isinstance(item_id, str):
        raise ApiError(400, "bad_beacon", "a beacon needs string fields 'site' and 'id'")
    if site not in app[SETTINGS].sites:  # configured names are valid ones
        raise ApiError(404, "unknown_site", "no such site")
    # Catalogued ids are valid ones, so the syntax check is only paid on the way to a 4xx.
    if not app[CATALOG].has(site, item_id):
        if not is_item_id(item_id):
            raise ApiError(400, "bad_id", ID_RULE)
        raise ApiError(404, "unknown_item", "no catalogued item with this id")
    flusher = app[FLUSHER]
    if flusher.full:
        raise ApiError(
            503, "overloaded", "the store is unreachable; try later", {"Retry-After": "5"}
        )
    aggregator = app[AGGREGATOR]
    aggregator.add(site, item_id, app[CLOCK]())
    if aggregator.pending_keys >= _NUDGE_KEYS:
        flusher.nudge()


async def _read_capped(request: web.Request, cap: int) -> bytes:
    length = request.content_length
    if length is not None:
        if length > cap:
            raise ApiError(413, "payload_too_large", f"a beacon is at most {cap} bytes")
        return await request.read()  # the parser stops at Content-Length
    body = bytearray()
    while chunk := await request.content.read(cap + 1 - len(body)):
        body += chunk
        if len(body) > cap:
            raise ApiError(413, "payload_too_large", f"a beacon is at most {cap} bytes")
    return bytes(body)


async def hit(request: web.Request) -> web.Response:
    """POST /v1/hit: {"site": ..., "id": ...} as JSON or text/plain (sendBeacon)."""
    try:
        # What browsers send, compared as is; anything else is parsed first.
        raw_type = request.headers.get("Content-Type", "")
        if raw_type not in _COMMON_TYPES and request.content_type not in _ACCEPTED_TYPES:
            raise ApiError(
                415, "unsupported_media_type", "send the beacon as application/json or text/plain"
            )
        body = await _read_capped(request, request.app[SETTINGS].max_body)
        try:
            doc: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ApiError(400, "bad_json", "the body is not valid JSON") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "bad_beacon", "the body must be a JSON object")
        _count(request, doc.get("site"), doc.get("id"))
    except ApiError as e:
        e.headers.update(_CORS)  # so the page's script may read why
        raise
    return web.Response(status=204, headers=_CORS)


async def hit_preflight(request: web.Request) -> web.Response:
    return web.Response(
        status=204,
        headers={
            **_CORS,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        },
    )


async def hit_gif(request: web.Request) -> web.Response:
    """GET /v1/hit.gif?site=&id=: the same view as a pixel, for no-script and AMP pages."""
    _count(request, request.query.get("site"), request.query.get("id"))
    return web.Response(
        body=PIXEL,
        content_type="image/gif",
        headers={
            "Cache-Control": "no-store, max-age=0",
            **_CORS,
        },
    )
