"""Box performance on the editors' dashboard, in a real headless Chromium: per placement of
the Most viewed box, its impressions and clicks in the chosen window, its click-through
rate in words, a bar per position and the stories most clicked from it; what to do when
nothing is counted yet; a failed read said in the card, not thrown; and it all fits a
390 px phone and a 1280 px desktop. Events are sent as widget.js sends them (POST
/v1/recirc). Screenshots land in artifacts/."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ranker.core.config import Settings
from ranker.http.appkeys import FLUSHER
from tests.browser import Live, dashboard_tab, launched, served_demo, shot, until
from tests.support import BROWSER_HEADERS, FakeClock

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}
BOX_WINDOWS = ["1h", "24h", "7d", "30d"]
LONG = (
    "Late winner sends Kingsfield Albion into the cup semi-finals at the expense of "
    "Northgate Athletic"
)


async def recirc(
    live: Live, placement: str, impressions: int, clicks: list[tuple[int, str]]
) -> None:
    """A box's impressions, and clicks of (position, story) from it, sent the way
    sendBeacon sends them, then written."""
    events: list[dict[str, Any]] = [
        {"placement": placement, "event": "impression", "page": f"page{k}"}
        for k in range(impressions)
    ]
    events += [
        {"placement": placement, "event": "click", "id": item, "position": position}
        for position, item in clicks
    ]
    async with aiohttp.ClientSession() as s:
        for event in events:
            async with s.post(
                live.url("/v1/recirc"),
                data=json.dumps({"site": "demo", **event}),
                headers={"Content-Type": "text/plain", **BROWSER_HEADERS},
            ) as r:
                assert r.status == 204, await r.text()
    assert await live.app[FLUSHER].flush()


@pytest.fixture
async def newsroom(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    """The demo site with three stories, read."""
    async with served_demo(settings, clock) as served:
        await served.put("derby", LONG, "sport")
        await served.put("tram", "Council approves new tram line", "local")
        await served.put("storm", "Storm closes the coast road", "world")
        await served.read({"derby": 30, "tram": 20, "storm": 10})
        yield served


@pytest.fixture
async def boxes(newsroom: Live) -> Live:
    """Two boxes: the sidebar seen 40 times and clicked 3 times (twice at the top, once
    second), the footer seen 8 times and clicked once, third."""
    await recirc(newsroom, "article-sidebar", 40, [(1, "derby"), (1, "derby"), (2, "tram")])
    await recirc(newsroom, "article-footer", 8, [(3, "storm")])
    return newsroom


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched() as browser:
        yield browser


async def open_dashboard(
    chromium: Any, live: Live, screen: dict[str, Any]
) -> tuple[Any, list[str]]:
    """A new tab on the demo dashboard, and the errors its scripts throw."""
    page, errors = await dashboard_tab(chromium, live, screen)
    await page.wait_for_selector("#most-viewed tbody tr[data-id='storm']")
    return page, errors


async def positions(page: Any, placement: str) -> list[tuple[str, str]]:
    """Each position's label and click-through rate, as shown."""
    pairs = await page.eval_on_selector_all(
        f"#box-list li[data-placement='{placement}'] .bx-pos",
        "els => els.map(e => [e.querySelector('.bx-pos-n').textContent,"
        " e.querySelector('.bx-pos-ctr').textContent])",
    )
    return [(n, ctr) for n, ctr in pairs]


async def stories(page: Any, placement: str) -> list[tuple[str, str]]:
    """The stories most clicked from a box: each title and its clicks, as shown."""
    pairs = await page.eval_on_selector_all(
        f"#box-list li[data-placement='{placement}'] .bx-story",
        "els => els.map(e => [e.querySelector('.story-link').textContent,"
        " e.querySelector('.bx-story-clicks').textContent])",
    )
    return [(title, clicks) for title, clicks in pairs]


async def texts(page: Any, selector: str) -> list[str]:
    found: list[str] = await page.eval_on_selector_all(
        selector, "els => els.map(e => e.textContent.replace(/\\s+/g, ' ').trim())"
    )
    return found


async def assert_fits(page: Any, width: int, where: str) -> None:
    """No horizontal scroll, and the layout viewport still the screen's."""
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[1] == width and widths[0] <= width, (where, widths)


async def assert_reachable(page: Any, selector: str, width: int, height: int) -> None:
    """Scrolled to, it is on screen and the topmost element where a finger would tap."""
    await page.locator(selector).scroll_into_view_if_needed()
    box = await page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box)
    hit = await page.eval_on_selector(
        selector,
        """e => { const b = e.getBoundingClientRect();
                  const top = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
                  return !!top && (top === e || e.contains(top)); }""",
    )
    assert hit, f"{selector} is covered where it would be tapped"


async def test_each_placement_shows_its_clicks_per_impression_position_and_story(
    boxes: Live, chromium: Any, clock: FakeClock
) -> None:
    page, errors = await open_dashboard(chromium, boxes, DESKTOP)
    side = "#box-list li[data-placement='article-sidebar']"
    foot = "#box-list li[data-placement='article-footer']"
    await page.wait_for_selector(foot)
    assert (
        await page.get_attribute("#box-windows [data-box-window='24h']", "aria-pressed") == "true"
    )
    # The most seen box first.
    assert await page.eval_on_selector_all(
        "#box-list > li", "els => els.map(e => e.dataset.placement)"
    ) == ["article-sidebar", "article-footer"]

    assert await texts(page, f"{side} .bx-name") == ["article-sidebar"]
    assert await texts(page, f"{side} .bx-counts") == ["40 impressions · 3 clicks"]
    assert await texts(page, f"{side} .bx-rate") == [
        "7.5% of readers who saw the box clicked a story"
    ]
    assert await positions(page, "article-sidebar") == [
        ("Position 1", "5%"),
        ("Position 2", "2.5%"),
    ]
    assert await page.get_attribute(f"{side} .bx-pos[data-position='1']", "title") == (
        "Position 1: 2 clicks, 5% of impressions"
    )
    widths = await page.eval_on_selector_all(
        f"{side} .bx-bar-fill", "els => els.map(e => e.getBoundingClientRect().width)"
    )
    assert widths[0] > 0 and widths[1] == pytest.approx(widths[0] / 2, abs=1)
    assert await stories(page, "article-sidebar") == [
        (LONG, "2 clicks"),
        ("Council approves new tram line", "1 click"),
    ]
    assert await page.eval_on_selector_all(
        f"{side} .bx-story .story-link", "els => els.map(e => e.getAttribute('href'))"
    ) == ["#story=derby", "#story=tram"]

    assert await texts(page, f"{foot} .bx-counts") == ["8 impressions · 1 click"]
    assert await texts(page, f"{foot} .bx-rate") == [
        "12.5% of readers who saw the box clicked a story"
    ]
    # Positions nobody clicked are there too, at nothing.
    assert await positions(page, "article-footer") == [
        ("Position 1", "0%"),
        ("Position 2", "0%"),
        ("Position 3", "12.5%"),
    ]
    assert await stories(page, "article-footer") == [("Storm closes the coast road", "1 click")]
    await page.locator("#box-card").screenshot(path=shot("box-desktop-card.png"))

    # A title opens the story's view.
    await page.click(f"{side} .bx-story[data-id='tram'] .story-link")
    await page.wait_for_selector("#story:not([hidden])")
    assert await page.text_content("#story-id") == "tram"
    await page.go_back()
    await page.wait_for_selector("#dash:not([hidden])")

    # Two hours on, the last hour has nothing; the last 24 hours still everything.
    clock.advance(2 * 3600)
    await page.click("#box-windows [data-box-window='1h']")
    await page.wait_for_selector("#box-windows [data-box-window='1h'][aria-pressed='true']")
    await page.wait_for_selector("#box-empty:not([hidden]) .bx-how")
    assert "in the last hour" in (await page.text_content("#box-empty") or "")
    assert await page.locator("#box-list > li").count() == 0
    await page.click("#box-windows [data-box-window='24h']")
    await page.wait_for_selector(side)
    assert await texts(page, f"{side} .bx-counts") == ["40 impressions · 3 clicks"]
    assert await page.is_hidden("#box-empty")
    # The window chosen is kept for the tab.
    await page.click("#box-windows [data-box-window='7d']")
    await page.wait_for_selector(side)
    await page.reload()
    await page.wait_for_selector(side)
    assert await page.get_attribute("#box-windows [data-box-window='7d']", "aria-pressed") == "true"
    assert errors == []
    await page.context.close()


async def test_with_nothing_counted_the_card_says_what_counts(
    newsroom: Live, chromium: Any
) -> None:
    page, errors = await open_dashboard(chromium, newsroom, PHONE)
    await page.wait_for_selector("#box-empty .bx-how")
    said = " ".join((await page.text_content("#box-empty") or "").split())
    assert said.startswith("No impressions or clicks of the box in the last 24 hours.")
    for words in (
        "widget.js",
        "half",
        "in view for a second",
        "data-placement",
        "default",
        "configuration",
    ):
        assert words in said, (words, said)
    assert await page.locator("#box-list > li").count() == 0
    await page.locator("#box-card").screenshot(path=shot("box-phone-empty.png"))

    # Once a box reports, it shows without a reload.
    await recirc(newsroom, "home", 4, [(1, "storm")])
    await page.click("#box-windows [data-box-window='1h']")
    await page.wait_for_selector("#box-list li[data-placement='home']")
    assert await texts(page, "#box-list li[data-placement='home'] .bx-rate") == [
        "25% of readers who saw the box clicked a story"
    ]
    assert await page.is_hidden("#box-empty")
    assert errors == []
    await page.context.close()


async def test_a_failed_read_is_said_in_the_card(boxes: Live, chromium: Any) -> None:
    page, errors = await open_dashboard(chromium, boxes, DESKTOP)
    await page.wait_for_selector("#box-list li[data-placement='article-footer']")

    async def refuse(route: Any) -> None:
        await route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": "overloaded", "message": "The store is unreachable."}),
        )

    await page.route("**/recirculation*", refuse)
    await page.click("#box-windows [data-box-window='7d']")
    await page.wait_for_selector("#box-error:not([hidden])")
    said = await page.text_content("#box-error") or ""
    assert "The store is unreachable." in said
    assert await page.get_attribute("#box-error", "role") == "alert"
    await page.locator("#box-card").screenshot(path=shot("box-error.png"))

    # Once the server answers again, the error goes.
    await page.unroute("**/recirculation*", refuse)
    await page.click("#box-windows [data-box-window='24h']")

    async def recovered() -> bool:
        return bool(await page.is_hidden("#box-error"))

    await until(recovered, "the error to go")
    await page.wait_for_selector("#box-list li[data-placement='article-footer']")
    assert errors == []
    await page.context.close()


@pytest.mark.parametrize("screen", SCREENS)
async def test_the_card_fits_and_its_windows_can_be_reached(
    boxes: Live, chromium: Any, screen: str
) -> None:
    spec = SCREENS[screen]
    width, height = spec["viewport"]["width"], spec["viewport"]["height"]
    page, errors = await open_dashboard(chromium, boxes, spec)
    side = "#box-list li[data-placement='article-sidebar']"
    await page.wait_for_selector(side)
    for win in BOX_WINDOWS:
        button = f"#box-windows [data-box-window='{win}']"
        await assert_reachable(page, button, width, height)
        await page.click(button)
        await page.wait_for_selector(f"{button}[aria-pressed='true']")
        await page.wait_for_selector(side)
        await assert_fits(page, width, win)
    # The longest headline wraps rather than running off the card.
    link = page.locator(f"{side} .bx-story[data-id='derby'] .story-link")
    box = await link.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    assert await link.evaluate("e => e.scrollWidth <= e.clientWidth")
    await assert_reachable(page, f"{side} .bx-story[data-id='derby'] .story-link", width, height)
    await page.locator("#box-card").screenshot(path=shot(f"box-{screen}.png"))
    await page.screenshot(path=shot(f"box-{screen}-page.png"), full_page=True)
    assert errors == []
    await page.context.close()
