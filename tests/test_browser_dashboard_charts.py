"""The dashboard's icon and charts in a real headless Chromium: a tab icon drawn from the
page itself (no /favicon.ico), sparklines on one labelled scale when the editor asks, the
unfinished newest bucket drawn as unfinished rather than as a collapse, and Rising saying
when it has too little history to compare. Screenshots land in artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ranker.core.config import Settings
from tests.browser import Live, launched, served_demo, shot
from tests.support import BROWSER, FakeClock

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}


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
    context = await chromium.new_context(user_agent=BROWSER, locale="en-US", **screen)
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
