"""Which beacons count as views: every filter a beacon passes before it is aggregated.

All of it runs in process: no filter costs a Redis round trip per beacon. The one shared
piece, the day's visitor-hash salt, is read from Redis once a day.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from ranker.catalog import CatalogIndex
from ranker.config import Settings
from ranker.errors import ApiError
from ranker.filters import RateLimiter, is_bot, is_prefetch
from ranker.signing import verify
from ranker.store import Store
from ranker.validate import ID_RULE, is_item_id
from ranker.visitors import Deduper, salt_day, visitor_key

# Why a beacon was not counted. Filtered ones (bot, prefetch, duplicate) are answered 202;
# the others are refused with a 4xx (or 503) and the error code says why.
REASONS: Final = (
    "bot",
    "prefetch",
    "duplicate",
    "unsigned",
    "rate_limited",
    "malformed",
    "overloaded",
)
# Error code of a refused beacon -> the reason it is tallied under.
REFUSALS: Final = {
    "bad_beacon": "malformed",
    "bad_json": "malformed",
    "bad_id": "malformed",
    "unknown_site": "malformed",
    "payload_too_large": "malformed",
    "unsupported_media_type": "malformed",
    "unknown_item": "unsigned",
    "bad_token": "unsigned",
    "rate_limited": "rate_limited",
    "overloaded": "overloaded",
}
MAX_CLIENTS = 100_000  # client addresses the rate limiter remembers, per process


def client_address(request: web.Request, proxy_hops: int) -> str:
    """The reader's address: the peer's, or the one `proxy_hops` trusted proxies recorded."""
    if proxy_hops:
        hops = [
            part.strip()
            for header in request.headers.getall("X-Forwarded-For", ())
            for part in header.split(",")
        ]
        if len(hops) >= proxy_hops:
            return hops[-proxy_hops]
    return request.remote or ""


class Admission:
    def __init__(self, settings: Settings, catalog: CatalogIndex) -> None:
        self._settings = settings
        self._catalog = catalog
        self._limiter = (
            RateLimiter(settings.rate_limit, settings.rate_burst, MAX_CLIENTS)
            if settings.rate_limit
            else None
        )
        self._deduper = (
            Deduper(settings.dedupe_window, settings.dedupe_max_entries)
            if settings.dedupe_window
            else None
        )
        self._proxy_hops = settings.proxy_hops
        self._filter_bots = settings.filter_bots
        self.salt = b""
        self.salt_day = ""

    def check(
        self, request: web.Request, site: str, item_id: str, token: object, now: float
    ) -> tuple[str | None, bool]:
        """(why the view is not counted, or None; whether it counts on a signed token).

        Raises ApiError for a beacon refused outright: over the rate, or an id that is
        neither catalogued nor signed.
        """
        address = client_address(request, self._proxy_hops)
        if self._limiter is not None and not self._limiter.allow(address, now):
            raise ApiError(
                429, "rate_limited", "too many beacons from this address", {"Retry-After": "1"}
            )
        # Refusals first: a malformed or unsigned beacon gets its 4xx whoever sends it.
        # Catalogued ids are valid ones, so the syntax check is only paid on the way out.
        signed = False
        if not self._catalog.has(site, item_id):
            if not is_item_id(item_id):
                raise ApiError(400, "bad_id", ID_RULE)
            if token is None:
                raise ApiError(404, "unknown_item", "no catalogued item with this id")
            key = self._settings.sites[site].signing_key
            if not isinstance(token, str) or not verify(key, site, item_id, token, now):
                raise ApiError(403, "bad_token", "the token is invalid or expired for this id")
            signed = True
        headers = request.headers
        user_agent = headers.get("User-Agent", "")
        if self._filter_bots and is_bot(user_agent):
            return "bot", False
        if is_prefetch(headers):
            return "prefetch", False
        if self._deduper is not None:
            visitor = visitor_key(self.salt, address, user_agent)
            if not self._deduper.first_view(site, visitor, item_id, now):
                return "duplicate", False
        return None, signed

    async def refresh_salt(self, store: Store, now: float) -> None:
        day = salt_day(now)
        if day != self.salt_day:
            self.salt = await store.salt(day)
            self.salt_day = day
