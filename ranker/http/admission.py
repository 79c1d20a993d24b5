"""Which beacons count as views: every filter a beacon passes before it is aggregated.

All of it runs in process: no filter costs a Redis round trip per beacon. The one shared
piece, the day's visitor-hash salt, is read from Redis once a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b

from aiohttp import web

from ranker.core.config import Settings
from ranker.core.crowd import Concentration
from ranker.core.filters import (
    RateLimiter,
    has_fetch_metadata,
    is_bot,
    is_prefetch,
    requires_fetch_metadata,
)
from ranker.core.limits import AddressLimit, limit_key_bytes
from ranker.core.networks import (
    Client,
    NetworkSet,
    client_address,
    default_hosting_networks,
    describe,
)
from ranker.core.outcomes import Denied, Held, Outcome
from ranker.core.signing import verify
from ranker.core.validate import is_item_id
from ranker.core.visitors import Deduper, salt_day, visitor_key
from ranker.store.catalog import CatalogIndex
from ranker.store.redis import Store

MAX_CLIENTS = 100_000  # client addresses the rate limiter remembers, per process
MAX_PEERS = 4096  # TCP peers whose trust is remembered; direct readers make many


def address_window(settings: Settings) -> float:
    """The per-address limit's window: the repeat filter's, or half an hour without one."""
    return settings.dedupe_window or 1800.0


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _secure_origin(request: web.Request, via_proxy: bool) -> bool:
    """Whether the page's beacon went to a potentially trustworthy origin (https, or a
    loopback host), the only kind browsers send Fetch Metadata to."""
    if request.secure:
        return True
    if via_proxy and request.headers.get("X-Forwarded-Proto", "").lower() == "https":
        return True
    host = request.headers.get("Host", "").lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in _LOOPBACK_HOSTS or name.endswith(".localhost") or name.startswith("127.")


@lru_cache(maxsize=65536)
def _network_hash(key: str, network: str) -> str:
    """A client network as stored in Redis: a keyed hash, the same in every collector."""
    return blake2b(network.encode(), key=key.encode()[:64], digest_size=6).hexdigest()


@dataclass(slots=True)
class Verdict:
    outcome: Outcome  # None: counted
    signed: bool = False  # counted on a signed token, not the catalog
    network: str = ""  # the client's network, hashed: counted views feed the crowd rule
    label: str = ""  # the client's network as editors see it (e.g. 203.0.113.0/24)
    share: float = 0.0  # for `concentrated`: that network's share of the story's views


class Admission:
    def __init__(
        self, settings: Settings, catalog: CatalogIndex, limit: AddressLimit | None = None
    ) -> None:
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
        if limit is None and settings.max_views_per_address:
            limit = AddressLimit(settings.max_views_per_address, address_window(settings))
        self._address_limit = limit
        self._concentration = (
            Concentration(settings.max_network_share, settings.concentration_min_views)
            if settings.max_network_share < 1
            else None
        )
        self._trusted = NetworkSet.parse(settings.trusted_proxies, "collector.trusted_proxies")
        self._trusted_peers: dict[str, bool] = {}  # peer -> in _trusted: few, asked often
        deny = NetworkSet.from_files(settings.deny_networks)
        if settings.deny_hosting:
            deny = deny | default_hosting_networks() if deny else default_hosting_networks()
        self._deny = deny if deny else None
        self._filter_bots = settings.filter_bots
        self._fetch_metadata = settings.fetch_metadata
        self._network_keys = {name: site.signing_key for name, site in settings.sites.items()}
        self.salt = b""
        self.salt_day = ""

    def client(self, request: web.Request) -> tuple[str, bool]:
        """The reader's address, and whether a trusted proxy named it."""
        peer = request.remote or ""
        trusted = self._trusted_peers.get(peer)
        if trusted is None:
            if len(self._trusted_peers) >= MAX_PEERS:
                self._trusted_peers.clear()
            trusted = self._trusted_peers[peer] = peer in self._trusted
        if not trusted:
            return peer, False
        forwarded = request.headers.getall("X-Forwarded-For", ())
        return client_address(peer, list(forwarded), self._trusted), True

    def check(
        self, request: web.Request, site: str, item_id: str, token: object, now: float
    ) -> Verdict:
        """Whether the view counts, and if not why: held (by a filter), or refused
        outright (over the rate, or an id that is neither catalogued nor signed)."""
        address, via_proxy = self.client(request)
        if self._limiter is not None and not self._limiter.allow(address, now):
            return Verdict(Denied.RATE_LIMITED)
        # Refusals first: a malformed or unsigned beacon is refused whoever sends it.
        # Catalogued ids are valid ones, so the syntax check is only paid on the way out.
        signed = False
        if not self._catalog.has(site, item_id):
            if not is_item_id(item_id):
                return Verdict(Denied.BAD_ID)
            if token is None:
                return Verdict(Denied.UNKNOWN_ITEM)
            key = self._settings.sites[site].signing_key
            if not isinstance(token, str) or not verify(key, site, item_id, token, now):
                return Verdict(Denied.BAD_TOKEN)
            signed = True
        client = describe(address)
        held = self._held(request, site, item_id, address, client, via_proxy, now)
        if held is not None:
            return Verdict(held, signed)
        label = client.network_key
        network = _network_hash(self._network_keys[site], label)
        if self._concentration is not None:
            share = self._concentration.admit((site, item_id), network, now)
            if share is not None:
                return Verdict(Held.CONCENTRATED, signed, network, label, share)
        return Verdict(None, signed, network, label)

    def check_event(self, request: web.Request, site: str, key: str, now: float) -> Verdict:
        """Whether an impression or a click of a box counts: the views' filters, with `key`
        (what the event is of) in the place of the story: a visitor's repeat of the same
        event is a repeat, and one address's events of one kind are bounded alike."""
        address, via_proxy = self.client(request)
        if self._limiter is not None and not self._limiter.allow(address, now):
            return Verdict(Denied.RATE_LIMITED)
        held = self._held(request, site, key, address, describe(address), via_proxy, now)
        return Verdict(held)

    def _held(
        self,
        request: web.Request,
        site: str,
        item_id: str,
        address: str,
        client: Client,
        via_proxy: bool,
        now: float,
    ) -> Held | None:
        """Why a view of a known story is held, in the order the filters run, or None."""
        headers = request.headers
        user_agent = headers.get("User-Agent", "")
        if self._filter_bots and is_bot(user_agent):
            return Held.BOT
        if is_prefetch(headers):
            return Held.PREFETCH
        if (
            self._fetch_metadata != "never"
            and requires_fetch_metadata(user_agent)
            and not has_fetch_metadata(headers)
            and (self._fetch_metadata == "always" or _secure_origin(request, via_proxy))
        ):
            return Held.INCONSISTENT
        if self._deny is not None and self._deny.holds(client):
            return Held.DATACENTER
        if self._deduper is not None:
            visitor = visitor_key(self.salt, address, user_agent)
            if not self._deduper.first_view(site, visitor, item_id, now):
                return Held.DUPLICATE
        if self._address_limit is not None and not self._address_limit.take(
            limit_key_bytes(site, client.limit_key, item_id), now
        ):
            return Held.ADDRESS_LIMIT
        return None

    async def refresh_salt(self, store: Store, now: float) -> None:
        day = salt_day(now)
        if day != self.salt_day:
            self.salt = await store.salt(day)
            self.salt_day = day
