"""The dashboard speaks the site's days: a newsroom in Kathmandu (+5:45) reads "today" and
its charts on its own calendar and clock, here at an hour when UTC (and the editor's
browser, set to Los Angeles) is still on the day before."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ranker.core.config import Settings
from tests.browser import Live, launched, served_demo, shot, until
from tests.support import BROWSER, FakeClock

ZONE = "Asia/Kathmandu"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def day_month(d: date) -> str:
    """The dashboard's "3 Dec"."""
    return f"{d.day} {MONTHS[d.month - 1]}"


@pytest.fixture
def clock() -> FakeClock:
    # Tomorrow 20:00 UTC, in Redis' future (bucket keys expire at absolute times): 01:45
    # the day after in Kathmandu.
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return FakeClock(datetime.combine(tomorrow, time(20, 0), tzinfo=UTC).timestamp())


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    async with served_demo(settings, clock, timezone=ZONE) as served:
        yield served


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    # The editor's browser is in neither zone: nothing may be read on its clock.
    async with launched() as chromium:
        context = await chromium.new_context(
            viewport={"width": 1280, "height": 900},
            user_agent=BROWSER,
            locale="en-US",
            timezone_id="America/Los_Angeles",
        )
        page = await context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        await context.close()
        assert errors == [], errors


async def drawn(page: Any, res: str) -> None:
    """The story's chart at `res`, once its series has been read."""
    await page.wait_for_function(
        """res => { const t = document.getElementById('chart-hint').textContent;
                    return t.startsWith('views per ' + res) && t.includes('in range'); }""",
        arg=res,
    )


async def last_point_tip(page: Any) -> str:
    """The chart's read-out of its last (newest) bucket, hovered as an editor would."""
    box = await page.locator("#story-chart .chart-hit").bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    right = box["x"] + box["width"] - 1
    text = ""

    async def shown() -> bool:
        nonlocal text
        # A poll may draw the chart again (hiding the read-out): move onto it afresh.
        await page.mouse.move(right - 3, y)
        await page.mouse.move(right, y)
        text = await page.evaluate(
            "() => { const t = document.getElementById('chart-tip');"
            " return t.hidden ? '' : t.textContent; }"
        )
        return bool(text)

    await until(shown, "the chart's read-out")
    return text


async def test_today_and_the_charts_are_the_sites_days(
    live: Live, page: Any, clock: FakeClock
) -> None:
    now_utc = datetime.fromtimestamp(clock.now, UTC)
    today = datetime.fromtimestamp(clock.now, ZoneInfo(ZONE)).date()
    assert today == now_utc.date() + timedelta(days=1)  # Kathmandu is a day ahead

    await live.put("lead", "Council approves new tram line")
    await live.read({"lead": 3})
    await page.goto(live.url("/dashboard?site=demo"))

    # "Beacons today" is Kathmandu's today.
    await page.wait_for_selector("#beacons-today:not([hidden])")
    assert await page.text_content("#beacons-counted") == "3"
    hint = page.locator("#beacons-hint")
    assert await hint.text_content() == f"{day_month(today)} · {ZONE}"
    assert await hint.get_attribute("title") == f"{ZONE} day {today.isoformat()}, so far"
    newest_bar = await page.text_content("#beacons-week-chart g.is-today title")
    assert newest_bar == f"{day_month(today)} (today, so far): 3 counted, 0 not counted"
    await page.locator(".beacons-card").scroll_into_view_if_needed()
    await page.screenshot(path=shot("dashboard-days-beacons.png"), full_page=True)

    # The story's views per day: the newest day is Kathmandu's.
    await page.click("#most-viewed tbody tr[data-id='lead'] a")
    await page.wait_for_selector("#story-chart svg")
    await page.click("#res-switch [data-res='day']")
    await drawn(page, "day")
    assert (await page.text_content("#chart-hint")).endswith(f"· {ZONE} time")
    tip = await last_point_tip(page)
    assert tip == f"3 views{day_month(today)} (so far)"
    days = await page.eval_on_selector_all(
        "#story-chart .axis-x text", "els => els.map(e => e.textContent)"
    )
    assert days and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", d) for d in days), days
    await page.screenshot(path=shot("dashboard-days-story.png"), full_page=True)

    # Hours on Kathmandu's clock: UTC hours start at a quarter to the hour there.
    await page.click("#res-switch [data-res='hour']")
    await drawn(page, "hour")
    tip = await last_point_tip(page)
    assert tip == f"3 views{day_month(today)}, 01:45–02:45 (so far)"
    hours = await page.eval_on_selector_all(
        "#story-chart .axis-x text", "els => els.map(e => e.textContent)"
    )
    assert any(h.endswith(":45") for h in hours), hours
    assert all(re.fullmatch(r"\d\d:45|\d{1,2} [A-Z][a-z]{2}", h) for h in hours), hours
