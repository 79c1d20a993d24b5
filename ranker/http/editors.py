"""The editors' side: the dashboard page and the trend APIs behind it (rising stories,
views over time). Everything but the page shell needs the site's token."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from html import escape
from importlib.resources import files
from typing import Any

import msgspec
from aiohttp import web
from msgspec import UNSET

from ranker.core.config import ALERT_KINDS
from ranker.core.decay import decayed
from ranker.core.outcomes import HELD, REASONS, RELEASED_BY_DEFAULT
from ranker.core.trends import history_ready_at, rank_authors, rank_rising, rising_buckets
from ranker.core.validate import is_item_id, is_site, names_of
from ranker.core.windows import (
    BUCKET_SECONDS,
    WINDOWS,
    Resolution,
    bucket_start,
    day_starts,
    local_date,
    utc_iso,
)
from ranker.http.appkeys import ALERTER, CLOCK, PURGER, SETTINGS, SIGNED_IN, STORE, TOP_CACHE
from ranker.http.common import authorize, json_body, json_response, path_item_id, path_site
from ranker.http.errors import ApiError
from ranker.http.purge import changed
from ranker.http.query import TopKey, parse_section
from ranker.http.schemas import (
    MAX_SERIES_IDS,
    RELEASE_RULE,
    AlertsQuery,
    AuthorsQuery,
    BeaconsQuery,
    BucketsQuery,
    HeldQuery,
    Release,
    RisingQuery,
    int_param,
)

# The dashboard runs only its own script and styles, talks only to this origin, and is never
# framed (a framed page could be clicked through: Hide, Release).
DASHBOARD_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
_BUCKETS = BucketsQuery()  # the bucket parameters' defaults
_BUCKETS_N = int_param(BucketsQuery, "n")
_RISING_N = int_param(RisingQuery, "n")
_AUTHORS_N = int_param(AuthorsQuery, "n")
_AUTHORS_WINDOW = AuthorsQuery().window
# Stories with views one authors answer reads, most viewed first: what a query may cost.
AUTHORS_SCAN = 20_000
_DAYS = int_param(BeaconsQuery, "days")
_HELD_N = int_param(HeldQuery, "n")
_ALERTS_N = int_param(AlertsQuery, "n")
FLAG_SHOWN = 3600.0  # how long after its last held view a concentrated story stays flagged


def _buckets(request: web.Request, site: str, now: float) -> tuple[Resolution, list[int]]:
    """The `res` and `n` query parameters as bucket starts, oldest first: days are the
    site's own."""
    res = request.query.get("res", _BUCKETS.res)
    if res not in BUCKET_SECONDS:
        raise ApiError(400, "bad_res", "res: minute, hour or day")
    resolution: Resolution = res
    settings = request.app[SETTINGS]
    retention = {
        "minute": settings.minute_retention,
        "hour": settings.hour_retention,
        "day": settings.day_retention,
    }[resolution]
    size = BUCKET_SECONDS[resolution]
    most = int(retention // size)
    n = _BUCKETS_N.read(request.query, high=most, default=min(_BUCKETS_N.default, most))
    if resolution == "day":
        return resolution, day_starts(now, n, settings.sites[site].zone)[::-1]
    newest = bucket_start(now, resolution)
    return resolution, [newest - size * i for i in range(n - 1, -1, -1)]


async def rising(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/rising?n=&section="""
    site = authorize(request)
    n = _RISING_N.read(request.query)
    section = parse_section(request.query)
    app = request.app
    settings, store = app[SETTINGS], app[STORE]

    async def compute() -> dict[str, Any]:
        now = app[CLOCK]()
        min_views = settings.rising_min_views
        short, baseline = rising_buckets(now)
        candidates = await store.rising_candidates(site, section, short, baseline, min_views)
        ranked = rank_rising(candidates, now, min_views, n, settings.rising_min_networks)
        link = settings.sites[site].link
        since = await store.since(site)
        ready_at = None if since is None else history_ready_at(since)
        return {
            "site": site,
            "section": section,
            "computed_at": utc_iso(now),
            "short_window": f"{len(short)}m",
            "baseline_window": f"{len(baseline) // 60}h",
            "min_views": min_views,
            "min_networks": settings.rising_min_networks,
            "timezone": settings.sites[site].timezone,
            # Ratios mean little until the baseline covers time the site was counted in.
            "history": {
                "ready": ready_at is not None and ready_at <= now,
                "since": utc_iso(since) if since else None,
                "ready_at": utc_iso(ready_at) if ready_at and since else None,
            },
            "items": [
                {"rank": k, **asdict(r), "url": link(r.url)} for k, r in enumerate(ranked, 1)
            ],
        }

    # Cached like the top lists (and forgotten with them on a catalog write): every open
    # dashboard polls this.
    entry = await app[TOP_CACHE].get(TopKey(site, "rising", section, n), compute)
    return web.Response(body=entry.body, content_type="application/json")


async def authors(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/authors/top?window=&n=&section=: authors ranked by the views
    of their visible stories in the window (Parse.ly's authors report)."""
    site = authorize(request)
    n = _AUTHORS_N.read(request.query)
    window = request.query.get("window", _AUTHORS_WINDOW)
    if window not in WINDOWS:
        raise ApiError(400, "bad_window", f"window: one of {', '.join(WINDOWS)}")
    section = parse_section(request.query)
    app = request.app
    settings, store = app[SETTINGS], app[STORE]

    async def compute() -> dict[str, Any]:
        now = app[CLOCK]()
        landmark, rows = await store.top(site, section, window, AUTHORS_SCAN, now, AUTHORS_SCAN)
        half_life = settings.sites[site].half_life
        stories = [
            (
                row.id,
                row.title,
                settings.sites[site].link(row.url),
                decayed(row.score, landmark or now, now, half_life)
                if window == "hot"
                else row.score,
                names_of(row.authors),
            )
            for row in rows
        ]
        ranked = rank_authors(stories, n)
        return {
            "site": site,
            "window": window,
            "section": section,
            "computed_at": utc_iso(now),
            "stories": len(rows),
            "complete": len(rows) < AUTHORS_SCAN,
            "items": [
                {
                    "rank": k,
                    "author": a.author,
                    "name": a.name,
                    "views": round(a.views, 3) if window == "hot" else int(a.views),
                    "stories": a.stories,
                    "top_story": dict(zip(("id", "title", "url"), a.top_story, strict=True)),
                }
                for k, a in enumerate(ranked, 1)
            ],
        }

    entry = await app[TOP_CACHE].get(TopKey(site, f"authors:{window}", section, n), compute)
    return web.Response(body=entry.body, content_type="application/json")


async def purges(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/purges: how the site's CDN purge hooks are doing."""
    site = authorize(request)
    hooks = request.app[PURGER].status.get(site, {})
    return json_response(
        {
            "hooks": [
                {
                    **status.public(),
                    "last_error_at": utc_iso(status.last_error_at)
                    if status.last_error_at
                    else None,
                }
                for status in hooks.values()
            ]
        }
    )


async def alerts(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/alerts?n=: the site's alert hooks and what they were sent."""
    site = authorize(request)
    n = _ALERTS_N.read(request.query)
    config = request.app[SETTINGS].sites[site]
    box = request.app[ALERTER].box
    records = (await box.log(site))[:n] if config.alerts else []
    return json_response(
        {
            "timezone": config.timezone,
            "hooks": [
                {
                    "name": hook.name,
                    "format": hook.format,
                    "kinds": [k for k in ALERT_KINDS if k in hook.kinds],
                    "digest_at": "{:02d}:{:02d}".format(*hook.digest_at),
                    "digest_window": hook.digest_window,
                    "section": hook.section,
                }
                for hook in config.alerts
            ],
            "pending": await box.pending(site) if config.alerts else 0,
            "recent": [
                {
                    "hook": r.hook,
                    "kind": r.kind,
                    "key": r.key,
                    "title": r.title,
                    "state": r.state,
                    "attempts": r.attempts,
                    "created": utc_iso(r.created),
                    "sent_at": utc_iso(r.sent_at) if r.sent_at else None,
                    "next_at": utc_iso(r.next_at) if r.state == "pending" and r.next_at else None,
                    "last_error": r.last_error or None,
                }
                for r in records
            ],
        }
    )


async def beacons(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/beacons?days=7: per day of the site (its time zone), views
    counted and beacons not counted by reason, newest day first."""
    site = authorize(request)
    settings = request.app[SETTINGS]
    kept = int(settings.day_retention // BUCKET_SECONDS["day"])
    n = _DAYS.read(request.query, high=kept)
    zone = settings.sites[site].zone
    days = day_starts(request.app[CLOCK](), n, zone)
    dates = [local_date(day, zone) for day in days]
    # A day tallied before the site had its time zone was a UTC day: shown under its date
    # (read only where the two differ).
    utc_days = [int(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp()) for d in dates]
    older = [u for u, day in zip(utc_days, days, strict=True) if u != day]
    found = await request.app[STORE].beacons(site, days + older)
    utc_tallies = dict(zip(older, found[n:], strict=True))
    rows = []
    for date, tally, utc_day in zip(dates, found[:n], utc_days, strict=True):
        tally = tally or utc_tallies.get(utc_day, {})
        counted = tally.pop("counted", 0)
        not_counted = {reason: tally.get(reason, 0) for reason in REASONS}
        rows.append(
            {
                "day": date,
                "counted": counted,
                "not_counted": not_counted,
                "total": counted + sum(not_counted.values()),
                "released": tally.get("released", 0),
            }
        )
    return json_response(
        {"site": site, "timezone": zone.key, "reasons": list(REASONS), "days": rows}
    )


def _flag(flag: tuple[str, float, int] | None, now: float) -> dict[str, Any] | None:
    if flag is None or now - flag[2] > FLAG_SHOWN:
        return None
    network, share, at = flag
    return {"network": network, "share": share, "at": utc_iso(at)}


async def held(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/held?n=20: the stories with views held and not released, by
    reason; concentrated ones flagged with the network and its share, newest flags first."""
    site = authorize(request)
    n = _HELD_N.read(request.query)
    store, now = request.app[STORE], request.app[CLOCK]()
    flags = await store.flags(site)
    flagged = [i for i, f in sorted(flags.items(), key=lambda kv: -kv[1][2]) if _flag(f, now)]
    ids = list(dict.fromkeys([*flagged, *await store.most_held(site, HELD, n)]))[:n]
    counts = await store.held(site, ids, HELD)
    entries = await store.get_items(site, ids)
    items = []
    for item_id in ids:
        entry = entries.get(item_id) or {}
        items.append(
            {
                "id": item_id,
                "title": entry.get("title", ""),
                "url": request.app[SETTINGS].sites[site].link(entry.get("url", "")),
                "section": entry.get("section", ""),
                "held": counts[item_id],
                "flag": _flag(flags.get(item_id), now),
            }
        )
    return json_response(
        {
            "site": site,
            "reasons": list(HELD),
            "release_default": list(RELEASED_BY_DEFAULT),
            "items": items,
        }
    )


async def release(request: web.Request) -> web.Response:
    """POST /v1/sites/{site}/items/{id}/release {"reasons"?: [...]}: the item's held views of
    those reasons (default: concentrated, address_limit, datacenter) join its counts."""
    site = authorize(request)
    item_id = path_item_id(request)
    reasons: list[str] = list(RELEASED_BY_DEFAULT)
    if request.can_read_body:
        doc = await json_body(request)
        try:
            given = msgspec.convert(doc, Release).reasons
        except msgspec.ValidationError as e:
            if str(e) == RELEASE_RULE or "$.reasons" in str(e):
                raise ApiError(422, "bad_release", RELEASE_RULE) from None
            raise ApiError(422, "bad_release", 'expected {"reasons": [...]} or no body') from None
        if given is not UNSET:
            reasons = list(dict.fromkeys(given))
    app = request.app
    released = await app[STORE].release(site, item_id, reasons, app[CLOCK]())
    app[TOP_CACHE].forget(site)
    if released:
        changed(app[PURGER], site, lists=True, reason="release")
    return json_response({"id": item_id, "released": released, "views": sum(released.values())})


async def series(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/series?ids=a,b&res=minute&n=60: views per bucket for sparklines."""
    site = authorize(request)
    ids = [i for i in request.query.get("ids", "").split(",") if i]
    if not ids or len(ids) > MAX_SERIES_IDS or not all(is_item_id(i) for i in ids):
        raise ApiError(400, "bad_ids", f"ids: 1-{MAX_SERIES_IDS} comma-separated item ids")
    resolution, starts = _buckets(request, site, request.app[CLOCK]())
    counts = await request.app[STORE].series(site, ids, resolution, starts)
    return json_response(
        {
            "res": resolution,
            "step": BUCKET_SECONDS[resolution],
            "start": starts[0],
            "starts": starts,
            "timezone": request.app[SETTINGS].sites[site].timezone,
            "series": counts,
        }
    )


async def item_series(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/items/{id}/series?res=minute&n=60"""
    site = authorize(request)
    item_id = path_item_id(request)
    resolution, starts = _buckets(request, site, request.app[CLOCK]())
    counts = (await request.app[STORE].series(site, [item_id], resolution, starts))[item_id]
    return json_response(
        {
            "id": item_id,
            "res": resolution,
            "step": BUCKET_SECONDS[resolution],
            "start": starts[0],
            "timezone": request.app[SETTINGS].sites[site].timezone,
            "points": [[s, c] for s, c in zip(starts, counts, strict=True)],
        }
    )


async def sections(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/sections: the sections that have rankings (public)."""
    site = path_site(request)
    response = json_response({"sections": await request.app[STORE].sections(site)})
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def dashboard(request: web.Request) -> web.Response:
    """GET /dashboard?site=: the page shell; its data comes from the token-checked APIs."""
    settings = request.app[SETTINGS]
    site = request.query.get("site", "")
    if not is_site(site) or site not in settings.sites:
        site = next(iter(settings.sites), "")
    token = settings.sites[site].token if site == request.app.get(SIGNED_IN) else ""
    html = files("ranker").joinpath("static", "dashboard.html").read_text(encoding="utf-8")
    html = html.replace('data-site=""', f'data-site="{escape(site)}"', 1).replace(
        'data-token=""', f'data-token="{escape(token)}"', 1
    )
    return web.Response(text=html, content_type="text/html", headers=DASHBOARD_HEADERS)
