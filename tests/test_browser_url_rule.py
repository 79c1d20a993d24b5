"""The catalog's link and text rule in the browser, on the table of cases test_url_rule.py
runs on the server: entries stored before the rule (written straight into the store, as
an earlier release let them through) are rendered by widget.js and the dashboard with no
link where the rule refuses one and with their text cleaned, in Debian's Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from ranker.core.config import Settings
from tests.browser import Live, launched, served_demo
from tests.support import BROWSER, FakeClock
from tests.test_url_rule import (
    CASES,
    TITLE_CASES,
    URL_CASES,
    legacy_items,
    linked,
    shown,
    store_unchecked,
)

# Where a rendered link may lead: the page's own site, and the table's absolute URLs' host.
TABLE_HOSTS = {"example.com"}


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    """The demo site, its catalog holding every case of the table, each with views."""
    async with served_demo(settings, clock) as live:
        items = legacy_items()
        await store_unchecked(live.app, "demo", items)
        # Titles ahead, so that they are all in the dashboard's top 20 as well.
        await live.read({i: 2 if i.startswith("t") else 1 for i in items})
        yield live


@pytest.fixture
async def page(live: Live) -> AsyncIterator[Any]:
    async with launched() as browser:
        context = await browser.new_context(user_agent=BROWSER, locale="en-US")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: dialogs.append(d.message))
        yield page
        assert errors == [] and dialogs == [], (errors, dialogs)


def allowed(live: Live, href: str) -> bool:
    parts = urlsplit(href)
    own = urlsplit(live.url("/")).netloc
    return parts.scheme in ("http", "https") and (
        parts.netloc == own or parts.hostname in TABLE_HOSTS
    )


async def links(page: Any, scope: str) -> list[str]:
    """Every resolved link under `scope`."""
    hrefs: list[str] = await page.eval_on_selector_all(f"{scope} a", "as => as.map(a => a.href)")
    return hrefs


async def test_the_widget_renders_old_entries_by_the_rule(live: Live, page: Any) -> None:
    publisher = live.url("/publisher/rule")
    html = (
        '<!doctype html><meta charset="utf-8"><title>Publisher</title>'
        '<div id="box" data-ranker-top data-site="demo" data-n="100" data-summary'
        ' data-backfill="false"></div>'
        '<script src="/widget.js" async></script>'
    )

    async def fulfill(route: Any) -> None:
        await route.fulfill(body=html, content_type="text/html")

    await page.route(publisher, fulfill)
    await page.goto(publisher)
    await page.wait_for_selector("#box[data-ranker-state=ready]")
    rows = await page.eval_on_selector_all(
        "#box li.ranker-item",
        """lis => Object.fromEntries(lis.map(li => {
            const head = li.querySelector('.ranker-link, .ranker-headline');
            const summary = li.querySelector('.ranker-summary');
            return [li.dataset.id, {
                tag: head.tagName,
                href: head.getAttribute('href'),
                text: head.textContent,
                summary: summary ? summary.textContent : null,
                elements: li.querySelectorAll('a, span, p').length,
            }];
        }))""",
    )
    assert len(rows) == len(CASES)
    for n, case in enumerate(CASES):
        if "url" in case:
            row = rows[f"u{n}"]
            assert (row["href"], row["text"]) == (linked(case), "Story"), ascii(case["url"])
            assert row["tag"] == ("A" if case["ok"] else "SPAN"), ascii(case["url"])
        else:
            row = rows[f"t{n}"]
            assert (row["text"], row["summary"]) == (shown(case), shown(case)), ascii(case)
            assert row["elements"] == 2  # the link and the summary: "<b>x</b>" stays text
    hrefs = await links(page, "#box")
    assert len(hrefs) == sum(c["ok"] for c in URL_CASES) + len(TITLE_CASES)  # those at /ok
    assert [h for h in hrefs if not allowed(live, h)] == []


async def test_the_dashboard_renders_old_entries_by_the_rule(live: Live, page: Any) -> None:
    await page.goto(live.url("/dashboard?site=demo"))
    await page.wait_for_selector("#most-viewed tbody tr[data-id]")
    listed = await page.eval_on_selector_all(
        "#most-viewed tbody tr[data-id] a.story-link",
        "as => Object.fromEntries(as.map(a => [a.closest('tr').dataset.id, a.textContent]))",
    )
    titles = {f"t{n}": shown(c) for n, c in enumerate(CASES) if "title" in c}
    assert {i: t for i, t in listed.items() if i in titles} == titles

    for n, case in enumerate(CASES):
        item_id = f"u{n}" if "url" in case else f"t{n}"
        await page.evaluate("id => { location.hash = 'story=' + id; }", item_id)
        await page.wait_for_function(
            """id => document.getElementById('story-id').textContent === id &&
                     document.getElementById('story-title').textContent !== 'Loading…'""",
            arg=item_id,
        )
        head = await page.eval_on_selector(
            "#story-title",
            "h => [h.querySelector('a') && h.querySelector('a').getAttribute('href'),"
            " h.textContent, document.title, document.getElementById('story-summary').textContent]",
        )
        if "url" in case:
            assert head[:2] == [linked(case), "Story"], ascii(case["url"])
        else:
            text = shown(case)
            assert head == ["/ok", text, f"{text} · Ranker", text], ascii(case["title"])
        assert [h for h in await links(page, "body") if not allowed(live, h)] == []
