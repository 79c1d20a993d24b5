"""The Feeds panel of the editors' dashboard in a real headless Chromium: for a site with
feeds, each feed with when it was last read and what it brought, a failing one flagged with
its error and when on the site's clock, the items a feed could not catalogue listed with
why; on a 390 px phone and a 1280 px desktop. Screenshots land in artifacts/."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from ranker import demo
from ranker.core.config import Settings, Site
from ranker.core.feeds import Feed
from ranker.http.app import create_app
from ranker.http.appkeys import FEEDS
from ranker.http.feedsync import FeedSync
from tests.browser import TOKEN, Live, dashboard_tab, launched, shot
from tests.support import FakeClock
from tests.test_browser_freshness import DESKTOP, PHONE, assert_fits, says
from tests.test_feeds import published

SCREENS = {"phone": PHONE, "desktop": DESKTOP}
ZONE = "Asia/Kathmandu"  # the site's clock, neither the editor's nor UTC


@contextlib.asynccontextmanager
async def newsroom(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Live, str]]:
    """The demo site following three feeds on a loopback web server: a WordPress feed, a
    Google News sitemap with a page it cannot catalogue, and a feed whose server fails;
    each polled once."""
    async with published() as (publisher, base):
        publisher.serve("/feed/", "wordpress.rss")
        publisher.serve("/news-sitemap.xml", "news-sitemap.xml", "application/xml")
        feeds = (
            Feed("harbour", base + "/feed/", allow_private=True, section="category"),
            Feed("daily-news", base + "/news-sitemap.xml", allow_private=True, id="path"),
            Feed("ledger", base + "/broken?key=kept-out-of-sight", allow_private=True),
        )
        site = Site("demo", half_life=600.0, token=TOKEN, timezone=ZONE, feeds=feeds)
        settings = replace(settings, sites={"demo": site})
        app = create_app(settings, clock=clock, plugins=[demo.plugin(rate=0)])
        app[FEEDS] = FeedSync(settings, clock, background=False)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            await app[FEEDS].poll_due()
            yield Live(server), base
        finally:
            await server.close()


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched() as browser:
        yield browser


def feed(name: str) -> str:
    return f"#feeds-list li[data-feed='{name}']"


@pytest.mark.parametrize("screen", SCREENS)
async def test_the_feeds_panel_says_what_each_feed_brought_and_flags_a_failing_one(
    settings: Settings, clock: FakeClock, chromium: Any, screen: str
) -> None:
    spec = SCREENS[screen]
    async with newsroom(settings, clock) as (live, base):
        page, errors = await dashboard_tab(chromium, live, spec, timezone_id="America/Denver")
        await page.wait_for_selector("#feeds-card:not([hidden])")
        listed = await page.eval_on_selector_all(
            "#feeds-list > li",
            "els => els.map(e => [e.dataset.feed, e.querySelector('.pg-name').textContent,"
            " e.querySelector('.pg-counts').textContent])",
        )
        assert listed == [
            ["harbour", f"harbour{base}/feed/", "3 seen · 3 added · 0 updated · 0 errors"],
            [
                "daily-news",
                f"daily-news{base}/news-sitemap.xml",
                "3 seen · 2 added · 0 updated · 1 error",
            ],
            ["ledger", f"ledger{base}/broken?…", "0 seen · 0 added · 0 updated · 0 errors"],
        ], listed
        assert await page.text_content("#feeds-count") == "3"
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                live.url("/v1/sites/demo/feeds"), headers={"Authorization": f"Bearer {TOKEN}"}
            ) as r,
        ):
            status = {f["name"]: f for f in (await r.json())["feeds"]}
        # When, on the site's clock (Kathmandu's, not the editor's nor UTC).
        read = datetime.fromisoformat(status["harbour"]["last_read"]).astimezone(ZoneInfo(ZONE))
        await says(page, f"{feed('harbour')} .fd-when", f"Last read {read:%H:%M} (just now)")
        assert await page.is_hidden(f"{feed('harbour')} .pg-error")
        assert await page.is_hidden(f"{feed('harbour')} .fd-skipped")
        # The sitemap's page without a title, and why it is not in the catalog.
        await page.click(f"{feed('daily-news')} .fd-skipped summary")
        await says(page, f"{feed('daily-news')} .fd-skipped summary", "1 item not catalogued: why")
        await says(
            page,
            f"{feed('daily-news')} .fd-skipped li",
            "https://daily.example/about-us: no title",
        )
        # The failing feed: flagged, its error said, its key never shown.
        failed_at = datetime.fromisoformat(status["ledger"]["last_error_at"])
        failed = failed_at.astimezone(ZoneInfo(ZONE))
        await says(
            page,
            f"{feed('ledger')} .pg-error",
            f"The last poll failed, at {failed:%H:%M} (just now): answered 500",
        )
        await says(page, f"{feed('ledger')} .fd-when", "Not read yet")
        await says(
            page,
            "#feeds-alert",
            "1 feed failing: its new stories are not catalogued until it is read again.",
        )
        failing = await page.eval_on_selector_all(
            "#feeds-card.is-failing, #feeds-list > li.is-failing",
            "els => els.map(e => e.id || e.dataset.feed)",
        )
        assert failing == ["feeds-card", "ledger"], failing
        assert "kept-out-of-sight" not in await page.content()
        width = spec["viewport"]["width"]
        await assert_fits(page, width, "feeds")
        box = await page.locator("#feeds-card").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
        await page.locator("#feeds-card").scroll_into_view_if_needed()
        await page.locator("#feeds-card").screenshot(path=shot(f"dashboard-feeds-{screen}.png"))
        assert errors == []
        await page.context.close()
