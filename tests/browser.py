"""What the browser tests share: Debian's Chromium driven by Playwright (the test module
that imports this is skipped when it is missing, unless CI requires it), and the demo site
served on a loopback port with its readers switched off."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from ranker import demo
from ranker.core.config import Settings, Site
from ranker.http.app import create_app
from ranker.http.appkeys import AGGREGATOR, FLUSHER, STORE
from tests.support import BROWSER, BROWSER_HEADERS, FakeClock

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
TOKEN = demo.TOKEN  # the demo's public token
GOOGLEBOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"

if not Path(CHROMIUM).exists():
    if os.environ.get("RANKER_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing; CI installs Debian's chromium")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)
if os.environ.get("RANKER_REQUIRE_BROWSER"):
    import playwright.async_api as playwright
else:
    playwright = pytest.importorskip("playwright.async_api")


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    """Wait for the browser to do something: this polls for an event, time is not faked."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Live:
    """Ranker in demo mode on a loopback port, with its readers switched off."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.app = server.app

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    @property
    def pending(self) -> int:
        return self.app[AGGREGATOR].pending_views

    async def until_pending(self, n: int, what: str) -> None:
        async def check() -> bool:
            return self.pending == n

        await until(check, what)

    async def total(self, item_id: str) -> int:
        assert await self.app[FLUSHER].flush()
        return int(await self.app[STORE].total("demo", item_id))

    async def put(
        self, item_id: str, title: str, section: str = "world", site: str = "demo", **fields: Any
    ) -> None:
        async with (
            aiohttp.ClientSession() as s,
            s.put(
                self.url(f"/v1/sites/{site}/items/{item_id}"),
                json={
                    "title": title,
                    "url": f"/?story={item_id}",
                    "section": section,
                    "summary": f"What happened in {title}.",
                    **fields,
                },
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as r,
        ):
            assert r.status in (200, 201), await r.text()

    async def hide(self, item_id: str, site: str = "demo") -> None:
        """An editor's takedown: the story leaves every list."""
        async with (
            aiohttp.ClientSession() as s,
            s.patch(
                self.url(f"/v1/sites/{site}/items/{item_id}"),
                json={"hidden": True},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as r,
        ):
            assert r.status == 200, await r.text()

    async def pin(self, item_id: str, until: float, **fields: Any) -> None:
        """An editor's pin (`until` on the server's clock)."""
        async with (
            aiohttp.ClientSession() as s,
            s.put(
                self.url(f"/v1/sites/demo/pins/{item_id}"),
                json={"until": until, **fields},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as r,
        ):
            assert r.status == 200, await r.text()

    async def read(self, counts: dict[str, int], site: str = "demo") -> None:
        """Readers' beacons, sent the way sendBeacon sends them."""
        async with aiohttp.ClientSession() as s:
            for item_id, n in counts.items():
                for _ in range(n):
                    async with s.post(
                        self.url("/v1/hit"),
                        data=f'{{"site":"{site}","id":"{item_id}"}}',
                        headers={"Content-Type": "text/plain", **BROWSER_HEADERS},
                    ) as r:
                        assert r.status == 204
        assert await self.app[FLUSHER].flush()


@contextlib.asynccontextmanager
async def served_demo(
    settings: Settings, clock: FakeClock, timezone: str = "UTC", more_sites: tuple[str, ...] = ()
) -> AsyncIterator[Live]:
    """The demo site on `settings` (its token the demo's, its days `timezone`'s), on a
    loopback port; and `more_sites` alike, with nothing catalogued (new sites)."""
    sites = {
        name: Site(
            name,
            half_life=600.0,
            token=TOKEN,
            timezone=timezone,
            placements=frozenset(demo.PLACEMENTS),
        )
        for name in ("demo", *more_sites)
    }
    app = create_app(replace(settings, sites=sites), clock=clock, plugins=[demo.plugin(rate=0)])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Live(server)
    finally:
        await server.close()


# How many characters of an element's text are drawn inside its box (a clamped headline's
# hidden lines and cut-off letters are not).
VISIBLE_CHARS = """e => {
    const box = e.getBoundingClientRect();
    const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    let n = 0;
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        for (let i = 0; i < t.length; i++) {
            range.setStart(t, i);
            range.setEnd(t, i + 1);
            const r = range.getBoundingClientRect();
            if (r.width > 0 && r.left >= box.left - 0.5 && r.right <= box.right + 0.5
                && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5) n++;
        }
    }
    return n;
}"""


async def dashboard_tab(
    chromium: Any, live: Live, screen: dict[str, Any], **context: Any
) -> tuple[Any, list[str]]:
    """A new tab on the demo dashboard (signed in with the token the demo page carries),
    opened at `screen` (and any other context options), and the errors its scripts throw."""
    tab = await chromium.new_context(user_agent=BROWSER, locale="en-US", **screen, **context)
    page = await tab.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(live.url("/dashboard?site=demo"))
    return page, errors


@contextlib.asynccontextmanager
async def launched() -> AsyncIterator[Any]:
    """Debian's Chromium, headless."""
    async with playwright.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def shot(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)
