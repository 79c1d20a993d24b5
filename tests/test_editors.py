"""The editors' APIs and the publisher-facing fragment: top.html, rising, series, ranks,
sections, hidden stories, the dashboard shell and the static assets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ranker import demo
from ranker.core.config import Settings, Site
from ranker.core.trends import BASELINE_MINUTES, SHORT_MINUTES, rank_rising, rising_buckets
from ranker.http.app import create_app
from ranker.runtime.cli import format_rising
from tests.support import FakeClock, auth, flush, hit, put_item

Client = TestClient[Any, Any]


async def test_top_html_is_an_escaped_fragment_with_the_json_caching(client: Client) -> None:
    await put_item(
        client, "x1", title='<script>alert(1)</script> & "quotes"', url="/a?b=1&c=2", section="tech"
    )
    await put_item(client, "x2", title="Second")
    for item in ("x1", "x1", "x2"):
        assert await hit(client, item) == 204
    await flush(client)
    response = await client.get("/v1/sites/news/top.html?n=5&window=all")
    assert response.status == 200
    assert response.content_type == "text/html" and response.charset == "utf-8"
    html = await response.text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in html
    assert 'href="/a?b=1&amp;c=2"' in html
    assert html.index('data-id="x1"') < html.index('data-id="x2"')
    assert '<span class="ranker-views">2</span>' in html
    assert "public, max-age=" in response.headers["Cache-Control"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    etag = response.headers["ETag"]
    json_etag = (await client.get("/v1/sites/news/top?n=5&window=all")).headers["ETag"]
    assert etag != json_etag
    again = await client.get(
        "/v1/sites/news/top.html?n=5&window=all", headers={"If-None-Match": etag}
    )
    assert again.status == 304 and await again.read() == b""


@pytest.mark.parametrize("query", ["n=0", "window=2h", "section=Bad%20Section"])
async def test_top_html_refuses_what_top_refuses(client: Client, query: str) -> None:
    response = await client.get(f"/v1/sites/news/top.html?{query}")
    assert response.status == 400
    assert (await response.json())["error"].startswith("bad_")


def test_rising_needs_a_rate_above_baseline_and_a_traffic_floor() -> None:
    now = 1_800_000_030.0  # 30 s into a minute: the short window is 9.5 minutes old
    rows = [
        ("steady", 30, 360, "Steady", "/s", "news", 10),  # 189/h now vs 180/h before
        ("breaking", 40, 10, "Breaking", "/b", "news", 10),  # from nothing to 253/h
        ("lonely", 9, 0, "One reader", "/l", "news", 10),  # under the floor of 10
        ("surging", 60, 120, "Surging", "/u", "tech", 10),  # 379/h vs 60/h
        ("one-office", 90, 0, "Office", "/o", "news", 9),  # nine networks are not a crowd
    ]
    ranked = rank_rising(rows, now, min_views=10, n=10, min_networks=10)
    assert [r.id for r in ranked] == ["breaking", "surging", "steady"]
    breaking = ranked[0]
    assert breaking.rate_short == pytest.approx(40 * 3600 / 571)
    assert breaking.rate_baseline == pytest.approx(5.0)
    assert breaking.ratio == pytest.approx(breaking.rate_short / 5.0)  # floored baseline
    assert rank_rising(rows, now, min_views=10, n=1, min_networks=10)[0].id == "breaking"
    assert rank_rising(rows, now, min_views=10, n=1, min_networks=9)[0].id == "one-office"


def test_rising_windows_are_adjacent_minute_buckets() -> None:
    short, baseline = rising_buckets(1_800_000_030.0)
    assert short[0] == 1_800_000_000 and len(short) == SHORT_MINUTES
    assert len(baseline) == BASELINE_MINUTES and baseline[0] == short[-1] - 60
    assert all(a - b == 60 for a, b in zip(short + baseline, (short + baseline)[1:], strict=False))


async def test_rising_api_finds_a_breaking_story(client: Client, clock: FakeClock) -> None:
    for item in ("old", "new", "one"):
        await put_item(client, item, section="politics")
    for _ in range(60):  # two hours of steady reading of "old"
        assert await hit(client, "old") == 204
        clock.advance(120)
    for _ in range(25):  # the last few minutes: "new" breaks, "old" keeps its pace
        assert await hit(client, "new") == 204
    for _ in range(3):
        assert await hit(client, "old") == 204
    assert await hit(client, "one") == 204
    await flush(client)
    response = await client.get("/v1/sites/news/rising?n=5", headers=auth())
    assert response.status == 200
    doc = await response.json()
    assert [it["id"] for it in doc["items"]] == ["new"]
    assert doc["items"][0]["views_short"] == 25 and doc["items"][0]["views_baseline"] == 0
    assert doc["min_views"] == 10 and doc["short_window"] == "10m"
    section = await (await client.get("/v1/sites/news/rising?section=tech", headers=auth())).json()
    assert section["items"] == []
    assert "new" in format_rising(doc) and "x" in format_rising(doc)
    # Counting began two hours ago, less than the short window and baseline ago.
    assert doc["history"]["ready"] is False
    since = datetime.fromisoformat(doc["history"]["since"]).timestamp()
    ready_at = since // 60 * 60 + (SHORT_MINUTES - 1 + BASELINE_MINUTES) * 60
    assert doc["history"]["ready_at"] == datetime.fromtimestamp(ready_at, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert "not enough history yet" in format_rising(doc)


async def test_rising_is_ready_once_the_baseline_was_counted(
    client: Client, clock: FakeClock
) -> None:
    empty = await (await client.get("/v1/sites/news/rising", headers=auth())).json()
    assert empty["history"] == {"ready": False, "since": None, "ready_at": None}
    await put_item(client, "a")
    assert await hit(client, "a") == 204
    await flush(client)
    clock.advance((SHORT_MINUTES + BASELINE_MINUTES) * 60)
    doc = await (await client.get("/v1/sites/news/rising", headers=auth())).json()
    assert doc["history"]["ready"] is True
    assert "not enough history" not in format_rising(doc)


@pytest.mark.parametrize("path", ["/rising", "/series?ids=a", "/items/a/series"])
async def test_editor_apis_need_the_token(client: Client, path: str) -> None:
    assert (await client.get(f"/v1/sites/news{path}")).status == 401
    assert (await client.get(f"/v1/sites/news{path}", headers=auth("nope"))).status == 403


async def test_series_counts_views_per_bucket(client: Client, clock: FakeClock) -> None:
    await put_item(client, "s1")
    await put_item(client, "s2")
    clock.now = clock.now // 60 * 60  # the start of a minute
    for minute in range(5):
        for _ in range(minute):
            assert await hit(client, "s1") == 204
        clock.advance(60)
    assert await hit(client, "s2") == 204
    await flush(client)
    single = await (
        await client.get("/v1/sites/news/items/s1/series?res=minute&n=6", headers=auth())
    ).json()
    assert [c for _, c in single["points"]] == [0, 1, 2, 3, 4, 0]
    assert single["points"][-1][0] == int(clock.now) // 60 * 60 and single["step"] == 60
    batch = await (
        await client.get("/v1/sites/news/series?ids=s1,s2,nope&res=hour&n=2", headers=auth())
    ).json()
    hour_total = {k: sum(v) for k, v in batch["series"].items()}
    assert hour_total == {"s1": 10, "s2": 1, "nope": 0}
    assert batch["step"] == 3600 and len(batch["series"]["s1"]) == 2


@pytest.mark.parametrize(
    "query",
    [
        "ids=",
        "ids=a&res=week",
        "ids=a&n=0",
        "ids=a&n=181",
        "ids=a&res=day&n=36",
        "ids=a,b%20c",
        "ids=" + ",".join(f"i{k}" for k in range(101)),
    ],
)
async def test_series_refuses_bad_parameters(client: Client, query: str) -> None:
    response = await client.get(f"/v1/sites/news/series?{query}", headers=auth())
    assert response.status == 400
    assert (await response.json())["error"].startswith("bad_")


async def test_an_item_knows_its_rank_in_every_window(client: Client, clock: FakeClock) -> None:
    for item in ("r1", "r2"):
        await put_item(client, item)
    assert await hit(client, "r2") == 204
    clock.advance(2 * 86400)
    assert await hit(client, "r1") == 204
    await flush(client)
    doc = await (await client.get("/v1/sites/news/items/r2", headers=auth())).json()
    # r2 is older, so behind r1 when hot, missing from the short windows, and behind
    # r1 on the id tie-break where both have one view.
    assert doc["ranks"] == {"hot": 2, "1h": None, "24h": None, "7d": 2, "30d": 2, "all": 2}
    assert doc["views_total"] == 1


async def test_hidden_stories_can_be_listed_and_unhidden(client: Client) -> None:
    await put_item(client, "h1", section="tech")
    await put_item(client, "h2", hidden=True)
    await client.patch("/v1/sites/news/items/h1", json={"hidden": True}, headers=auth())
    listing = await (await client.get("/v1/sites/news/items?hidden=true", headers=auth())).json()
    assert [i["id"] for i in listing["items"]] == ["h1", "h2"]
    assert listing["items"][0]["section"] == "tech"
    await client.patch("/v1/sites/news/items/h1", json={"hidden": False}, headers=auth())
    await put_item(client, "h2")  # replaced without hidden
    await put_item(client, "h3", hidden=True)
    await client.delete("/v1/sites/news/items/h3", headers=auth())
    listing = await (await client.get("/v1/sites/news/items?hidden=true", headers=auth())).json()
    assert listing["items"] == []


async def test_sections_are_public(client: Client) -> None:
    await put_item(client, "a", section="sport")
    await put_item(client, "b", section="culture")
    for item in "ab":
        await hit(client, item)
    await flush(client)
    response = await client.get("/v1/sites/news/sections")
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    assert (await response.json()) == {"sections": ["culture", "sport"]}
    assert (await client.get("/v1/sites/nope/sections")).status == 404


async def test_the_dashboard_shell_names_the_site_and_no_token(client: Client) -> None:
    response = await client.get("/dashboard?site=other")
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    assert 'data-site="other"' in html and 'data-token=""' in html
    assert response.headers["Cache-Control"] == "no-store"
    # Only its own script and styles run, and no other site may frame it.
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "<script>" not in html.replace("<script src", "")
    assert response.headers["X-Frame-Options"] == "DENY"
    fallback = await (await client.get('/dashboard?site="><script>')).text()
    assert 'data-site="news"' in fallback and '<script>"' not in fallback


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/beacon.js", "application/javascript"),
        ("/widget.js", "application/javascript"),
        ("/widget.css", "text/css"),
        ("/dashboard/main.js", "text/javascript"),
        ("/dashboard.css", "text/css"),
    ],
)
async def test_assets_are_served_with_validators(
    client: Client, path: str, content_type: str
) -> None:
    response = await client.get(path)
    assert response.status == 200 and response.content_type == content_type
    assert len(await response.read()) > 100
    again = await client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


async def test_beacon_js_stays_small(client: Client) -> None:
    assert len(await (await client.get("/beacon.js")).read()) < 2048


@pytest.fixture
async def demo_client(settings: Settings, clock: FakeClock) -> Any:
    sites = {**settings.sites, "demo": Site("demo", half_life=600.0, token="demo-token")}
    app = create_app(replace(settings, sites=sites), clock=clock, plugins=[demo.plugin(rate=0)])
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def test_the_demo_page_is_rendered_on_the_server_and_escaped(demo_client: Client) -> None:
    await put_item(
        demo_client,
        "evil",
        site="demo",
        token="demo-token",
        title="<img src=x onerror=alert(1)>",
        section="tech",
        summary="<b>bold</b>",
    )
    html = await (await demo_client.get("/?story=evil")).text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<meta name="ranker:id" content="evil">' in html
    assert 'src="/beacon.js"' in html and 'src="/widget.js"' in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    unknown = await demo_client.get("/?story=no-such-story")
    assert unknown.status == 200  # falls back to a catalogued story
    dashboard = await (await demo_client.get("/dashboard?site=demo")).text()
    assert 'data-token="demo-token"' in dashboard


async def test_the_demo_paper_is_live_and_breaks_news(
    demo_client: Client, clock: FakeClock
) -> None:
    """The sample stories read as published in the last weeks up to half an hour ago, and a
    breaking story is catalogued as published now: first among the latest."""
    doc = await (await demo_client.get("/v1/sites/demo/top?window=all&n=3")).json()
    newest = datetime.fromisoformat(doc["items"][0]["published_at"]).timestamp()
    assert [it["backfill"] for it in doc["items"]] == [True] * 3  # nothing read yet
    assert clock.now - 1800 - 1 <= newest <= clock.now - 1800
    story = await demo.break_news(demo_client.app, 0)
    assert story.startswith("breaking-")
    doc = await (await demo_client.get("/v1/sites/demo/top?window=all&n=3")).json()
    first = doc["items"][0]
    assert first["id"] == story and first["title"].startswith("Just in: ")
    assert first["published_at"] == datetime.fromtimestamp(clock.now, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


async def test_authors_are_ranked_by_their_stories_views(client: Client, clock: FakeClock) -> None:
    stories = {  # id: (authors, section, views)
        "a": (["Jane Doe"], "politics", 5),
        "b": (["jane doe", "Ali Khan"], "sport", 3),
        "c": (["Ali Khan"], "politics", 1),
        "d": (["Bo Li"], "politics", 4),
        "e": ([], "politics", 9),  # no byline: counts for nobody
        "f": (["Cy Young"], "sport", 0),
    }
    for story, (authors, section, views) in stories.items():
        await put_item(client, story, authors=authors, section=section)
        for _ in range(views):
            assert await hit(client, story) == 204
    await put_item(client, "g", authors=["Bo Li"], hidden=True)
    for _ in range(20):  # hidden: its views count for nobody
        assert await hit(client, "g") == 204
    await flush(client)
    response = await client.get("/v1/sites/news/authors/top?window=24h", headers=auth())
    assert response.status == 200
    doc = await response.json()
    assert [(a["author"], a["name"], a["views"], a["stories"]) for a in doc["items"]] == [
        ("jane-doe", "Jane Doe", 8, 2),
        ("ali-khan", "Ali Khan", 4, 2),
        ("bo-li", "Bo Li", 4, 1),
    ]
    assert doc["items"][0]["top_story"] == {
        "id": "a",
        "title": "Story a",
        "url": "https://example.com/a",
    }
    assert doc["stories"] == 5 and doc["complete"] is True
    section = await client.get(
        "/v1/sites/news/authors/top?window=all&section=politics&n=2", headers=auth()
    )
    assert [a["author"] for a in (await section.json())["items"]] == ["jane-doe", "bo-li"]
    hot = await (await client.get("/v1/sites/news/authors/top?window=hot", headers=auth())).json()
    assert [a["author"] for a in hot["items"]] == ["jane-doe", "ali-khan", "bo-li"]
    assert hot["items"][0]["views"] == pytest.approx(8, rel=1e-3)
    # The list of an author is theirs: the slug links to it.
    listed = await client.get("/v1/sites/news/top?window=24h&author=jane-doe")
    assert [it["id"] for it in (await listed.json())["items"]][:2] == ["a", "b"]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [("window=2h", 400, "bad_window"), ("n=0", 400, "bad_n"), ("section=ALL", 400, "bad_section")],
)
async def test_authors_refuses_bad_parameters(
    client: Client, query: str, status: int, code: str
) -> None:
    response = await client.get(f"/v1/sites/news/authors/top?{query}", headers=auth())
    assert response.status == status
    assert (await response.json())["error"] == code
    anonymous = await client.get("/v1/sites/news/authors/top")
    assert anonymous.status == 401


async def test_top_rss_is_a_feed_of_the_same_list(client: Client) -> None:
    import feedparser

    await put_item(
        client,
        "x1",
        title='Trams & "buses" <b>',
        url="/a?b=1&c=2",
        section="tech",
        summary="Line 4\ufffe opens",
        authors=["Jane Doe"],
        published_at="2026-11-26T08:00:00Z",
    )
    await put_item(client, "x2", title="Second")
    for item in ("x1", "x1", "x2"):
        assert await hit(client, item) == 204
    await flush(client)
    response = await client.get("/v1/sites/news/top.rss?n=5&window=all")
    assert response.status == 200
    assert response.content_type == "application/rss+xml" and response.charset == "utf-8"
    assert "public, max-age=" in response.headers["Cache-Control"]
    feed = feedparser.parse(await response.read())
    assert not feed.bozo, feed.bozo_exception  # well-formed, as a feed reader reads it
    assert feed.version == "rss20"
    assert feed.feed.title == "news: most viewed"
    first, second = feed.entries
    assert first.title == 'Trams & "buses" <b>'
    assert first.link == "/a?b=1&c=2"
    assert first.id == "news:x1"
    assert first.summary == "Line 4 opens"
    assert first.author == "Jane Doe"
    assert first.tags[0].term == "tech"
    assert first.published == "Thu, 26 Nov 2026 08:00:00 GMT"
    assert second.title == "Second" and "published" not in second
    # Excluding a story and conditional requests, as for the JSON.
    without = await client.get("/v1/sites/news/top.rss?n=5&window=all&exclude=x1")
    assert [e.id for e in feedparser.parse(await without.read()).entries] == ["news:x2"]
    etag = response.headers["ETag"]
    again = await client.get(
        "/v1/sites/news/top.rss?n=5&window=all", headers={"If-None-Match": etag}
    )
    assert again.status == 304
    unknown = await client.get("/v1/sites/nope/top.rss")
    assert unknown.status == 404 and (await unknown.json())["error"] == "unknown_site"


async def test_public_lists_carry_surrogate_keys_for_cdn_purges(client: Client) -> None:
    for story, views in (("a", 2), ("b", 1)):
        await put_item(client, story, section="tech")
        for _ in range(views):
            assert await hit(client, story) == 204
    await flush(client)
    for path in ("top", "top.html", "top.rss"):
        response = await client.get(f"/v1/sites/news/{path}?n=1&window=24h&section=tech")
        keys = response.headers["Surrogate-Key"].split(" ")
        # The site, the list, its story, and the one ranked next (what an exclude shows).
        assert keys == ["ranker:news", "ranker:news:top:24h:tech", "ranker:news:a", "ranker:news:b"]
        assert response.headers["Cache-Tag"] == ",".join(keys)
        again = await client.get(
            f"/v1/sites/news/{path}?n=1&window=24h&section=tech",
            headers={"If-None-Match": response.headers["ETag"]},
        )
        assert again.status == 304 and again.headers["Surrogate-Key"] == " ".join(keys)
    rising = await client.get("/v1/sites/news/rising", headers=auth())
    assert "Surrogate-Key" not in rising.headers  # private answers are not for CDNs


def test_s_maxage_is_sent_only_when_set() -> None:
    from ranker.http.query import cache_control

    assert "s-maxage" not in cache_control(Settings())
    assert cache_control(Settings(s_maxage=300)) == (
        "public, max-age=5, s-maxage=300, stale-while-revalidate=30"
    )


async def test_amp_list_reads_from_the_site_s_origins_only(
    engine: Any, redis: Any, clock: FakeClock
) -> None:
    from tests.support import BROWSER_HEADERS, make_settings

    await redis.flushall()
    base = make_settings(engine.url)
    site = replace(base.sites["news"], origins=frozenset({"https://news.example"}))
    app = create_app(replace(base, sites={**base.sites, "news": site}), clock=clock)
    async with TestClient(TestServer(app), headers=BROWSER_HEADERS) as client:
        await put_item(client, "a")
        assert await hit(client, "a") == 204
        await flush(client)
        ours = await client.get(
            "/v1/sites/news/top?n=3&__amp_source_origin=https%3A%2F%2Fnews.example",
            headers={"Origin": "https://news-example.cdn.ampproject.org"},
        )
        assert ours.status == 200
        assert ours.headers["AMP-Access-Control-Allow-Source-Origin"] == "https://news.example"
        assert (
            "AMP-Access-Control-Allow-Source-Origin"
            in ours.headers["Access-Control-Expose-Headers"]
        )
        assert ours.headers["Access-Control-Allow-Origin"] == "*"
        assert [it["id"] for it in (await ours.json())["items"]] == ["a"]  # amp-list's items
        theirs = await client.get(
            "/v1/sites/news/top?__amp_source_origin=https%3A%2F%2Fevil.example"
        )
        assert theirs.status == 403
        doc = await theirs.json()
        assert doc["error"] == "amp_origin_not_allowed" and "evil" not in doc["message"]
        plain = await client.get("/v1/sites/news/top?n=3")
        assert "AMP-Access-Control-Allow-Source-Origin" not in plain.headers


def test_a_site_s_origins_are_origins() -> None:
    from ranker.core.config import ConfigError, settings_from_mapping

    site = {"token": "x", "origins": ["https://news.example", "http://localhost:8000"]}
    parsed = settings_from_mapping({"sites": {"news": site}}, {}).sites["news"]
    assert parsed.origins == {"https://news.example", "http://localhost:8000"}
    for bad in (["https://news.example/"], ["news.example"], ["https://News.example"], "x"):
        with pytest.raises(ConfigError, match="sites.news.origins"):
            settings_from_mapping({"sites": {"news": {"token": "x", "origins": bad}}}, {})
