"""The dashboard's icon and charts in a real headless Chromium: a tab icon drawn from the
page itself (no /favicon.ico), sparklines on one labelled scale when the editor asks, the
unfinished newest bucket drawn as unfinished rather than as a collapse, and Rising saying
when it has too little history to compare. Screenshots land in artifacts/."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ranker.core.config import Settings
from ranker.core.trends import BASELINE_MINUTES, SHORT_MINUTES, history_ready_at
from tests.browser import Live, launched, served_demo, shot, until
from tests.support import BROWSER, FakeClock

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}
# The site's clock: neither UTC nor the editor's browser's (Los Angeles).
ZONE = "Asia/Kathmandu"
EDITOR_ZONE = "America/Los_Angeles"

# A sparkline as drawn: its finished buckets' points, the hollow dot its newest bucket is
# drawn to (null when left out), its label.
SPARK = """svg => {
    const pts = s => s.trim().split(" ").map(p => p.split(",").map(Number));
    const line = svg.querySelector("polyline.spark-line:not(.spark-partial)");
    const done = pts(line.getAttribute("points"));
    const open = svg.querySelector("circle.spark-open");
    return {
        done,
        open: open ? [Number(open.getAttribute("cx")), Number(open.getAttribute("cy"))] : null,
        label: svg.getAttribute("aria-label"),
    };
}"""


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    async with served_demo(settings, clock) as served:
        yield served


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched() as browser:
        yield browser


async def new_page(chromium: Any, screen: dict[str, Any]) -> tuple[Any, list[str]]:
    """A new tab, and the errors its scripts throw."""
    context = await chromium.new_context(
        user_agent=BROWSER, locale="en-US", timezone_id=EDITOR_ZONE, **screen
    )
    page = await context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


async def test_the_tab_icon_is_the_pages_own_and_no_favicon_is_asked_for(
    live: Live, chromium: Any
) -> None:
    page, errors = await new_page(chromium, DESKTOP)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    await page.goto(live.url("/dashboard?site=demo"))
    await page.wait_for_selector("#dash:not([hidden])")
    icons = await page.eval_on_selector_all(
        "link[rel~='icon']", "els => els.map(e => e.getAttribute('href'))"
    )
    assert len(icons) == 1, icons
    assert icons[0].startswith("data:image/svg+xml,"), icons
    # An image the browser can draw, and one in the dashboard's accent colour.
    size = await page.evaluate(
        """href => new Promise(done => {
            const img = new Image();
            img.onload = () => done([img.naturalWidth, img.naturalHeight]);
            img.onerror = () => done([0, 0]);
            img.src = href;
        })""",
        icons[0],
    )
    assert size[0] > 0 and size[1] > 0, size
    accent = await page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"
    )
    assert accent.replace("#", "%23") in icons[0], accent
    # Drawn large enough to look at.
    await page.set_content(f'<img src="{icons[0]}" width=128 height=128>')
    box = {"x": 0, "y": 0, "width": 144, "height": 144}
    await page.screenshot(path=shot("dashboard-icon.png"), clip=box)
    assert not [u for u in asked if u.endswith("/favicon.ico")], asked
    assert errors == []
    await page.context.close()


async def at(page: Any, t: float) -> None:
    """The browser's clock at `t` (unix s), the server's fake clock's; its timers still run."""
    await page.clock.set_fixed_time(datetime.fromtimestamp(t, UTC))


async def spark(page: Any, where: str) -> dict[str, Any]:
    drawn: dict[str, Any] = await page.eval_on_selector(f"{where} svg.spark", SPARK)
    return drawn


async def labelled(page: Any, row: str, words: str) -> None:
    """Until the row's sparkline's label says `words`."""
    await page.wait_for_function(
        """([row, words]) => {
            const svg = document.querySelector(row + " svg.spark");
            return !!svg && (svg.getAttribute("aria-label") || "").includes(words);
        }""",
        arg=[row, words],
    )


async def last_point_tip(page: Any, touch: bool) -> str:
    """The story chart's read-out of its newest bucket, pointed at as an editor would."""
    await page.locator("#story-chart").scroll_into_view_if_needed()
    box = await page.locator("#story-chart .chart-hit").bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    right = box["x"] + box["width"] - 1
    text = ""

    async def shown() -> bool:
        nonlocal text
        # A poll may draw the chart again (hiding the read-out): point at it afresh; on a
        # phone, a tap.
        if touch:
            await page.touchscreen.tap(right, y)
        else:
            await page.mouse.move(right - 3, y)
            await page.mouse.move(right, y)
        text = await page.evaluate(
            "() => { const t = document.getElementById('chart-tip');"
            " return t.hidden ? '' : t.textContent; }"
        )
        return bool(text)

    await until(shown, "the chart's read-out")
    return text


async def fits(page: Any, width: int) -> bool:
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    return bool(widths[1] == width and widths[0] <= width)


@pytest.mark.parametrize("screen", SCREENS)
async def test_sparklines_share_a_labelled_scale_and_the_newest_minute_is_drawn_at_its_pace(
    live: Live, chromium: Any, clock: FakeClock, screen: str
) -> None:
    # Three whole minutes, then half of the current one at the same pace.
    now = (int(clock.now) // 60 + 5) * 60
    for minute in (now - 180, now - 120, now - 60):
        clock.now = minute + 10
        await live.put("big", "Storm closes the coast road", "world")
        await live.put("small", "Library opens on Sundays", "local")
        await live.read({"big": 12, "small": 4})
    clock.now = now + 30
    await live.put("new", "Ferry runs aground", "local")
    await live.read({"big": 6, "small": 2, "new": 3})

    spec = SCREENS[screen]
    page, errors = await new_page(chromium, spec)
    await at(page, clock.now)
    await page.goto(live.url("/dashboard?site=demo"))
    big, small = "#most-viewed tr[data-id='big']", "#most-viewed tr[data-id='small']"
    await labelled(page, small, "Scale")

    # Each row on its own scale, said in its label; the current minute, half run with half
    # of a whole minute's views, is drawn dashed to where the whole minute is heading: level
    # with the minutes before, not a fall to half.
    assert not await page.is_checked("#mv-same-scale")
    assert await page.is_hidden("#mv-scale")
    drawn = await spark(page, big)
    assert drawn["open"] is not None
    assert abs(drawn["open"][1] - drawn["done"][-1][1]) < 0.2, drawn
    assert drawn["open"][0] > drawn["done"][-1][0]
    assert "This minute is not over: 6 so far in 30 s, drawn dashed at about 12" in drawn["label"]
    assert drawn["label"].endswith("Scale 0–12 views/min, this row's own."), drawn["label"]
    own = await spark(page, small)
    assert own["label"].endswith("Scale 0–4 views/min, this row's own."), own["label"]
    # Each row fills its own height: the small row's peak is as high as the big row's.
    assert abs(min(y for _, y in own["done"]) - min(y for _, y in drawn["done"])) < 0.2
    await page.screenshot(path=shot(f"dashboard-charts-own-scale-{screen}.png"))

    # One scale for every row, the list's largest value, written beside the switch.
    await page.click("#mv-same-scale")
    assert await page.text_content("#mv-scale") == "Scale 0–12 views/min"
    shared = await spark(page, small)
    assert shared["label"].endswith("Scale 0–12 views/min, the same for every row."), shared
    big_top = min(y for _, y in (await spark(page, big))["done"])
    small_top = min(y for _, y in shared["done"])
    assert small_top > big_top + 10, (small_top, big_top)  # a third of the height lower
    assert await fits(page, spec["viewport"]["width"])
    await page.screenshot(path=shot(f"dashboard-charts-same-scale-{screen}.png"))

    # Remembered: the tab reloaded keeps it.
    await page.reload()
    await page.wait_for_selector(f"{small} svg.spark circle.spark-open")
    assert await page.is_checked("#mv-same-scale")
    assert await page.text_content("#mv-scale") == "Scale 0–12 views/min"
    assert (await spark(page, small))["label"].endswith("the same for every row.")

    # The story's own chart: the same minute, drawn the same way.
    await page.click(f"{big} .story-link")
    await page.wait_for_selector("#story-chart circle.chart-open")
    chart = await page.eval_on_selector(
        "#story-chart svg",
        """svg => {
            const done = svg.querySelector("polyline.chart-line:not(.chart-partial)")
                .getAttribute("points").trim().split(" ").map(p => p.split(",").map(Number));
            const open = svg.querySelector("circle.chart-open");
            return { done, open: [Number(open.getAttribute("cx")), Number(open.getAttribute("cy"))],
                     label: svg.getAttribute("aria-label") };
        }""",
    )
    assert abs(chart["open"][1] - chart["done"][-1][1]) < 0.2, chart
    assert "This minute is not over: 6 so far in 30 s, drawn dashed at about 12" in chart["label"]
    tip = await last_point_tip(page, touch=spec is PHONE)
    assert tip and tip.startswith("6 views") and tip.endswith("(so far; about 12 at this pace)"), (
        tip
    )
    await page.screenshot(path=shot(f"dashboard-charts-story-{screen}.png"))

    # Five seconds into a minute its pace means nothing yet: it is left out...
    await page.click("#story-back")
    clock.now = now + 5
    await at(page, clock.now)
    await page.click("#windows [data-window='1h']")
    await labelled(page, big, "has just begun")
    drawn = await spark(page, big)
    assert drawn["open"] is None
    assert "This minute has just begun (6 so far) and is not drawn yet." in drawn["label"]
    # (A story read only this minute rises at least that steeply: drawn at its views so far.)
    fresh = await spark(page, "#most-viewed tr[data-id='new']")
    assert fresh["open"] is not None and fresh["open"][1] < fresh["done"][-1][1] - 5, fresh
    assert "This minute is not over: 3 so far, drawn dashed." in fresh["label"]
    # ...and where the browser's clock is far off the server's, it is drawn at its views so
    # far, dashed to a hollow dot.
    await at(page, clock.now + 3600)
    await page.click("#windows [data-window='hot']")
    await labelled(page, big, "6 so far, drawn dashed")
    drawn = await spark(page, big)
    assert drawn["open"] is not None and drawn["open"][1] > drawn["done"][-1][1] + 5, drawn
    assert errors == []
    await page.context.close()


def clock_words(t: float, now: float) -> str:
    """The dashboard's "14:05" (with "on 3 Dec" on another day) on the site's clock."""
    when, today = (
        datetime.fromtimestamp(t, ZoneInfo(ZONE)),
        datetime.fromtimestamp(now, ZoneInfo(ZONE)),
    )
    day = "" if when.date() == today.date() else f" on {when.day} {when:%b}"
    return f"{when:%H:%M}{day}"


@pytest.fixture
async def newsroom(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    """The demo site on Kathmandu's clock."""
    async with served_demo(settings, clock, timezone=ZONE) as served:
        await served.put("breaking", "Bridge closed after barge strike", "world")
        yield served


NOTICE = (
    "Not enough history yet: Rising compares the last 10 minutes with the 2 hours before. "
    "Ready at {}. Until then, the stories read most in the last 10 minutes."
)


@pytest.mark.parametrize("screen", SCREENS)
async def test_rising_says_when_it_will_have_enough_history_and_shows_no_ratios(
    newsroom: Live, chromium: Any, clock: FakeClock, screen: str
) -> None:
    since = clock.now  # the site's first views
    await newsroom.put("usual", "Ferry timetable for the winter", "local")
    await newsroom.read({"usual": 20})
    clock.advance(15 * 60)
    # The server ranks by a ratio against a baseline it has not counted whole yet: the
    # breaking story first, though the usual one is read more.
    await newsroom.read({"breaking": 30, "usual": 40})
    page, errors = await new_page(chromium, SCREENS[screen])
    await page.goto(newsroom.url("/dashboard?site=demo"))
    notice = page.locator("#rising-notice")
    await notice.wait_for()
    # On Kathmandu's clock, which the rising answer itself names (`timezone`): not said.
    expected = NOTICE.format(clock_words(history_ready_at(since), clock.now))

    async def said() -> bool:
        return await notice.text_content() == expected

    await until(said, "the notice on the site's clock")
    # The stories, the most read first, without a ratio.
    await page.wait_for_selector("#rising li[data-id='breaking']")
    listed = await page.eval_on_selector_all(
        "#rising li", "els => els.map(e => [e.dataset.id, e.querySelector('.r-rank').textContent])"
    )
    assert listed == [["usual", "1"], ["breaking", "2"]], listed
    assert await page.locator("#rising .ratio:visible").count() == 0
    assert "×" not in (await page.inner_text(".rising-card"))
    assert await page.is_hidden("#rising-empty")
    assert await fits(page, SCREENS[screen]["viewport"]["width"])
    await page.locator(".rising-card").scroll_into_view_if_needed()
    await page.screenshot(path=shot(f"dashboard-rising-not-ready-{screen}.png"))
    assert errors == []
    await page.context.close()


async def test_rising_shows_its_ratios_once_the_baseline_was_counted(
    newsroom: Live, chromium: Any, clock: FakeClock
) -> None:
    await newsroom.put("steady", "Weather for the weekend", "local")
    await newsroom.read({"steady": 12})
    page, errors = await new_page(chromium, DESKTOP)
    await page.goto(newsroom.url("/dashboard?site=demo"))
    await page.wait_for_selector("#rising-notice:not([hidden])")

    assert await page.locator("#rising .ratio:visible").count() == 0

    # Counted for the short window and the baseline: the next round shows the ratios.
    clock.advance((SHORT_MINUTES + BASELINE_MINUTES) * 60)
    await newsroom.read({"breaking": 30})
    ratio = page.locator("#rising li[data-id='breaking'] .ratio")
    await ratio.wait_for()
    assert (await ratio.text_content() or "").startswith("×")
    assert await page.is_hidden("#rising-notice")
    assert await page.is_visible("#rising-tools")
    await page.locator(".rising-card").scroll_into_view_if_needed()
    await page.screenshot(path=shot("dashboard-rising-ready-desktop.png"))
    assert errors == []
    await page.context.close()


async def test_rising_from_a_server_that_does_not_tell_its_history_lists_as_before(
    newsroom: Live, chromium: Any
) -> None:
    await newsroom.read({"breaking": 30})
    page, errors = await new_page(chromium, DESKTOP)

    async def without_history(route: Any) -> None:
        answer = await route.fetch()
        doc = await answer.json()
        doc.pop("history")
        await route.fulfill(response=answer, body=json.dumps(doc))

    await page.route("**/v1/sites/demo/rising*", without_history)
    await page.goto(newsroom.url("/dashboard?site=demo"))
    ratio = page.locator("#rising li[data-id='breaking'] .ratio")
    await ratio.wait_for()
    assert (await ratio.text_content() or "").startswith("×")
    assert await page.is_hidden("#rising-notice")
    assert errors == []
    await page.context.close()
