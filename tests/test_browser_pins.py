"""Pins on the editors' dashboard, in a real headless Chromium: a Most viewed row pins its
story where it is in one click (the list's section or site-wide, every window, until the
end of the site's day) and unpins it in one; a pinned row says until when on the site's
clock; the Pinned panel lists the pins in force, each with Unpin; Authors ranks the
authors of the window's stories, and one of them opens Most viewed with their stories
only; a refused request is said, not thrown; and it all fits a 390 px phone and a 1280 px
desktop. Screenshots land in artifacts/."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from ranker.core.config import Settings
from tests.browser import (
    TOKEN,
    VISIBLE_CHARS,
    Live,
    dashboard_tab,
    launched,
    served_demo,
    shot,
    until,
)
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
# The editor's browser keeps another clock than the site's.
EDITOR_ZONE = "America/Los_Angeles"
LONG = (
    "Late winner sends Kingsfield Albion into the cup semi-finals at the expense of "
    "Northgate Athletic"
)


def midday_zone(now: float) -> str:
    """A fixed-offset zone whose clock reads about noon at `now`, so a pin made now ends
    at 23:59 the same day there, hours from the rule for a day's last hour."""
    offset = 12 - datetime.fromtimestamp(now, UTC).hour  # -11 to 12 hours east of UTC
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # the Etc names' sign is POSIX's


def day_end(now: float, zone: str) -> datetime:
    """23:59:59 of the day `now` falls in, on `zone`'s clock."""
    local = datetime.fromtimestamp(now, ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return midnight - timedelta(seconds=1)


@pytest.fixture
async def newsroom(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    """The demo site at noon on its own clock, three stories read."""
    async with served_demo(settings, clock, timezone=midday_zone(clock.now)) as served:
        await served.put("derby", LONG, "sport")
        await served.put("tram", "Council approves new tram line", "local")
        await served.put("storm", "Storm closes the coast road", "world")
        await served.read({"derby": 30, "tram": 20, "storm": 10})
        yield served


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched() as browser:
        yield browser


async def open_dashboard(
    chromium: Any, live: Live, screen: dict[str, Any]
) -> tuple[Any, list[str]]:
    """A new tab on the demo dashboard, and the errors its scripts throw."""
    page, errors = await dashboard_tab(chromium, live, screen, timezone_id=EDITOR_ZONE)
    await page.wait_for_selector("#most-viewed tbody tr[data-id='storm']")
    return page, errors


async def api_get(live: Live, path: str) -> Any:
    async with (
        aiohttp.ClientSession() as s,
        s.get(live.url(path), headers={"Authorization": f"Bearer {TOKEN}"}) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def pins_in_force(live: Live) -> list[dict[str, Any]]:
    doc = await api_get(live, "/v1/sites/demo/pins")
    pins: list[dict[str, Any]] = doc["pins"]
    return pins


def row(item_id: str) -> str:
    return f"#most-viewed tbody tr[data-id='{item_id}']"


def panel(item_id: str) -> str:
    return f"#pins-list li[data-id='{item_id}']"


async def says(page: Any, selector: str, attribute: str, words: str) -> None:
    """Until the element's attribute (or its text, for "text") is `words`."""

    async def check() -> bool:
        loc = page.locator(selector)
        if not await loc.count():
            return False
        got = (
            await loc.text_content() if attribute == "text" else await loc.get_attribute(attribute)
        )
        return bool(got == words)

    await until(check, f"{selector} {attribute} = {words!r}")


async def assert_fits(page: Any, width: int, where: str) -> None:
    """No horizontal scroll, and the layout viewport still the screen's."""
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[1] == width and widths[0] <= width, (where, widths)


async def assert_tappable(page: Any, selector: str, width: int, least: int) -> None:
    """On screen sideways, at least `least` px each way, and the topmost element where a
    finger would tap it."""
    loc = page.locator(selector)
    await loc.scroll_into_view_if_needed()
    box = await loc.bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    assert box["width"] >= least and box["height"] >= least, (selector, box)
    hit = await page.eval_on_selector(
        selector,
        """e => { const b = e.getBoundingClientRect();
                  const top = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
                  return !!top && (top === e || e.contains(top)); }""",
    )
    assert hit, f"{selector} is covered where it would be tapped"


async def test_one_click_pins_a_row_where_it_is_until_the_end_of_the_sites_day_and_one_unpins(
    newsroom: Live, chromium: Any, clock: FakeClock
) -> None:
    zone = midday_zone(clock.now)
    ends = day_end(clock.now, zone)
    page, errors = await open_dashboard(chromium, newsroom, DESKTOP)
    button = f"{row('storm')} button.pin-btn"
    # The button says what one click does, on the site's clock (not the editor's).
    await says(page, button, "aria-label", "Pin at #3 until 23:59")
    assert await page.text_content(button) == "Pin"
    assert await page.locator(f"{row('storm')} .pin-mark").is_hidden()

    await page.click(button)
    await says(page, f"{row('storm')} .pin-mark", "text", "Pinned until 23:59")
    assert await page.locator(f"{row('storm')} .pin-mark").is_visible()
    assert await page.text_content(button) == "Unpin"
    assert await page.get_attribute(button, "aria-label") == "Unpin: Storm closes the coast road"
    # The server has it: at #3, site-wide, every window, until 23:59:59 of the site's day.
    pins = await pins_in_force(newsroom)
    assert [(p["id"], p["position"], p["section"], p["windows"]) for p in pins] == [
        ("storm", 3, None, WINDOWS)
    ]
    assert datetime.fromisoformat(pins[0]["until"]) == ends.astimezone(UTC)
    top = await api_get(newsroom, "/v1/sites/demo/top?window=24h&backfill=false")
    assert [(it["id"], it["pinned"]) for it in top["items"]] == [
        ("derby", False),
        ("tram", False),
        ("storm", True),
    ]
    await page.screenshot(path=shot("dashboard-pins-pinned-desktop.png"))

    # Read more than the others, it stays where it was pinned.
    await newsroom.read({"storm": 50})
    await page.click("#windows [data-window='1h']")
    await page.wait_for_selector(f"{row('storm')}.is-pinned")
    ranks = await page.eval_on_selector_all(
        "#most-viewed tbody tr", "els => els.map(e => [e.dataset.id, e.cells[0].textContent])"
    )
    assert ranks == [["derby", "1"], ["tram", "2"], ["storm", "3"]], ranks

    # One click unpins: the server has no pin, the row is a row again.
    await page.click(button)
    await says(page, button, "text", "Pin")
    assert await page.locator(f"{row('storm')} .pin-mark").is_hidden()
    assert await pins_in_force(newsroom) == []
    await page.wait_for_function(
        "() => document.querySelector('#most-viewed tbody tr').dataset.id === 'storm'"
    )
    assert await page.is_hidden("#mv-error")
    assert errors == []
    await page.context.close()


async def test_a_section_s_list_pins_in_that_section(
    newsroom: Live, chromium: Any, clock: FakeClock
) -> None:
    page, errors = await open_dashboard(chromium, newsroom, DESKTOP)
    await page.select_option("#section", "local")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#most-viewed tbody tr')].map(e => e.dataset.id)"
        ".join() === 'tram'"
    )
    button = f"{row('tram')} button.pin-btn"
    await says(page, button, "aria-label", "Pin at #1 in Local until 23:59")
    await page.click(button)
    await says(page, f"{row('tram')} .pin-mark", "text", "Pinned until 23:59")
    pins = await pins_in_force(newsroom)
    assert [(p["id"], p["position"], p["section"]) for p in pins] == [("tram", 1, "local")]

    # On the site's list the pin is not this list's: the row says where it holds.
    await page.select_option("#section", "")
    await says(page, f"{row('tram')} .pin-mark", "text", "Pinned in Local until 23:59")
    assert await page.text_content(f"{row('tram')} button.pin-btn") == "Unpin"
    assert errors == []
    await page.context.close()


async def test_a_pin_made_elsewhere_shows_until_when_on_the_site_s_clock(
    newsroom: Live, chromium: Any, clock: FakeClock
) -> None:
    ends = clock.now + 2 * 3600 + 17 * 60
    await newsroom.pin("tram", ends, position=1, windows=["hot", "24h"])
    page, errors = await open_dashboard(chromium, newsroom, DESKTOP)
    at = datetime.fromtimestamp(ends, ZoneInfo(midday_zone(clock.now)))
    await says(page, f"{row('tram')} .pin-mark", "text", f"Pinned until {at:%H:%M}")
    title = await page.get_attribute(f"{row('tram')} .pin-mark", "title")
    assert title == f"Pinned at #1 site-wide, Now, 24h, until {at:%H:%M}"
    # The 7 days' list is not one the pin holds in.
    await page.click("#windows [data-window='7d']")
    await says(page, f"{row('tram')} .pin-mark", "text", f"Pinned in Now, 24h until {at:%H:%M}")
    assert errors == []
    await page.context.close()


async def test_a_refused_pin_or_unpin_is_said_above_the_list(
    newsroom: Live, chromium: Any, clock: FakeClock
) -> None:
    page, errors = await open_dashboard(chromium, newsroom, DESKTOP)
    refusal = {"error": "invalid_pin", "message": "until: in the future, within 90 days"}

    async def refuse(route: Any) -> None:
        if route.request.method == "PUT":
            await route.fulfill(
                status=422, content_type="application/json", body=json.dumps(refusal)
            )
        elif route.request.method == "DELETE":
            await route.fulfill(
                status=503,
                content_type="application/json",
                body=json.dumps({"error": "unavailable", "message": "The store is down."}),
            )
        else:
            await route.continue_()

    await page.route("**/v1/sites/demo/pins/*", refuse)
    button = f"{row('tram')} button.pin-btn"
    await says(page, button, "aria-label", "Pin at #2 until 23:59")
    await page.click(button)
    await says(
        page,
        "#mv-error",
        "text",
        "Could not pin “Council approves new tram line”: until: in the future, within 90 days",
    )
    assert await page.is_visible("#mv-error")
    assert await page.text_content(button) == "Pin"
    assert await page.is_enabled(button)
    assert await pins_in_force(newsroom) == []
    await page.screenshot(path=shot("dashboard-pins-refused-desktop.png"))

    # Pinned by someone else; unpinning fails: said, and the row stays pinned.
    await newsroom.pin("tram", clock.now + 3600, position=2)
    await says(page, button, "text", "Unpin")
    await page.click(button)
    await says(
        page,
        "#mv-error",
        "text",
        "Could not unpin “Council approves new tram line”: The store is down.",
    )
    assert await page.text_content(button) == "Unpin"
    # Once it works, the message goes.
    await page.unroute("**/v1/sites/demo/pins/*")
    await page.click(button)
    await says(page, button, "text", "Pin")
    assert await page.is_hidden("#mv-error")
    assert errors == []
    await page.context.close()


async def test_one_click_pins_until_the_end_of_the_site_s_day_or_the_next_in_its_last_hour(
    newsroom: Live, chromium: Any
) -> None:
    page, errors = await open_dashboard(chromium, newsroom, PHONE)

    def at(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> float:
        return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()

    cases = [
        ("Asia/Kathmandu", at("Asia/Kathmandu", 2026, 11, 26, 9, 15), (2026, 11, 26)),
        ("Asia/Kathmandu", at("Asia/Kathmandu", 2026, 11, 26, 22, 59), (2026, 11, 26)),
        # In the day's last hour: through tomorrow.
        ("Asia/Kathmandu", at("Asia/Kathmandu", 2026, 11, 26, 23, 1), (2026, 11, 27)),
        # The clocks go forward that night (Berlin, 29 March 2026): 23:59:59 all the same.
        ("Europe/Berlin", at("Europe/Berlin", 2026, 3, 29, 1, 30), (2026, 3, 29)),
        ("Europe/Berlin", at("Europe/Berlin", 2026, 3, 28, 23, 30), (2026, 3, 29)),
        ("America/Los_Angeles", at("America/Los_Angeles", 2026, 11, 1, 0, 30), (2026, 11, 1)),
    ]
    got = await page.evaluate(
        """async cases => {
            const { pinUntil } = await import('/dashboard/pins.js');
            return cases.map(([zone, now]) => pinUntil(now, zone));
        }""",
        [[zone, now] for zone, now, _ in cases],
    )
    want = [
        datetime(y, m, d, 23, 59, 59, tzinfo=ZoneInfo(zone)).timestamp()
        for zone, _, (y, m, d) in cases
    ]
    assert got == want
    words = await page.evaluate(
        """async () => {
            const { fmtLater } = await import('/dashboard/format.js');
            const now = Date.UTC(2026, 10, 26, 12, 0) / 1000;
            return [now + 3600, now + 86400, now + 3 * 86400].map(t => fmtLater(t, 'UTC', now));
        }"""
    )
    assert words == ["13:00", "12:00 tomorrow", "12:00 on 29 Nov"]
    assert errors == []
    await page.context.close()


@pytest.mark.parametrize("screen", SCREENS)
async def test_pin_buttons_fit_and_can_be_tapped(
    newsroom: Live, chromium: Any, clock: FakeClock, screen: str
) -> None:
    spec = SCREENS[screen]
    width = spec["viewport"]["width"]
    least = 44 if spec is PHONE else 32
    await newsroom.pin("tram", clock.now + 3600, position=2)
    page, errors = await open_dashboard(chromium, newsroom, spec)
    await page.wait_for_selector(f"{row('tram')}.is-pinned")
    for item in ("derby", "tram", "storm"):
        await assert_tappable(page, f"{row(item)} button.pin-btn", width, least)
    await assert_tappable(page, f"{panel('tram')} button.unpin", width, least)
    # The headline keeps its room beside the button: far more than a few letters show.
    shown = await page.eval_on_selector(f"{row('derby')} .story-link", VISIBLE_CHARS)
    assert shown >= 30, shown
    assert await page.locator(f"{row('tram')} .pin-mark").is_visible()
    await assert_fits(page, width, "pinned")
    await page.click(f"{row('derby')} button.pin-btn")
    await page.wait_for_selector(f"{row('derby')}.is-pinned")
    for win in WINDOWS:
        await page.click(f"#windows [data-window='{win}']")
        await page.wait_for_selector(f"#windows [data-window='{win}'][aria-selected='true']")
        await page.wait_for_selector(f"{row('derby')}.is-pinned")
        await assert_fits(page, width, win)
    spilled = await page.eval_on_selector_all(
        "#most-viewed th, #most-viewed td",
        "els => els.filter(e => e.offsetWidth && e.scrollWidth > e.clientWidth)"
        ".map(e => e.className)",
    )
    assert spilled == [], spilled
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.screenshot(path=shot(f"dashboard-pins-{screen}.png"), full_page=True)
    assert errors == []
    await page.context.close()


async def test_rising_tells_its_times_by_its_own_answer_s_zone(
    settings: Settings, chromium: Any, clock: FakeClock
) -> None:
    zone = "Asia/Kathmandu"
    async with served_demo(settings, clock, timezone=zone) as live:
        await live.put("usual", "Ferry timetable for the winter", "local")
        await live.read({"usual": 20})
        context = await chromium.new_context(
            user_agent=BROWSER, locale="en-US", timezone_id=EDITOR_ZONE, **DESKTOP
        )
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # No other answer names the zone: the beacon tally and the series fail.
        await page.route("**/v1/sites/demo/beacons*", lambda r: r.abort())
        await page.route("**/v1/sites/demo/series*", lambda r: r.abort())
        await page.goto(live.url("/dashboard?site=demo"))
        notice = page.locator("#rising-notice")
        await notice.wait_for()
        ready = datetime.fromisoformat(
            (await api_get(live, "/v1/sites/demo/rising"))["history"]["ready_at"]
        ).astimezone(ZoneInfo(zone))
        # From the first answer on: Kathmandu's clock, not named, never UTC's.
        text = await notice.text_content() or ""
        assert f"Ready at {ready:%H:%M}" in text and "UTC" not in text, text
        await page.screenshot(path=shot("dashboard-pins-rising-zone.png"))
        assert errors == []
        await context.close()


async def test_the_pinned_panel_lists_the_pins_in_force_and_unpins_in_one_click(
    newsroom: Live, chromium: Any, clock: FakeClock
) -> None:
    zone = ZoneInfo(midday_zone(clock.now))
    page, errors = await open_dashboard(chromium, newsroom, DESKTOP)
    await says(
        page,
        "#pins-empty",
        "text",
        "Nothing is pinned. A story's Pin button in Most viewed keeps it where it is until "
        "the end of the day.",
    )
    assert await page.is_hidden("#pins-count")

    # Pins made elsewhere: the site's, every window, for two hours; Sport's, two windows,
    # until tomorrow.
    soon, tomorrow = clock.now + 2 * 3600, clock.now + 86400 + 600
    await newsroom.pin("storm", soon, position=2)
    await newsroom.pin("derby", tomorrow, position=1, section="sport", windows=["24h", "hot"])
    await page.wait_for_selector(panel("derby"))
    listed = await page.eval_on_selector_all(
        "#pins-list li",
        "els => els.map(e => [e.dataset.id, e.querySelector('.story-link').textContent,"
        " e.querySelector('.pn-meta').textContent])",
    )
    soon_at = datetime.fromtimestamp(soon, zone)
    tomorrow_at = datetime.fromtimestamp(tomorrow, zone)
    assert listed == [
        [
            "storm",
            "Storm closes the coast road",
            f"#2 site-wide · every window · until {soon_at:%H:%M}",
        ],
        ["derby", LONG, f"#1 in Sport · Now, 24h · until {tomorrow_at:%H:%M} tomorrow"],
    ], listed
    assert await page.text_content("#pins-count") == "2"
    assert await page.text_content("#pins-hint") == f"times in {midday_zone(clock.now)}"
    assert await page.is_hidden("#pins-empty")
    await page.locator("#pins-card").screenshot(path=shot("dashboard-pins-panel-desktop.png"))

    # A row pinned in one click is listed at once; the panel's Unpin takes it off, and off
    # its row.
    await page.click(f"{row('tram')} button.pin-btn")
    await page.wait_for_selector(panel("tram"))
    assert await page.text_content(f"{panel('tram')} .pn-meta") == (
        "#3 site-wide · every window · until 23:59"
    )
    await page.click(f"{panel('storm')} button.unpin")
    await page.wait_for_selector(panel("storm"), state="detached")
    assert [p["id"] for p in await pins_in_force(newsroom)] == ["tram", "derby"]
    await says(page, f"{row('storm')} button.pin-btn", "text", "Pin")
    assert await page.text_content("#pins-count") == "2"

    # Unpinned everywhere: the empty panel says so.
    for item in ("tram", "derby"):
        await page.click(f"{panel(item)} button.unpin")
        await page.wait_for_selector(panel(item), state="detached")
    assert await pins_in_force(newsroom) == []
    assert await page.is_visible("#pins-empty")
    assert await page.is_hidden("#pins-count")
    assert errors == []
    await page.context.close()


async def test_the_pinned_panel_says_when_the_pins_cannot_be_read_or_unpinned(
    newsroom: Live, chromium: Any, clock: FakeClock
) -> None:
    await newsroom.pin("storm", clock.now + 3600, position=1)
    page, errors = await open_dashboard(chromium, newsroom, DESKTOP)
    await page.wait_for_selector(panel("storm"))
    down = json.dumps({"error": "unavailable", "message": "The store is down."})

    async def fail(route: Any) -> None:
        await route.fulfill(status=503, content_type="application/json", body=down)

    # Reading fails: said, and the last list stays.
    await page.route("**/v1/sites/demo/pins", fail)
    await says(
        page,
        "#pins-error",
        "text",
        "Could not read the pins: The store is down. The list below may be out of date.",
    )
    assert await page.is_visible(panel("storm"))
    # Unpinning fails: said, the pin stays listed, its button can be pressed again.
    await page.route("**/v1/sites/demo/pins/*", fail)
    await page.click(f"{panel('storm')} button.unpin")
    await says(
        page,
        "#pins-error",
        "text",
        "Could not unpin “Storm closes the coast road”: The store is down.",
    )
    assert await page.is_enabled(f"{panel('storm')} button.unpin")
    assert [p["id"] for p in await pins_in_force(newsroom)] == ["storm"]
    await page.locator("#pins-card").screenshot(path=shot("dashboard-pins-panel-error.png"))

    # Back: the message goes at the next read.
    await page.unroute("**/v1/sites/demo/pins")
    await page.unroute("**/v1/sites/demo/pins/*")
    await page.wait_for_selector("#pins-error", state="hidden")
    await page.click(f"{panel('storm')} button.unpin")
    await page.wait_for_selector(panel("storm"), state="detached")
    assert errors == []
    await page.context.close()


@pytest.fixture
async def bylines(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    """Stories with bylines, one of them by two authors."""
    async with served_demo(settings, clock, timezone=midday_zone(clock.now)) as served:
        await served.put("derby", LONG, "sport", authors=["Ines Moreau"])
        await served.put("cup", "Cup draw pairs the two leaders", "sport", authors=["Ines Moreau"])
        await served.put("tram", "Council approves new tram line", "local", authors=["Tom Baker"])
        await served.put(
            "storm", "Storm closes the coast road", "world", authors=["Ana Lima", "Tom Baker"]
        )
        await served.read({"derby": 30, "tram": 20, "storm": 10, "cup": 5})
        yield served


AUTHOR_ROW = """els => els.map(e => [
    e.querySelector('.a-rank').textContent,
    e.querySelector('.author-link').textContent,
    e.querySelector('.a-meta').textContent,
    e.querySelector('.a-views').textContent + ' ' + e.querySelector('.a-unit').textContent,
])"""


async def listed_ids(page: Any) -> list[str]:
    ids: list[str] = await page.eval_on_selector_all(
        "#most-viewed tbody tr", "els => els.map(e => e.dataset.id)"
    )
    return ids


async def lists(page: Any, ids: list[str]) -> None:
    async def check() -> bool:
        return await listed_ids(page) == ids

    await until(check, f"Most viewed listing {ids}")


async def test_authors_are_ranked_and_one_opens_their_stories_with_a_way_back(
    bylines: Live, chromium: Any
) -> None:
    page, errors = await open_dashboard(chromium, bylines, DESKTOP)
    await page.click("#windows [data-window='24h']")
    await page.click("#lists [data-list='authors']")
    await page.wait_for_selector("#authors li[data-author='ana-lima']")
    assert await page.evaluate("location.hash") == "#authors"
    assert await page.get_attribute("#lists [data-list='authors']", "aria-selected") == "true"
    assert await page.is_hidden("#stories-view")
    ranked = await page.eval_on_selector_all("#authors li", AUTHOR_ROW)
    assert ranked == [
        ["1", "Ines Moreau", f"2 stories read · Top: {LONG}", "35 views"],
        ["2", "Tom Baker", "2 stories read · Top: Council approves new tram line", "30 views"],
        ["3", "Ana Lima", "1 story read · Top: Storm closes the coast road", "10 views"],
    ], ranked
    assert await page.text_content("#authors-note") == (
        "Views of each author's stories in the last 24 hours; a story by two authors counts "
        "for both."
    )
    await page.screenshot(path=shot("dashboard-authors-desktop.png"))

    # An author's name: Most viewed, their stories only, said above the list.
    await page.click("#authors li[data-author='tom-baker'] .author-link")
    await lists(page, ["tram", "storm"])
    assert await page.evaluate("location.hash") == "#author=tom-baker"
    assert await page.text_content("#author-bar .author-of") == "Stories by Tom Baker"
    assert await page.get_attribute("#lists [data-list='stories']", "aria-selected") == "true"
    assert await page.is_hidden("#authors-view")
    # Lists by author show no pins: none is offered.
    assert await page.locator("#most-viewed button.pin-btn:visible").count() == 0
    await page.screenshot(path=shot("dashboard-authors-stories-desktop.png"))

    # The way back: to Authors as they were.
    await page.click("#author-back")
    await page.wait_for_selector("#authors-view:not([hidden])")
    assert await page.evaluate("location.hash") == "#authors"
    assert len(await page.eval_on_selector_all("#authors li", AUTHOR_ROW)) == 3
    # Or to all the stories.
    await page.click("#authors li[data-author='ines-moreau'] .author-link")
    await lists(page, ["derby", "cup"])
    await page.click("#author-clear")
    await lists(page, ["derby", "tram", "storm", "cup"])
    assert await page.is_hidden("#author-bar")

    # A section: its authors only; the live window's score.
    await page.click("#lists [data-list='authors']")
    await page.select_option("#section", "sport")
    await page.wait_for_function("() => document.querySelectorAll('#authors li').length === 1")
    ranked = await page.eval_on_selector_all("#authors li", AUTHOR_ROW)
    assert ranked == [["1", "Ines Moreau", f"2 stories read · Top: {LONG}", "35 views"]], ranked
    await page.click("#windows [data-window='hot']")
    await says(page, "#authors li .a-unit", "text", "trending score")

    # A top story opens its own view; back comes back here.
    await page.click("#authors li[data-author='ines-moreau'] .a-meta .story-link")
    await page.wait_for_selector("#story:not([hidden])")
    await says(page, "#story-id", "text", "derby")
    await page.click("#story-back")
    await page.wait_for_selector("#authors-view:not([hidden])")
    assert await page.evaluate("location.hash") == "#authors"
    assert errors == []
    await page.context.close()


async def test_an_author_s_stories_open_from_their_address(bylines: Live, chromium: Any) -> None:
    context = await chromium.new_context(user_agent=BROWSER, locale="en-US", **DESKTOP)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(bylines.url("/dashboard?site=demo#author=ana-lima"))
    await lists(page, ["storm"])
    assert await page.text_content("#author-bar .author-of") == "Stories by Ana Lima"
    # Back from there is Authors.
    await page.click("#author-back")
    await page.wait_for_selector("#authors li[data-author='ana-lima']")
    assert await page.evaluate("location.hash") == "#authors"
    assert errors == []
    await context.close()


async def test_authors_that_cannot_be_read_are_said(bylines: Live, chromium: Any) -> None:
    page, errors = await open_dashboard(chromium, bylines, DESKTOP)
    down = json.dumps({"error": "unavailable", "message": "The store is down."})

    async def fail(route: Any) -> None:
        await route.fulfill(status=503, content_type="application/json", body=down)

    await page.route("**/v1/sites/demo/authors/top*", fail)
    await page.click("#lists [data-list='authors']")
    await says(page, "#authors-error", "text", "Could not read the authors: The store is down.")
    assert await page.is_hidden("#authors-empty")
    await page.unroute("**/v1/sites/demo/authors/top*")
    await page.wait_for_selector("#authors li[data-author='ines-moreau']")
    assert await page.is_hidden("#authors-error")
    assert errors == []
    await page.context.close()


@pytest.mark.parametrize("screen", SCREENS)
async def test_authors_fit_and_can_be_tapped(bylines: Live, chromium: Any, screen: str) -> None:
    spec = SCREENS[screen]
    width = spec["viewport"]["width"]
    least = 44 if spec is PHONE else 32
    page, errors = await open_dashboard(chromium, bylines, spec)
    await assert_tappable(page, "#lists [data-list='authors']", width, least)
    await page.click("#lists [data-list='authors']")
    await page.wait_for_selector("#authors li[data-author='ana-lima']")
    for win in WINDOWS:
        await page.click(f"#windows [data-window='{win}']")
        await page.wait_for_selector(f"#windows [data-window='{win}'][aria-selected='true']")
        await page.wait_for_selector("#authors li[data-author='ana-lima']")
        await assert_fits(page, width, win)
    for slug in ("ines-moreau", "tom-baker", "ana-lima"):
        await assert_tappable(page, f"#authors li[data-author='{slug}'] .author-link", width, least)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.screenshot(path=shot(f"dashboard-authors-{screen}.png"), full_page=True)

    await page.click("#authors li[data-author='ines-moreau'] .author-link")
    await lists(page, ["derby", "cup"])
    await assert_fits(page, width, "an author's stories")
    for control in ("#author-back", "#author-clear", "#lists [data-list='stories']"):
        await assert_tappable(page, control, width, least)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.screenshot(path=shot(f"dashboard-authors-stories-{screen}.png"), full_page=True)
    assert errors == []
    await page.context.close()
