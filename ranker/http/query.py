"""The public read: top-N lists as JSON, cached in process, with ETag and Cache-Control."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from html import escape
from typing import Any, NamedTuple
from xml.sax.saxutils import escape as xml_escape

import orjson
from aiohttp import web

from ranker.core.config import ConfigError, Settings, Site, parse_duration
from ranker.core.decay import decayed
from ranker.core.validate import (
    ID_RULE,
    NAME_RULE,
    SECTION_RULE,
    clean_text,
    is_item_id,
    is_section,
    names_of,
    safe_url,
    slug,
)
from ranker.core.windows import WINDOWS, utc_iso
from ranker.http.errors import ApiError
from ranker.http.etags import client_has, etag
from ranker.http.schemas import MAX_AGE_PATTERN, MAX_EXCLUDE, MAX_N, TopQuery, int_param
from ranker.store.redis import Ranked, Store

RANK_DEPTH = MAX_N  # ranks deeper than this are reported as null
MAX_SCAN = 5000  # ranked members one query may look through for visible, catalogued ones
_MAX_ENTRIES = 10_000


class TopKey(NamedTuple):
    """One list: what its cache entry is kept under."""

    site: str
    window: str
    section: str | None
    n: int
    max_age: int = 0  # seconds; 0: any age
    author: str | None = None  # a slug
    tag: str | None = None  # a slug

    def facets(self) -> dict[str, str]:
        """The author's and the tag's slugs by kind, for the store."""
        return {k: v for k, v in (("author", self.author), ("tag", self.tag)) if v}


MAX_AGE = 3650 * 86400  # a longer max_age is this one (ten years)
MAX_AGE_RE = re.compile(MAX_AGE_PATTERN)
_TOP_DEFAULTS = TopQuery()
_TOP_N = int_param(TopQuery, "n")
_WINDOWS = frozenset(WINDOWS)


# How a list is written out, by format: (render, Content-Type). JSON is the entry's own.
Renderer = Callable[[dict[str, Any]], bytes]


@dataclass(slots=True)
class Entry:
    body: bytes
    doc: dict[str, Any]
    expires: float
    headers: dict[str, str]  # built once, sent with every answer from this entry
    # The stories ranked next after the list's n, up to MAX_EXCLUDE of them: what takes the
    # places of stories a request excludes, so it still gets n when n qualify.
    spare: list[dict[str, Any]] | None = None
    pins: dict[str, int] = field(default_factory=dict)  # pinned story -> its position
    # The list in other formats (HTML, RSS), each rendered on its first ask.
    formats: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)

    def rendered(
        self, render: Renderer, content_type: str, doc: dict[str, Any] | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The list (or `doc`, a filtered copy) as `render` writes it, with its headers;
        the whole list's rendering is kept."""
        if doc is None and content_type in self.formats:
            return self.formats[content_type]
        body = render(self.doc if doc is None else doc)
        answer = body, {**self.headers, "Content-Type": content_type, "ETag": etag(body)}
        if doc is None:
            self.formats[content_type] = answer
        return answer

    def filtered(self, exclude: frozenset[str], backfill: bool = True) -> dict[str, Any] | None:
        """The list with the `exclude`d stories left out before the cut (the next ones
        move up, ranks follow; pinned stories keep their places), and without the stories
        filling it up unless `backfill`; None when that is the list itself."""
        if not exclude and (backfill or not any(it["backfill"] for it in self.doc["items"])):
            return None
        pool = [*self.doc["items"], *(self.spare or [])]
        kept = [
            it
            for it in pool
            if it["id"] not in exclude and (backfill or not it["backfill"]) and not it["pinned"]
        ]
        pins = [
            (self.pins[it["id"]], it) for it in pool if it["pinned"] and it["id"] not in exclude
        ]
        return {**self.doc, "items": place(kept, pins, self.doc["n"])}

    def without(
        self, exclude: frozenset[str], backfill: bool = True
    ) -> tuple[bytes, dict[str, str]]:
        """The list as JSON, `filtered`."""
        doc = self.filtered(exclude, backfill)
        if doc is None:
            return self.body, self.headers
        body = orjson.dumps(doc)
        return body, {**self.headers, "ETag": etag(body)}


def place(
    ranked: list[dict[str, Any]], pins: list[tuple[int, dict[str, Any]]], n: int
) -> list[dict[str, Any]]:
    """The first `n` of a list with its pinned stories at their positions (1 is the top;
    pins at one position in the order given) and the others in their order around them;
    a pin past the end of a short list follows it. Ranks follow the places."""
    out: list[dict[str, Any]] = []
    waiting = sorted(pins, key=lambda pin: pin[0])
    others = iter(ranked)
    while len(out) < n:
        if waiting and (waiting[0][0] <= len(out) + 1):
            out.append(waiting.pop(0)[1])
        elif (story := next(others, None)) is not None:
            out.append(story)
        elif waiting:
            out.append(waiting.pop(0)[1])
        else:
            break
    return [{**it, "rank": k} for k, it in enumerate(out, 1)]


def render_fragment(doc: dict[str, Any]) -> bytes:
    """An escaped `<ol>` of the list, for server-side includes and edge caches."""
    attrs = f' data-site="{escape(doc["site"])}" data-window="{escape(doc["window"])}"'
    if doc["section"]:
        attrs += f' data-section="{escape(doc["section"])}"'
    rows = []
    for it in doc["items"]:
        views = it["views"]
        shown = f"{views:,.0f}" if isinstance(views, float) else f"{views:,}"
        # The catalog's rule again, for entries stored before it: no link, clean text.
        title = escape(clean_text(it["title"]))
        href = safe_url(it["url"])
        headline = (
            f'<a class="ranker-link" href="{escape(href)}">{title}</a>'
            if href
            else f'<span class="ranker-headline">{title}</span>'
        )
        if it.get("backfill"):  # not ranked by views: no count to show
            rows.append(
                f'<li class="ranker-item ranker-backfill" data-id="{escape(it["id"])}">'
                f"{headline}</li>"
            )
            continue
        pinned = " ranker-pinned" if it.get("pinned") else ""
        rows.append(
            f'<li class="ranker-item{pinned}" data-id="{escape(it["id"])}">{headline} '
            f'<span class="ranker-views">{shown}</span></li>'
        )
    items = "\n".join(rows)
    return f'<ol class="ranker-list" aria-label="Most viewed"{attrs}>\n{items}\n</ol>\n'.encode()


def render_rss(doc: dict[str, Any], site: Site) -> bytes:
    """The list as an RSS 2.0 feed: the site's address (`base_url`) as the channel's link,
    each story with its link, summary, section, authors and publish time."""
    name = site.title or site.name
    scope = f" in {doc['section']}" if doc["section"] else ""
    computed = datetime.fromisoformat(doc["computed_at"])
    channel = [
        f"<title>{_xml(name)}: most viewed{_xml(scope)}</title>",
        f"<link>{_xml(site.base_url or '/')}</link>",
        f"<description>Most viewed stories{_xml(scope)}, window {_xml(doc['window'])}"
        "</description>",
        f"<lastBuildDate>{format_datetime(computed, usegmt=True)}</lastBuildDate>",
        "<generator>Ranker</generator>",
    ]
    for it in doc["items"]:
        parts = [f"<title>{_xml(it['title'])}</title>"]
        if href := safe_url(it["url"]):
            parts.append(f"<link>{_xml(href)}</link>")
        parts.append(f'<guid isPermaLink="false">{_xml(doc["site"])}:{_xml(it["id"])}</guid>')
        if it["summary"]:
            parts.append(f"<description>{_xml(it['summary'])}</description>")
        if it["section"]:
            parts.append(f"<category>{_xml(it['section'])}</category>")
        parts += [f"<dc:creator>{_xml(a)}</dc:creator>" for a in it.get("authors", [])]
        if it["published_at"]:
            published = datetime.fromisoformat(it["published_at"])
            parts.append(f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>")
        channel.append(f"<item>{''.join(parts)}</item>")
    body = "\n".join(channel)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f"<channel>\n{body}\n</channel>\n</rss>\n"
    ).encode()


_NOT_XML = re.compile("[\ufffe\uffff]")  # the noncharacters XML 1.0 refuses too


def _xml(text: str) -> str:
    """Text as XML character data: escaped, and without the characters XML 1.0 refuses
    (an entry stored before the catalog's text rule may hold them)."""
    return xml_escape(_NOT_XML.sub("", clean_text(text)), {'"': "&quot;"})


class TopCache:
    """~1 s of memory per list, and one Redis query however many requests miss at once."""

    def __init__(self, ttl: float, clock: Callable[[], float], cache_control: str) -> None:
        self._ttl = ttl
        self._clock = clock
        self._public_headers = {
            "Content-Type": "application/json",
            "Cache-Control": cache_control,
            "Access-Control-Allow-Origin": "*",
        }
        self._entries: dict[TopKey, Entry] = {}
        self._keys: dict[tuple[str, str], TopKey] = {}
        # Bumped by a catalog write, so a list computed across the write is not kept.
        self._generation: dict[str, int] = {}
        self._inflight: dict[TopKey, asyncio.Future[Entry]] = {}
        self.hits = 0  # lists answered from memory
        self.misses = 0  # lists computed (or awaited while another request computed them)

    async def get(self, key: TopKey, compute: Callable[[], Awaitable[dict[str, Any]]]) -> Entry:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry.expires > now:
            self.hits += 1
            return entry
        self.misses += 1
        if (pending := self._inflight.get(key)) is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[key] = future
        generation = self._generation.get(key[0], 0)
        try:
            doc = await compute()
            pins = doc.pop("pins", {})  # kept for `without`, not shown
            spare = None
            if len(doc["items"]) > key[3]:  # computed with spares: the list is the first n
                spare = doc["items"][key[3] :]
                doc = {**doc, "items": doc["items"][: key[3]]}
            body = orjson.dumps(doc)
            # (An editor's answer kept here, such as the authors', has no story ids.)
            stories = [it["id"] for it in [*doc["items"], *(spare or [])] if "id" in it]
            tags = surrogate_keys(key, stories)
            headers = {
                **self._public_headers,
                "ETag": etag(body),
                "Surrogate-Key": " ".join(tags),  # Fastly, Varnish (xkey), Akamai
                "Cache-Tag": ",".join(tags),  # Cloudflare
            }
            entry = Entry(body, doc, now + self._ttl, headers, spare=spare, pins=pins)
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries = {k: e for k, e in self._entries.items() if e.expires > now}
            if self._generation.get(key[0], 0) == generation:
                self._entries[key] = entry
            future.set_result(entry)
            return entry
        except BaseException as e:
            future.set_exception(e)
            raise
        finally:
            del self._inflight[key]

    def fresh(self, site: str, query_string: str) -> Entry | None:
        """The hot path: an unexpired list for a query string seen before, else None."""
        key = self._keys.get((site, query_string))
        entry = self._entries.get(key) if key is not None else None
        if entry is not None and entry.expires > self._clock():
            self.hits += 1
            return entry
        return None

    def key(self, site: str, query_string: str, parse: Callable[[], TopKey]) -> TopKey:
        """The validated list a request asks for; parsed once per distinct query string."""
        raw = (site, query_string)
        key = self._keys.get(raw)
        if key is None:
            key = parse()  # raises ApiError for bad input, which is never remembered
            if len(self._keys) >= _MAX_ENTRIES:
                self._keys.clear()
            self._keys[raw] = key
        return key

    def forget(self, site: str) -> None:
        """A catalog write: the site's lists are recomputed on their next read."""
        self._generation[site] = self._generation.get(site, 0) + 1
        self._entries = {k: e for k, e in self._entries.items() if k[0] != site}


def parse_top_query(query: Any, sites: Mapping[str, Site], site: str) -> TopKey:
    """The list a query string asks for, by schemas.TopQuery, or ApiError."""
    if site not in sites:
        raise ApiError(404, "unknown_site", "no such site")
    default = sites[site].max_age
    n = _TOP_N.read(query)
    window = query.get("window", _TOP_DEFAULTS.window)
    if window not in _WINDOWS:
        raise ApiError(400, "bad_window", f"window: one of {', '.join(WINDOWS)}")
    return TopKey(
        site,
        window,
        parse_section(query),
        n,
        parse_max_age(query, default),
        parse_name(query, "author"),
        parse_name(query, "tag"),
    )


MAX_NAME_PARAM = 200  # characters of an `author` or `tag` parameter


def parse_name(query: Any, kind: str) -> str | None:
    """The optional `author` or `tag` parameter as its slug, or ApiError."""
    given = query.get(kind) or None
    if given is None:
        return None
    if len(given) > MAX_NAME_PARAM or not (key := slug(given)):
        raise ApiError(400, f"bad_{kind}", f"{kind}: {NAME_RULE}, as the catalog names it")
    return key


def parse_max_age(query: Any, default: float) -> int:
    """The optional `max_age` parameter (a duration like 48h; 0 for any age, whatever the
    site's default) in whole seconds, else the site's default (0: any age), or ApiError."""
    if "max_age" not in query:
        return int(default)
    given = query["max_age"]
    if not MAX_AGE_RE.fullmatch(given):
        raise ApiError(400, "bad_max_age", "max_age: a duration like 48h, 90m or 7d, or 0")
    try:
        seconds = parse_duration(given, "max_age")
    except ConfigError:  # zero
        return 0
    return min(max(int(seconds), 1), MAX_AGE)


def parse_exclude(query: Any) -> frozenset[str]:
    """The optional `exclude` parameter (comma-separated ids, at most MAX_EXCLUDE), or
    ApiError."""
    if "exclude" not in query:
        return frozenset()
    given = query["exclude"].split(",")
    ids = frozenset(given)
    if len(ids) > MAX_EXCLUDE or not all(is_item_id(i) for i in given):
        raise ApiError(
            400, "bad_exclude", f"exclude: at most {MAX_EXCLUDE} comma-separated ids; {ID_RULE}"
        )
    return ids


def parse_backfill(query: Any) -> bool:
    """The optional `backfill` parameter (default true), or ApiError."""
    value = str(query.get("backfill", "true"))
    if value not in ("true", "false"):
        raise ApiError(400, "bad_backfill", "backfill: true or false")
    return value == "true"


def parse_section(query: Any) -> str | None:
    """The optional `section` parameter, or ApiError."""
    section = query.get("section") or None
    if section is not None and not is_section(section):
        raise ApiError(400, "bad_section", SECTION_RULE)
    return section


async def compute_top(
    store: Store, settings: Settings, key: TopKey, now: float, spare: int = 0
) -> dict[str, Any]:
    """The list `key` names, with up to `spare` more stories after its n."""
    site, window, section, n, max_age = key[:5]
    want = n + spare
    found = await store.listing(
        site, section, window, want, now, MAX_SCAN, max_age, key.facets(), pins=True
    )
    half_life, link = settings.sites[site].half_life, settings.sites[site].link

    def views(row: Ranked) -> float:
        if window == "hot":
            return round(decayed(row.score, found.landmark or now, now, half_life), 3)
        return int(row.score)

    pinned = {row.id: position for position, row in found.pinned}
    rows = [row for row in found.rows if row.id not in pinned]
    items = [_item(row, views(row), link, backfill=False) for row in rows]
    if len(rows) + len(pinned) < want:
        # Never an empty box: fewer stories qualify than asked for, so the latest
        # published ones fill it up, marked as such (a request may ask for none).
        listed = {row.id for row in rows} | set(pinned)
        cutoff = now - max_age if max_age else 0
        latest = await store.latest(site, section, want, cutoff, MAX_SCAN, key.facets())
        fill = [row for row in latest if row.id not in listed][: want - len(listed)]
        items += [_item(row, 0, link, backfill=True) for row in fill]
    pins = [
        (p, _item(row, views(row), link, backfill=False, pinned=True)) for p, row in found.pinned
    ]
    return {
        "site": site,
        "window": window,
        "section": section,
        **({"author": key.author} if key.author else {}),
        **({"tag": key.tag} if key.tag else {}),
        "n": n,
        "computed_at": utc_iso(now),
        "items": place(items, pins, want),
        "pins": pinned,
    }


def _item(
    row: Ranked,
    views: float,
    link: Callable[[str], str],
    *,
    backfill: bool,
    pinned: bool = False,
) -> dict[str, Any]:
    return {
        "rank": 0,
        "id": row.id,
        "title": row.title,
        "url": link(row.url),
        "section": row.section or None,
        "summary": row.summary or None,
        "image": row.image or None,
        "published_at": row.published_at or None,
        "authors": names_of(row.authors),
        "views": views,
        "backfill": backfill,
        "pinned": pinned,
    }


def cache_control(settings: Settings) -> str:
    shared = f", s-maxage={settings.s_maxage}" if settings.s_maxage else ""
    return (
        f"public, max-age={settings.max_age}{shared}, "
        f"stale-while-revalidate={settings.stale_while_revalidate}"
    )


def surrogate_keys(key: TopKey, ids: Iterable[str]) -> list[str]:
    """What a CDN tags a public list with, so a purge drops exactly what changed: the
    site's every list, this list, and each story in it (or ranked just after it, which an
    `exclude` brings in)."""
    site = f"ranker:{key.site}"
    scope = key.section or "all"
    return [site, f"{site}:top:{key.window}:{scope}", *(f"{site}:{i}" for i in ids)]


def cached_response(request: web.Request, body: bytes, headers: dict[str, str]) -> web.Response:
    """The body, or 304 when the client already has this ETag."""
    if client_has(request, headers["ETag"]):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers)


async def item_ranks(
    cache: TopCache, store: Store, settings: Settings, site: str, item_id: str, now: float
) -> dict[str, int | None]:
    """The item's rank among visible stories in each window (None past RANK_DEPTH)."""
    out: dict[str, int | None] = {}
    for window in WINDOWS:
        key = TopKey(site, window, None, RANK_DEPTH)

        async def compute(key: TopKey = key) -> dict[str, Any]:
            return await compute_top(store, settings, key, now)

        entry = await cache.get(key, compute)
        out[window] = next(
            (
                it["rank"]
                for it in entry.doc["items"]
                if it["id"] == item_id and not it.get("backfill")
            ),
            None,
        )
    return out
