"""The dashboard on an editor's phone (390 px, touch) and on a desktop (1280 px), in a real
headless Chromium: no view is wider than the screen, Sign out and every choice can be
reached and tapped, headlines wrap rather than being cut to a few letters, and the words
are plain ("Trending score", "7 years ago"). Screenshots land in artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ranker.core.config import Settings
from tests.browser import VISIBLE_CHARS, Live, dashboard_tab, launched, served_demo, shot, until
from tests.support import FakeClock

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}

LONG = (
    "Late winner sends Kingsfield Albion into the cup semi-finals at the expense of "
    "Northgate Athletic"
)
# A CMS's id with nowhere to break a line: the story view must wrap it, not widen the page.
UNBROKEN_ID = "5f2b8c1e9a7d4e3f8b6c0a1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f"
HIDDEN = "Ferry timetable changes for the winter season explained in full"
WIDE_SECTION = "entertainment-and-lifestyle-wknd"  # the longest a section may be: 32
WINDOWS = ["hot", "1h", "24h", "7d", "30d", "all"]


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    async with served_demo(settings, clock) as served:
        # Published 2603 days ago by the browser's clock (which is not faked).
        old = datetime.now(UTC) - timedelta(days=2603)
        await served.put("long", LONG, "sport")
        await served.put("old", "Harbour wall rebuilt", "world", published_at=old.isoformat())
        await served.put(UNBROKEN_ID, "Startup raises funds", "business")
        await served.put("gone", HIDDEN, WIDE_SECTION)
        await served.hide("gone")
        await served.read({"long": 30, "old": 20, UNBROKEN_ID: 5})
        yield served


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched() as browser:
        yield browser


async def open_dashboard(
    chromium: Any, live: Live, screen: dict[str, Any]
) -> tuple[Any, list[str]]:
    """A new tab on the demo dashboard (signed in with the token the demo page carries),
    and the errors its scripts throw."""
    page, errors = await dashboard_tab(chromium, live, screen)
    await page.wait_for_selector("#most-viewed tbody tr[data-id='long']")
    await page.wait_for_selector("#hidden-list li[data-id='gone']")
    return page, errors


async def assert_fits(page: Any, width: int, where: str) -> None:
    """No horizontal scroll. A page wider than a phone makes Chromium widen the layout
    viewport to match, so the viewport must also still be the screen's."""
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[1] == width and widths[0] <= width, (where, widths)


async def assert_reachable(page: Any, selector: str, width: int, height: int) -> None:
    """On screen (no scrolling sideways or down from the top) and the topmost element
    where a finger would tap it."""
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


async def visible_chars(page: Any, selector: str) -> int:
    n: int = await page.eval_on_selector(selector, VISIBLE_CHARS)
    return n


@pytest.mark.parametrize("screen", SCREENS)
async def test_every_view_fits_and_every_control_can_be_reached(
    live: Live, chromium: Any, screen: str
) -> None:
    spec = SCREENS[screen]
    width, height = spec["viewport"]["width"], spec["viewport"]["height"]
    page, errors = await open_dashboard(chromium, live, spec)
    await page.wait_for_selector("#rising li[data-id='long']")

    for selector in ("#signout", "#section", *(f"#windows [data-window='{w}']" for w in WINDOWS)):
        await assert_reachable(page, selector, width, height)
    # Headlines wrap: the longest shows far more than a few letters, wherever it is listed.
    for selector in (
        "#most-viewed tr[data-id='long'] .story-link",
        "#rising li[data-id='long'] .story-link",
        "#hidden-list li[data-id='gone'] .story-link",
    ):
        shown = await visible_chars(page, selector)
        assert shown >= 30, (selector, shown)
    await page.screenshot(path=shot(f"dashboard-{screen}.png"), full_page=True)

    # Each window of Most viewed.
    for win in WINDOWS:
        await page.click(f"#windows [data-window='{win}']")
        await page.wait_for_selector(f"#windows [data-window='{win}'][aria-selected='true']")
        await page.wait_for_selector("#most-viewed tbody tr[data-id='long']")
        await assert_fits(page, width, win)
        assert await visible_chars(page, "#most-viewed tr[data-id='long'] .story-link") >= 30
        # Column heads ("Trending score", "Last 30 days") fit their columns, whole words.
        spilled = await page.eval_on_selector_all(
            "#most-viewed th",
            "els => els.filter(e => e.offsetWidth && e.scrollWidth > e.clientWidth)"
            ".map(e => e.textContent)",
        )
        assert spilled == [], (win, spilled)

    # A story's view, at each resolution, with an id that has nowhere to break.
    await page.click(f"#most-viewed tr[data-id='{UNBROKEN_ID}'] .story-link")
    await page.wait_for_selector("#story-chart svg")
    assert await page.text_content("#story-id") == UNBROKEN_ID
    for res in ("minute", "hour", "day"):
        await page.click(f"#res-switch [data-res='{res}']")
        await page.wait_for_selector(f"#res-switch [data-res='{res}'][aria-pressed='true']")
        await page.wait_for_selector("#story-chart svg")
        await assert_fits(page, width, f"story, {res}")
    await assert_reachable(page, "#signout", width, height)
    await page.screenshot(path=shot(f"dashboard-{screen}-story.png"), full_page=True)

    # Sign out works from here, and the form fits too.
    await page.click("#signout")
    await page.wait_for_selector("#signin-view:not([hidden])")
    await assert_fits(page, width, "sign-in")
    await assert_reachable(page, "#signin-submit", width, height)
    assert errors == []
    await page.context.close()


async def test_the_trending_score_is_said_in_plain_words(live: Live, chromium: Any) -> None:
    page, errors = await open_dashboard(chromium, live, PHONE)
    head = page.locator("#views-head")
    assert await head.text_content() == "Trending score"
    assert "each counting less the older it is" in (await head.get_attribute("title") or "")
    # A phone has no hover for a title: the explanation is written under the list.
    note = page.locator("#mv-note")
    assert await note.is_visible()
    assert (await note.text_content() or "").startswith("Trending score: views, each counting")
    body = await page.text_content("body") or ""
    assert "ecayed" not in body

    await page.click("#windows [data-window='24h']")
    await page.wait_for_selector("#windows [data-window='24h'][aria-selected='true']")
    assert await head.text_content() == "Views"
    assert await note.is_hidden()
    assert errors == []
    await page.context.close()


async def test_ages_read_as_hours_days_months_or_years(live: Live, chromium: Any) -> None:
    page, errors = await open_dashboard(chromium, live, PHONE)
    hour, day = 3600, 86400
    ages = [30, 5 * 60, 5 * hour, 47 * hour, 3 * day, 30 * day, 45 * day, 120 * day]
    ages += [330 * day, 364 * day, 2 * 365 * day, 2603 * day]
    words = await page.evaluate(
        """async ages => {
            const { relTime } = await import('/dashboard/format.js');
            const now = Date.UTC(2026, 10, 26, 12, 0, 0);
            return ages.map(s => relTime(new Date(now - s * 1000), now));
        }""",
        ages,
    )
    assert words == [
        "just now",
        "5 min ago",
        "5 h ago",
        "47 h ago",
        "3 days ago",
        "30 days ago",
        "1 month ago",
        "4 months ago",
        "11 months ago",
        "1 year ago",
        "2 years ago",
        "7 years ago",
    ]

    # An old story's page says so in years, not in thousands of days.
    await page.click("#most-viewed tr[data-id='old'] .story-link")

    async def dated() -> bool:
        return bool(await page.text_content("#story-published"))

    await until(dated, "the story's publication date")
    published = await page.text_content("#story-published") or ""
    assert published.startswith("Published ") and published.endswith(" · 7 years ago"), published
    assert errors == []
    await page.context.close()
