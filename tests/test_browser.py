"""What readers and editors see, in a real headless Chromium (Debian's, driven by
Playwright): the beacon, the Most Viewed widget, the demo page and the dashboard.
Screenshots land in artifacts/ (git-ignored) on every run, for a person to look at."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from ranker.core.config import Settings
from ranker.core.signing import sign
from ranker.http.appkeys import FLUSHER, SETTINGS, STORE
from tests.browser import (
    GOOGLEBOT,
    Live,
    launched,
    served_demo,
    shot,
    until,
)
from tests.support import BROWSER, BROWSER_HEADERS, FakeClock


@pytest.fixture
async def live(settings: Settings, clock: FakeClock) -> AsyncIterator[Live]:
    # A short list cache (on the fake clock) so widgets see changes when the clock moves.
    # Beside the demo's catalogued stories, a new site with nothing catalogued: "fresh".
    async with served_demo(settings, clock, more_sites=("fresh",)) as served:
        yield served


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with launched() as chromium:
        yield chromium


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    # A reader's Chrome, not "HeadlessChrome": the collector counts no headless browser.
    # English number formats whatever the machine's locale: tests read numbers as text.
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, user_agent=BROWSER, locale="en-US"
    )
    page = await context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    await context.close()
    assert dialogs == [], f"a page opened a dialog, so injected script ran: {dialogs}"
    assert errors == [], errors


async def widget_ids(page: Any, container: str = "#most-viewed") -> list[str]:
    """The stories the box ranks by views: the latest ones filling it up (the demo's sample
    stories, with no views) left out."""
    ids: list[str] = await page.eval_on_selector_all(
        f"{container} li.ranker-item:not(.ranker-backfill)", "els => els.map(e => e.dataset.id)"
    )
    return ids


async def widget_rows(page: Any, container: str) -> list[tuple[str, bool]]:
    """Every story the box lists, and whether it only fills the box up (.ranker-backfill)."""
    rows: list[list[Any]] = await page.eval_on_selector_all(
        f"{container} li.ranker-item",
        "els => els.map(e => [e.dataset.id, e.classList.contains('ranker-backfill')])",
    )
    return [(str(item), bool(backfill)) for item, backfill in rows]


async def test_an_article_view_fires_exactly_one_beacon(live: Live, page: Any) -> None:
    await live.put("tram", "Council approves new tram line")
    await live.put("derby", "Derby ends in a draw", "sport")
    await live.read({"derby": 3})
    await page.goto(live.url("/?story=tram"))
    assert await page.text_content("h1") == "Council approves new tram line"

    await live.until_pending(1, "the beacon")
    # Once the widget has rendered too, the page has done its start-up work: still one view.
    await page.wait_for_selector("#most-viewed li.ranker-item")
    await page.screenshot(path=shot("demo-article.png"), full_page=True)
    assert live.pending == 1
    assert await live.total("tram") == 1
    assert await live.total("derby") == 3


async def test_a_prerendered_page_counts_only_once_shown(live: Live, page: Any) -> None:
    await live.put("tram", "Council approves new tram line")
    # Chromium prerenders on speculation rules; here the page is told it is prerendering
    # exactly as the platform would say it, then shown.
    await page.add_init_script("""
        window.__prerendering = true;
        Object.defineProperty(Document.prototype, 'prerendering',
                              {get() { return window.__prerendering; }, configurable: true});
    """)
    await page.goto(live.url("/?story=tram"))
    await page.wait_for_selector(
        "#most-viewed[data-ranker-state]:not([data-ranker-state=loading])", state="attached"
    )
    await page.wait_for_load_state("networkidle")
    assert live.pending == 0
    await page.evaluate("""() => { window.__prerendering = false;
                                   document.dispatchEvent(new Event('prerenderingchange')); }""")

    await live.until_pending(1, "the beacon after activation")
    assert await live.total("tram") == 1


async def test_a_single_page_app_route_change_counts_once(live: Live, page: Any) -> None:
    for item in ("one", "two"):
        await live.put(item, f"Story {item}")
    await page.goto(live.url("/?story=one"))

    await live.until_pending(1, "the first view")
    await page.evaluate("""() => {
        document.querySelector('meta[name="ranker:id"]').content = 'two';
        history.pushState({}, '', '/?story=two');
        history.replaceState({}, '', '/?story=two');
    }""")
    await live.until_pending(2, "the route change's view")
    # Neither an anchor nor a query cleaned up in place (utm_* dropped) is a new view.
    await page.evaluate("""() => {
        history.replaceState({n: 1}, '', '/?story=two#comments');
        history.replaceState({n: 2}, '', '/?story=two&utm_source=feed');
        history.replaceState({n: 3}, '', '/?story=two');
    }""")
    await page.wait_for_load_state("networkidle")
    await page.evaluate("() => new Promise(r => setTimeout(r, 50))")  # the tick route() waits
    assert live.pending == 2
    # Back to the first story (its address differs only in the query): a view of it again.
    await page.evaluate("""() => {
        document.querySelector('meta[name="ranker:id"]').content = 'one';
        history.back();
    }""")
    await live.until_pending(3, "the view on going back")
    assert await live.total("one") == 2
    assert await live.total("two") == 1


async def test_the_widget_lists_in_rank_order_and_titles_are_only_text(
    live: Live, page: Any
) -> None:
    hostile = {
        "s1": "<script>window.__owned = 1</script>Budget passes",
        "s2": '<img src=x onerror="window.__owned = 2; alert(2)">Floods recede',
        "s3": "Plain & simple: markets close higher",
    }
    for item, title in hostile.items():
        await live.put(item, title)
    await live.put("s0", "A story no one read")  # the page: the widget leaves its own out
    await live.read({"s2": 5, "s3": 3, "s1": 1})
    await page.goto(live.url("/?story=s0"))
    await page.wait_for_selector("#most-viewed li.ranker-item")
    assert await widget_ids(page) == ["s2", "s3", "s1"]
    links = await page.eval_on_selector_all(
        "#most-viewed li.ranker-item:not(.ranker-backfill) a", "els => els.map(e => e.textContent)"
    )
    assert links == [hostile["s2"], hostile["s3"], hostile["s1"]]
    assert await page.evaluate("() => window.__owned") is None
    assert await page.query_selector("#most-viewed img[src='x']") is None
    assert await page.eval_on_selector("#most-viewed ol", "e => e.getAttribute('aria-label')")


async def test_a_failed_refresh_keeps_the_last_list(live: Live, page: Any) -> None:
    await live.put("a", "Story a")
    await live.put("b", "Story b")  # the page: the widget leaves its own story out
    await live.read({"a": 2})
    await page.goto(live.url("/?story=b"))
    await page.wait_for_selector("#most-viewed li.ranker-item")
    await page.route("**/v1/sites/demo/top*", lambda route: route.abort())
    # The box refreshes itself every 5 s (data-refresh): wait for that fetch to fail.
    async with page.expect_event(
        "requestfailed", lambda r: "/v1/sites/demo/top" in r.url, timeout=15_000
    ):
        pass
    await page.evaluate("() => new Promise(r => setTimeout(r, 50))")  # its handler has run
    assert await widget_ids(page) == ["a"]


async def until_listed(page: Any, ids: list[str], container: str = "#most-viewed") -> None:
    async def check() -> bool:
        return await widget_ids(page, container) == ids

    await until(check, f"{container} to list {ids}")


async def test_the_widget_leaves_out_the_page_s_own_story(live: Live, page: Any) -> None:
    stories = [f"st{k}" for k in range(1, 9)]  # st1 the most read, st8 the least
    for item in stories:
        await live.put(item, f"Story {item}")
    await live.read({item: 9 - k for k, item in enumerate(stories, 1)})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/sites/demo/top" in r.url else None)
    await page.goto(live.url("/?story=st1"))
    more = ".more [data-ranker-top]"
    await page.wait_for_selector("#most-viewed[data-ranker-state=ready]", state="attached")
    await page.wait_for_selector(f"{more}[data-ranker-state=ready]", state="attached")
    # Each box still shows its data-n stories: the next ones took the page's story's place.
    n = int(await page.get_attribute("#most-viewed", "data-n"))
    assert await widget_ids(page) == stories[1 : n + 1]
    n_more = int(await page.get_attribute(more, "data-n"))
    assert await widget_ids(page, more) == stories[1 : n_more + 1]
    assert asked and all("exclude=st1" in url for url in asked), asked

    # data-exclude-current="false" keeps it, and the request says nothing of exclude.
    async with page.expect_request(
        lambda r: "/top?" in r.url and "window=hot" in r.url and "exclude" not in r.url
    ):
        await page.evaluate("""() => {
            document.getElementById('most-viewed').setAttribute('data-exclude-current', 'false');
            window.ranker.renderWidgets();
        }""")
    await until_listed(page, stories[:n])

    # data-exclude adds to the page's story: deduplicated, sorted, ids only.
    async with page.expect_request(
        lambda r: "window=hot" in r.url and "exclude=st1,st2,st3&" in r.url + "&"
    ):
        await page.evaluate("""() => {
            const box = document.getElementById('most-viewed');
            box.removeAttribute('data-exclude-current');
            box.setAttribute('data-exclude', 'st3, st2,st3,not an id');
            window.ranker.renderWidgets();
        }""")
    await until_listed(page, stories[3 : n + 3])


async def test_the_widget_lists_only_recent_stories_with_data_max_age(
    live: Live, page: Any
) -> None:
    now = time.time()
    ages = {"week-old": 7 * 86400, "hour-old": 3600, "day-old": 86400, "month-old": 30 * 86400}
    for item, age in ages.items():
        published = datetime.fromtimestamp(now - age, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await live.put(item, f"Story {item}", published_at=published)
    await live.read({"month-old": 4, "week-old": 3, "day-old": 2, "hour-old": 1})
    publisher = live.url("/publisher/fresh")
    boxes = (
        '<div id="fresh" data-ranker-top data-site="demo" data-n="3" data-window="all"'
        ' data-max-age="48h"></div>'
        '<div id="any" data-ranker-top data-site="demo" data-n="3" data-window="all"></div>'
        '<script src="/widget.js" async></script>'
    )
    html = f'<!doctype html><meta charset="utf-8"><title>Publisher</title>{boxes}'
    await page.route(publisher, _serving(html))
    await page.goto(publisher)
    await until_listed(page, ["day-old", "hour-old"], "#fresh")
    await until_listed(page, ["month-old", "week-old", "day-old"], "#any")


async def test_the_widget_lists_an_author_s_or_a_tag_s_stories(live: Live, page: Any) -> None:
    bylines = {
        "jane-1": (["Jane Doe"], ["trams"]),
        "ali-1": (["Ali Khan"], ["trams"]),
        "jane-2": (["Jane Doe", "Ali Khan"], []),
        "none": ([], []),
    }
    for item, (authors, tags) in bylines.items():
        await live.put(item, f"Story {item}", authors=authors, tags=tags)
    await live.read({"none": 4, "jane-2": 3, "ali-1": 2, "jane-1": 1})
    publisher = live.url("/publisher/bylines")
    boxes = (
        '<div id="jane" data-ranker-top data-site="demo" data-n="3" data-window="all"'
        ' data-author="Jane Doe" data-backfill="false"></div>'
        '<div id="trams" data-ranker-top data-site="demo" data-n="3" data-window="all"'
        ' data-tag="Trams" data-backfill="false"></div>'
        '<script src="/widget.js" async></script>'
    )
    html = f'<!doctype html><meta charset="utf-8"><title>Publisher</title>{boxes}'
    await page.route(publisher, _serving(html))
    await page.goto(publisher)
    await until_listed(page, ["jane-2", "jane-1"], "#jane")
    await until_listed(page, ["ali-1", "jane-1"], "#trams")


async def test_the_widget_marks_a_pinned_story(live: Live, page: Any, clock: FakeClock) -> None:
    for item in ("st1", "st2", "st3"):
        await live.put(item, f"Story {item}")
    await live.read({"st1": 3, "st2": 2, "st3": 1})
    await live.pin("st3", clock.now + 3600, position=1)
    publisher = live.url("/publisher/pinned")
    html = (
        '<!doctype html><meta charset="utf-8"><title>Publisher</title>'
        '<div id="box" data-ranker-top data-site="demo" data-n="3"></div>'
        '<script src="/widget.js" async></script>'
    )
    await page.route(publisher, _serving(html))
    await page.goto(publisher)
    await until_listed(page, ["st3", "st1", "st2"], "#box")
    pinned = await page.eval_on_selector_all(
        "#box li.ranker-pinned", "items => items.map(li => li.dataset.id)"
    )
    assert pinned == ["st3"]


async def test_the_page_s_story_is_the_box_s_then_the_meta_s_then_the_beacon_s(
    live: Live, page: Any
) -> None:
    for item in ("st1", "st2", "st3", "st4"):
        await live.put(item, f"Story {item}")
    await live.read({"st1": 4, "st2": 3, "st3": 2, "st4": 1})
    publisher = live.url("/publisher/story")
    beacon = '<script src="/beacon.js" data-site="demo" data-id="st3" async></script>'
    boxes = (
        '<div id="own" data-ranker-top data-site="demo" data-n="2" data-id="st1"></div>'
        '<div id="box" data-ranker-top data-site="demo" data-n="2"></div>'
        '<script src="/widget.js" async></script>'
    )
    pages = {
        '<meta name="ranker:id" content="st2">' + beacon: ["st1", "st3"],  # the meta's st2
        beacon: ["st1", "st2"],  # no meta: the beacon script's st3
    }
    for head, listed in pages.items():
        html = f'<!doctype html><meta charset="utf-8"><title>Publisher</title>{head}{boxes}'
        await page.route(publisher, _serving(html))
        await page.goto(publisher)
        await until_listed(page, ["st2", "st3"], "#own")
        await until_listed(page, listed, "#box")
        await page.unroute(publisher)


FALLBACK = '<p class="fallback">Our picks</p>'


async def test_the_publisher_s_fallback_stays_until_a_list_has_a_story(
    live: Live, page: Any, clock: FakeClock
) -> None:
    """Never an empty box: the container's own markup stays while no story is listed (a
    new site with nothing catalogued; stories with no views and data-backfill="false",
    sent as backfill=false), gives way to the first list a refresh brings, and comes back
    when the box asks for another list with no story; a refresh with none keeps the list."""
    await live.put("tram", "Council approves new tram line")
    asked: list[str] = []
    answers: list[Any] = []
    page.on("request", lambda r: asked.append(r.url) if "/top" in r.url else None)
    page.on("response", lambda r: answers.append(r) if "/sites/demo/top" in r.url else None)
    publisher = live.url("/publisher/fallback")
    boxes = (
        f'<div id="new" data-ranker-top data-site="fresh" data-title="Top">{FALLBACK}</div>'
        '<div id="off" data-ranker-top data-site="demo" data-backfill="false"'
        f' data-refresh="5" data-title="Top">{FALLBACK}</div>'
        '<script src="/widget.js" async></script>'
    )
    html = f'<!doctype html><meta charset="utf-8"><title>Publisher</title>{boxes}'
    await page.route(publisher, _serving(html))
    await page.goto(publisher)
    for box in ("#new", "#off"):
        await page.wait_for_selector(f"{box}[data-ranker-state=empty]", state="attached")
        assert await page.inner_html(box) == FALLBACK  # no heading, no list
    await page.screenshot(path=shot("widget-fallback.png"))
    assert [u for u in asked if "/sites/fresh/" in u and "backfill" not in u]
    assert [u for u in asked if "/sites/demo/" in u]
    assert all("backfill=false" in u for u in asked if "/sites/demo/" in u), asked
    await page.evaluate("() => { document.querySelector('#off .fallback').kept = true; }")

    # A refresh that brings a story: the list takes the fallback's place.
    await live.read({"tram": 2})
    clock.advance(2)  # past the server's list cache
    await page.wait_for_selector("#off[data-ranker-state=ready]", state="attached")
    assert await widget_ids(page, "#off") == ["tram"]
    assert await page.query_selector("#off .fallback") is None
    assert await page.text_content("#off h2.ranker-title") == "Top"
    assert await page.inner_html("#new") == FALLBACK

    # Another list with no story (here a section with none read): the fallback returns,
    # the very nodes the page had; and the list again when the box asks for it again.
    await page.evaluate("""() => {
        document.getElementById('off').setAttribute('data-section', 'culture');
        window.ranker.renderWidgets();
    }""")
    await page.wait_for_selector("#off[data-ranker-state=empty]", state="attached")
    assert await page.inner_html("#off") == FALLBACK
    assert await page.evaluate("() => document.querySelector('#off .fallback').kept") is True
    await page.evaluate("""() => {
        document.getElementById('off').removeAttribute('data-section');
        window.ranker.renderWidgets();
    }""")
    await page.wait_for_selector("#off[data-ranker-state=ready]", state="attached")
    assert await widget_ids(page, "#off") == ["tram"]

    # A refresh with no story (the story taken down): the list shown stays.
    answers.clear()
    await live.hide("tram")
    clock.advance(2)

    async def emptied() -> bool:
        for answer in answers:
            if answer.status == 200 and (await answer.json())["items"] == []:
                return True
        return False

    await until(emptied, "a refresh listing no story")
    await page.evaluate("() => new Promise(r => setTimeout(r, 50))")  # its handler has run
    assert await widget_ids(page, "#off") == ["tram"]
    assert await page.get_attribute("#off", "data-ranker-state") == "ready"


async def test_a_box_with_too_few_read_stories_fills_up_with_the_latest(
    live: Live, page: Any, clock: FakeClock
) -> None:
    """A new site with no views: the box lists its latest published stories, marked
    .ranker-backfill; a story read since ranks first, its row kept and no longer marked."""
    now = time.time()
    for k in range(1, 5):  # new1 the latest
        published = datetime.fromtimestamp(now - k * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await live.put(f"new{k}", f"Story new{k}", site="fresh", published_at=published)
    await live.put("undated", "A story with no date", site="fresh")
    publisher = live.url("/publisher/backfill")
    boxes = (
        f'<div id="box" data-ranker-top data-site="fresh" data-n="3" data-refresh="5">'
        f"{FALLBACK}</div>"
        '<script src="/widget.js" async></script>'
    )
    html = f'<!doctype html><meta charset="utf-8"><title>Publisher</title>{boxes}'
    await page.route(publisher, _serving(html))
    await page.goto(publisher)
    await page.wait_for_selector("#box[data-ranker-state=ready]", state="attached")
    assert await widget_rows(page, "#box") == [("new1", True), ("new2", True), ("new3", True)]
    # Rendered like any other row: the link, and nothing more.
    shapes = await page.eval_on_selector_all(
        "#box li.ranker-item", "els => els.map(e => [e.className, e.innerHTML])"
    )
    assert shapes[0] == [
        "ranker-item ranker-backfill",
        '<a class="ranker-link" href="/?story=new1">Story new1</a>',
    ]
    assert await page.query_selector("#box .fallback") is None
    await page.screenshot(path=shot("widget-backfill.png"))

    await page.evaluate("() => { document.querySelector('#box li[data-id=new3]').kept = true; }")
    await live.read({"new3": 2}, site="fresh")
    clock.advance(2)  # past the server's list cache

    async def ranked() -> bool:
        rows = await widget_rows(page, "#box")
        return rows == [("new3", False), ("new1", True), ("new2", True)]

    await until(ranked, "the read story to rank first")
    assert await page.evaluate("() => document.querySelector('#box li[data-id=new3]').kept")


async def test_the_dashboard_shows_lists_charts_and_hides_a_story(
    live: Live, page: Any, browser: Any
) -> None:
    titles = {
        "lead": "Council approves new tram line",
        "second": "Derby ends in a draw",
        "third": "Startup raises funds",
    }
    for item, title in titles.items():
        await live.put(item, title, "sport" if item == "second" else "world")
    await live.read({"lead": 30, "second": 20, "third": 10})
    await page.goto(live.url("/dashboard?site=demo"))
    await page.wait_for_selector("#most-viewed tbody tr[data-id]")
    rows = await page.eval_on_selector_all(
        "#most-viewed tbody tr[data-id]", "els => els.map(e => e.dataset.id)"
    )
    assert rows == ["lead", "second", "third"]
    assert await page.locator("#most-viewed svg.spark").count() == 3
    await page.screenshot(path=shot("dashboard.png"), full_page=True)

    await page.click("#most-viewed tbody tr[data-id='lead'] a")
    await page.wait_for_selector("#story-chart svg")
    await page.screenshot(path=shot("dashboard-story.png"), full_page=True)
    await page.click("#hide-toggle")

    async def hidden() -> bool:
        doc = await live.app[STORE].get_item("demo", "lead")
        return bool(doc and doc.get("hidden") == "1")

    await until(hidden, "the takedown")
    reader = await browser.new_page(user_agent=BROWSER)
    await reader.goto(live.url("/?story=third"))
    await reader.wait_for_selector("#most-viewed li.ranker-item")
    assert await widget_ids(reader) == ["second"]  # "third" is the page's own story
    await reader.close()


async def test_the_dashboard_tells_editors_what_was_not_counted_and_why(
    live: Live, page: Any
) -> None:
    await live.put("lead", "Council approves new tram line")
    await live.put("second", "Derby ends in a draw", "sport")
    await live.read({"lead": 12, "second": 5})
    async with aiohttp.ClientSession() as s:
        refused = [{"User-Agent": GOOGLEBOT}] * 3 + [{**BROWSER_HEADERS, "Sec-Purpose": "prefetch"}]
        for headers in refused:
            async with s.post(
                live.url("/v1/hit"),
                data='{"site":"demo","id":"lead"}',
                headers={"Content-Type": "text/plain", **headers},
            ) as r:
                assert r.status == 202
    assert await live.app[FLUSHER].flush()

    await page.goto(live.url("/dashboard?site=demo"))
    await page.wait_for_selector("#beacons-reasons li")
    assert await page.text_content("#beacons-counted") == "17"
    assert await page.text_content("#beacons-refused") == "4"
    assert await page.text_content("#beacons-share") == "(19%)"
    reasons = await page.eval_on_selector_all(
        "#beacons-reasons li",
        """els => els.map(e => [e.dataset.reason,
                                e.querySelector('.bt-reason-label').firstChild.textContent,
                                e.querySelector('.bt-reason-n').textContent,
                                e.title])""",
    )
    assert [r[:3] for r in reasons] == [["bot", "Bots", "3"], ["prefetch", "Prefetched", "1"]]
    assert reasons[0][3].startswith("Crawlers, headless browsers and link previews")
    assert reasons[1][3].startswith("Pages prefetched or prerendered")
    week = await page.text_content("#beacons-week-sum")
    assert week == "17 counted · 4 not counted (19%)"
    await page.locator(".beacons-card").scroll_into_view_if_needed()
    await page.screenshot(path=shot("dashboard-beacons.png"), full_page=True)


def _serving(html: str) -> Callable[[Any], Awaitable[None]]:
    """A route handler answering with `html`: the publisher's own page."""

    async def fulfill(route: Any) -> None:
        await route.fulfill(body=html, content_type="text/html")

    return fulfill


async def test_a_signed_story_not_yet_in_the_catalog_counts(live: Live, page: Any) -> None:
    """A publisher's page carries a token for a story its CMS has not catalogued yet: the
    view counts; the same page without the token counts nothing."""
    key = live.app[SETTINGS].sites["demo"].signing_key
    token = sign(key, "demo", "draft-1", int(time.time()) + 3600)
    script = live.url("/beacon.js")
    # The publisher's page (served here on Ranker's own origin: Chromium lets a page it
    # did not load from the network reach no loopback address).
    publisher_url = live.url("/publisher/draft")
    pattern = publisher_url.rsplit("/", 1)[0] + "/**"

    def publisher(with_token: bool) -> str:
        attributes = f'data-site="demo" data-id="draft-1" data-token="{token}"'
        if not with_token:
            attributes = 'data-site="demo" data-id="draft-1"'
        return (
            "<!doctype html><title>Draft</title><h1>A story</h1>"
            f'<script src="{script}" {attributes} async></script>'
        )

    for with_token in (False, True):
        html = publisher(with_token)
        await page.route(pattern, _serving(html))
        await page.goto(publisher_url)
        await page.wait_for_load_state("networkidle")
        await page.unroute(pattern)
        if not with_token:
            assert live.pending == 0
    await live.until_pending(1, "the signed beacon")
    assert await live.total("draft-1") == 1
