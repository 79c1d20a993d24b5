"""Demo mode: a sample newspaper with a few hundred stories, simulated readers, and at `/`
an article page that embeds beacon.js and widget.js exactly as a publisher would."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from html import escape
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

import orjson
from aiohttp import web

from ranker.core.config import Settings, Site
from ranker.core.validate import catalog_entry, is_item_id
from ranker.demo.readers import simulate
from ranker.http.appkeys import CATALOG, CLOCK, SETTINGS, SIGNED_IN, STORE, TOP_CACHE
from ranker.http.connections import guard
from ranker.http.query import TopKey, compute_top
from ranker.store.redis import StoreUnavailable

log = logging.getLogger("ranker.demo")

SITE = "demo"
SECTIONS = ("world", "politics", "business", "tech", "science", "sport", "culture")
TOKEN = "demo-token"  # public: only `ranker demo` accepts it
LOOPBACK = ("127.0.0.1/32", "::1/128")
_BODY = (
    "This is a sample article on Ranker's demo site; the newspaper, its places and its "
    "people are invented. Simulated readers are opening stories right now, and every page "
    "view sends one beacon to Ranker's collector.",
    "Watch the Most Viewed box beside this text: it is Ranker's widget, reading the same "
    "list any publisher's page would embed, and it refreshes every few seconds. Every "
    "minute a story breaks, is catalogued at once and starts to climb.",
    "Open another story from the list to count a view of it yourself, or look at the "
    "editors' dashboard for the rising stories and views over time.",
)


# Where the demo's pages put Most viewed boxes (data-placement).
PLACEMENTS = ("default", "article-sidebar", "article-footer", "home")
# The invented paper's reporters.
REPORTERS = (
    "Ines Moreau",
    "Tom Hale",
    "Priya Nair",
    "Jonas Berg",
    "Amara Okafor",
    "Lucy Chen",
    "Marek Novak",
    "Sara Lind",
)


@functools.cache
def _stories() -> tuple[dict[str, Any], ...]:
    """The sample stories: 300 of an invented city paper, as catalog entries, each with a
    byline from the paper's reporters (every fifth story two)."""
    lines = files(__name__).joinpath("stories.jsonl").read_bytes().splitlines()
    stories = [orjson.loads(line) for line in lines if line]
    for k, story in enumerate(stories):
        names = [REPORTERS[k % len(REPORTERS)]]
        if k % 5 == 0:
            names.append(REPORTERS[(k + 3) % len(REPORTERS)])
        story["authors"] = names
    return tuple(stories)


@functools.cache
def _nav() -> str:
    first: dict[str, str] = {}
    for story in _stories():
        first.setdefault(story["section"], story["id"])
    return "\n".join(
        f'<a href="/?story={escape(first[s])}">{escape(s.capitalize())}</a>'
        for s in SECTIONS
        if s in first
    )


async def _story(request: web.Request) -> tuple[str, dict[str, str]]:
    """The requested story, else the one at the top of the hot list right now (else the
    first sample story), with its catalog entry."""
    app = request.app
    wanted = request.query.get("story", "")
    if is_item_id(wanted):
        stored = await app[STORE].get_item(SITE, wanted)
        if stored and stored.get("hidden") != "1":
            return wanted, stored
    key = TopKey(SITE, "hot", None, 1)
    entry = await app[TOP_CACHE].get(
        key, lambda: compute_top(app[STORE], app[SETTINGS], key, app[CLOCK]())
    )
    items = entry.doc["items"]
    story_id = str(items[0]["id"]) if items else _stories()[0]["id"]
    return story_id, await app[STORE].get_item(SITE, story_id) or {}


async def page(request: web.Request) -> web.Response:
    """GET / and /?story=ID: a server-rendered sample article."""
    story_id, stored = await _story(request)
    published = ""
    if stored.get("published_at"):
        when = datetime.fromisoformat(stored["published_at"])
        published = f"{when.day} {when:%B %Y, %H:%M}"
    section = stored.get("section", "")
    paragraphs = [stored.get("summary", ""), *_BODY]
    template = Template(files(__name__).joinpath("page.html").read_text("utf-8"))
    html = template.safe_substitute(
        site=SITE,
        id=escape(story_id),
        title=escape(stored.get("title", "")),
        summary=escape(stored.get("summary", "")),
        section=escape(section),
        section_label=escape(section.capitalize()),
        published=escape(published),
        nav=_nav(),
        paragraphs="\n".join(f"<p>{escape(p)}</p>" for p in paragraphs if p),
    )
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def _published(stories: Sequence[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The sample stories published as if the paper were live: the newest half an hour
    before `now`, the others as far before it as they are in the sample (unix seconds, as
    the catalog takes them)."""
    times = [datetime.fromisoformat(s["published_at"]).timestamp() for s in stories]
    shift = now - 1800 - max(times)
    return [{**s, "published_at": int(t + shift)} for s, t in zip(stories, times, strict=True)]


async def break_news(app: web.Application, n: int) -> str:
    """Catalog the `n`-th breaking story (a sample story told again, published now) and
    return its id: the simulated readers read it most from then on, so it climbs."""
    now = app[CLOCK]()
    sample = _stories()[(n * 37) % len(_stories())]
    item_id = f"breaking-{int(now)}-{n}"
    story: dict[str, Any] = {
        **sample,
        "title": f"Just in: {sample['title']}",
        "url": f"/?story={item_id}",
        "published_at": int(now),
    }
    await app[STORE].put_items(SITE, [(item_id, catalog_entry(story))])
    app[CATALOG].note_added(SITE, item_id)
    app[TOP_CACHE].forget(SITE)
    log.info("demo: breaking story %s", item_id)
    return item_id


async def _demo_ctx(app: web.Application, rate: float) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store, catalog = app[STORE], app[CATALOG]
    if catalog.size(SITE) == 0:
        stories = _published(_stories(), app[CLOCK]())
        entries = [(s["id"], catalog_entry(s)) for s in stories]
        await store.put_items(SITE, entries)
        for item_id, _ in entries:
            catalog.note_added(SITE, item_id)
        log.info("demo: catalogued %d sample stories", len(entries))
    # Where a newcomer goes next. The token is the README's to show (Try it locally): no
    # log line holds a token, even a public one.
    log.info(
        "demo: site %r; the README's examples run against it as written (Try it locally); "
        "dashboard at http://%s:%d/dashboard",
        SITE,
        settings.host,
        settings.port,
    )
    task = None
    if rate > 0:
        ids = [s["id"] for s in _stories()]
        task = asyncio.create_task(_readers(app, settings.host, settings.port, ids, rate))
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _readers(app: web.Application, host: str, port: int, ids: list[str], rate: float) -> None:
    """Simulated readers, a minute at a time, for as long as the demo runs; each minute a
    story breaks and is read most."""
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    await asyncio.sleep(1.0)  # the server starts listening after start-up completes
    for round_ in range(1_000_000):
        lead: list[str] = []
        with contextlib.suppress(StoreUnavailable):
            lead.append(await break_news(app, round_))
            ids = [*lead, *ids]
        result = await simulate(
            url, SITE, ids, rate=rate, duration=60, drift=6, seed=round_, concurrency=8, lead=lead
        )
        log.info("demo readers: %d views sent, %d counted", result.sent, result.accepted)


def plugin(rate: float) -> Callable[[web.Application], None]:
    """What `ranker demo` adds to the application: the article page at `/`, the sample
    stories, `rate` simulated views a second (0: none), and a dashboard signed in for the
    demo site."""

    def setup(app: web.Application) -> None:
        if SITE not in app[SETTINGS].sites:
            raise ValueError(f"demo mode needs a site named {SITE!r}")
        app[SIGNED_IN] = SITE
        app.router.add_get("/", guard(page))
        app.cleanup_ctx.append(functools.partial(_demo_ctx, rate=rate))

    return setup


def settings(base: Settings, data_dir: Path | None) -> Settings:
    """The demo's settings from `base` (a config's, or the defaults): its own site with its
    public token beside the config's sites, its data in `data_dir` (default var/demo), its
    simulated readers trusted to name themselves in X-Forwarded-For as if behind a proxy
    on this machine, and log lines for a person at a terminal."""
    sites = dict(base.sites)
    sites.setdefault(
        SITE,
        Site(
            SITE,
            half_life=600.0,
            token=TOKEN,
            title="The Ranker Gazette",
            placements=frozenset(PLACEMENTS),
        ),
    )
    return replace(
        base,
        sites=sites,
        data_dir=data_dir or Path("var/demo"),
        trusted_proxies=(*base.trusted_proxies, *LOOPBACK),
        log_format=os.environ.get("RANKER_LOG_FORMAT", "text"),
    )
