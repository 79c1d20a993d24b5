"""The dashboard's held views, in a real headless Chromium: a story's concentrated surge is
flagged with its network and share, Release counts exactly the views held, and the panel
works on a phone. Beacons go through the real HTTP API behind a trusted proxy on loopback."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from ranker.http.app import create_app
from ranker.http.appkeys import FLUSHER
from tests.browser import GOOGLEBOT, launched, shot
from tests.support import BROWSER, BROWSER_HEADERS, TOKEN, FakeClock, make_settings

PHONE = {"width": 390, "height": 844}
# A catalog title is the publisher's text, never markup: the panel must show it as it is.
CRAWLED = '<img src=x onerror="window.__owned = 1">Tide tables for the week'


class Newsroom:
    """Ranker for the site "news" behind one proxy on loopback, as a real deployment."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.session = aiohttp.ClientSession()

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with self.session.request(method, self.url(path), headers=headers, **kwargs) as r:
            assert r.status in (200, 201), await r.text()
            doc: dict[str, Any] = await r.json()
            return doc

    async def put(self, item_id: str, title: str, section: str) -> None:
        body = {"title": title, "url": f"https://news.example/{item_id}", "section": section}
        await self.api("PUT", f"/v1/sites/news/items/{item_id}", json=body)

    async def hit(self, item_id: str, reader: str, **headers: str) -> int:
        async with self.session.post(
            self.url("/v1/hit"),
            json={"site": "news", "id": item_id},
            headers={**BROWSER_HEADERS, "X-Forwarded-For": reader, **headers},
        ) as r:
            return r.status

    async def flush(self) -> None:
        assert await self.server.app[FLUSHER].flush()

    async def item(self, item_id: str) -> dict[str, Any]:
        await self.flush()
        return await self.api("GET", f"/v1/sites/news/items/{item_id}")


@pytest.fixture
async def newsroom(engine: Any, redis: Any, clock: FakeClock) -> AsyncIterator[Newsroom]:
    settings = make_settings(
        engine.url,
        trusted_proxies=("127.0.0.1/32",),
        max_network_share=0.3,
        concentration_min_views=50,
        rising_min_networks=10,
        max_views_per_address=10,
        dedupe_window=1800.0,
    )
    server = TestServer(create_app(settings, clock=clock), host="127.0.0.1")
    await server.start_server()
    room = Newsroom(server)
    try:
        await seed(room)
        yield room
    finally:
        await room.session.close()
        await server.close()


async def seed(room: Newsroom) -> None:
    """An office surge on "surge" (four readers in one /24 for every reader elsewhere) and
    a crawler on "crawled", whose views Release leaves held."""
    await room.put("surge", "Office favourite: the canteen reopens", "city")
    await room.put("crawled", CRAWLED, "weather")
    statuses = []
    for k in range(100):
        reader = f"10.{k}.0.1" if k % 5 == 0 else f"203.0.113.{k % 250 + 1}"
        statuses.append(await room.hit("surge", reader))
    assert statuses.count(202) > 0  # the surge is held from its 50th view on
    for _ in range(3):
        assert await room.hit("crawled", "198.51.100.7", **{"User-Agent": GOOGLEBOT}) == 202
    await room.flush()


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched() as browser:
        yield browser


async def open_dashboard(browser: Any, room: Newsroom, **context: Any) -> tuple[Any, list[str]]:
    """A new tab signed in to "news" with its token, showing the held panel."""
    ctx = await browser.new_context(user_agent=BROWSER, locale="en-US", **context)
    page = await ctx.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(room.url("/dashboard?site=news"))
    await page.fill("#signin-site", "news")
    await page.fill("#signin-token", TOKEN)
    await page.click("#signin-submit")
    await page.wait_for_selector("#held-list li[data-id='surge'] .hd-flag")
    return page, errors


def percent(text: str) -> float:
    found = re.search(r"(\d+(?:\.\d+)?)%", text)
    assert found, text
    return float(found.group(1))


async def assert_fits_phone(page: Any) -> None:
    """No horizontal scroll. A page wider than the phone makes Chromium widen the layout
    viewport to match, so the viewport must also still be the phone's."""
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[1] == PHONE["width"] and widths[0] <= widths[1], widths


async def test_a_flagged_surge_is_released_exactly(newsroom: Newsroom, chromium: Any) -> None:
    listing = await newsroom.api("GET", "/v1/sites/news/held")
    assert listing["items"][0]["id"] == "surge"
    held = listing["items"][0]["held"]
    assert set(held) == {"concentrated"}
    n = held["concentrated"]
    before = (await newsroom.item("surge"))["views_total"]

    page, errors = await open_dashboard(chromium, newsroom, viewport={"width": 1280, "height": 900})
    rows = await page.eval_on_selector_all("#held-list li", "els => els.map(e => e.dataset.id)")
    assert rows == ["surge", "crawled"]  # flagged first
    surge = page.locator("#held-list li[data-id='surge']")
    flag = await surge.locator(".hd-flag").text_content() or ""
    assert "of its views in the last 10 minutes came from one network (203.0.113.0/24)" in flag
    assert percent(flag) > 30
    assert await surge.locator(".hd-counts").text_content() == f"{n} concentrated"
    release = surge.locator("button.release")
    label = await release.get_attribute("aria-label") or ""
    assert label.startswith(f"Release {n} views") and "concentrated" in label
    assert "per-address limit" in label and "hosting networks" in label

    # The crawler's views are there to see, but not the button's to release.
    crawled = page.locator("#held-list li[data-id='crawled']")
    assert await crawled.locator(".story-link").text_content() == CRAWLED
    assert await page.query_selector("#held-list img") is None
    assert await page.evaluate("() => window.__owned") is None
    assert await crawled.locator(".hd-flag").is_hidden()
    assert await crawled.locator("button.release").is_disabled()
    await crawled.locator(".hd-other summary").click()
    assert "3 from bots" in (await crawled.locator(".hd-why").text_content() or "")
    await page.locator("#held-card").scroll_into_view_if_needed()
    await page.screenshot(path=shot("dashboard-held.png"), full_page=True)

    # A failed refresh says so and keeps the list.
    await page.route("**/v1/sites/news/held*", lambda route: route.abort())
    await page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    await page.wait_for_selector("#held-error:not([hidden])")
    assert "could not be reached" in (await page.text_content("#held-error") or "")
    assert await page.locator("#held-list li").count() == 2
    await page.unroute("**/v1/sites/news/held*")

    await release.click()
    await page.wait_for_selector(f"#held-msg:has-text('Released {n} views')")
    # The panel refreshes: the surge is counted and no longer held, the crawler still is.
    await page.wait_for_selector("#held-list li[data-id='surge']", state="detached")
    assert await page.locator("#held-error").is_hidden()
    assert await page.locator("#held-list li[data-id='crawled']").count() == 1
    await page.screenshot(path=shot("dashboard-held-released.png"), full_page=True)

    doc = await newsroom.item("surge")
    assert doc["views_total"] == before + n
    assert doc["held"] == {}
    assert errors == []
    await page.context.close()


async def test_the_held_panel_works_on_a_phone(newsroom: Newsroom, chromium: Any) -> None:
    page, errors = await open_dashboard(
        chromium, newsroom, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    card = page.locator("#held-card")
    await card.scroll_into_view_if_needed()
    assert await card.is_visible()
    await assert_fits_phone(page)
    release = page.locator("#held-list li[data-id='surge'] button.release")
    box = await release.bounding_box()
    assert box is not None and box["height"] >= 44, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    for selector in ("#signout", "#section", "#windows button"):
        tap = await page.locator(selector).first.bounding_box()
        assert tap is not None and tap["height"] >= 44, (selector, tap)
    await page.screenshot(path=shot("dashboard-held-phone.png"), full_page=True)

    await release.tap()
    await page.wait_for_selector("#held-msg:has-text('Released')")
    await page.wait_for_selector("#held-list li[data-id='surge']", state="detached")

    # The story view shows what is still held for a story, by reason.
    await page.click("#held-list li[data-id='crawled'] .story-link")
    await page.wait_for_selector("#story-held:not([hidden]) .sh-reason")
    reasons = await page.eval_on_selector_all(
        "#story-held .sh-reason",
        "els => els.map(e => [e.dataset.reason, e.querySelector('.sh-n').textContent])",
    )
    assert reasons == [["bot", "3"]]
    await assert_fits_phone(page)
    await page.screenshot(path=shot("dashboard-held-phone-story.png"), full_page=True)
    assert errors == []
    await page.context.close()
