"""Fetching feeds and sitemaps safely, and one pass over a feed: its document (and a sitemap
index's sitemaps) fetched, read and made catalog entries. Shared by the collectors' feed sync
(ranker.http.feedsync) and `ranker catalog sync`.

A fetch goes to http(s) only, to public addresses only unless the feed allows private ones:
the host is resolved and every address checked before connecting (to the addresses checked,
so a name cannot change its answer in between), redirects are followed by hand (at most
MAX_REDIRECTS, each checked again), the body is streamed and refused past MAX_BYTES, and the
whole has a timeout. A document is asked for with the validators of its last fetch
(`If-None-Match`, `If-Modified-Since`): a 304, or the same bytes again, costs no parsing and
no writes."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from ranker import __version__
from ranker.core.feedread import FeedError, FeedItem, Skip, entry, read
from ranker.core.feeds import Feed

MAX_BYTES: Final = 5 * 2**20  # a document larger than this is refused
MAX_REDIRECTS: Final = 5
MAX_ITEMS: Final = 1000  # items made entries in one pass (a feed lists its newest first)
TIMEOUT: Final = aiohttp.ClientTimeout(total=30, connect=10, sock_read=15)  # one document
PASS_TIMEOUT: Final = 120.0  # a whole pass, a sitemap index's sitemaps and all
READ_CHUNK: Final = 64 * 1024
USER_AGENT: Final = f"Ranker/{__version__} feed sync"
ACCEPT: Final = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.1"
)
REDIRECTS: Final = (301, 302, 303, 307, 308)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Why an address may not be fetched from ("a loopback address"), or None when it may.
AddressCheck = Callable[[Address], str | None]


class FetchError(Exception):
    """A document could not be fetched; the message says why, for editors, and names no
    credential or query of its address."""


def refusal(address: Address) -> str | None:
    """Why a feed on the public internet may not be fetched from `address`, if so."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for attribute, what in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(address, attribute):
            return what
    return None if address.is_global else "not a public address"


def anywhere(address: Address) -> str | None:
    """The check of a feed that allows private addresses: none refused."""
    return None


class _CheckedResolver(AbstractResolver):
    """The system's resolver, refusing a name any of whose addresses the check refuses."""

    def __init__(self, check: AddressCheck) -> None:
        self._inner = DefaultResolver()
        self._check = check

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            address = ipaddress.ip_address(result["host"])
            if why := self._check(address):
                raise FetchError(f"{host} resolves to {why} ({address}): refused")
        return found

    async def close(self) -> None:
        await self._inner.close()


@asynccontextmanager
async def session(check: AddressCheck) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session whose connections go only where `check` allows."""
    connector = aiohttp.TCPConnector(resolver=_CheckedResolver(check), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as client:
        yield client


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # where the document was, after redirects
    body: bytes  # b"" when not modified
    not_modified: bool = False
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""


def _check_url(url: URL, check: AddressCheck) -> None:
    if url.scheme not in ("http", "https"):
        raise FetchError(f"{url.scheme or 'no'} scheme: only http and https are fetched")
    if not url.host:
        raise FetchError("no host in the address")
    try:
        literal = ipaddress.ip_address(url.host)
    except ValueError:
        return  # a name: checked as it is resolved
    if why := check(literal):
        raise FetchError(f"{literal} is {why}: refused")


async def fetch(
    client: aiohttp.ClientSession,
    url: str,
    check: AddressCheck,
    etag: str = "",
    last_modified: str = "",
) -> Fetched:
    """GET a document as the module says; FetchError if it cannot be had."""
    target = URL(url)
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(target, check)
        try:
            async with client.get(
                target, headers=headers, allow_redirects=False, timeout=TIMEOUT
            ) as response:
                if response.status in REDIRECTS and "Location" in response.headers:
                    target = target.join(URL(response.headers["Location"]))
                    continue
                return await _body(response, str(target))
        except TimeoutError:
            raise FetchError(f"no answer within {TIMEOUT.total:.0f} s") from None
        except aiohttp.ClientError as e:
            raise FetchError(f"no answer ({type(e).__name__})") from None
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


async def _body(response: aiohttp.ClientResponse, url: str) -> Fetched:
    if response.status == 304:
        return Fetched(url, b"", not_modified=True)
    if response.status != 200:
        raise FetchError(f"answered {response.status}")
    too_large = FetchError(f"larger than {MAX_BYTES // 2**20} MiB: refused")
    if (response.content_length or 0) > MAX_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        body += chunk
        if len(body) > MAX_BYTES:  # counted as decompressed: no gzip bomb gets past
            raise too_large
    return Fetched(
        url,
        bytes(body),
        content_type=response.headers.get("Content-Type", ""),
        etag=response.headers.get("ETag", ""),
        last_modified=response.headers.get("Last-Modified", ""),
    )


# -- one pass over a feed -----------------------------------------------------------------

# What is kept of a document between passes: [etag, last_modified, digest of rules and body].
Seen = Mapping[str, list[str]]


@dataclass(slots=True)
class Collected:
    """What one pass read: the entries to apply, the items skipped and why, and what to
    keep of each document for the next pass."""

    kind: str = ""  # the feed's kind, "" when nothing was read anew
    seen: int = 0  # items in the documents read anew
    entries: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    documents: dict[str, list[str]] = field(default_factory=dict)  # for the next pass

    @property
    def changed(self) -> bool:
        """Whether any document was read anew (else nothing is to be applied)."""
        return bool(self.kind)


def address_check(feed: Feed, public: AddressCheck = refusal) -> AddressCheck:
    """What a feed may be fetched from: anywhere if it allows private addresses."""
    return anywhere if feed.allow_private else public


async def collect(
    client: aiohttp.ClientSession,
    feed: Feed,
    seen: Seen,
    check: AddressCheck,
    limit: int = MAX_ITEMS,
) -> Collected:
    """Fetch and read a feed (a sitemap index: its newest sitemaps too), each document only
    if it changed since `seen`, within PASS_TIMEOUT; FetchError or FeedError when the feed
    itself fails. `client` is a `session(check)`."""
    try:
        async with asyncio.timeout(PASS_TIMEOUT):
            return await _collect(client, feed, seen, check, limit)
    except TimeoutError:
        raise FetchError(f"the pass took over {PASS_TIMEOUT:.0f} s: given up") from None


async def _collect(
    client: aiohttp.ClientSession, feed: Feed, seen: Seen, check: AddressCheck, limit: int
) -> Collected:
    out = Collected()
    items, children = _read(await _document(client, feed, feed.url, seen, check, out), out)
    if items is None and children is None:  # not modified: an index's sitemaps still may be
        children = [url for url in seen if url != feed.url]
    for child in children or ():
        try:
            found, nested = _read(await _document(client, feed, child, seen, check, out), out)
        except (FetchError, FeedError) as e:
            out.skipped.append((child, f"sitemap not read: {e}"))
            # Kept as it was, so the next pass asks for it again even if the index is
            # unchanged (and skips it again if it is what was read before).
            out.documents[child] = list(seen.get(child, ["", "", ""]))
            continue
        if nested:
            out.skipped.append((child, "a sitemap index inside a sitemap index: not followed"))
        items = (items or []) + (found or [])
    if children and out.kind:  # the feed is the index, whichever of its documents was read
        out.kind = "sitemap index"
    for item in items or ():
        out.seen += 1
        if len(out.entries) >= limit:
            continue
        try:
            item_id, fields = entry(item, feed)
        except Skip as e:
            what = item.link or item.guid
            out.skipped.append((what if len(what) <= 200 else what[:199] + "…", str(e)))
            continue
        out.entries.setdefault(item_id, fields)  # an id twice in a feed: its first item
    if len(out.entries) >= limit and out.seen > limit:
        out.skipped.append(("", f"{out.seen - limit} items past the first {limit} not read"))
    return out


async def _document(
    client: aiohttp.ClientSession,
    feed: Feed,
    url: str,
    seen: Seen,
    check: AddressCheck,
    out: Collected,
) -> tuple[Fetched, str] | None:
    """A document fetched anew and its digest, or None when unchanged since `seen`."""
    etag, modified, digest = (list(seen.get(url, [])) + ["", "", ""])[:3]
    fetched = await fetch(client, url, check, etag, modified)
    if fetched.not_modified:
        out.documents[url] = [etag, modified, digest]
        return None
    made = hashlib.sha256(feed.rules.encode() + b"\0" + fetched.body).hexdigest()
    out.documents[url] = [fetched.etag, fetched.last_modified, made]
    if made == digest:
        return None
    return fetched, url


def _read(
    got: tuple[Fetched, str] | None, out: Collected
) -> tuple[list[FeedItem] | None, list[str] | None]:
    """(items, child sitemaps) of a document fetched anew; (None, None) when unchanged."""
    if got is None:
        return None, None
    fetched, url = got
    document = read(fetched.body, fetched.url, fetched.content_type)
    out.kind = out.kind or document.kind
    return document.items, document.children
