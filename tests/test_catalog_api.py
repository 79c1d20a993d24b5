"""The authenticated catalog: /v1/sites/{site}/items[/{id}]."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ranker.core.config import Settings
from ranker.http.app import create_app
from ranker.http.appkeys import CATALOG
from ranker.store import keys
from tests.support import TOKEN, FakeClock, auth, data_keys, flush, hit, put_item

ITEM = "/v1/sites/news/items/a"
BODY = {"title": "A story", "url": "https://example.com/a"}


async def error_of(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    code = (await response.json())["error"]
    assert isinstance(code, str)
    return code


# -- authorization ------------------------------------------------------------------------

ENDPOINTS = [
    ("PUT", ITEM),
    ("PATCH", ITEM),
    ("GET", ITEM),
    ("DELETE", ITEM),
    ("GET", "/v1/sites/news/items"),
    ("POST", "/v1/sites/news/items"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dGVzdDp0ZXN0"}, {"Authorization": "Bearer"}],
    ids=["none", "basic", "empty-bearer"],
)
async def test_missing_token_is_401(
    client: TestClient[Any, Any], redis: Redis, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await client.request(method, path, json=BODY, headers=headers)
    assert await error_of(response, 401) == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await data_keys(redis) == []


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("token", ["wrong", "other-token", TOKEN + "x", TOKEN[:-1]])
async def test_wrong_token_is_403(
    client: TestClient[Any, Any], redis: Redis, method: str, path: str, token: str
) -> None:
    response = await client.request(method, path, json=BODY, headers=auth(token))
    assert await error_of(response, 403) == "forbidden"
    assert await data_keys(redis) == []


async def test_bearer_scheme_is_case_insensitive(client: TestClient[Any, Any]) -> None:
    response = await client.put(ITEM, json=BODY, headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status == 201


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_unknown_site_is_404(client: TestClient[Any, Any], method: str, path: str) -> None:
    response = await client.request(
        method, path.replace("/news/", "/nope/"), json=BODY, headers=auth()
    )
    assert await error_of(response, 404) == "unknown_site"


async def test_a_sites_token_only_writes_that_site(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    response = await client.put("/v1/sites/other/items/a", json=BODY, headers=auth("other-token"))
    assert response.status == 201
    assert await redis.exists(keys.item("other", "a")) == 1
    assert await redis.exists(keys.item("news", "a")) == 0


# -- create, replace, read, delete --------------------------------------------------------


async def test_put_creates_and_normalizes(client: TestClient[Any, Any]) -> None:
    body = {
        "title": "  A story  ",
        "url": "https://example.com/a",
        "section": "tech",
        "summary": "Short.",
        "image": "/img/a.jpg",
        "published_at": "2026-11-26T08:00:00+01:00",
        "authors": [" Jane Doe ", "JANE DOE", "Ali Khan"],
        "tags": ["Trams"],
    }
    response = await client.put(ITEM, json=body, headers=auth())
    assert response.status == 201
    assert await response.json() == {
        "id": "a",
        "title": "A story",
        "url": "https://example.com/a",
        "section": "tech",
        "summary": "Short.",
        "image": "/img/a.jpg",
        "published_at": "2026-11-26T07:00:00Z",
        "authors": ["Jane Doe", "Ali Khan"],  # trimmed, one of those that look alike
        "tags": ["Trams"],
        "hidden": False,
    }


@pytest.mark.parametrize(
    ("published_at", "stored"),
    [
        (1795000000, datetime.fromtimestamp(1795000000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
        (1795000000.7, datetime.fromtimestamp(1795000000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("2026-11-26T07:00:00Z", "2026-11-26T07:00:00Z"),
        ("2026-11-26T07:00:00", "2026-11-26T07:00:00Z"),  # naive means UTC
        ("2026-11-26", "2026-11-26T00:00:00Z"),
        (None, ""),
    ],
)
async def test_published_at_forms(
    client: TestClient[Any, Any], published_at: Any, stored: str
) -> None:
    response = await client.put(ITEM, json={**BODY, "published_at": published_at}, headers=auth())
    assert response.status == 201
    assert (await response.json())["published_at"] == stored


@pytest.mark.parametrize("published_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_published_at_out_of_range_is_422(
    client: TestClient[Any, Any], redis: Redis, published_at: str
) -> None:
    """Parses, but has no UTC equivalent in datetime's range."""
    response = await client.put(ITEM, json={**BODY, "published_at": published_at}, headers=auth())
    assert await error_of(response, 422) == "invalid_item"
    assert await redis.exists(keys.item("news", "a")) == 0


@pytest.mark.parametrize("published_at", ["0005-06-07T08:09:10Z", -62000000000])
async def test_an_accepted_early_date_stays_iso_and_patchable(
    client: TestClient[Any, Any], published_at: Any
) -> None:
    response = await client.put(ITEM, json={**BODY, "published_at": published_at}, headers=auth())
    if response.status == 422:
        return  # rejecting such dates is fine too
    assert response.status == 201
    stored = (await response.json())["published_at"]
    assert datetime.fromisoformat(stored).tzinfo is not None
    response = await client.patch(ITEM, json={"title": "Renamed"}, headers=auth())
    assert response.status == 200, await response.text()
    assert (await response.json())["published_at"] == stored


async def test_put_again_replaces(client: TestClient[Any, Any]) -> None:
    first = {**BODY, "summary": "First", "section": "tech"}
    assert (await client.put(ITEM, json=first, headers=auth())).status == 201
    response = await client.put(ITEM, json={**BODY, "title": "Second"}, headers=auth())
    assert response.status == 200
    doc = await response.json()
    assert (doc["title"], doc["summary"], doc["section"]) == ("Second", "", "")
    got = await (await client.get(ITEM, headers=auth())).json()
    assert (got["title"], got["summary"], got["section"]) == ("Second", "", "")


async def test_body_may_repeat_the_path_id(client: TestClient[Any, Any]) -> None:
    response = await client.put(ITEM, json={**BODY, "id": "a"}, headers=auth())
    assert response.status == 201


async def test_get_shows_views_total(client: TestClient[Any, Any], clock: FakeClock) -> None:
    await put_item(client, "a", section="tech")
    response = await client.get(ITEM, headers=auth())
    assert response.status == 200
    assert await response.json() == {
        "id": "a",
        "title": "Story a",
        "url": "https://example.com/a",
        "section": "tech",
        "summary": "",
        "image": "",
        "published_at": "",
        "authors": [],
        "tags": [],
        "hidden": False,
        "views_total": 0,
        "ranks": dict.fromkeys(("hot", "1h", "24h", "7d", "30d", "all")),
        "held": {},
    }
    for _ in range(3):
        assert await hit(client, "a") == 204
    await flush(client)
    clock.advance(1.1)  # past the list cache that ranks are read from
    doc = await (await client.get(ITEM, headers=auth())).json()
    assert doc["views_total"] == 3
    assert doc["ranks"] == dict.fromkeys(("hot", "1h", "24h", "7d", "30d", "all"), 1)


async def test_delete(client: TestClient[Any, Any], redis: Redis) -> None:
    await put_item(client, "a")
    response = await client.delete(ITEM, headers=auth())
    assert response.status == 204
    assert await response.read() == b""
    assert await redis.exists(keys.item("news", "a")) == 0
    assert not await redis.sismember(keys.items("news"), "a")
    assert await error_of(await client.get(ITEM, headers=auth()), 404) == "unknown_item"
    assert await error_of(await client.delete(ITEM, headers=auth()), 404) == "unknown_item"


async def test_get_missing_is_404(client: TestClient[Any, Any]) -> None:
    assert await error_of(await client.get(ITEM, headers=auth()), 404) == "unknown_item"


# -- PATCH --------------------------------------------------------------------------------


async def test_patch_hidden(client: TestClient[Any, Any], redis: Redis) -> None:
    await put_item(client, "a", summary="Kept")
    response = await client.patch(ITEM, json={"hidden": True}, headers=auth())
    assert response.status == 200
    doc = await response.json()
    assert (doc["hidden"], doc["summary"], doc["title"]) == (True, "Kept", "Story a")
    assert await redis.hget(keys.item("news", "a"), "hidden") == "1"
    response = await client.patch(ITEM, json={"hidden": False}, headers=auth())
    assert (await response.json())["hidden"] is False
    assert await redis.hget(keys.item("news", "a"), "hidden") == "0"


async def test_hidden_item_still_counts(client: TestClient[Any, Any], redis: Redis) -> None:
    await put_item(client, "a", hidden=True)
    assert await hit(client, "a") == 204
    await flush(client)
    assert await redis.zscore(keys.total("news", "all"), "a") == 1


@pytest.mark.parametrize("body", [{"hidden": True}, {"title": "New"}, {}])
async def test_patch_missing_is_404_and_creates_nothing(
    client: TestClient[Any, Any], redis: Redis, body: dict[str, Any]
) -> None:
    response = await client.patch(ITEM, json=body, headers=auth())
    assert await error_of(response, 404) == "unknown_item"
    assert await redis.exists(keys.item("news", "a")) == 0
    assert await data_keys(redis) == []


async def test_patch_merges(client: TestClient[Any, Any]) -> None:
    await put_item(
        client,
        "a",
        section="tech",
        summary="Old",
        published_at="2026-01-02T03:04:05Z",
        authors=["Jane Doe"],
        tags=["trams", "city"],
    )
    response = await client.patch(
        ITEM, json={"summary": "New", "section": "sport", "tags": ["buses"]}, headers=auth()
    )
    assert response.status == 200
    expected = {
        "id": "a",
        "title": "Story a",
        "url": "https://example.com/a",
        "section": "sport",
        "summary": "New",
        "image": "",
        "published_at": "2026-01-02T03:04:05Z",
        "authors": ["Jane Doe"],
        "tags": ["buses"],
        "hidden": False,
    }
    assert await response.json() == expected
    got = await (await client.get(ITEM, headers=auth())).json()
    assert {k: v for k, v in got.items() if k not in ("views_total", "ranks", "held")} == expected


async def test_patch_with_invalid_field_changes_nothing(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    await put_item(client, "a")
    before = await redis.hgetall(keys.item("news", "a"))
    for body in ({"url": "javascript:alert(1)"}, {"hidden": "yes"}, {"foo": 1}, [1]):
        response = await client.patch(ITEM, json=body, headers=auth())
        assert await error_of(response, 422) == "invalid_item", body
    assert await redis.hgetall(keys.item("news", "a")) == before


# -- validation ---------------------------------------------------------------------------

INVALID = [
    ("missing-title", {"url": "/a"}, "title"),
    ("empty-title", {"title": "", "url": "/a"}, "title"),
    ("blank-title", {"title": "   ", "url": "/a"}, "title"),
    ("long-title", {"title": "x" * 301, "url": "/a"}, "title"),
    ("title-control", {"title": "a\x07b", "url": "/a"}, "title"),
    ("title-not-string", {"title": 5, "url": "/a"}, "title"),
    ("missing-url", {"title": "t"}, "url"),
    ("javascript-url", {"title": "t", "url": "javascript:alert(1)"}, "url"),
    ("protocol-relative-url", {"title": "t", "url": "//evil.example"}, "url"),
    ("relative-url", {"title": "t", "url": "evil.example/a"}, "url"),
    ("url-whitespace", {"title": "t", "url": "https://example.com/a b"}, "url"),
    ("url-too-long", {"title": "t", "url": "https://e.x/" + "a" * 2048}, "url"),
    ("section-All", {**BODY, "section": "All"}, "section"),
    ("section-all", {**BODY, "section": "all"}, "section"),
    ("section-space", {**BODY, "section": "has space"}, "section"),
    ("section-long", {**BODY, "section": "s" * 33}, "section"),
    ("section-newline", {**BODY, "section": "tech\n"}, "section"),
    ("section-not-string", {**BODY, "section": 5}, "section"),
    ("long-summary", {**BODY, "summary": "s" * 1001}, "summary"),
    ("data-image", {**BODY, "image": "data:image/png;base64,AAAA"}, "image"),
    ("published-yesterday", {**BODY, "published_at": "yesterday"}, "published_at"),
    ("published-bool", {**BODY, "published_at": True}, "published_at"),
    ("published-list", {**BODY, "published_at": [2026]}, "published_at"),
    ("hidden-yes", {**BODY, "hidden": "yes"}, "hidden"),
    ("hidden-int", {**BODY, "hidden": 1}, "hidden"),
    ("unknown-field", {**BODY, "foo": 1}, "foo"),
    ("array", [BODY], "object"),
    ("string", "title", "object"),
    ("null", None, "object"),
]


@pytest.mark.parametrize(("body", "named"), [pytest.param(b, n, id=i) for i, b, n in INVALID])
async def test_invalid_entry_is_422(
    client: TestClient[Any, Any], redis: Redis, body: Any, named: str
) -> None:
    response = await client.put(
        ITEM, data=orjson.dumps(body), headers={**auth(), "Content-Type": "application/json"}
    )
    assert await error_of(response, 422) == "invalid_item"
    assert named in (await response.json())["message"]
    assert await data_keys(redis) == []


@pytest.mark.parametrize(
    ("body", "named"), [pytest.param(b, n, id=i) for i, b, n in INVALID if isinstance(b, dict)]
)
async def test_invalid_import_line_is_reported(
    client: TestClient[Any, Any], redis: Redis, body: dict[str, Any], named: str
) -> None:
    response = await client.post(
        "/v1/sites/news/items",
        data=orjson.dumps({**body, "id": "a"}),
        headers={**auth(), "Content-Type": "application/x-ndjson"},
    )
    assert response.status == 200
    doc = await response.json()
    assert (doc["imported"], doc["created"], len(doc["errors"])) == (0, 0, 1)
    assert doc["errors"][0]["line"] == 1
    assert named in doc["errors"][0]["error"]
    assert await data_keys(redis) == []


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("headers", "data", "status", "code"),
    [
        pytest.param(
            {"Content-Type": "text/plain"},
            orjson.dumps(BODY),
            415,
            "unsupported_media_type",
            id="text-plain",
        ),
        pytest.param(
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"title=t",
            415,
            "unsupported_media_type",
            id="form",
        ),
        pytest.param(JSON, b'{"title": "t",', 400, "bad_json", id="truncated-json"),
        pytest.param(JSON, b"", 400, "bad_json", id="empty"),
        pytest.param(JSON, b"\xff", 400, "bad_json", id="not-utf8"),
        pytest.param(JSON, orjson.dumps({**BODY, "id": "b"}), 400, "id_mismatch", id="other-id"),
        pytest.param(JSON, orjson.dumps({**BODY, "id": 5}), 400, "id_mismatch", id="int-id"),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_bad_request_body(
    client: TestClient[Any, Any],
    redis: Redis,
    method: str,
    headers: dict[str, str],
    data: bytes,
    status: int,
    code: str,
) -> None:
    """A PATCH body naming another id is refused like a PUT's: it is not a rename."""
    if method == "PATCH":
        await put_item(client, "a")
    before = await redis.hgetall(keys.item("news", "a"))
    response = await client.request(method, ITEM, data=data, headers={**auth(), **headers})
    assert await error_of(response, status) == code
    assert await redis.hgetall(keys.item("news", "a")) == before


@pytest.mark.parametrize("bad_id", ["a%20b", "x" * 129, "-a", "_a", "caf%C3%A9", "x%0A"])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "GET", "DELETE"])
async def test_bad_id_in_path_is_400(
    client: TestClient[Any, Any], redis: Redis, method: str, bad_id: str
) -> None:
    response = await client.request(
        method, f"/v1/sites/news/items/{bad_id}", json=BODY, headers=auth()
    )
    assert await error_of(response, 400) == "bad_id"
    assert await data_keys(redis) == []


async def test_longest_id_is_accepted(client: TestClient[Any, Any]) -> None:
    item_id = "A" + "z_.:-9" * 21 + "x"
    assert len(item_id) == 128
    response = await client.put(f"/v1/sites/news/items/{item_id}", json=BODY, headers=auth())
    assert response.status == 201
    assert await hit(client, item_id) == 204


# -- bulk import --------------------------------------------------------------------------


def ndjson(*lines: Any) -> bytes:
    return b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)


async def test_bulk_import(client: TestClient[Any, Any], redis: Redis) -> None:
    body = ndjson(
        {"id": "i1", "title": "One", "url": "/1"},
        {"id": "i2", "title": "Two", "url": "/2", "section": "tech"},
        b"",
        b'{"id": "i3", "title": ',
        {"id": "bad", "title": "", "url": "/x"},
        {"id": "i4", "title": "Four", "url": "https://example.com/4", "hidden": True},
        {"title": "No id", "url": "/n"},
        b"[1, 2]",
    )
    response = await client.post(
        "/v1/sites/news/items",
        data=body,
        headers={**auth(), "Content-Type": "application/x-ndjson"},
    )
    assert response.status == 200
    doc = await response.json()
    assert (doc["imported"], doc["created"]) == (3, 3)
    assert [e["line"] for e in doc["errors"]] == [4, 5, 7, 8]
    assert "title" in doc["errors"][1]["error"]
    assert all(isinstance(e["error"], str) and e["error"] for e in doc["errors"])
    assert await redis.smembers(keys.items("news")) == {"i1", "i2", "i4"}
    assert await redis.hget(keys.item("news", "i2"), "section") == "tech"
    for item_id in ("i1", "i2", "i4"):
        assert await hit(client, item_id) == 204
    assert await hit(client, "bad") == 404
    # Importing the same entries again replaces them: nothing new.
    response = await client.post(
        "/v1/sites/news/items",
        data=ndjson({"id": "i1", "title": "Uno", "url": "/1"}),
        headers={**auth(), "Content-Type": "application/x-ndjson"},
    )
    assert await response.json() == {"imported": 1, "created": 0, "errors": []}
    assert await redis.hget(keys.item("news", "i1"), "title") == "Uno"


async def test_bulk_import_reports_an_unconvertible_date_as_a_line_error(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    body = ndjson(
        {"id": "a", "title": "A", "url": "/a"},
        {"id": "b", "title": "B", "url": "/b", "published_at": "0001-01-01T00:00:00+01:00"},
    )
    response = await client.post(
        "/v1/sites/news/items", data=body, headers={**auth(), "Content-Type": "text/plain"}
    )
    assert response.status == 200, await response.text()
    doc = await response.json()
    assert (doc["imported"], [e["line"] for e in doc["errors"]]) == (1, [2])
    assert await redis.smembers(keys.items("news")) == {"a"}


async def test_bulk_import_crlf_line_numbers(client: TestClient[Any, Any]) -> None:
    body = b'{"id":"a","title":"A","url":"/a"}\r\n{\r\n{"id":"b","title":"B","url":"/b"}\r\n'
    response = await client.post(
        "/v1/sites/news/items", data=body, headers={**auth(), "Content-Type": "text/plain"}
    )
    doc = await response.json()
    assert (doc["imported"], [e["line"] for e in doc["errors"]]) == (2, [2])


async def test_bulk_import_wrong_content_type(client: TestClient[Any, Any], redis: Redis) -> None:
    response = await client.post("/v1/sites/news/items", json={"id": "a", **BODY}, headers=auth())
    assert await error_of(response, 415) == "unsupported_media_type"
    assert await data_keys(redis) == []


# -- listing ------------------------------------------------------------------------------


async def list_all(client: TestClient[Any, Any], count: int) -> tuple[list[str], int]:
    seen: list[str] = []
    cursor: str | None = "0"
    pages = 0
    while cursor is not None:
        response = await client.get(
            "/v1/sites/news/items", params={"cursor": cursor, "count": count}, headers=auth()
        )
        assert response.status == 200
        doc = await response.json()
        assert doc["ids"] == sorted(doc["ids"])
        seen += doc["ids"]
        cursor = doc["cursor"]
        pages += 1
        assert pages < 1000
    return seen, pages


async def test_list_pages_through_every_id(client: TestClient[Any, Any]) -> None:
    for item_id in ("e", "a", "c", "b", "d"):
        await put_item(client, item_id)
    seen, _ = await list_all(client, 2)
    assert sorted(seen) == ["a", "b", "c", "d", "e"]


async def test_list_pages_through_a_large_catalog(client: TestClient[Any, Any]) -> None:
    wanted = {f"story-{i}" for i in range(300)}
    response = await client.post(
        "/v1/sites/news/items",
        data=ndjson(*({"id": i, "title": i, "url": f"/{i}"} for i in sorted(wanted))),
        headers={**auth(), "Content-Type": "application/x-ndjson"},
    )
    assert (await response.json())["created"] == 300
    seen, pages = await list_all(client, 50)
    assert pages > 1
    assert set(seen) == wanted


async def test_list_empty(client: TestClient[Any, Any]) -> None:
    response = await client.get("/v1/sites/news/items", headers=auth())
    assert await response.json() == {"ids": [], "cursor": None}


@pytest.mark.parametrize(
    "query",
    [
        "count=0",
        "count=10001",
        "count=abc",
        "count=-1",
        "count=",
        "cursor=abc",
        "cursor=-1",
        "count=%C2%B2",  # "²": a digit to str.isdigit, not to int()
        "cursor=%C2%B2",
        "cursor=99999999999999999999999",  # no page ever handed out such a cursor
        pytest.param("cursor=" + "9" * 5000, id="cursor=5000-digits"),
    ],
)
async def test_list_bad_page_is_400(client: TestClient[Any, Any], query: str) -> None:
    await put_item(client, "a")
    response = await client.get(f"/v1/sites/news/items?{query}", headers=auth())
    assert await error_of(response, 400) == "bad_page"


# -- the catalog as collectors see it -----------------------------------------------------


async def test_entry_written_here_is_countable_at_once(client: TestClient[Any, Any]) -> None:
    assert await hit(client, "a") == 404
    await put_item(client, "a")
    assert await hit(client, "a") == 204
    response = await client.delete(ITEM, headers=auth())
    assert response.status == 204
    assert await hit(client, "a") == 404


async def test_entries_written_elsewhere_arrive_through_the_log(
    client: TestClient[Any, Any], settings: Settings, clock: FakeClock, redis: Redis
) -> None:
    await put_item(client, "local")
    async with TestClient(TestServer(create_app(settings, clock=clock))) as other:
        await put_item(other, "remote1")
        await put_item(other, "remote2", section="tech")
        assert not client.app[CATALOG].has("news", "remote1")  # not yet known here,
        assert await hit(client, "remote1") == 204  # but asked of the store
        await client.app[CATALOG].refresh()
        assert await hit(client, "remote1") == 204
        assert await hit(client, "remote2") == 204
        assert await hit(client, "local") == 204

        response = await other.delete("/v1/sites/news/items/remote1", headers=auth())
        assert response.status == 204
        assert await hit(client, "remote1") == 204  # still believed catalogued
        await client.app[CATALOG].refresh()
        assert await hit(client, "remote1") == 404
        assert await hit(client, "remote2") == 204
        # The other instance saw its own writes at once, and ours after a refresh.
        assert await hit(other, "remote1") == 404
        assert await hit(other, "local") == 204
    await flush(client)
    assert await redis.zscore(keys.total("news", "all"), "remote2") == 2


async def test_refresh_after_many_changes_and_a_reset(
    client: TestClient[Any, Any], settings: Settings, clock: FakeClock, redis: Redis
) -> None:
    async with TestClient(TestServer(create_app(settings, clock=clock))) as other:
        for i in range(20):
            await put_item(other, f"x{i}")
        for i in range(0, 20, 2):
            assert (await other.delete(f"/v1/sites/news/items/x{i}", headers=auth())).status == 204
    await client.app[CATALOG].refresh()
    for i in range(20):
        assert await hit(client, f"x{i}") == (404 if i % 2 == 0 else 204), i
    await redis.flushall()  # a reset store: nothing is catalogued any more
    await client.app[CATALOG].refresh()
    assert await hit(client, "x1") == 404


async def test_patch_of_an_entry_without_optional_fields(client: TestClient[Any, Any]) -> None:
    """An entry that never had `published_at` (or a section, summary, image) can still be
    patched: a field it lacks stays absent rather than becoming an invalid empty value."""
    await put_item(client, "a")
    response = await client.patch(ITEM, json={"title": "Corrected"}, headers=auth())
    assert response.status == 200, await response.text()
    doc = await response.json()
    assert doc["title"] == "Corrected" and doc["published_at"] == "" and doc["section"] == ""


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/sites/news/items/a"),
        ("PATCH", "/v1/sites/news/items/a"),
        ("PUT", "/v1/sites/news/pins/a"),
        ("POST", "/v1/sites/news/items/a/release"),
    ],
)
@pytest.mark.parametrize("chunked", [False, True])
async def test_a_json_body_past_64_kib_is_413_however_it_is_sent(
    client: TestClient[Any, Any], method: str, path: str, chunked: bool
) -> None:
    await put_item(client, "a")
    body = b'{"title": "' + b"x" * 70_000 + b'", "url": "/a"}'

    async def chunks(data: bytes = body, size: int = 8192) -> Any:
        for start in range(0, len(data), size):
            yield data[start : start + size]
            await asyncio.sleep(0)

    response = await client.request(
        method,
        path,
        data=chunks() if chunked else body,
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["error"] == "payload_too_large"
    # Just under the cap is read whole, if chunked too.
    small = b'{"title": "' + b"x" * 200 + b'", "url": "/a", "section": "tech"}'
    ok = await client.request(
        "PUT",
        "/v1/sites/news/items/a",
        data=chunks(small, 16) if chunked else small,
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert ok.status == 200 and (await ok.json())["section"] == "tech"
