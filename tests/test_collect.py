"""The collector: POST /v1/hit, its preflight and the GIF pixel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from ranker.core.windows import bucket_start
from ranker.store import keys
from tests.support import FakeClock, auth, data_keys, flush, hit, put_item

BEACON = b'{"site":"news","id":"a"}'
MAX_BODY = 2048


async def top_views(
    client: TestClient[Any, Any], window: str = "all", section: str = ""
) -> dict[str, Any]:
    response = await client.get(f"/v1/sites/news/top?window={window}&n=100&section={section}")
    assert response.status == 200
    doc = await response.json()
    return {item["id"]: item["views"] for item in doc["items"]}


async def rk_keys(redis: Redis) -> list[str]:
    return sorted(await data_keys(redis))


# -- accepted beacons ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain;charset=UTF-8", "text/plain"]
)
async def test_beacon_is_accepted_and_counted(
    client: TestClient[Any, Any], redis: Redis, content_type: str
) -> None:
    await put_item(client, "a")
    response = await client.post("/v1/hit", data=BEACON, headers={"Content-Type": content_type})
    assert response.status == 204
    assert await response.read() == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert await redis.zscore(keys.total("news", "all"), "a") is None  # not before the flush
    await flush(client)
    assert await redis.zscore(keys.total("news", "all"), "a") == 1
    assert await top_views(client) == {"a": 1}


async def test_preflight(client: TestClient[Any, Any]) -> None:
    response = await client.options(
        "/v1/hit",
        headers={
            "Origin": "https://news.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status == 204
    assert await response.read() == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


async def test_gif_pixel_counts_a_view(client: TestClient[Any, Any], redis: Redis) -> None:
    await put_item(client, "a")
    response = await client.get("/v1/hit.gif", params={"site": "news", "id": "a"})
    assert response.status == 200
    assert response.content_type == "image/gif"
    assert (await response.read()).startswith(b"GIF89a")
    assert "no-store" in response.headers["Cache-Control"]
    await flush(client)
    assert await redis.zscore(keys.total("news", "all"), "a") == 1


async def test_sites_count_separately(client: TestClient[Any, Any], redis: Redis) -> None:
    await put_item(client, "a")
    await put_item(client, "a", site="other", token="other-token")
    assert await hit(client, "a", site="other") == 204
    await flush(client)
    assert await redis.zscore(keys.total("other", "all"), "a") == 1
    assert await redis.zscore(keys.total("news", "all"), "a") is None


# -- refused beacons: a JSON error, and nothing stored ------------------------------------


async def _chunked(size: int) -> AsyncIterator[bytes]:
    yield b'{"site":"news","id":"a"}'
    for _ in range(size // 100):
        yield b" " * 100


def _post(body: bytes, content_type: str = "application/json") -> Callable[[], dict[str, Any]]:
    return lambda: {"data": body, "headers": {"Content-Type": content_type}}


def _json(doc: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"json": doc}


BEACON_ERRORS = [
    pytest.param(_json({"site": "nope", "id": "a"}), 404, "unknown_site", id="unknown-site"),
    pytest.param(_json({"site": "../news", "id": "a"}), 404, "unknown_site", id="bad-site"),
    pytest.param(_json({"site": "news", "id": "zzz"}), 404, "unknown_item", id="uncatalogued"),
    pytest.param(_json({"site": "other", "id": "a"}), 404, "unknown_item", id="other-site-item"),
    *(
        pytest.param(_json({"site": "news", "id": bad}), 400, "bad_id", id=f"bad-id-{name}")
        for name, bad in [
            ("dotdot", "../x"),
            ("space", "a b"),
            ("empty", ""),
            ("129", "x" * 129),
            ("braces", "{x}"),
            ("leading-dash", "-a"),
            ("unicode", "caf\u00e9"),
            ("trailing-newline", "a\n"),
        ]
    ),
    pytest.param(_json({"site": "news", "id": 5}), 400, "bad_beacon", id="int-id"),
    pytest.param(_json({"site": 5, "id": "a"}), 400, "bad_beacon", id="int-site"),
    pytest.param(_json({"site": "news"}), 400, "bad_beacon", id="no-id"),
    pytest.param(_json({"site": "news", "id": ["a"]}), 400, "bad_beacon", id="list-id"),
    pytest.param(_json({"site": "news", "id": None}), 400, "bad_beacon", id="null-id"),
    pytest.param(_post(b'{"site":"news","id":'), 400, "bad_json", id="truncated-json"),
    pytest.param(_post(b"", "text/plain"), 400, "bad_json", id="empty-body"),
    pytest.param(_post(b"\xff\xfe", "text/plain"), 400, "bad_json", id="not-utf8"),
    pytest.param(_json([1]), 400, "bad_beacon", id="json-array"),
    pytest.param(_json("a"), 400, "bad_beacon", id="json-string"),
    pytest.param(_post(b"null"), 400, "bad_beacon", id="json-null"),
    pytest.param(
        _post(b"site=news&id=a", "application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
        id="form",
    ),
    pytest.param(
        lambda: {"data": BEACON, "headers": {"Content-Type": "application/octet-stream"}},
        415,
        "unsupported_media_type",
        id="octet-stream",
    ),
    pytest.param(
        _post(BEACON + b" " * (MAX_BODY + 1 - len(BEACON))),
        413,
        "payload_too_large",
        id="content-length-over",
    ),
    pytest.param(
        lambda: {"data": _chunked(3000), "headers": {"Content-Type": "application/json"}},
        413,
        "payload_too_large",
        id="chunked-over",
    ),
]


@pytest.mark.parametrize(("request_kwargs", "status", "code"), BEACON_ERRORS)
async def test_refused_beacon_stores_nothing(
    client: TestClient[Any, Any],
    redis: Redis,
    request_kwargs: Callable[[], dict[str, Any]],
    status: int,
    code: str,
) -> None:
    await put_item(client, "a")
    before = await rk_keys(redis)
    response = await client.post("/v1/hit", **request_kwargs())
    assert response.status == status
    assert response.content_type == "application/json"
    assert (await response.json())["error"] == code
    await flush(client)
    assert await rk_keys(redis) == before


@pytest.mark.parametrize(
    "request_kwargs", [pytest.param(case.values[0], id=case.id) for case in BEACON_ERRORS]
)
async def test_refused_beacon_is_readable_from_any_origin(
    client: TestClient[Any, Any], request_kwargs: Callable[[], dict[str, Any]]
) -> None:
    """Pages post beacons cross-origin: every answer of POST /v1/hit carries the CORS header,
    errors included, as most of them already do."""
    await put_item(client, "a")
    response = await client.post("/v1/hit", **request_kwargs())
    assert 400 <= response.status < 500
    assert response.headers.get("Access-Control-Allow-Origin") == "*"


async def test_body_of_exactly_max_body_is_accepted(client: TestClient[Any, Any]) -> None:
    await put_item(client, "a")
    body = BEACON + b" " * (MAX_BODY - len(BEACON))
    response = await client.post("/v1/hit", data=body, headers={"Content-Type": "text/plain"})
    assert response.status == 204
    await flush(client)
    assert await top_views(client) == {"a": 1}


OTHER_ERRORS = [
    pytest.param("GET", "/v1/hit", 405, "method_not_allowed", id="get-hit"),
    pytest.param("PUT", "/v1/hit", 405, "method_not_allowed", id="put-hit"),
    pytest.param("GET", "/v1/hit.gif", 400, "bad_beacon", id="gif-no-params"),
    pytest.param("GET", "/v1/hit.gif?site=news", 400, "bad_beacon", id="gif-no-id"),
    pytest.param("GET", "/v1/hit.gif?id=a", 400, "bad_beacon", id="gif-no-site"),
    pytest.param("GET", "/v1/hit.gif?site=news&id=zzz", 404, "unknown_item", id="gif-unknown"),
    pytest.param("GET", "/v1/hit.gif?site=nope&id=a", 404, "unknown_site", id="gif-bad-site"),
    pytest.param("GET", "/v1/hit.gif?site=news&id=a%20b", 400, "bad_id", id="gif-bad-id"),
    pytest.param("GET", "/v1/nope", 404, "not_found", id="unknown-path"),
    pytest.param("POST", "/v1/hit/extra", 404, "not_found", id="unknown-subpath"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), OTHER_ERRORS)
async def test_other_collector_errors_store_nothing(
    client: TestClient[Any, Any], redis: Redis, method: str, path: str, status: int, code: str
) -> None:
    await put_item(client, "a")
    before = await rk_keys(redis)
    response = await client.request(method, path)
    assert response.status == status
    assert response.content_type == "application/json"
    assert (await response.json())["error"] == code
    if status == 405:
        assert "POST" in response.headers["Allow"]
    await flush(client)
    assert await rk_keys(redis) == before


# -- aggregation --------------------------------------------------------------------------


async def test_views_over_several_minutes_flush_exactly(
    client: TestClient[Any, Any], redis: Redis, clock: FakeClock
) -> None:
    for item_id in ("a", "b", "c"):
        await put_item(client, item_id, section="tech" if item_id != "c" else "sport")
    expected = {"a": 0, "b": 0, "c": 0}
    per_minute: dict[int, int] = {}
    for minute in range(5):
        for item_id, count in (("a", minute + 1), ("b", 2), ("c", minute % 2)):
            for _ in range(count):
                assert await hit(client, item_id) == 204
            expected[item_id] += count
        per_minute[bucket_start(clock.now, "minute")] = minute + 1
        clock.advance(61)
    await flush(client)
    for item_id, views in expected.items():
        assert await redis.zscore(keys.total("news", "all"), item_id) == views
    assert await top_views(client, section="tech") == {"a": expected["a"], "b": expected["b"]}
    assert await top_views(client, section="sport") == {"c": expected["c"]}
    for start, views in per_minute.items():
        assert await redis.zscore(keys.bucket("news", "all", "minute", start), "a") == views
    assert await top_views(client) == expected
    assert await top_views(client, "1h") == expected


async def test_repeated_flush_does_not_count_twice(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    await put_item(client, "a")
    for _ in range(3):
        assert await hit(client, "a") == 204
    await flush(client)
    await flush(client)
    assert await redis.zscore(keys.total("news", "all"), "a") == 3


# -- deletion -----------------------------------------------------------------------------

ALL_WINDOWS = ("hot", "1h", "24h", "7d", "30d", "all")


async def test_deleted_item_leaves_every_list_and_is_refused(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    await put_item(client, "a", section="tech")
    await put_item(client, "b", section="tech")
    for item_id in ("a", "a", "b"):
        assert await hit(client, item_id) == 204
    await flush(client)
    response = await client.delete("/v1/sites/news/items/a", headers=auth())
    assert response.status == 204
    for window in ALL_WINDOWS:
        assert list(await top_views(client, window)) == ["b"], window
        response = await client.get(f"/v1/sites/news/top?window={window}&section=tech")
        assert [it["id"] for it in (await response.json())["items"]] == ["b"], window
    assert await redis.zscore(keys.total("news", "all"), "a") is None
    assert await redis.zscore(keys.total("news", "tech"), "a") is None
    response = await client.post("/v1/hit", json={"site": "news", "id": "a"})
    assert response.status == 404
    assert (await response.json())["error"] == "unknown_item"
    response = await client.get("/v1/hit.gif?site=news&id=a")
    assert response.status == 404


async def test_views_pending_at_deletion_are_not_stored(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    """A view accepted just before its item is deleted must not bring the id back into the
    rankings: it would never be removed, and would reappear if the id is catalogued again."""
    await put_item(client, "a")
    await put_item(client, "b")
    assert await hit(client, "a") == 204
    assert await hit(client, "b") == 204
    response = await client.delete("/v1/sites/news/items/a", headers=auth())
    assert response.status == 204
    await flush(client)
    assert await redis.zscore(keys.total("news", "all"), "b") == 1
    assert await redis.zscore(keys.total("news", "all"), "a") is None
    assert await redis.zscore(keys.hot("news", "all"), "a") is None


async def test_recreated_item_windows_never_exceed_all_time(
    client: TestClient[Any, Any],
) -> None:
    """Deleting an item drops its all-time count; an exact window must not show more."""
    await put_item(client, "a")
    for _ in range(3):
        assert await hit(client, "a") == 204
    await flush(client)
    response = await client.delete("/v1/sites/news/items/a", headers=auth())
    assert response.status == 204
    await put_item(client, "a")
    all_time = (await top_views(client, "all")).get("a", 0)
    for window in ("1h", "24h", "7d", "30d"):
        assert (await top_views(client, window)).get("a", 0) <= all_time, window


async def test_deleted_item_leaves_the_sections_it_moved_out_of(
    client: TestClient[Any, Any], redis: Redis
) -> None:
    await put_item(client, "a", section="tech")
    assert await hit(client, "a") == 204
    await flush(client)
    await put_item(client, "a", section="sport")
    response = await client.delete("/v1/sites/news/items/a", headers=auth())
    assert response.status == 204
    for scope in ("all", "tech", "sport"):
        assert await redis.zscore(keys.total("news", scope), "a") is None, scope
        assert await redis.zscore(keys.hot("news", scope), "a") is None, scope
