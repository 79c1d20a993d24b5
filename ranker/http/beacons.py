"""The collector: view beacons in, 204 out at once; views go to the aggregator, not Redis."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import orjson
from aiohttp import web

from ranker.core.outcomes import HELD, Denied, Held, Refusal
from ranker.core.validate import ID_RULE, is_item_id
from ranker.http.appkeys import ADMISSION, AGGREGATOR, CATALOG, CLOCK, FLUSHER, SETTINGS
from ranker.http.errors import ApiError
from ranker.http.schemas import BEACON

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


@dataclass(frozen=True, slots=True)
class _Refused:
    """The answer to a beacon admission refuses, and the reason it is tallied under."""

    status: int
    message: str
    tally: Refusal
    headers: Mapping[str, str] = field(default_factory=dict)


# What the collector answers to each refusal of admission.
_DENIED: Final = {
    Denied.RATE_LIMITED: _Refused(
        429, "too many beacons from this address", Refusal.RATE_LIMITED, {"Retry-After": "1"}
    ),
    Denied.BAD_ID: _Refused(400, ID_RULE, Refusal.MALFORMED),
    Denied.UNKNOWN_ITEM: _Refused(404, "no catalogued item with this id", Refusal.UNSIGNED),
    Denied.BAD_TOKEN: _Refused(
        403, "the token is invalid or expired for this id", Refusal.UNSIGNED
    ),
}
assert set(_DENIED) == set(Denied)


async def _look_up(request: web.Request, site: object, item_id: object, token: object) -> None:
    """An id this process does not know may have been catalogued through another
    collector a moment ago: ask the store (see CatalogIndex.look_up) before refusing."""
    if token is not None or not isinstance(site, str) or not isinstance(item_id, str):
        return
    catalog = request.app[CATALOG]
    if site in request.app[SETTINGS].sites and not catalog.has(site, item_id):
        if is_item_id(item_id):
            await catalog.look_up(site, item_id)


def _count(request: web.Request, site: object, item_id: object, token: object) -> Held | None:
    """Count one view, or say why it is held (a reason of HELD); raise ApiError for a
    beacon refused outright. Every outcome is tallied per site, held views per story."""
    app = request.app
    aggregator = app[AGGREGATOR]
    now = app[CLOCK]()
    if not isinstance(site, str) or not isinstance(item_id, str):
        known = site if isinstance(site, str) and site in app[SETTINGS].sites else None
        aggregator.refuse(known, Refusal.MALFORMED, now)
        raise ApiError(400, "bad_beacon", "a beacon needs string fields 'site' and 'id'")
    if site not in app[SETTINGS].sites:
        aggregator.refuse(None, Refusal.MALFORMED, now)
        raise ApiError(404, "unknown_site", "no such site")
    flusher = app[FLUSHER]
    if flusher.full:  # before the repeat filter, which would remember this view
        aggregator.refuse(site, Refusal.OVERLOADED, now)
        raise ApiError(
            503, "overloaded", "the store is unreachable; try later", {"Retry-After": "5"}
        )
    verdict = app[ADMISSION].check(request, site, item_id, token, now)
    outcome = verdict.outcome
    if outcome is None:
        aggregator.add(site, item_id, now, signed=verdict.signed)
        aggregator.network(site, item_id, verdict.network, now)
    elif isinstance(outcome, Held):
        aggregator.hold(site, item_id, outcome, now)
        if outcome is Held.CONCENTRATED:
            aggregator.flag(site, item_id, verdict.label, verdict.share, now)
    else:
        refused = _DENIED[outcome]
        aggregator.refuse(site, refused.tally, now)
        raise ApiError(refused.status, outcome, refused.message, refused.headers)
    if aggregator.pending_keys >= _NUDGE_KEYS:
        flusher.nudge()
    return outcome


async def read_beacon_body(request: web.Request) -> bytes:
    """A beacon's body, as JSON or text/plain (sendBeacon), up to `collector.max_body`
    bytes, or ApiError 415/413."""
    raw_type = request.headers.get("Content-Type", "")
    if raw_type not in _COMMON_TYPES and request.content_type not in _ACCEPTED_TYPES:
        raise ApiError(415, "unsupported_media_type", "send application/json or text/plain")
    return await _read_capped(request, request.app[SETTINGS].max_body)


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
    app[AGGREGATOR].refuse(None, Refusal.MALFORMED, app[CLOCK]())
    return ApiError(status, code, message)


def _beacon(request: web.Request, body: bytes) -> tuple[object, object, object]:
    """The site, id and token of a body. Decoded as a schemas.Beacon (fields it lacks are
    skipped unread, so their bytes need not be UTF-8); a body that is not one is read as
    any JSON, so that _count refuses the wrong field, tallied under the site it names."""
    try:
        beacon = BEACON.decode(body)
        return beacon.site, beacon.id, beacon.token
    except (msgspec.ValidationError, RecursionError):
        pass  # not a Beacon, or nested deeper than msgspec reads (orjson reads 1024 levels)
    except msgspec.DecodeError:
        raise _malformed(request, 400, "bad_json", "the body is not valid JSON") from None
    try:
        doc: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _malformed(request, 400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _malformed(request, 400, "bad_beacon", "the body must be a JSON object")
    return doc.get("site"), doc.get("id"), doc.get("token")


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
        except ApiError as e:
            raise _malformed(request, e.status, e.code, e.message) from None
        site, item_id, token = _beacon(request, body)
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
