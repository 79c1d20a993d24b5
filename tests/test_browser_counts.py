"""No real browser is refused: Debian's Chromium, its headless token replaced as a reader's
browser would not have it, reads an article page and its beacon counts under the
production filters (browser shape, Fetch Metadata, hosting networks, per-address limit,
concentration). The same browser with its own "HeadlessChrome" user agent does not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from ranker.core.config import Settings
from ranker.http.appkeys import FLUSHER, STORE
from tests.browser import Live, launched, served_demo, until
from tests.support import FakeClock, make_settings


@pytest.fixture
async def guarded(engine: Any, redis: Any, clock: FakeClock) -> AsyncIterator[Live]:
    """The demo site with the production defaults of every filter."""
    defaults = Settings()
    settings: Settings = replace(
        make_settings(engine.url),
        dedupe_window=defaults.dedupe_window,
        rate_limit=defaults.rate_limit,
        max_views_per_address=defaults.max_views_per_address,
        max_network_share=defaults.max_network_share,
        deny_hosting=defaults.deny_hosting,
        fetch_metadata=defaults.fetch_metadata,
    )
    async with served_demo(settings, clock) as live:
        yield live


async def views(live: Live, item_id: str) -> tuple[int, dict[str, int]]:
    """Counted and held views of a story, once the browser's beacon was written."""
    store = live.app[STORE]

    async def arrived() -> bool:
        assert await live.app[FLUSHER].flush()
        total = await store.total("demo", item_id)
        held = (await store.held("demo", [item_id], ("bot", "inconsistent")))[item_id]
        return bool(total or held)

    await until(arrived, "the browser's beacon")
    held = (await store.held("demo", [item_id], ("bot", "inconsistent", "datacenter")))[item_id]
    return int(await store.total("demo", item_id)), held


async def test_chromium_as_a_reader_has_it_is_counted(guarded: Live) -> None:
    await guarded.put("tram", "Council approves new tram line")
    async with launched() as chromium:
        probe = await chromium.new_page()
        own = await probe.evaluate("navigator.userAgent")
        await probe.close()
        assert "HeadlessChrome/" in own
        reader = own.replace("HeadlessChrome/", "Chrome/")
        context = await chromium.new_context(user_agent=reader)
        page = await context.new_page()
        await page.goto(guarded.url("/?story=tram"))
        assert await views(guarded, "tram") == (1, {})
        # The pixel, as a no-script page would load it, counts for another story.
        await guarded.put("derby", "Derby ends in a draw", "sport")
        await page.set_content(
            f'<img src="{guarded.url("/v1/hit.gif?site=demo&id=derby")}" alt="">'
        )
        assert await views(guarded, "derby") == (1, {})
        await context.close()
        # The same browser saying it is headless is a bot.
        await guarded.put("bot-read", "Read by automation")
        headless = await chromium.new_page()
        await headless.goto(guarded.url("/?story=bot-read"))
        assert await views(guarded, "bot-read") == (0, {"bot": 1})
