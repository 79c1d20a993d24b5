"""How fresh what readers see is, on the editors' dashboard in a real headless Chromium:
Most viewed lists only the stories published within a chosen age (sent as `max_age`, any
age lifting the site's default), with sections, authors and pins, remembered by the tab;
and a CDN purges panel, shown only for a site with purge hooks, says per hook what was
sent, retried and given up, a hook that failed flagged with its last error and when on the
site's clock. It all fits a 390 px phone and a 1280 px desktop. Screenshots land in
artifacts/."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestServer

from ranker import demo
from ranker.core.config import Settings, Site
from ranker.http.app import create_app
from tests.browser import TOKEN, Live, launched, shot, until
from tests.support import BROWSER, FakeClock

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}
WINDOWS = ["hot", "1h", "24h", "7d", "30d", "all"]
MAX_AGES = ["0", "6h", "24h", "48h", "7d"]
ZONE = "Asia/Kathmandu"  # the site's clock, neither the editor's nor UTC
EDITOR_ZONE = "America/Los_Angeles"
HOUR = 3600
LONG = (
    "Late winner sends Kingsfield Albion into the cup semi-finals at the expense of "
    "Northgate Athletic"
)
# id: (title, section, published hours before now, or None for no publish time, views)
STORIES: dict[str, tuple[str, str, float | None, int]] = {
    "archive": ("Harbour wall rebuilt after the great storm", "local", 30 * 24, 50),
    "week": ("Council approves new tram line", "local", 4 * 24, 40),
    "undated": ("Ferry timetable for the winter", "local", None, 35),
    "yesterday": (LONG, "sport", 30, 30),
    "fresh": ("Storm closes the coast road", "world", 2, 20),
}


@contextlib.asynccontextmanager
async def served(settings: Settings, clock: FakeClock, **site: Any) -> AsyncIterator[Live]:
    """The demo site (its token the demo's, its days Kathmandu's, and `site`'s other
    settings) on a loopback port, with its readers switched off."""
    demo_site = Site("demo", half_life=600.0, token=TOKEN, timezone=ZONE, **site)
    app = create_app(
        replace(settings, sites={"demo": demo_site}), clock=clock, plugins=[demo.plugin(rate=0)]
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Live(server)
    finally:
        await server.close()


async def catalogued(live: Live, clock: FakeClock) -> None:
    """STORIES in the catalog, published that long before the server's now, and read."""
    for item, (title, section, age, _) in STORIES.items():
        fields: dict[str, Any] = {}
        if age is not None:
            fields["published_at"] = datetime.fromtimestamp(clock.now - age * HOUR, UTC).isoformat()
        await live.put(item, title, section, authors=["Ines Moreau"], **fields)
    await live.read({item: views for item, (_, _, _, views) in STORIES.items()})


@pytest.fixture
async def newsroom(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    """Stories published from two hours to a month ago, and one with no publish time."""
    async with served(settings, clock) as live:
        await catalogued(live, clock)
        yield live


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched() as browser:
        yield browser


class Tab:
    """A dashboard tab, the /top requests it sent and the errors its scripts threw."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.tops: list[dict[str, str]] = []
        self.errors: list[str] = []
        page.on("request", self._sent)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _sent(self, request: Any) -> None:
        url = urlsplit(request.url)
        if url.path == "/v1/sites/demo/top":
            self.tops.append({k: v[-1] for k, v in parse_qs(url.query).items()})

    async def listed(self) -> list[str]:
        ids: list[str] = await self.page.eval_on_selector_all(
            "#most-viewed tbody tr", "els => els.map(e => e.dataset.id)"
        )
        return ids

    async def lists(self, ids: list[str]) -> None:
        async def check() -> bool:
            return await self.listed() == ids

        await until(check, f"Most viewed listing {ids}")

    async def asked(self, **params: str) -> None:
        """Until the latest /top request carried `params`."""

        async def check() -> bool:
            return bool(self.tops) and all(self.tops[-1].get(k) == v for k, v in params.items())

        await until(check, f"a /top request with {params}")

    async def within(self, max_age: str) -> None:
        """The editor chooses how recently the listed stories were published."""
        await self.page.select_option("#mv-max-age", max_age)
        await self.asked(max_age=max_age)


async def open_tab(chromium: Any, live: Live, screen: dict[str, Any]) -> Tab:
    context = await chromium.new_context(
        user_agent=BROWSER, locale="en-US", timezone_id=EDITOR_ZONE, **screen
    )
    page = await context.new_page()
    page.set_default_timeout(10_000)
    tab = Tab(page)
    await page.goto(live.url("/dashboard?site=demo"))
    await page.wait_for_selector("#most-viewed tbody tr[data-id]")
    return tab


async def assert_fits(page: Any, width: int, where: str) -> None:
    """No horizontal scroll, and the layout viewport still the screen's."""
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[1] == width and widths[0] <= width, (where, widths)


async def assert_tappable(page: Any, selector: str, width: int, least: int) -> None:
    """On screen sideways, at least `least` px tall, and the topmost element where a
    finger would tap it."""
    loc = page.locator(selector)
    await loc.scroll_into_view_if_needed()
    box = await loc.bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    assert box["height"] >= least, (selector, box)
    hit = await page.eval_on_selector(
        selector,
        """e => { const b = e.getBoundingClientRect();
                  const top = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
                  return !!top && (top === e || e.contains(top)); }""",
    )
    assert hit, f"{selector} is covered where it would be tapped"


async def test_most_viewed_lists_only_the_stories_published_within_the_chosen_age(
    newsroom: Live, chromium: Any
) -> None:
    tab = await open_tab(chromium, newsroom, DESKTOP)
    page = tab.page
    # Any age at first, said to the server so a site's default would not apply.
    await tab.lists(["archive", "week", "undated", "yesterday", "fresh"])
    await tab.asked(max_age="0", window="hot")
    assert await page.input_value("#mv-max-age") == "0"

    await tab.within("48h")
    await tab.lists(["yesterday", "fresh"])
    # The choice is marked: the list is not every story read.
    assert "is-narrowed" in (await page.get_attribute("#mv-max-age", "class") or "")
    await page.screenshot(path=shot("dashboard-max-age-48h-desktop.png"))
    await tab.within("24h")
    await tab.lists(["fresh"])
    await tab.within("7d")
    await tab.lists(["week", "yesterday", "fresh"])
    # With each window.
    await page.click("#windows [data-window='24h']")
    await tab.asked(max_age="7d", window="24h")
    await tab.lists(["week", "yesterday", "fresh"])

    # Nothing that recent: said.
    await tab.within("6h")
    await page.select_option("#section", "local")
    await tab.asked(max_age="6h", section="local")
    await tab.lists([])
    assert await page.text_content("#mv-empty") == (
        "No views of stories published within 6 hours in “local” for this window yet."
    )
    # A section's stories of that age.
    await tab.within("7d")
    await tab.lists(["week"])

    # Remembered by the tab, like the window and the section.
    await page.reload()
    await tab.asked(max_age="7d", window="24h", section="local")
    await tab.lists(["week"])
    assert await page.input_value("#mv-max-age") == "7d"

    # Any age again.
    await tab.within("0")
    await tab.lists(["archive", "week", "undated"])
    assert "is-narrowed" not in (await page.get_attribute("#mv-max-age", "class") or "")
    assert tab.errors == []
    await page.context.close()


async def test_the_age_holds_for_an_author_s_stories_and_a_row_pins_where_it_ranks(
    newsroom: Live, chromium: Any
) -> None:
    await newsroom.put("other", "Cup draw pairs the two leaders", "sport", authors=["Tom Baker"])
    await newsroom.read({"other": 25})
    tab = await open_tab(chromium, newsroom, DESKTOP)
    page = tab.page
    await tab.within("48h")
    await tab.lists(["yesterday", "fresh"])

    # One author's stories, of that age.
    await page.goto(newsroom.url("/dashboard?site=demo#author=ines-moreau"))
    await tab.asked(max_age="48h", author="ines-moreau")
    await tab.lists(["yesterday", "fresh"])
    assert await page.text_content("#author-bar .author-of") == "Stories by Ines Moreau"
    await page.click("#author-clear")
    await tab.asked(max_age="48h")
    await tab.lists(["yesterday", "fresh"])

    # A row pins its story at its rank in the list shown.
    button = "#most-viewed tbody tr[data-id='fresh'] button.pin-btn"
    assert (await page.get_attribute(button, "aria-label") or "").startswith("Pin at #2 until")
    await page.click(button)
    await page.wait_for_selector("#most-viewed tbody tr[data-id='fresh'].is-pinned")
    await page.wait_for_selector("#pins-list li[data-id='fresh']")
    assert (await page.text_content("#pins-list li[data-id='fresh'] .pn-meta") or "").startswith(
        "#2 site-wide"
    )
    # Read more than the other, it stays where it was pinned.
    await newsroom.read({"fresh": 40})
    await page.click("#windows [data-window='1h']")
    await tab.asked(max_age="48h", window="1h")
    await tab.lists(["yesterday", "fresh"])
    assert tab.errors == []
    await page.context.close()


async def test_any_age_lifts_the_site_s_default(
    settings: Settings, clock: FakeClock, chromium: Any
) -> None:
    async with served(settings, clock, max_age=48 * HOUR) as live:
        await catalogued(live, clock)
        tab = await open_tab(chromium, live, DESKTOP)
        await tab.lists(["archive", "week", "undated", "yesterday", "fresh"])
        await tab.within("7d")
        await tab.lists(["week", "yesterday", "fresh"])
        assert tab.errors == []
        await tab.page.context.close()


@pytest.mark.parametrize("screen", SCREENS)
async def test_the_age_choice_fits_and_can_be_tapped(
    newsroom: Live, chromium: Any, screen: str
) -> None:
    spec = SCREENS[screen]
    width = spec["viewport"]["width"]
    tab = await open_tab(chromium, newsroom, spec)
    page = tab.page
    await assert_tappable(page, "#mv-max-age", width, 44 if spec is PHONE else 28)
    await assert_fits(page, width, "any age")
    for max_age in MAX_AGES:
        await tab.within(max_age)
        for win in ("hot", "all"):
            await page.click(f"#windows [data-window='{win}']")
            await tab.asked(max_age=max_age, window=win)
            await assert_fits(page, width, f"{max_age} {win}")
    await tab.within("48h")
    await tab.lists(["yesterday", "fresh"])
    await assert_tappable(page, "#mv-max-age", width, 44 if spec is PHONE else 28)
    await assert_tappable(page, "#mv-same-scale", width, 0)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.screenshot(path=shot(f"dashboard-max-age-{screen}.png"), full_page=True)
    # The Authors list has no age to choose: the choice goes with the stories.
    await page.click("#lists [data-list='authors']")
    await page.wait_for_selector("#authors-view:not([hidden])")
    assert await page.is_hidden("#mv-max-age")
    assert tab.errors == []
    await page.context.close()
