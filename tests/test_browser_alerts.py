"""The dashboard's Alerts panel in a real headless Chromium, against alerts made and sent
by the collector's own code to a fake receiver on loopback that takes one hook's alerts,
refuses another's for good (404) and asks a third's to come again (503): each hook with
what it is told and its digest time on the site's clock, the zone named; each alert with
its kind, title, hook and state, a failed one in warning colours with the hook's answer, a
pending one with its next attempt. A site without hooks has no panel, no hook's address
reaches the page, and it all fits a 390 px phone and a 1280 px desktop. One browser and
one server for the module. Screenshots land in artifacts/."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from ranker import demo
from ranker.core.aggregate import Batch
from ranker.core.config import AlertHook, Site
from ranker.http.app import create_app
from ranker.http.appkeys import ALERTER, STORE
from tests.browser import TOKEN, Live, dashboard_tab, launched, shot, until
from tests.support import BROWSER, FakeClock, make_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}
ZONE = "Asia/Kathmandu"  # the site's clock: neither UTC nor a whole hour from it
# A webhook's address is its credential: none of it, nor the bearer token, may be shown.
SECRET_PATH = "T0RANKER/B0ALERTS/" + secrets.token_hex(12)
HOOK_TOKEN = "ops-bearer-" + secrets.token_hex(12)
# Markup in a headline is text, never elements.
SURGE = "Flood <b>warning</b> & evacuation of the lower town, street by street"
DOWN = {"error": "unavailable", "message": "The store is down."}


@dataclass
class Newsroom:
    live: Live
    receiver: str  # the fake receiver's base URL
    now: float  # the server's (fake) clock when the alerts were made

    def local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, ZoneInfo(ZONE))


async def receive(request: web.Request) -> web.Response:
    """/chat takes every alert, /ops refuses for good, /pager is busy: come again."""
    await request.read()
    status = {"chat": 200, "ops": 404, "pager": 503}[request.match_info["hook"]]
    return web.Response(status=status, text="{}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Any]:
    async with launched() as browser:
        yield browser


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def newsroom(engine: Any) -> AsyncIterator[Newsroom]:
    """ "demo" (on Kathmandu's clock) with three alert hooks and its alerts made and sent
    once, through the alerter's own look; "quiet", on the same token, has no hooks."""
    redis = Redis.from_url(engine.url, decode_responses=True)
    await redis.flushall()
    await redis.aclose()
    fake = web.Application()
    fake.router.add_post("/{hook}/{path:.*}", receive)
    receiver = TestServer(fake, host="127.0.0.1")
    await receiver.start_server()
    base = str(receiver.make_url("")).rstrip("/")
    clock = FakeClock()
    local = datetime.fromtimestamp(clock(), ZoneInfo(ZONE))
    hooks = (
        AlertHook("chat", f"{base}/chat/{SECRET_PATH}", "slack", digest_at=(local.hour, 0)),
        AlertHook(
            "ops",
            f"{base}/ops/{SECRET_PATH}",
            "json",
            kinds=frozenset({"held", "digest"}),
            token=HOOK_TOKEN,
            digest_at=(local.hour, local.minute),
            digest_window="7d",
        ),
        AlertHook("pager", f"{base}/pager/{SECRET_PATH}", "json", kinds=frozenset({"held"})),
    )
    sites = {
        "demo": Site(
            "demo", half_life=600.0, token=TOKEN, timezone=ZONE, title="The Gazette", alerts=hooks
        ),
        "quiet": Site("quiet", half_life=600.0, token=TOKEN, timezone=ZONE),
    }
    # The background look is an hour away: the fixture looks itself, once.
    settings = replace(make_settings(engine.url, alert_interval=3600.0), sites=sites)
    app = create_app(settings, clock=clock, plugins=[demo.plugin(rate=0)])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        live = Live(server)
        await live.put("surge", SURGE, "local")
        # One network's surge, held: every hook that is told of held views is.
        batch = Batch("demo", 3600.0, ref=clock())
        for _ in range(40):
            batch.hold("surge", "concentrated", clock())
        batch.flags["surge"] = ("203.0.113.0/24", 0.9)
        await app[STORE].flush(batch, "surge")
        async with aiohttp.ClientSession() as session:
            assert await app[ALERTER].look(session, "demo")
        yield Newsroom(live, base, clock())
    finally:
        await server.close()
        await receiver.close()


async def alerts_doc(live: Live, site: str = "demo") -> Any:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            live.url(f"/v1/sites/{site}/alerts"), headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r,
    ):
        assert r.status == 200, await r.text()
        return orjson.loads(await r.read())


def alert(hook: str, key: str) -> str:
    return f"#alerts-list li[data-hook='{hook}'][data-key='{key}']"


async def text(page: Any, selector: str) -> str:
    found: str = await page.eval_on_selector(selector, "e => e.textContent")
    return found


async def assert_fits(page: Any, width: int, where: str) -> None:
    """No horizontal scroll (Chromium widens a phone's layout viewport to a wider page, so
    it must still be the screen's), and nothing in the panel reaches past the screen."""
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[1] == width and widths[0] <= width, (where, widths)
    beyond = await page.eval_on_selector_all(
        "#alerts-card, #alerts-card *",
        "els => els.filter(e => { const r = e.getBoundingClientRect();"
        " return r.width && (r.left < -0.5 || r.right > innerWidth + 0.5); })"
        ".map(e => e.className || e.tagName)",
    )
    assert beyond == [], (where, beyond)


@pytest.mark.parametrize("screen", SCREENS)
async def test_the_alerts_panel_lists_the_hooks_and_each_alert_s_state(
    newsroom: Newsroom, chromium: Any, screen: str
) -> None:
    doc = await alerts_doc(newsroom.live)
    states = {(r["hook"], r["kind"]): r["state"] for r in doc["recent"]}
    assert states == {
        ("chat", "held"): "sent",
        ("chat", "digest"): "sent",
        ("ops", "held"): "failed",
        ("ops", "digest"): "failed",
        ("pager", "held"): "pending",
    }, states
    assert doc["pending"] == 1
    digest_key = next(r["key"] for r in doc["recent"] if r["kind"] == "digest")
    held_key = next(r["key"] for r in doc["recent"] if r["kind"] == "held")
    pager = next(r for r in doc["recent"] if r["hook"] == "pager")

    spec = SCREENS[screen]
    page, errors = await dashboard_tab(chromium, newsroom.live, spec)
    await page.wait_for_selector("#alerts-card:not([hidden])")
    await page.wait_for_selector(alert("pager", held_key))

    # The hooks: what each is told, and its digest's time on the site's clock, named.
    now = newsroom.local(newsroom.now)
    hooks = await page.eval_on_selector_all(
        "#alerts-hooks li",
        "els => els.map(e => [e.dataset.hook, e.querySelector('.ah-head').textContent,"
        " e.querySelector('.ah-kinds').textContent,"
        " (d => d.hidden ? null : d.textContent)(e.querySelector('.ah-digest'))])",
    )
    assert hooks == [
        [
            "chat",
            "chatSlack",
            "Told of: Rising · Held views · Beacons dropping · Digest",
            f"Digest at {now:%H}:00 {ZONE}, the 24h list",
        ],
        [
            "ops",
            "opsJSON",
            "Told of: Held views · Digest",
            f"Digest at {now:%H:%M} {ZONE}, the 7d list",
        ],
        ["pager", "pagerJSON", "Told of: Held views", None],
    ], hooks
    assert await text(page, "#alerts-count") == "3"
    assert await text(page, "#alerts-zone") == f"times in {ZONE}"
    assert await text(page, "#alerts-pending") == "1 alert waiting to be sent"

    # Each alert, newest first as the server lists them: kind, title, hook and state.
    listed = await page.eval_on_selector_all(
        "#alerts-list li",
        "els => els.map(e => [e.dataset.hook, e.dataset.state,"
        " e.querySelector('.al-kind').textContent, e.querySelector('.al-title').textContent,"
        " e.querySelector('.al-state').textContent])",
    )
    assert sorted(listed) == sorted(
        [
            [
                r["hook"],
                r["state"],
                {"held": "Held views", "digest": "Digest"}[r["kind"]],
                r["title"],
                r["state"].capitalize(),
            ]
            for r in doc["recent"]
        ]
    ), listed
    assert [x[:2] for x in listed] == [[r["hook"], r["state"]] for r in doc["recent"]]
    assert await text(page, f"{alert('chat', held_key)} .al-title") == f"Held: {SURGE}"
    assert await page.locator("#alerts-card b").count() == 0  # the headline's markup is text
    assert (await text(page, f"{alert('chat', digest_key)} .al-title")).startswith(
        "Most viewed on The Gazette, "
    )

    # When, on Kathmandu's clock: sent, made, and a pending one's next attempt.
    at = f"{now:%H:%M}"
    sent = await text(page, f"{alert('chat', held_key)} .al-meta")
    assert sent == f"Sent · chat · sent at {at}", sent
    assert await page.is_hidden(f"{alert('chat', held_key)} .al-error")
    later = newsroom.local(datetime.fromisoformat(pager["next_at"]).timestamp())
    next_at = f"{later:%H:%M}" + ("" if later.date() == now.date() else " tomorrow")
    waiting = await text(page, f"{alert('pager', held_key)} .al-meta")
    assert waiting == f"Pending · pager · made at {at} · next attempt at {next_at}", waiting
    assert await text(page, f"{alert('pager', held_key)} .al-error") == (
        "The first attempt failed: answered 503"
    )

    # A failed alert: its hook's answer, in warning colours; the panel flagged.
    for key in (held_key, digest_key):
        failed = alert("ops", key)
        assert await text(page, f"{failed} .al-meta") == f"Failed · ops · made at {at}"
        assert await text(page, f"{failed} .al-error") == "Given up after 1 attempt: answered 404"
    warned = await page.eval_on_selector_all(
        "#alerts-card.is-failing, #alerts-list li.is-failed, #alerts-list .al-state.is-failed,"
        " #alerts-list .al-error.is-failed",
        "els => els.map(e => e.id || e.className)",
    )
    assert sorted(warned) == sorted(
        ["alerts-card"] + ["alert-item is-failed", "al-state is-failed", "al-error is-failed"] * 2
    ), warned
    colours = await page.eval_on_selector_all(
        "#alerts-list .al-state, #alerts-list .al-error:not([hidden])",
        "els => els.map(e => { const s = getComputedStyle(e);"
        " return [e.closest('li').dataset.state, e.className, s.color, s.backgroundColor]; })",
    )
    warning = ["rgb(138, 75, 8)", "rgb(255, 247, 230)"]  # .purge-alert's, .pg-error's
    for state, cls, *colour in colours:
        assert (colour == warning) == (state == "failed"), (state, cls, colour)
    assert await text(page, "#alerts-failed") == (
        "2 alerts below were given up: their hooks refused them or never answered."
    )

    # No hook's address, nor its token, anywhere in the page.
    html = await page.content()
    for secret in (newsroom.receiver, urlsplit(newsroom.receiver).netloc, SECRET_PATH, HOOK_TOKEN):
        assert secret not in html, secret

    width = spec["viewport"]["width"]
    await assert_fits(page, width, screen)
    await page.locator("#alerts-card").scroll_into_view_if_needed()
    await page.locator("#alerts-card").screenshot(path=shot(f"dashboard-alerts-{screen}.png"))
    await page.screenshot(path=shot(f"dashboard-alerts-page-{screen}.png"), full_page=True)
    assert errors == []
    await page.context.close()


async def test_a_site_without_alert_hooks_has_no_alerts_panel(
    newsroom: Newsroom, chromium: Any
) -> None:
    assert await alerts_doc(newsroom.live, "quiet") == {
        "timezone": ZONE,
        "hooks": [],
        "pending": 0,
        "recent": [],
    }
    page, errors = await dashboard_tab(chromium, newsroom.live, PHONE)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(urlsplit(r.url).path))
    await page.wait_for_selector("#alerts-list li[data-hook='ops']")
    # Signed out, and in to the site without hooks: nothing of the last one's panel stays.
    await page.click("#signout")
    await page.wait_for_selector("#signin-view:not([hidden])")
    await page.fill("#signin-site", "quiet")
    await page.fill("#signin-token", TOKEN)
    await page.click("#signin-submit")

    async def read() -> bool:
        return "/v1/sites/quiet/alerts" in asked

    await until(read, "the quiet site's alerts asked for")
    await page.wait_for_selector("#live[data-state='live']")
    assert await page.is_hidden("#alerts-card")
    assert await page.locator("#alerts-card li").count() == 0
    await assert_fits(page, PHONE["viewport"]["width"], "no hooks")
    assert errors == []
    await page.context.close()


async def test_the_alerts_panel_says_when_the_alerts_cannot_be_read(
    newsroom: Newsroom, chromium: Any
) -> None:
    async def fail(route: Any) -> None:
        await route.fulfill(status=503, content_type="application/json", body=orjson.dumps(DOWN))

    # The first read already fails: the panel says so, with no lists to keep.
    context = await chromium.new_context(user_agent=BROWSER, locale="en-US", **DESKTOP)
    await context.route("**/v1/sites/demo/alerts*", fail)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(newsroom.live.url("/dashboard?site=demo"))
    await page.wait_for_selector("#alerts-error:not([hidden])")
    assert await text(page, "#alerts-error") == "Could not read the alerts: The store is down."
    assert await page.is_visible("#alerts-card")
    # Read again at the next round once it can be: the lists come, the error goes.
    await context.unroute("**/v1/sites/demo/alerts*")
    await page.click("#lists [data-list='authors']")  # a round at once, not in 5 s
    await page.wait_for_selector("#alerts-list li[data-hook='pager']")
    await page.wait_for_selector("#alerts-error", state="hidden")
    assert errors == []
    await page.context.close()
