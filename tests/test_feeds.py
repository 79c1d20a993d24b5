"""Feed and sitemap sync (`[[sites.NAME.feeds]]`), against documents served on loopback:
the shapes CMSs publish become catalog entries, unchanged feeds change nothing, edits update,
deleted and hidden stories stay so, hostile documents are refused with a clear status, two
collectors poll a feed once per interval, and a real `ranker serve` configured with only a
feed counts and lists its stories (with `ranker catalog sync` from the command line)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import os
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from ranker.core.config import ConfigError, PurgeHook, Settings, settings_from_mapping
from ranker.core.feedread import FeedItem, Skip, as_id, entry, item_id, item_section
from ranker.core.feeds import Feed
from ranker.http.app import create_app
from ranker.http.appkeys import FEEDS, PURGER
from ranker.http.feedfetch import Address, refusal
from ranker.http.feedsync import FeedSync, Pass
from ranker.http.purge import Purger
from ranker.http.schemas import Feeds, FeedSyncResult
from ranker.store.engine import EmbeddedEngine, free_port
from tests.support import BROWSER_HEADERS, TOKEN, FakeClock, auth, put_item
from tests.test_cli import ranker_process

DOCUMENTS = Path(__file__).parent / "data" / "feeds"
RSS = "application/rss+xml; charset=UTF-8"
XML = "application/xml"
EVERY = 120.0


@dataclass
class Publisher:
    """A site's web server: documents by path, answering `If-None-Match` with 304 while
    `etags`; redirects; and a purge webhook. Counts the GETs of each path."""

    documents: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    etags: bool = True
    gets: Counter[str] = field(default_factory=Counter)
    conditional: Counter[str] = field(default_factory=Counter)  # GETs that sent a validator
    purges: list[list[str]] = field(default_factory=list)

    def serve(self, path: str, name_or_body: str | bytes, content_type: str = RSS) -> None:
        body = name_or_body
        if isinstance(body, str):
            body = (DOCUMENTS / body).read_bytes()
        self.documents[path] = (body, content_type)

    async def get(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.gets[path] += 1
        if "If-None-Match" in request.headers or "If-Modified-Since" in request.headers:
            self.conditional[path] += 1
        if path in self.redirects:
            raise web.HTTPFound(self.redirects[path])
        if path == "/broken":
            return web.Response(status=500)
        if path == "/chunked-huge":  # no Content-Length: refused as it streams past the cap
            response = web.StreamResponse(headers={"Content-Type": RSS})
            await response.prepare(request)
            for _ in range(7):
                await response.write(b"<!-- " + b"x" * 2**20 + b" -->")
            await response.write_eof()
            return response
        if path not in self.documents:
            raise web.HTTPNotFound()
        body, content_type = self.documents[path]
        headers = {"Content-Type": content_type}
        if path.endswith(".gz"):
            headers["Content-Encoding"] = "gzip"
        if self.etags:
            tag = f'"{hash(body) & 0xFFFFFFFF:x}"'
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
            headers["ETag"] = tag
        return web.Response(body=body, headers=headers)

    async def purge(self, request: web.Request) -> web.Response:
        self.purges.append((await request.json())["keys"])
        return web.Response(text="{}")


@contextlib.asynccontextmanager
async def published(host: str = "127.0.0.1") -> AsyncIterator[tuple[Publisher, str]]:
    publisher = Publisher()
    app = web.Application()
    app.router.add_post("/purge", publisher.purge)
    app.router.add_get("/{path:.*}", publisher.get)
    server = TestServer(app, host=host)
    await server.start_server()
    try:
        yield publisher, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def site() -> AsyncIterator[tuple[Publisher, str]]:
    async with published() as found:
        yield found


def configured(settings: Settings, *feeds: Feed, purge: str = "") -> Settings:
    hooks = (PurgeHook("webhook", purge),) if purge else ()
    news = replace(settings.sites["news"], feeds=feeds, purge=hooks)
    return replace(settings, sites={**settings.sites, "news": news})


@contextlib.asynccontextmanager
async def collector(
    settings: Settings, clock: FakeClock, check: Any = refusal
) -> AsyncIterator[TestClient[Any, Any]]:
    """A collector with the settings' feeds, polling only when a test says (`poll`)."""
    app = create_app(settings, clock=clock)
    app[FEEDS] = FeedSync(settings, clock, check, background=False)
    app[PURGER] = Purger(settings.sites, backoff=0.01)
    async with TestClient(TestServer(app, host="127.0.0.1"), headers=BROWSER_HEADERS) as client:
        yield client


async def poll(client: TestClient[Any, Any]) -> list[Pass]:
    return await client.app[FEEDS].poll_due()


async def entry_of(client: TestClient[Any, Any], item: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/sites/news/items/{item}", headers=auth())
    if response.status == 404:
        return None
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def feed_status(client: TestClient[Any, Any]) -> list[dict[str, Any]]:
    response = await client.get("/v1/sites/news/feeds", headers=auth())
    assert response.status == 200, await response.text()
    body = await response.read()
    msgspec.json.decode(body, type=Feeds)  # as /openapi.json describes it
    return list(orjson.loads(body)["feeds"])


def feed(base: str, path: str, **rules: Any) -> Feed:
    return Feed("f", base + path, EVERY, allow_private=True, **rules)


# -- what each shape of feed becomes --------------------------------------------------------

# (document, rules, {id: fields the entry must have})
SHAPES: dict[str, tuple[str, dict[str, str], dict[str, dict[str, Any]]]] = {
    "wordpress": (
        "wordpress.rss",
        {"section": "category"},
        {
            "p-1042": {
                "title": "Council approves new tram line",
                "url": "https://harbour.example/2026/11/26/council-approves-new-tram-line/",
                "section": "politics",
                "image": "https://harbour.example/wp-content/uploads/2026/11/tram-1024x683.jpg",
                "published_at": "2026-11-26T08:00:00Z",
                "authors": ["Ines Moreau"],
                "tags": ["Politics", "Transport"],
            },
            "p-1039": {
                "title": "Fish & chips shop wins national award",
                "section": "food-drink",  # "Food &amp; Drink", as WordPress escapes it
                "image": "https://harbour.example/wp-content/uploads/2026/11/cod.jpg",
                "tags": ["Food & Drink"],
            },
            "p-1037": {"authors": ["Ines Moreau", "Weather Desk"], "image": ""},
        },
    ),
    "ghost": (
        "ghost.rss",
        {"section": "category"},
        {
            "6745a1f0c2d4e80001a3b7c1": {
                "title": "Markets rally as rates hold",
                "summary": "Investors cheered the central bank's decision to keep rates at 3.5%.",
                "section": "markets",
                "published_at": "2026-11-25T17:30:00Z",
                "authors": ["Sam Okafor"],
            },
            "6745a1f0c2d4e80001a3b7c2": {
                "title": "Start-up raises €40m for battery recycling",
                "image": "https://ledger.example/content/images/size/w300/battery.jpg",
            },
        },
    ),
    "drupal": (
        "drupal.rss",
        {"id": "path", "section": "^/news/([a-z-]+)/"},
        {
            "news-culture-library-reopens-after-renovation": {
                "title": "Library reopens after renovation",
                "section": "culture",
                "summary": "Library reopens after renovation The central library reopens on "
                "Saturday with a new children's wing.",
                "authors": ["City Desk"],
            },
            "news-sport-road-closures-marathon": {"section": "sport"},
        },
    ),
    "atom": (
        "atom.xml",
        {},
        {
            "tag:science.example-2026:comet-visible-tonight": {
                "title": "Comet visible tonight",  # xhtml, as text
                "url": "{base}/2026/11/comet-visible-tonight",  # relative, read against the feed
                "summary": "Look north-east after dusk.",
                "image": "https://science.example/img/comet.png",
                "published_at": "2026-11-26T05:00:00Z",
                "tags": ["space"],
            },
            "tag:science.example-2026:bees": {
                "summary": "A study of 300 hives & their foragers.",
                "published_at": "2026-11-25T12:00:00Z",  # updated, without published
                "authors": ["Priya Shah", "Jonas Berg"],
            },
        },
    ),
    "rss 1.0": (
        "rdf.xml",
        {"id": "/issues/([0-9]+/[a-z-]+)", "section": "category"},
        {
            "12-ferry-timetable": {
                "title": "Ferry timetable changes for winter",
                "section": "transport",
                "published_at": "2026-11-20T09:00:00Z",
                "authors": ["Harbour Desk"],
            },
            "12-school-play": {"section": "", "summary": "All three nights are sold out."},
        },
    ),
    "google news sitemap": (
        "news-sitemap.xml",
        {"id": "path", "section": "path"},
        {
            "world-2026-11-26-summit-ends-without-agreement": {
                "title": "Summit ends without agreement",
                "section": "world",
                "image": "https://daily.example/img/2026/11/summit.jpg",
                "published_at": "2026-11-26T07:45:00Z",
                "tags": ["summit", "climate", "diplomacy"],
            },
            "sport-2026-11-25-derby-thriller": {"title": "Derby thriller ends 3–3"},
        },
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
async def test_each_shape_of_feed_becomes_catalog_entries(
    settings: Settings, clock: FakeClock, site: tuple[Publisher, str], shape: str
) -> None:
    publisher, base = site
    document, rules, expected = SHAPES[shape]
    publisher.serve("/feed", document, XML)
    async with collector(configured(settings, feed(base, "/feed", **rules)), clock) as client:
        [done] = await poll(client)
        assert done.outcome == "changed", done.error
        assert sorted(done.applied.added) == sorted(expected)
        for item, fields in expected.items():
            stored = await entry_of(client, item)
            assert stored is not None, item
            for name, value in fields.items():
                value = value.format(base=base) if isinstance(value, str) else value
                assert stored[name] == value, (item, name)
            assert stored["hidden"] is False
        [status] = await feed_status(client)
        assert status["items"]["added"] == len(expected)
        assert status["kind"] == {"atom": "atom", "google news sitemap": "sitemap"}.get(
            shape, "rss"
        )
        if shape == "google news sitemap":  # a page without News has no title: skipped
            assert status["items"]["errors"] == 1
            assert status["item_errors"][0]["item"] == "https://daily.example/about-us"
            assert status["item_errors"][0]["reason"] == "no title"


async def test_a_sitemap_index_brings_its_sitemaps_stories_and_asks_again_conditionally(
    settings: Settings, clock: FakeClock, site: tuple[Publisher, str]
) -> None:
    publisher, base = site
    index = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-news.xml</loc><lastmod>2026-11-26</lastmod></sitemap>"
        "<sitemap><loc>/sitemap-archive.xml</loc><lastmod>2026-11-01</lastmod></sitemap>"
        "</sitemapindex>"
    )
    archive = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url>'
        "<loc>https://daily.example/world/2026/10/election-results</loc><news:news>"
        "<news:publication_date>2026-10-05</news:publication_date>"
        "<news:title>Election results</news:title></news:news></url></urlset>"
    )
    publisher.serve("/sitemap.xml", index.encode(), XML)
    publisher.serve("/sitemap-news.xml", "news-sitemap.xml", XML)
    publisher.serve("/sitemap-archive.xml", archive.encode(), XML)
    rules = {"id": "path", "section": "path"}
    async with collector(configured(settings, feed(base, "/sitemap.xml", **rules)), clock) as c:
        [done] = await poll(c)
        assert sorted(done.applied.added) == [
            "sport-2026-11-25-derby-thriller",
            "world-2026-10-election-results",
            "world-2026-11-26-summit-ends-without-agreement",
        ]
        assert (await entry_of(c, "world-2026-10-election-results") or {})["published_at"] == (
            "2026-10-05T00:00:00Z"
        )
        assert (await feed_status(c))[0]["kind"] == "sitemap index"
        clock.advance(EVERY)
        [again] = await poll(c)
        assert again.outcome == "not_modified"
        # Each document asked for again with its validator, and answered 304.
        for path in ("/sitemap.xml", "/sitemap-news.xml", "/sitemap-archive.xml"):
            assert (publisher.gets[path], publisher.conditional[path]) == (2, 1), path


# -- polling again --------------------------------------------------------------------------


async def test_an_unchanged_feed_writes_nothing_and_an_edit_updates_the_entry(
    settings: Settings, clock: FakeClock, site: tuple[Publisher, str], redis: Redis
) -> None:
    publisher, base = site
    publisher.serve("/feed/", "wordpress.rss")
    wordpress = feed(base, "/feed/", section="category")
    async with collector(configured(settings, wordpress, purge=base + "/purge"), clock) as client:
        assert (await poll(client))[0].outcome == "changed"
        version = await redis.hget("rk:{news}:meta", "catver")
        stored = await redis.hgetall("rk:{news}:item:p-1042")
        # Not due yet: not asked.
        clock.advance(EVERY - 1)
        assert await poll(client) == []
        assert publisher.gets["/feed/"] == 1
        # Due: asked with its ETag, answered 304.
        clock.advance(1)
        assert [p.outcome for p in await poll(client)] == ["not_modified"]
        assert publisher.conditional["/feed/"] == 1
        # A server without validators sends the same bytes: not read again either.
        publisher.etags = False
        clock.advance(EVERY)
        assert [p.outcome for p in await poll(client)] == ["not_modified"]
        assert await redis.hget("rk:{news}:meta", "catver") == version
        assert await redis.hgetall("rk:{news}:item:p-1042") == stored
        await client.app[PURGER].settle(5.0)
        assert publisher.purges == []  # nothing changed, nothing purged

        # The newsroom corrects a headline: that entry is updated, its CDN copies purged.
        body = (DOCUMENTS / "wordpress.rss").read_bytes()
        publisher.serve("/feed/", body.replace(b"new tram line", b"the new tram line"))
        clock.advance(EVERY)
        [edited] = await poll(client)
        assert (edited.outcome, edited.applied.updated) == ("changed", ["p-1042"])
        assert sorted(edited.applied.unchanged) == ["p-1037", "p-1039"]
        entry = await entry_of(client, "p-1042")
        assert entry is not None and entry["title"] == "Council approves the new tram line"
        await client.app[PURGER].settle(5.0)
        assert publisher.purges == [["ranker:news:p-1042"]]
        [status] = await feed_status(client)
        assert status["outcome"] == "changed"
        assert status["items"] == {
            "seen": 3,
            "added": 0,
            "updated": 1,
            "unchanged": 2,
            "deleted": 0,
            "errors": 0,
        }
        assert status["totals"] == {"added": 3, "updated": 1, "errors": 0}
        assert status["last_success"] == status["last_attempt"] == status["last_read"]
        labels = {"site": "news", "feed": "f", "outcome": "not_modified"}
        assert (REGISTRY.get_sample_value("ranker_feed_polls_total", labels) or 0) >= 2


async def test_deleted_and_hidden_stories_stay_so_and_pins_stay(
    settings: Settings, clock: FakeClock, site: tuple[Publisher, str]
) -> None:
    publisher, base = site
    publisher.serve("/feed/", "wordpress.rss")
    async with collector(configured(settings, feed(base, "/feed/")), clock) as client:
        await poll(client)
        assert (await client.delete("/v1/sites/news/items/p-1039", headers=auth())).status == 204
        hide = await client.patch(
            "/v1/sites/news/items/p-1037", json={"hidden": True}, headers=auth()
        )
        assert hide.status == 200
        pin = {"until": clock() + 3600, "position": 1}
        assert (await client.put("/v1/sites/news/pins/p-1042", json=pin, headers=auth())).ok
        # Every story of the feed edited: the deleted one is not brought back, the hidden
        # one is updated and stays hidden, the pinned one stays pinned.
        body = (
            (DOCUMENTS / "wordpress.rss").read_bytes().replace(b"</title>", b" (updated)</title>")
        )
        publisher.serve("/feed/", body)
        clock.advance(EVERY)
        [done] = await poll(client)
        assert done.applied.deleted == ["p-1039"]
        assert sorted(done.applied.updated) == ["p-1037", "p-1042"]
        assert await entry_of(client, "p-1039") is None
        hidden = await entry_of(client, "p-1037")
        assert hidden is not None and hidden["hidden"] is True
        assert hidden["title"] == "Storm warning for the weekend (updated)"
        pins = await (await client.get("/v1/sites/news/pins", headers=auth())).json()
        assert [p["id"] for p in pins["pins"]] == ["p-1042"]
        assert (await feed_status(client))[0]["items"]["deleted"] == 1
        # An editor who writes the story again brings it back, and the feed follows it.
        await put_item(client, "p-1039", title="Back by hand")
        clock.advance(EVERY)
        publisher.serve("/feed/", body + b"\n")
        [again] = await poll(client)
        assert again.applied.updated == ["p-1039"]
        restored = await entry_of(client, "p-1039")
        assert restored is not None
        assert restored["title"] == "Fish & chips shop wins national award (updated)"


async def test_the_sync_api_writes_as_a_feed_pass_does(
    settings: Settings, clock: FakeClock
) -> None:
    async with collector(settings, clock) as client:
        await put_item(client, "kept", title="Kept")
        await put_item(client, "gone")
        assert (await client.delete("/v1/sites/news/items/gone", headers=auth())).status == 204
        hide = await client.patch(
            "/v1/sites/news/items/kept", json={"hidden": True}, headers=auth()
        )
        assert hide.status == 200
        lines = [
            {"id": "new", "title": "New", "url": "https://example.com/new"},
            {"id": "kept", "title": "Kept", "url": "https://example.com/kept"},
            {"id": "gone", "title": "Gone", "url": "https://example.com/gone"},
            {"id": "bad id!", "title": "Bad", "url": "https://example.com/bad"},
            {"id": "bad-url", "title": "Bad", "url": "javascript:alert(1)"},
        ]
        body = b"\n".join(orjson.dumps(line) for line in lines)
        headers = {**auth(), "Content-Type": "application/x-ndjson"}
        response = await client.post("/v1/sites/news/feeds/sync", data=body, headers=headers)
        assert response.status == 200, await response.text()
        doc = msgspec.json.decode(await response.read(), type=FeedSyncResult)
        assert (doc.added, doc.updated, doc.unchanged, doc.deleted) == (
            ["new"],
            [],
            ["kept"],  # hidden stays as it was: nothing to write
            ["gone"],
        )
        assert [e.line for e in doc.errors] == [4, 5]
        kept = await entry_of(client, "kept")
        assert kept is not None and kept["hidden"] is True
        # Unauthorised, or not JSON lines: refused as JSON errors.
        refused = await client.post("/v1/sites/news/feeds/sync", data=body)
        assert refused.status == 401
        wrong = await client.post(
            "/v1/sites/news/feeds/sync", data=b"{}", headers={**auth(), "Content-Type": "x/y"}
        )
        assert (wrong.status, (await wrong.json())["error"]) == (415, "unsupported_media_type")
        too_many = b"\n".join(
            orjson.dumps({"id": f"s{k}", "title": "S", "url": "/s"}) for k in range(1001)
        )
        big = await client.post("/v1/sites/news/feeds/sync", data=too_many, headers=headers)
        assert (big.status, (await big.json())["error"]) == (413, "payload_too_large")


async def test_the_feeds_status_needs_the_site_token(settings: Settings, clock: FakeClock) -> None:
    async with collector(configured(settings, Feed("f", "https://x.example/f")), clock) as c:
        assert (await c.get("/v1/sites/news/feeds")).status == 401
        assert (await c.get("/v1/sites/news/feeds", headers=auth("wrong"))).status == 403
        assert (await c.get("/v1/sites/nope/feeds", headers=auth())).status == 404
        [status] = await feed_status(c)  # never polled yet
        assert (status["name"], status["url"], status["outcome"]) == (
            "f",
            "https://x.example/f",
            None,
        )
        other = await c.get("/v1/sites/other/feeds", headers=auth("other-token"))
        assert await other.json() == {"feeds": []}


# -- what is refused ------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>
<link>https://evil.example/a</link></item></channel></rss>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title><item><title>&xxe;</title>
<link>https://evil.example/b</link></item></channel></rss>"""
XXE_UTF16 = XXE.decode().replace('"1.0"?>', '"1.0" encoding="UTF-16"?>', 1).encode("utf-16")
HUGE = b"<rss version='2.0'><channel>" + b"<!-- padding -->" * (6 * 2**16) + b"</channel></rss>"
GZIP_BOMB = gzip.compress(b"<rss version='2.0'><channel>" + b" " * (64 * 2**20), 9)
ENTITIES = "the document declares XML entities: refused"
# path: (document, or a redirect's target, and the error said in the feed's status)
HOSTILE: dict[str, tuple[bytes | str, str]] = {
    "billion laughs": (BILLION_LAUGHS, ENTITIES),
    "external entity": (XXE, ENTITIES),
    "external entity in UTF-16": (XXE_UTF16, ENTITIES),
    "gigantic": (HUGE, "larger than 5 MiB: refused"),
    "gigantic, streamed": (b"", "larger than 5 MiB: refused"),
    "gzip bomb": (GZIP_BOMB, "larger than 5 MiB: refused"),
    "not a feed": (b"<!doctype html><html><body><p>Hello</p></body></html>", "neither a feed"),
    "failing server": (b"", "answered 500"),
    "redirect to a file": ("file:///etc/passwd", "file scheme: only http and https are fetched"),
    "redirect loop": ("/redirect-loop", "more than 5 redirects"),
}
PATHS = {
    "gigantic, streamed": "/chunked-huge",
    "failing server": "/broken",
    "gzip bomb": "/bomb.gz",
    "redirect loop": "/redirect-loop",
}


@pytest.mark.parametrize("case", HOSTILE)
async def test_a_hostile_or_broken_feed_is_refused_with_a_clear_status(
    settings: Settings, clock: FakeClock, site: tuple[Publisher, str], case: str
) -> None:
    publisher, base = site
    document, error = HOSTILE[case]
    path = PATHS.get(case, "/feed")
    if isinstance(document, str):
        publisher.redirects[path] = document
    elif document:
        publisher.serve(path, document)
    async with collector(
        configured(settings, feed(base, path + "?key=s3cr3t-feed-key")), clock
    ) as c:
        [done] = await poll(c)
        assert done.outcome == "failed"
        assert done.error.startswith(error) or error in done.error, done.error
        [status] = await feed_status(c)
        assert (status["outcome"], status["failures"]) == ("failed", 1)
        assert status["last_error"] == done.error
        assert status["last_success"] is None
        assert status["url"] == f"{base}{path}?…"
        everything = orjson.dumps(status).decode()
        assert "s3cr3t" not in everything and "root:" not in everything
        ids = await (await c.get("/v1/sites/news/items", headers=auth())).json()
        assert ids["ids"] == []  # nothing stored


async def test_private_addresses_are_refused_unless_the_feed_allows_them(
    settings: Settings, clock: FakeClock, site: tuple[Publisher, str]
) -> None:
    publisher, base = site
    publisher.serve("/feed", "ghost.rss")
    port = base.rsplit(":", 1)[1]
    strict = [
        Feed("loopback", f"{base}/feed"),
        Feed("by-name", f"http://localhost:{port}/feed"),
        Feed("mapped", f"http://[::ffff:127.0.0.1]:{port}/feed"),
    ]
    async with collector(configured(settings, *strict), clock) as client:
        done = {p.feed: p.error for p in await poll(client)}
        assert done["loopback"] == "127.0.0.1 is a loopback address: refused"
        assert done["by-name"].startswith("localhost resolves to a loopback address")
        assert done["mapped"] == "::ffff:7f00:1 is a loopback address: refused"
    assert publisher.gets["/feed"] == 0  # never connected to
    for address, why in {
        "10.1.2.3": "a private address",
        "169.254.169.254": "a link-local address",  # cloud metadata
        "224.0.0.1": "a multicast address",
        "0.0.0.0": "an unspecified address",
        "240.0.0.1": "a reserved address",
        "100.64.0.1": "not a public address",  # carrier-grade NAT
        "fd00::1": "a private address",
        "93.184.215.14": None,
    }.items():
        assert refusal(ipaddress.ip_address(address)) == why, address


async def test_each_redirect_is_checked_again(
    settings: Settings, clock: FakeClock, site: tuple[Publisher, str]
) -> None:
    """A feed on a "public" address (127.0.0.2 stands in for one here) that redirects to
    loopback is refused at the redirect."""
    publisher, base = site
    publisher.serve("/feed", "ghost.rss")
    fake_public = ipaddress.ip_address("127.0.0.2")

    def check(address: Address) -> str | None:
        return None if address == fake_public else refusal(address)

    async with published("127.0.0.2") as (front, front_base):
        front.redirects["/feed"] = f"{base}/feed"
        strict = Feed("f", f"{front_base}/feed")
        async with collector(configured(settings, strict), clock, check) as client:
            [done] = await poll(client)
            assert done.error == "127.0.0.1 is a loopback address: refused"
        assert front.gets["/feed"] == 1 and publisher.gets["/feed"] == 0
        # Allowed, the same redirect is followed.
        allowed = replace(strict, allow_private=True)
        async with collector(configured(settings, allowed), clock, check) as client:
            clock.advance(EVERY)
            [done] = await poll(client)
            assert done.outcome == "changed" and len(done.applied.added) == 2


async def test_two_collectors_poll_a_feed_once_per_interval(
    settings: Settings, clock: FakeClock, site: tuple[Publisher, str]
) -> None:
    publisher, base = site
    publisher.serve("/feed/", "wordpress.rss")
    both = configured(settings, feed(base, "/feed/"))
    async with collector(both, clock) as one, collector(both, clock) as two:
        for step in (0.0, EVERY / 2, EVERY / 2, 1.0, EVERY - 2.0):
            clock.advance(step)
            await asyncio.gather(poll(one), poll(two), poll(one))
        # Polled at 0 and at EVERY, by whichever claimed it first.
        assert publisher.gets["/feed/"] == 2


# -- rules and settings ----------------------------------------------------------------------


def test_ids_sections_and_entries_follow_the_feed_s_rules() -> None:
    item = FeedItem(
        guid="https://news.example/?p=12",
        link="https://news.example/world/2026/11/story-one.html?ref=rss",
        title="  A\ttitle\u202e with\ncontrols  ",
        categories=["Local News", "Weather"],
    )
    assert item_id(item, "guid") == "p-12"
    assert item_id(item, "link") == "news.example-world-2026-11-story-one.html-ref-rss"
    assert item_id(item, "path") == "world-2026-11-story-one.html"
    assert item_id(item, r"/(story-[a-z]+)\.html") == "story-one"
    with pytest.raises(Skip, match="the id pattern does not match"):
        item_id(item, r"/article/([0-9]+)")
    assert item_id(replace(item, guid="urn:uuid:1b4e28ba-2fa1"), "guid") == "urn:uuid:1b4e28ba-2fa1"
    assert len(as_id("x" * 300)) == 128 and as_id("x" * 300) != as_id("x" * 299)
    assert as_id("--/..//") == ""
    assert item_section(item, "category") == "local-news"
    assert item_section(item, "path") == "world"
    assert item_section(item, r"^/[a-z]+/([0-9]+)/") == "2026"
    assert item_section(replace(item, categories=["Économie"]), "category") == "economie"
    made_id, fields = entry(item, Feed("f", "https://news.example/feed"))
    assert fields["title"] == "A title with controls"  # spaces made one, controls out
    long = replace(item, title="word " * 100, summary="<p>" + "more " * 400 + "</p>")
    _, fields = entry(long, Feed("f", "https://news.example/feed"))
    assert len(fields["title"]) <= 300 and fields["title"].endswith("word…")
    assert len(fields["summary"]) <= 1000
    for bad, why in (
        (replace(item, title=" "), "no title"),
        (replace(item, link="javascript:alert(1)"), "no usable http(s) link"),
        (replace(item, link="/relative"), "no usable http(s) link"),
    ):
        with pytest.raises(Skip, match=re.escape(why)):
            entry(bad, Feed("f", "https://news.example/feed"))
    # A date nobody can read: the story without it, not skipped.
    _, fields = entry(replace(item, published="yesterday"), Feed("f", "https://n.example/f"))
    assert fields["published_at"] == ""


URL_RULE = "url: expected the feed's or sitemap's http(s) address"


@pytest.mark.parametrize(
    ("feed_table", "message"),
    [
        ({}, "url: expected the feed's or sitemap's http(s) address"),
        (
            {"url": "ftp://news.example/feed"},
            "url: expected the feed's or sitemap's http(s) address",
        ),
        ({"url": "file:///etc/passwd"}, "url: expected the feed's or sitemap's http(s) address"),
        ({"url": "https://n.example/f", "every": "10s"}, "every: from 30s to 1d"),
        ({"url": "https://n.example/f", "every": "2d"}, "every: from 30s to 1d"),
        ({"url": "https://n.example/f", "id": "uuid"}, "has 0 groups; exactly one"),
        ({"url": "https://n.example/f", "id": "/(a)/(b)"}, "has 2 groups"),
        ({"url": "https://n.example/f", "id": "/(a"}, "is not a regular expression"),
        ({"url": "https://n.example/f", "section": 3}, "section: expected 'category', 'path'"),
        ({"url": "https://n.example/f", "allow_private": "yes"}, "allow_private: expected"),
        ({"url": "https://n.example/f", "name": "Bad Name"}, "name: 1-32 of a-z"),
        ({"url": "https://n.example/f", "kind": "rss"}, "unknown key(s) kind"),
    ],
)
def test_a_bad_feed_setting_is_named(feed_table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"sites\.news\.feeds\[0\]") as info:
        settings_from_mapping({"sites": {"news": {"token": TOKEN, "feeds": [feed_table]}}}, {})
    assert message in str(info.value)


def test_feeds_in_the_configuration() -> None:
    feeds = [
        {"url": "https://news.example/feed/", "every": "5m", "section": "category"},
        {"url": "https://news.example/sitemap.xml?key=abc", "id": "path", "name": "sitemap"},
    ]
    settings = settings_from_mapping({"sites": {"news": {"token": TOKEN, "feeds": feeds}}}, {})
    found = settings.sites["news"].feeds
    assert found == (
        Feed("news-example-feed", "https://news.example/feed/", 300.0, "guid", "category"),
        Feed("sitemap", "https://news.example/sitemap.xml?key=abc", 120.0, "path"),
    )
    assert found[1].shown_url == "https://news.example/sitemap.xml?…"
    assert "key=abc" not in repr(settings)
    twice = [feeds[0], feeds[0]]
    with pytest.raises(ConfigError, match="names two feeds"):
        settings_from_mapping({"sites": {"news": {"token": TOKEN, "feeds": twice}}}, {})


# -- a real server ---------------------------------------------------------------------------


async def _get(url: str, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return await r.json()


async def _until(what: str, check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
    return found


async def test_a_site_configured_with_only_a_feed_gets_its_stories_into_lists_as_readers_open_them(
    engine: EmbeddedEngine, redis: Redis, tmp_path: Path, site: tuple[Publisher, str]
) -> None:
    publisher, base = site
    publisher.serve("/feed/", "wordpress.rss")
    publisher.serve("/ledger/rss/", "ghost.rss")
    port = free_port()
    config = tmp_path / "ranker.toml"
    config.write_text(
        f'[server]\nport = {port}\n\n[sites.harbour]\ntoken_env = "HARBOUR_TOKEN"\n\n'
        f'[[sites.harbour.feeds]]\nname = "main"\nurl = "{base}/feed/"\nsection = "category"\n'
        "allow_private = true\n"
    )
    ranker = f"http://127.0.0.1:{port}"
    # --dev: every beacon from this one machine counts.
    argv = ("serve", "--config", str(config), "--dev")
    environ = {"REDIS_URL": engine.url, "HARBOUR_TOKEN": TOKEN}
    with ranker_process(tmp_path, port, *argv, **environ):

        async def synced() -> Any:
            doc = await _get(f"{ranker}/v1/sites/harbour/feeds", TOKEN)
            return doc["feeds"][0]["last_success"] and doc["feeds"][0]

        status = await _until("the feed's first poll", synced)
        assert status["items"]["added"] == 3

        async with aiohttp.ClientSession() as s:
            for story, views in (("p-1039", 3), ("p-1042", 2), ("p-1037", 1)):
                for _ in range(views):
                    beacon = {"site": "harbour", "id": story}
                    async with s.post(
                        f"{ranker}/v1/hit", json=beacon, headers=BROWSER_HEADERS
                    ) as r:
                        assert r.status == 204, await r.text()

        async def listed() -> Any:
            doc = await _get(f"{ranker}/v1/sites/harbour/top?window=all&backfill=false")
            return len(doc["items"]) == 3 and doc

        top = await _until("the stories in the list", listed)
        assert [(it["id"], it["views"]) for it in top["items"]] == [
            ("p-1039", 3),
            ("p-1042", 2),
            ("p-1037", 1),
        ]
        assert top["items"][0]["title"] == "Fish & chips shop wins national award"
        politics = await _get(f"{ranker}/v1/sites/harbour/top?window=all&section=politics")
        assert [it["id"] for it in politics["items"]] == ["p-1042"]

        # One pass from the command line, through the catalog API.
        sync = (
            sys.executable, "-m", "ranker", "catalog", "sync", f"{base}/ledger/rss/",
            "--site", "harbour", "--url", ranker, "--token", TOKEN,
            "--section", "category", "--allow-private",
        )  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RANKER_", "REDIS_"))}
        outputs = []
        for _ in range(2):
            proc = await asyncio.create_subprocess_exec(
                *sync, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
            )
            out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            outputs.append(out.decode())
        ids = "6745a1f0c2d4e80001a3b7c1, 6745a1f0c2d4e80001a3b7c2"
        assert outputs[0].splitlines() == [
            f"{base}/ledger/rss/: rss, 2 items",
            f"added 2: {ids}",
            "updated 0",
            "unchanged 0",
            "deleted by an editor, left out 0",
            "skipped 0",
        ], outputs[0]
        assert "unchanged 2" in outputs[1] and "added 0" in outputs[1]
        refused = await asyncio.create_subprocess_exec(
            *sync[:-1], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
        )
        _, err = await refused.communicate()
        assert refused.returncode == 1
        assert "127.0.0.1 is a loopback address: refused" in err.decode()

        # A configured feed by its name: its own rules (private allowed, sections).
        named = ("main", "--site", "harbour", "--config", str(config), "--url", ranker)
        configured = {**env, "HARBOUR_TOKEN": TOKEN}
        proc = await asyncio.create_subprocess_exec(
            *sync[:5], *named, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=configured,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert out.decode().splitlines()[:2] == [f"{base}/feed/: rss, 3 items", "added 0"]
        assert "unchanged 3" in out.decode()
        proc = await asyncio.create_subprocess_exec(
            *sync[:5], "other", *named[1:], stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=configured,
        )  # fmt: skip
        _, err = await proc.communicate()
        assert proc.returncode == 2
        assert "'other' is neither an http(s) address nor a feed of sites.harbour" in err.decode()
        assert "(its feeds: main)" in err.decode()
