"""How fresh what readers see is, on the editors' dashboard in a real headless Chromium:
Most viewed lists only the stories published within a chosen age (sent as `max_age`, any
age lifting the site's default), with sections, authors and pins, remembered by the tab;
and a CDN purges panel, shown only for a site with purge hooks, says per hook what was
sent, retried and given up, a hook that failed flagged with its last error and when on the
site's clock. It all fits a 390 px phone and a 1280 px desktop. Screenshots land in
artifacts/."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ranker import demo
from ranker.core.config import PurgeHook, Settings, Site
from ranker.http.app import create_app
from ranker.http.appkeys import PURGER
from ranker.http.purge import Purger
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
    sites = {"demo": demo_site}
    app = create_app(replace(settings, sites=sites), clock=clock, plugins=[demo.plugin(rate=0)])
    app[PURGER] = Purger(sites, backoff=0.01)  # a failing hook's retries at once
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
        self.asks: dict[str, int] = {}  # path under /v1/sites/demo/ -> requests sent
        self.errors: list[str] = []
        page.on("request", self._sent)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _sent(self, request: Any) -> None:
        url = urlsplit(request.url)
        if url.path == "/v1/sites/demo/top":
            self.tops.append({k: v[-1] for k, v in parse_qs(url.query).items()})
        path = url.path.removeprefix("/v1/sites/demo/")
        self.asks[path] = self.asks.get(path, 0) + 1

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


async def says(page: Any, selector: str, words: str) -> None:
    async def check() -> bool:
        loc = page.locator(selector)
        return bool(await loc.count()) and await loc.text_content() == words

    await until(check, f"{selector} saying {words!r}")


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
    await says(
        page,
        "#mv-empty",
        "No views of stories published within 6 hours in “local” for this window yet.",
    )
    await tab.lists([])
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


# The purge hooks of the site: a Fastly service whose API answers 500, and a webhook that
# takes every purge.
SERVICE = "SU1Z0isxPaozGVKXdv0eY"
FASTLY = f"fastly:{SERVICE}"
WEBHOOK = "webhook:127.0.0.1"
DOWN = {"error": "unavailable", "message": "The store is down."}


@contextlib.asynccontextmanager
async def cdn() -> AsyncIterator[str]:
    """The hooks' receiver on loopback: its base URL."""

    async def fastly(request: web.Request) -> web.Response:
        return web.Response(status=500)

    async def webhook(request: web.Request) -> web.Response:
        return web.Response(text="{}")

    app = web.Application()
    app.router.add_post("/fastly/{path:.*}", fastly)
    app.router.add_post("/hook", webhook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def purging(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    """The site with its two purge hooks, one story read."""
    async with cdn() as base:
        hooks = (
            PurgeHook("fastly", base + "/fastly", SERVICE, "fastly-api-token"),
            PurgeHook("webhook", base + "/hook"),
        )
        async with served(settings, clock, purge=hooks) as live:
            await live.put("tram", "Council approves new tram line", "local")
            await live.read({"tram": 10})
            yield live


async def api(live: Live, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as s,
        s.request(
            method, live.url(path), json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


def hook(name: str) -> str:
    return f"#purges-list li[data-hook='{name}']"


@pytest.mark.parametrize("screen", SCREENS)
async def test_the_purges_panel_flags_a_hook_that_gave_a_purge_up(
    purging: Live, chromium: Any, screen: str
) -> None:
    spec = SCREENS[screen]
    tab = await open_tab(chromium, purging, spec)
    page = tab.page
    await page.wait_for_selector("#purges-card:not([hidden])")
    listed = await page.eval_on_selector_all(
        "#purges-list li",
        "els => els.map(e => [e.dataset.hook, e.querySelector('.pg-name').textContent,"
        " e.querySelector('.pg-counts').textContent])",
    )
    assert listed == [
        [FASTLY, f"Fastly{SERVICE}", "0 sent · 0 failed · 0 retried"],
        [WEBHOOK, "Webhook127.0.0.1", "0 sent · 0 failed · 0 retried"],
    ], listed
    assert await page.text_content("#purges-count") == "2"
    assert await page.is_hidden("#purges-alert")
    assert await page.is_hidden(f"{hook(FASTLY)} .pg-error")

    # An editor's edit purges the story's key: Fastly gives it up after every retry.
    await api(purging, "PATCH", "/v1/sites/demo/items/tram", {"title": "Tram line approved"})
    await purging.app[PURGER].settle(5.0)
    doc = await api(purging, "GET", "/v1/sites/demo/purges")
    fastly = next(h for h in doc["hooks"] if h["hook"] == FASTLY)
    assert (fastly["failed"], fastly["retried"], fastly["last_error"]) == (1, 4, "answered 500")
    at = datetime.fromisoformat(fastly["last_error_at"]).astimezone(ZoneInfo(ZONE))
    await says(page, f"{hook(FASTLY)} .pg-counts", "0 sent · 1 failed · 4 retried")
    await says(page, f"{hook(WEBHOOK)} .pg-counts", "1 sent · 0 failed · 0 retried")
    # When, on the site's clock (Kathmandu's, not the editor's nor UTC).
    await says(
        page, f"{hook(FASTLY)} .pg-error", f"Last error at {at:%H:%M} (just now): answered 500"
    )
    assert await page.is_hidden(f"{hook(WEBHOOK)} .pg-error")
    await says(
        page,
        "#purges-alert",
        "1 purge given up after every retry: readers may be shown out-of-date lists until the "
        "CDN's copies expire.",
    )
    failing = await page.eval_on_selector_all(
        "#purges-card.is-failing, #purges-list li.is-failing",
        "els => els.map(e => e.id || e.dataset.hook)",
    )
    assert failing == ["purges-card", FASTLY], failing
    width = spec["viewport"]["width"]
    await assert_fits(page, width, "purges")
    box = await page.locator("#purges-card").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    await page.locator("#purges-card").scroll_into_view_if_needed()
    await page.locator("#purges-card").screenshot(path=shot(f"dashboard-purges-{screen}.png"))
    await page.screenshot(path=shot(f"dashboard-purges-page-{screen}.png"), full_page=True)
    assert tab.errors == []
    await page.context.close()


async def test_the_purges_panel_says_when_the_purges_cannot_be_read(
    purging: Live, chromium: Any
) -> None:
    tab = await open_tab(chromium, purging, DESKTOP)
    page = tab.page
    await page.wait_for_selector(hook(FASTLY))

    async def fail(route: Any) -> None:
        await route.fulfill(status=503, content_type="application/json", body=json.dumps(DOWN))

    await page.route("**/v1/sites/demo/purges", fail)
    await says(
        page,
        "#purges-error",
        "Could not read the CDN purges: The store is down. The list below may be out of date.",
    )
    assert await page.is_visible(hook(FASTLY))
    await page.locator("#purges-card").screenshot(path=shot("dashboard-purges-error.png"))
    await page.unroute("**/v1/sites/demo/purges")
    await page.wait_for_selector("#purges-error", state="hidden")
    assert await page.is_visible(hook(WEBHOOK))
    assert tab.errors == []
    await page.context.close()


async def test_a_site_without_purge_hooks_has_no_purges_panel(
    newsroom: Live, chromium: Any
) -> None:
    tab = await open_tab(chromium, newsroom, DESKTOP)
    page = tab.page

    def asked(path: str, more_than: int) -> Any:
        async def check() -> bool:
            return tab.asks.get(path, 0) > more_than

        return check

    # Asked at the first round, which is over once the dashboard is live.
    await until(asked("purges", 0), "the purges asked for")
    await page.wait_for_selector("#live[data-state='live']")
    assert await page.is_hidden("#purges-card")
    # Not asked again every round: a site's hooks change only with its configuration.
    await until(asked("pins", tab.asks["pins"]), "another round", timeout=15)
    assert tab.asks["purges"] == 1
    assert await page.is_hidden("#purges-card")
    assert tab.errors == []
    await page.context.close()


async def test_a_time_gone_by_reads_as_today_s_yesterday_s_or_a_date_on_the_site_s_clock(
    newsroom: Live, chromium: Any
) -> None:
    tab = await open_tab(chromium, newsroom, PHONE)
    words = await tab.page.evaluate(
        """async () => {
            const { fmtEarlier } = await import('/dashboard/format.js');
            const now = Date.UTC(2026, 10, 26, 12, 0) / 1000;
            const hours = [1, 12, 13, 24, 3 * 24];
            const zones = ['UTC', 'Asia/Kathmandu'];
            return zones.map(z => hours.map(h => fmtEarlier(now - h * 3600, z, now)));
        }"""
    )
    assert words == [
        ["11:00", "00:00", "23:00 yesterday", "12:00 yesterday", "12:00 on 23 Nov"],
        ["16:45", "05:45", "04:45", "17:45 yesterday", "17:45 on 23 Nov"],
    ], words
    # The clocks went back that night (Los Angeles, 1 November 2026): a 25-hour day.
    after = await tab.page.evaluate(
        """async () => {
            const { fmtEarlier } = await import('/dashboard/format.js');
            const now = Date.UTC(2026, 10, 2, 7, 30) / 1000;  // 23:30 on 1 Nov there
            const times = [now - 24 * 3600, now - 25 * 3600];
            return times.map(t => fmtEarlier(t, 'America/Los_Angeles', now));
        }"""
    )
    assert after == ["00:30", "23:30 yesterday"], after
    assert tab.errors == []
    await tab.page.context.close()
