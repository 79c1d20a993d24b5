"""The collector: view beacons in, 204 out at once; views go to the aggregator, not Redis."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from aiohttp import web

from ranker.admission import HELD, REFUSALS
from ranker.appkeys import ADMISSION, AGGREGATOR, CATALOG, CLOCK, FLUSHER, SETTINGS
from ranker.errors import ApiError
from ranker.validate import is_item_id

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
_NOT_COUNTED = {reason: orjson.dumps({"counted": False, "reason": reason}) for reason in HELD}


async def _look_up(request: web.Request, site: object, item_id: object, token: object) -> None:
    """An id this process does not know may have been catalogued through another
    collector a moment ago: ask the store (see CatalogIndex.look_up) before refusing."""
    if token is not None or not isinstance(site, str) or not isinstance(item_id, str):
        return
    catalog = request.app[CATALOG]
    if site in request.app[SETTINGS].sites and not catalog.has(site, item_id):
        if is_item_id(item_id):
            await catalog.look_up(site, item_id)


def _count(request: web.Request, site: object, item_id: object, token: object) -> str | None:
    """Count one view, or say why it is held (a reason of HELD); raise ApiError for a
    beacon refused outright. Every outcome is tallied per site, held views per story."""
    app = request.app
    aggregator = app[AGGREGATOR]
    now = app[CLOCK]()
    known = site if isinstance(site, str) and site in app[SETTINGS].sites else None
    try:
        if not isinstance(site, str) or not isinstance(item_id, str):
            raise ApiError(400, "bad_beacon", "a beacon needs string fields 'site' and 'id'")
        if known is None:  # configured names are valid ones
            raise ApiError(404, "unknown_site", "no such site")
        flusher = app[FLUSHER]
        if flusher.full:  # before the repeat filter, which would remember this view
            raise ApiError(
                503, "overloaded", "the store is unreachable; try later", {"Retry-After": "5"}
            )
        verdict = app[ADMISSION].check(request, known, item_id, token, now)
    except ApiError as e:
        aggregator.refuse(known, REFUSALS.get(e.code, "malformed"), now)
        raise
    if verdict.reason is None:
        aggregator.add(known, item_id, now, signed=verdict.signed)
        aggregator.network(known, item_id, verdict.network, now)
    else:
        aggregator.hold(known, item_id, verdict.reason, now)
        if verdict.reason == "concentrated":
            aggregator.flag(known, item_id, verdict.label, verdict.share, now)
    if aggregator.pending_keys >= _NUDGE_KEYS:
        flusher.nudge()
    return verdict.reason


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


def _malformed(request: web.Request, status: int, code: str, message: str) -> ApiError:
    """A beacon too broken to name its site: tallied for the process, not a site."""
    app = request.app
    app[AGGREGATOR].refuse(None, "malformed", app[CLOCK]())
    return ApiError(status, code, message)


async def hit(request: web.Request) -> web.Response:
    """POST /v1/hit: {"site": ..., "id": ..., "token"?: ...} as JSON or text/plain
    (sendBeacon). 204: counted; 202: received but not counted, and why."""
    try:
        # What browsers send, compared as is; anything else is parsed first.
        raw_type = request.headers.get("Content-Type", "")
        if raw_type not in _COMMON_TYPES and request.content_type not in _ACCEPTED_TYPES:
            raise _malformed(
                request,
                415,
                "unsupported_media_type",
                "send the beacon as application/json or text/plain",
            )
        try:
            body = await _read_capped(request, request.app[SETTINGS].max_body)
            doc: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _malformed(request, 400, "bad_json", "the body is not valid JSON") from None
        except ApiError as e:
            raise _malformed(request, e.status, e.code, e.message) from None
        if not isinstance(doc, dict):
            raise _malformed(request, 400, "bad_beacon", "the body must be a JSON object")
        site, item_id, token = doc.get("site"), doc.get("id"), doc.get("token")
        await _look_up(request, site, item_id, token)
        reason = _count(request, site, item_id, token)
    except ApiError as e:
        e.headers.update(_CORS)  # so the page's script may read why
        raise
    if reason is None:
        return web.Response(status=204, headers=_CORS)
    return web.Response(
        status=202, body=_NOT_COUNTED[reason], content_type="application/json", headers=_CORS
    )


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
    """GET /v1/hit.gif?site=&id=&token=: the same view as a pixel, for no-script and AMP
    pages. The pixel is sent whether the view counted or was filtered. HEAD answers the
    same headers and counts nothing: no browser sends it for an image."""
    query = request.query
    reason = None
    if request.method != "HEAD":
        site, item_id, token = query.get("site"), query.get("id"), query.get("token")
        await _look_up(request, site, item_id, token)
        reason = _count(request, site, item_id, token)
    return web.Response(
        status=200 if reason is None else 202,
        body=PIXEL,
        content_type="image/gif",
        headers={
            "Cache-Control": "no-store, max-age=0",
            **_CORS,
        },
    )
