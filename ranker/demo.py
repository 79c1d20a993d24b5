"""Demo mode: a sample news site with a few hundred stories, simulated readers, and at `/`
an article page with a Most Viewed box, so a newcomer sees the list move within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.resources import files

from aiohttp import web

from ranker.appkeys import CATALOG, SETTINGS, STORE
from ranker.demo_stories import demo_stories
from ranker.errors import ApiError
from ranker.handlers import json_response
from ranker.simulate import simulate
from ranker.validate import catalog_entry, is_item_id, public_entry

log = logging.getLogger("ranker.demo")

SITE = "demo"
STORIES = 300


async def page(request: web.Request) -> web.Response:
    html = files("ranker").joinpath("static", "demo.html").read_bytes()
    return web.Response(body=html, content_type="text/html", charset="utf-8")


async def story(request: web.Request) -> web.Response:
    """GET /demo/story/{id}: a demo story's public catalog fields, for the article page."""
    item_id = request.match_info["id"]
    stored = await request.app[STORE].get_item(SITE, item_id) if is_item_id(item_id) else None
    if stored is None or stored.get("hidden") == "1":
        raise ApiError(404, "unknown_item", "no such story")
    return json_response(public_entry(item_id, stored))


async def demo_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store, catalog = app[STORE], app[CATALOG]
    if catalog.size(SITE) == 0:
        entries = [(s["id"], catalog_entry(s)) for s in demo_stories(STORIES)]
        await store.put_items(SITE, entries)
        for item_id, _ in entries:
            catalog.note_added(SITE, item_id)
        log.info("demo: catalogued %d sample stories", len(entries))
    task = None
    if settings.demo_rate > 0:
        ids = [s["id"] for s in demo_stories(STORIES)]
        task = asyncio.create_task(_readers(settings.host, settings.port, ids, settings.demo_rate))
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _readers(host: str, port: int, ids: list[str], rate: float) -> None:
    """Simulated readers, a minute at a time, for as long as the demo runs."""
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    await asyncio.sleep(1.0)  # the server starts listening after start-up completes
    for round_ in range(1_000_000):
        result = await simulate(
            url, SITE, ids, rate=rate, duration=60, drift=6, seed=round_, concurrency=8
        )
        log.info("demo readers: %d views sent, %d counted", result.sent, result.accepted)


def setup(app: web.Application) -> None:
    if SITE not in app[SETTINGS].sites:
        raise ValueError(f"demo mode needs a site named {SITE!r}")
    app.router.add_get("/", page)
    app.router.add_get("/demo/story/{id}", story)
    app.cleanup_ctx.append(demo_ctx)
