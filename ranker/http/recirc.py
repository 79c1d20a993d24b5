"""Does the box work? The widget's impressions and clicks of a Most viewed box, collected
like views (`POST /v1/recirc`), and what editors read of them (`GET .../recirculation`).

An event passes the views' filters (bots, prefetches, Fetch Metadata, hosting networks,
the rate limit, repeats, the per-address limit), with what it is of in the place of the
story: a visitor's second impression of one placement on one page is a repeat. Counted
events are aggregated in memory and written with the site's next batch, in the same
atomic, applied-once step as its views (flush.lua).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ranker.core.aggregate import recirc_field
from ranker.core.config import PLACEMENT_RE
from ranker.core.outcomes import Held
from ranker.core.validate import ID_RULE, is_item_id
from ranker.core.windows import WINDOWS, bucket_start, window_span
from ranker.http.appkeys import ADMISSION, AGGREGATOR, CATALOG, CLOCK, SETTINGS, STORE
from ranker.http.beacons import read_beacon_body
from ranker.http.common import authorize, json_response
from ranker.http.errors import ApiError
from ranker.http.schemas import MAX_N

PLACEMENT_RULE = "placement: 1-32 of a-z, 0-9, '_' and '-'"
EVENTS = ("impression", "click")
_CORS = {"Access-Control-Allow-Origin": "*"}
_NOT_COUNTED = {reason: orjson.dumps({"counted": False, "reason": str(reason)}) for reason in Held}
RECIRC_WINDOWS = tuple(w for w in WINDOWS if w not in ("hot", "all"))
MAX_STORIES = 20  # the stories most clicked from a box, per placement


def _event(doc: Any, sites: Any) -> tuple[str, str, str | None, str]:
    """The site, the event as counted (recirc_field), the story clicked (None for an
    impression) and the page's story ("" unknown) of a body, or ApiError."""
    if not isinstance(doc, dict) or not isinstance(doc.get("site"), str):
        raise ApiError(400, "bad_event", 'an event needs a string field "site"')
    site = doc["site"]
    if site not in sites:
        raise ApiError(404, "unknown_site", "no such site")
    placement = doc.get("placement", "default")
    if not isinstance(placement, str) or not PLACEMENT_RE.fullmatch(placement):
        raise ApiError(400, "bad_event", PLACEMENT_RULE)
    if placement not in sites[site].placements:
        raise ApiError(404, "unknown_placement", "placement: not one of the site's placements")
    event = doc.get("event")
    if event not in EVENTS:
        raise ApiError(400, "bad_event", 'event: "impression" or "click"')
    page = doc.get("page", "")
    if "page" in doc and not is_item_id(page):
        raise ApiError(400, "bad_event", f"page: {ID_RULE}")
    # A click names its story and place; an impression may not name either wrongly.
    item, position = doc.get("id"), doc.get("position")
    if ("id" in doc or event == "click") and (not isinstance(item, str) or not is_item_id(item)):
        raise ApiError(400, "bad_event", f"id: {ID_RULE}")
    if ("position" in doc or event == "click") and (
        not isinstance(position, int) or isinstance(position, bool) or not 1 <= position <= MAX_N
    ):
        raise ApiError(400, "bad_event", f"position: 1-{MAX_N}")
    if event == "impression":
        return site, recirc_field(placement, event), None, page
    assert isinstance(item, str) and isinstance(position, int)
    return site, recirc_field(placement, event, position, item), item, page


async def collect(request: web.Request) -> web.Response:
    """POST /v1/recirc: {"site", "placement", "event": "impression"|"click", "page"?,
    "id"?, "position"?} as text/plain (sendBeacon) or JSON. 204: counted; 202: not, and
    why; 4xx: refused."""
    try:
        app = request.app
        body = await read_beacon_body(request)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ApiError(400, "bad_json", "the body is not valid JSON") from None
        site, field, item, page = _event(doc, app[SETTINGS].sites)
        if item is not None and not app[CATALOG].has(site, item):  # a box lists only these
            # Catalogued through another collector a moment ago? As for a view, ask first.
            if not await app[CATALOG].look_up(site, item):
                raise ApiError(404, "unknown_item", "no catalogued item with this id")
        now = app[CLOCK]()
        # A repeat is the same event on the same page by the same visitor.
        verdict = app[ADMISSION].check_event(request, site, f"recirc|{field}|{page}", now)
        if verdict.outcome is None:
            app[AGGREGATOR].recirc(site, field, now)
            return web.Response(status=204, headers=_CORS)
        if isinstance(verdict.outcome, Held):
            return web.Response(
                status=202,
                body=_NOT_COUNTED[verdict.outcome],
                content_type="application/json",
                headers=_CORS,
            )
        raise ApiError(
            429, "rate_limited", "too many beacons from this address", {"Retry-After": "1"}
        )
    except ApiError as e:
        e.headers.update(_CORS)
        raise


async def recirculation(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/recirculation?window=24h&placement=: per placement, the box's
    impressions, clicks and click-through rate, by position and by story."""
    site = authorize(request)
    window = request.query.get("window", "24h")
    if window not in RECIRC_WINDOWS:
        raise ApiError(400, "bad_window", f"window: one of {', '.join(RECIRC_WINDOWS)}")
    only = request.query.get("placement")
    if only is not None and not PLACEMENT_RE.fullmatch(only):
        raise ApiError(400, "bad_placement", PLACEMENT_RULE)
    app = request.app
    now = app[CLOCK]()
    newest = bucket_start(now, "hour")
    hours = [newest - 3600 * k for k in range(int(window_span(window) // 3600))]
    counts = await app[STORE].recirculation(site, hours)
    placements: dict[str, dict[str, Any]] = {}
    for field, count in counts.items():
        placement, event, *rest = field.split("|")
        if only is not None and placement != only:
            continue
        p = placements.setdefault(
            placement, {"impressions": 0, "clicks": 0, "positions": {}, "stories": {}}
        )
        if event == "impression":
            p["impressions"] += count
            continue
        position, item = int(rest[0]), rest[1]
        p["clicks"] += count
        p["positions"][position] = p["positions"].get(position, 0) + count
        p["stories"][item] = p["stories"].get(item, 0) + count
    clicked = {i for p in placements.values() for i in p["stories"]}
    entries = await app[STORE].get_items(site, sorted(clicked))
    link = app[SETTINGS].sites[site].link

    def rate(clicks: int, impressions: int) -> float | None:
        return round(clicks / impressions, 4) if impressions else None

    out = []
    for name, p in sorted(placements.items()):
        stories = sorted(p["stories"].items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_STORIES]
        out.append(
            {
                "placement": name,
                "impressions": p["impressions"],
                "clicks": p["clicks"],
                "ctr": rate(p["clicks"], p["impressions"]),
                "positions": [
                    {"position": k, "clicks": c, "ctr": rate(c, p["impressions"])}
                    for k, c in sorted(p["positions"].items())
                ],
                "stories": [
                    {
                        "id": item,
                        "title": entries.get(item, {}).get("title", ""),
                        "url": link(entries.get(item, {}).get("url", "")),
                        "clicks": c,
                    }
                    for item, c in stories
                ],
            }
        )
    return json_response({"site": site, "window": window, "placements": out})
