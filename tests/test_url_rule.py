"""The catalog's link and text rule, one table of cases (tests/data/url_cases.json) for
every place that applies it: the pure functions, the catalog API (PUT, PATCH, import), the
OpenAPI patterns, and top.html rendering entries stored before the rule. The browser's
copy (the dashboard's rule.js, built into widget.js) runs the same table in
test_browser_url_rule.py."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from ranker.core.validate import (
    LINK_RE,
    LINK_TRIM,
    TEXT_REFUSED_RE,
    URL_REFUSED_RE,
    WHITESPACE,
    clean_text,
    safe_url,
)
from ranker.http.appkeys import CATALOG, STORE, TOP_CACHE
from ranker.http.routes import DOCUMENT
from ranker.store import keys
from tests.support import auth, data_keys, flush, hit, put_item

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "url_cases.json").read_text(encoding="utf-8")
)
URL_CASES = [c for c in CASES if "url" in c]
TITLE_CASES = [c for c in CASES if "title" in c]
STATIC = Path(__file__).resolve().parent.parent / "ranker" / "static"


# The text rule spelled out here rather than taken from validate.py, so that the table is
# checked against a second statement of it.
REFUSED_IN_TEXT = [*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0))]
REFUSED_IN_TEXT += [*"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]


def linked(case: dict[str, Any]) -> str | None:
    """The href a URL case is stored and rendered with, or None for no link."""
    return str(case.get("as", case["url"])) if case["ok"] else None


def shown(case: dict[str, Any]) -> str:
    """How a title case is rendered, whether stored before the rule or after."""
    title = str(case["title"])
    return title if case["ok"] else title.translate(dict.fromkeys(map(ord, REFUSED_IN_TEXT)))


def url_ids(cases: list[dict[str, Any]]) -> list[str]:
    return [ascii(c["url"]) for c in cases]


def title_ids(cases: list[dict[str, Any]]) -> list[str]:
    return [ascii(c["title"]) for c in cases]


async def store_unchecked(
    app: web.Application, site: str, items: dict[str, dict[str, str]]
) -> None:
    """Catalog entries written as the previous release wrote what its rule let through:
    the item hash (every field, hidden "0"), with no check on the way."""
    blank = {"section": "", "summary": "", "image": "", "published_at": "", "hidden": "0"}
    await app[STORE].put_items(site, [(i, {**blank, **f}) for i, f in items.items()])
    for item_id in items:
        app[CATALOG].note_added(site, item_id)
    app[TOP_CACHE].forget(site)


# -- the rule itself ----------------------------------------------------------------------


def test_the_table_covers_what_the_review_named() -> None:
    urls = {c["url"] for c in URL_CASES}
    titles = {c["title"] for c in TITLE_CASES}
    assert {
        "/\\evil.example/x",
        "/\\/evil.example",
        "/\\\\evil.example",
        "//evil.example/x",
    } <= urls
    assert {"javascript:alert(1)", "data:text/html,x", "/a\u0085b", "/a\u0000b"} <= urls
    assert {"a\u202eb", "a\u2066b", "a\u0007b", "a\u009bb", "<b>x</b>"} <= titles
    assert sum(c["ok"] for c in CASES) and sum(not c["ok"] for c in CASES)


@pytest.mark.parametrize("case", URL_CASES, ids=url_ids(URL_CASES))
def test_safe_url(case: dict[str, Any]) -> None:
    assert safe_url(case["url"]) == linked(case)


@pytest.mark.parametrize("case", TITLE_CASES, ids=title_ids(TITLE_CASES))
def test_text_rule(case: dict[str, Any]) -> None:
    assert (TEXT_REFUSED_RE.search(case["title"]) is None) == case["ok"]
    assert clean_text(case["title"]) == shown(case)


def test_a_link_refuses_all_whitespace_and_everything_text_refuses() -> None:
    for code in range(0x110000):
        c = chr(code)
        if c.isspace() or TEXT_REFUSED_RE.match(c) or c == "\\":
            assert URL_REFUSED_RE.match(c), hex(code)
    assert {c for c in map(chr, range(0x110000)) if TEXT_REFUSED_RE.match(c)} == set(
        REFUSED_IN_TEXT
    )


def test_text_is_trimmed_of_what_str_strip_trims() -> None:
    """WHITESPACE, which the rule trims and the OpenAPI patterns name, is str.isspace's."""
    assert sorted(WHITESPACE) == [c for c in map(chr, range(0x110000)) if c.isspace()]


@pytest.mark.parametrize("name", ["widget.js", "dashboard/rule.js"])
def test_the_browser_copies_carry_the_same_patterns(name: str) -> None:
    """The behaviour is tested on the table in a browser; this catches a copy edited alone."""
    source = (STATIC / name).read_text(encoding="utf-8")
    assert f"/{LINK_RE.pattern}/i.test(" in source
    assert f"/{URL_REFUSED_RE.pattern}/" in source
    assert f"/{TEXT_REFUSED_RE.pattern}/g" in source
    assert LINK_TRIM == "\t\n\f\r "
    assert r"/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g" in source


def _schema_pattern(field: str) -> re.Pattern[str]:
    raw = DOCUMENT["components"]["schemas"]["ItemWrite"]["properties"][field]["pattern"]
    return re.compile(raw.removeprefix("^").removesuffix("$"))


def test_the_openapi_patterns_agree_with_the_table() -> None:
    url, title = _schema_pattern("url"), _schema_pattern("title")
    for case in URL_CASES:
        assert bool(url.fullmatch(case["url"])) == case["ok"], ascii(case["url"])
    for case in TITLE_CASES:
        assert bool(title.fullmatch(case["title"])) == case["ok"], ascii(case["title"])


# -- the catalog API ----------------------------------------------------------------------

Client = TestClient[Any, Any]
ITEM = "/v1/sites/news/items/a"


async def _put(client: Client, body: dict[str, Any]) -> Any:
    data = orjson.dumps(body)
    return await client.put(ITEM, data=data, headers={**auth(), "Content-Type": "application/json"})


async def _refused(response: Any, field: str) -> None:
    assert response.status == 422, await response.text()
    doc = await response.json()
    assert doc["error"] == "invalid_item"
    assert doc["message"].startswith(f"{field}:"), doc


@pytest.mark.parametrize("field", ["url", "image"])
@pytest.mark.parametrize("case", URL_CASES, ids=url_ids(URL_CASES))
async def test_put_applies_the_link_rule(
    client: Client, redis: Redis, case: dict[str, Any], field: str
) -> None:
    if field == "image" and case["url"] == "":
        pytest.skip("an empty image is no image")
    body = {"title": "t", "url": "/a", field: case["url"]}
    response = await _put(client, body)
    if case["ok"]:
        assert response.status == 201, await response.text()
        assert (await response.json())[field] == linked(case)
        assert await redis.hget(keys.item("news", "a"), field) == linked(case)
    else:
        await _refused(response, field)
        assert await data_keys(redis) == []


@pytest.mark.parametrize("field", ["title", "summary"])
@pytest.mark.parametrize("case", TITLE_CASES, ids=title_ids(TITLE_CASES))
async def test_put_applies_the_text_rule(
    client: Client, redis: Redis, case: dict[str, Any], field: str
) -> None:
    response = await _put(client, {"title": "t", "url": "/a", field: case["title"]})
    if case["ok"]:
        assert response.status == 201, await response.text()
        assert await redis.hget(keys.item("news", "a"), field) == case["title"]
    else:
        await _refused(response, field)
        assert await data_keys(redis) == []


async def test_patch_applies_the_rule(client: Client, redis: Redis) -> None:
    # With a published_at: a PATCH of an entry without one is refused (see the report).
    await put_item(client, "a", url="/before", title="Before", published_at=0)
    accepted = {}
    for case in CASES:
        field = "url" if "url" in case else "title"
        response = await client.patch(ITEM, json={field: case[field]}, headers=auth())
        stored = await redis.hget(keys.item("news", "a"), field)
        if response.status == 200:
            assert stored == (linked(case) if field == "url" else case[field])
        else:
            await _refused(response, field)
            assert stored == ("/before" if field == "url" else "Before")
        accepted[ascii(case[field])] = response.status == 200
        await client.patch(ITEM, json={"url": "/before", "title": "Before"}, headers=auth())
    assert accepted == {ascii(c.get("url", c.get("title"))): c["ok"] for c in CASES}


async def test_import_applies_the_rule(client: Client, redis: Redis) -> None:
    lines = [
        {"id": f"c{n}", "title": c.get("title", "t"), "url": c.get("url", "/a")}
        for n, c in enumerate(CASES)
    ]
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    response = await client.post(
        "/v1/sites/news/items",
        data=body,
        headers={**auth(), "Content-Type": "application/x-ndjson"},
    )
    assert response.status == 200, await response.text()
    doc = await response.json()
    refused = {e["line"]: e["error"] for e in doc["errors"]}
    assert sorted(refused) == [n + 1 for n, c in enumerate(CASES) if not c["ok"]]
    for n, case in enumerate(CASES):
        if not case["ok"]:
            assert refused[n + 1].startswith("url:" if "url" in case else "title:")
            assert await redis.exists(keys.item("news", f"c{n}")) == 0
        elif "url" in case:
            assert await redis.hget(keys.item("news", f"c{n}"), "url") == linked(case)


async def test_an_old_entry_the_rule_refuses_can_be_taken_down_and_corrected(
    client: Client, redis: Redis
) -> None:
    await store_unchecked(
        client.app, "news", {"a": {"title": "a\u202eb", "url": "/\\evil.example"}}
    )
    response = await client.patch(ITEM, json={"hidden": True}, headers=auth())
    assert response.status == 200, await response.text()
    await _refused(await client.patch(ITEM, json={"summary": "s"}, headers=auth()), "title")
    fixed = {"title": "ab", "url": "/evil.example", "published_at": 0}
    response = await client.patch(ITEM, json=fixed, headers=auth())
    assert response.status == 200, await response.text()
    assert await redis.hget(keys.item("news", "a"), "url") == "/evil.example"


# -- rendering what an earlier release stored ---------------------------------------------


class _Rows(HTMLParser):
    """Each list item of a top.html fragment as (href or None, headline text)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str | None, str]] = {}
        self._id: str | None = None
        self._in_headline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "li":
            self._id = a["data-id"]
            self.rows[str(self._id)] = (None, "")
        elif self._id is not None and a.get("class") in ("ranker-link", "ranker-headline"):
            self._in_headline = True
            self.rows[self._id] = (a.get("href") if tag == "a" else None, "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "span"):
            self._in_headline = False

    def handle_data(self, data: str) -> None:
        if self._in_headline and self._id is not None:
            href, text = self.rows[self._id]
            self.rows[self._id] = (href, text + data)


def legacy_items() -> dict[str, dict[str, str]]:
    """Every case as a stored entry: u<n> for the links, t<n> for the titles."""
    items = {}
    for n, case in enumerate(CASES):
        if "url" in case:
            items[f"u{n}"] = {"title": "Story", "url": case["url"]}
        else:
            items[f"t{n}"] = {"title": case["title"], "url": "/ok", "summary": case["title"]}
    return items


async def test_top_html_renders_old_entries_by_the_rule(client: Client) -> None:
    items = legacy_items()
    await store_unchecked(client.app, "news", items)
    for item_id in items:
        assert await hit(client, item_id) == 204
    await flush(client)
    response = await client.get("/v1/sites/news/top.html?n=100&window=all")
    assert response.status == 200
    parser = _Rows()
    parser.feed(await response.text())
    assert sorted(parser.rows) == sorted(items)
    for n, case in enumerate(CASES):
        if "url" in case:
            assert parser.rows[f"u{n}"] == (linked(case), "Story"), ascii(case["url"])
        else:
            assert parser.rows[f"t{n}"] == ("/ok", shown(case)), ascii(case["title"])
    # The JSON list is the data as stored: its readers apply the rule (widget.js does).
    top = await (await client.get("/v1/sites/news/top?n=100&window=all")).json()
    assert {it["id"]: it["url"] for it in top["items"] if it["id"][0] == "u"} == {
        i: e["url"] for i, e in items.items() if i[0] == "u"
    }
