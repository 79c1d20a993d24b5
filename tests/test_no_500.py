"""Invariant I6: no input yields a 5xx or a stored garbage member."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from ranker.core.outcomes import HELD
from ranker.core.signing import sign
from ranker.http.appkeys import CATALOG
from tests.support import (
    BROWSER,
    BROWSER_HEADERS,
    TOKEN,
    data_keys,
    flush,
    make_settings,
    put_item,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
    derandomize=True,  # the same examples every run: a failure is never a fluke
)

# The documented syntax of ids and sections (validate.py's messages), matched in full.
ID_SYNTAX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
SECTION_SYNTAX = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
TOKENS = {"news": TOKEN, "other": "other-token"}
CATALOGUED = {"news": {"a", "b.c", "x:1", "Z_9-"}, "other": {"a", "o-1"}}
SECTIONS = {"tech", "sport"}
KEY_RE = re.compile(r"rk:\{(?P<site>[^}]*)\}:(?P<rest>.*)", re.S)

# -- strategies ---------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
tricky_ids = st.sampled_from(
    ["", "../a", "a b", "{a}", "a\n", "a\r", "a\x00", "x" * 129, "-a", "\u00e9", "a/b", "%61"]
)
id_values = (
    st.sampled_from(sorted(set().union(*CATALOGUED.values())))
    | tricky_ids
    | st.from_regex(ID_SYNTAX, fullmatch=True)
    | st.text(max_size=140)
    | json_values
)
site_values = st.sampled_from(["news", "other", "nope", "NEWS", "news\n", ""]) | json_values
beacons = st.fixed_dictionaries(
    {"site": site_values, "id": id_values},
    optional={"extra": json_values, "token": json_values | st.text(max_size=60)},
)
# Ids that signed beacons may have counted: the only uncatalogued members allowed.
SIGNED = {"news": {"draft-1", "draft-2"}, "other": {"draft-1"}}


@st.composite
def signed_beacons(draw: st.DrawFn) -> dict[str, Any]:
    """A beacon for an uncatalogued id with a token: valid, or valid for something else."""
    site = draw(st.sampled_from(sorted(SIGNED)))
    item_id = draw(st.sampled_from(sorted(SIGNED[site])))
    signer = draw(st.sampled_from(sorted(SIGNED)))
    signed_id = draw(st.sampled_from([item_id, "draft-3", "a"]))
    expires = draw(st.sampled_from([2**31 - 1, 1, 0]))
    key = make_settings("redis://unused").sites[signer].signing_key
    return {"site": site, "id": item_id, "token": sign(key, signer, signed_id, expires)}


user_agents = (
    st.just(BROWSER)
    | st.sampled_from(
        [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36",
            "",
            "x" * 600,
        ]
    )
    | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
)
extra_headers = st.fixed_dictionaries(
    {"User-Agent": user_agents},
    optional={
        "Sec-Purpose": st.sampled_from(["prefetch", "prefetch;prerender", "x"]),
        "X-Forwarded-For": st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)),
    },
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "text/plain;charset=UTF-8",
            "text/plain",
            "TEXT/Plain; charset=latin-1",
            "application/json; charset=utf-16",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
            "multipart/form-data; boundary=x",
            "text/plain;",
            ";",
        ]
    )
    | header_text
)


@st.composite
def beacon_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["beacon", "signed", "json", "binary", "text", "padded"]))
    if kind == "beacon":
        return json.dumps(draw(beacons)).encode()
    if kind == "signed":
        return json.dumps(draw(signed_beacons())).encode()
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "binary":
        return draw(st.binary(max_size=300))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    beacon = json.dumps(draw(beacons)).encode()
    return beacon + b" " * draw(st.integers(2000, 2100))


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 500):
        yield body[start : start + 500]


# -- helpers ------------------------------------------------------------------------------


async def ensure_catalog(client: TestClient[Any, Any]) -> None:
    if client.app[CATALOG].has("news", "a"):
        return
    for site, ids in CATALOGUED.items():
        for i, item_id in enumerate(sorted(ids)):
            section = sorted(SECTIONS)[i % 2] if i % 3 else None
            await put_item(client, item_id, site=site, token=TOKENS[site], section=section)


async def assert_error_json(response: Any) -> None:
    assert response.content_type == "application/json", response.status
    doc = orjson.loads(await response.read())
    assert isinstance(doc["error"], str) and isinstance(doc["message"], str)


async def assert_rankings_clean(redis: Redis) -> None:
    """Every ranked member is a catalogued id of its site, in a known scope."""
    async for key in redis.scan_iter("rk:{*"):
        match = KEY_RE.fullmatch(key)
        assert match is not None, key
        site, rest = match["site"], match["rest"]
        assert site in CATALOGUED, key
        if await redis.type(key) != "zset":
            continue
        kind, scope = rest.split(":")[:2]
        if kind in ("held", "heldtot"):  # views held for a reason: of known stories too
            assert scope in HELD, key
            allowed = CATALOGUED[site] | SIGNED[site]
        else:
            assert kind in ("hot", "tot", "b", "win"), key
            assert scope in SECTIONS | {"all"}, key
            allowed = CATALOGUED[site] | (SIGNED[site] if scope == "all" else set())
        members = set(await redis.zrange(key, 0, -1))
        assert members <= allowed, (key, members - allowed)


async def assert_catalog_clean(redis: Redis) -> None:
    """Every catalogued id and section has the documented syntax, and ids and hashes agree."""
    async for key in redis.scan_iter("rk:{*"):
        match = KEY_RE.fullmatch(key)
        assert match is not None and match["site"] in TOKENS, key
        site, rest = match["site"], match["rest"]
        if rest.startswith("item:"):
            item_id = rest.removeprefix("item:")
            assert ID_SYNTAX.fullmatch(item_id), key
            assert await redis.sismember(f"rk:{{{site}}}:items", item_id), key
            section = await redis.hget(key, "section")
            assert section == "" or (SECTION_SYNTAX.fullmatch(section) and section != "all")
        elif rest == "items":
            for item_id in await redis.smembers(key):
                assert ID_SYNTAX.fullmatch(item_id), (key, item_id)
                assert await redis.exists(f"rk:{{{site}}}:item:{item_id}"), (key, item_id)


# -- the collector ------------------------------------------------------------------------


@FUZZ
@given(
    body=beacon_bodies(),
    content_type=content_types,
    chunked=st.booleans(),
    headers=extra_headers,
)
@example(
    body=b'{"site":"news","id":"a"}',
    content_type="text/plain",
    chunked=False,
    headers=BROWSER_HEADERS,
)
@example(
    body=b'{"site":"news","id":"a\\n"}',
    content_type="application/json",
    chunked=False,
    headers=BROWSER_HEADERS,
)
@example(
    body=json.dumps(
        {
            "site": "news",
            "id": "draft-1",
            "token": sign(
                make_settings("redis://unused").sites["news"].signing_key,
                "news",
                "draft-1",
                2**31 - 1,
            ),
        }
    ).encode(),
    content_type="text/plain",
    chunked=False,
    headers=BROWSER_HEADERS,
)
async def test_random_beacons(
    client: TestClient[Any, Any],
    redis: Redis,
    body: bytes,
    content_type: str,
    chunked: bool,
    headers: dict[str, str],
) -> None:
    await ensure_catalog(client)
    response = await client.post(
        "/v1/hit",
        data=_chunks(body) if chunked else body,
        headers={"Content-Type": content_type, **headers},
    )
    assert response.status in (202, 204, 400, 403, 404, 413, 415), await response.text()
    if response.status == 204:
        doc = orjson.loads(body)
        assert doc["id"] in CATALOGUED[doc["site"]] | SIGNED[doc["site"]], doc
    elif response.status == 202:
        assert (await response.json())["counted"] is False
    else:
        await assert_error_json(response)
    await flush(client)
    await assert_rankings_clean(redis)
    # I5: whatever was counted, the public lists show catalogued stories only.
    for site in CATALOGUED:
        top = await (await client.get(f"/v1/sites/{site}/top?n=100&window=all")).json()
        assert {i["id"] for i in top["items"]} <= CATALOGUED[site]


@FUZZ
@given(site=site_values, item_id=id_values)
async def test_random_gif_hits(
    client: TestClient[Any, Any], redis: Redis, site: Any, item_id: Any
) -> None:
    await ensure_catalog(client)
    params = {k: v for k, v in (("site", site), ("id", item_id)) if isinstance(v, str)}
    response = await client.get("/v1/hit.gif?" + urlencode(params))
    assert response.status in (200, 400, 404), await response.text()
    if response.status == 200:
        assert (await response.read()).startswith(b"GIF89a")
        assert params["id"] in CATALOGUED[params["site"]]
    else:
        await assert_error_json(response)
    await flush(client)
    await assert_rankings_clean(redis)


# -- the public read ----------------------------------------------------------------------

query_names = st.sampled_from(["n", "window", "section"]) | st.text(max_size=8)
query_values = (
    st.sampled_from(
        ["10", "0", "1", "100", "101", "-1", "1e2", " 5", "\u00b2", "\u0661", "\uff15"]
        + ["hot", "1h", "24h", "7d", "30d", "all", "tech", "Tech", "sport\n", ""]
    )
    | st.text(max_size=30)
    | st.integers(min_value=0, max_value=10**30).map(str)
)
queries = st.lists(st.tuples(query_names, query_values), max_size=4).map(urlencode) | st.text(
    max_size=60
).map(lambda q: quote(q, safe="=&"))
path_sites = st.sampled_from(["news", "other", "nope", "NEWS"]) | st.text(min_size=1, max_size=12)


@FUZZ
@given(site=path_sites, query=queries)
@example(site="news", query="n=%C2%B2")
async def test_random_top_queries(client: TestClient[Any, Any], site: str, query: str) -> None:
    response = await client.get(f"/v1/sites/{quote(site, safe='')}/top?{query}")
    assert response.status in (200, 400, 404), await response.text()
    if response.status == 200:
        doc = await response.json()
        assert doc["site"] in TOKENS
        assert 1 <= doc["n"] <= 100 and len(doc["items"]) <= doc["n"]
        assert doc["window"] in ("hot", "1h", "24h", "7d", "30d", "all")
        assert doc["section"] is None or SECTION_SYNTAX.fullmatch(doc["section"])
    else:
        await assert_error_json(response)


# -- the catalog --------------------------------------------------------------------------

good_bodies = st.fixed_dictionaries(
    {"title": st.just("T"), "url": st.just("/t")},
    optional={
        "section": st.sampled_from(sorted(SECTIONS)) | st.text(max_size=34),
        "hidden": st.booleans(),
        "published_at": st.text(max_size=30) | st.integers() | st.floats(),
    },
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE"]),
    site=path_sites,
    item_id=st.from_regex(ID_SYNTAX, fullmatch=True) | tricky_ids | st.text(min_size=1),
    token=st.sampled_from([None, TOKEN, "other-token", "wrong"]),
    body=good_bodies | json_values,
)
@example(method="PUT", site="news", item_id="a\n", token=TOKEN, body={"title": "T", "url": "/t"})
@example(
    method="PUT",
    site="news",
    item_id="a",
    token=TOKEN,
    body={"title": "T", "url": "/t", "section": "tech\n"},
)
async def test_random_item_requests(
    client: TestClient[Any, Any],
    redis: Redis,
    method: str,
    site: str,
    item_id: str,
    token: str | None,
    body: Any,
) -> None:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.request(
        method,
        f"/v1/sites/{quote(site, safe='')}/items/{quote(item_id, safe='')}",
        data=json.dumps(body).encode() if method in ("PUT", "PATCH") else None,
        headers=headers,
    )
    assert response.status in (200, 201, 204, 400, 401, 403, 404, 405, 415, 422), (
        await response.text()
    )
    if response.status >= 400:
        await assert_error_json(response)
    elif response.status in (200, 201):
        doc = await response.json()
        assert ID_SYNTAX.fullmatch(doc["id"]), doc
    await assert_catalog_clean(redis)


@FUZZ
@given(
    site=path_sites,
    query=st.lists(
        st.tuples(st.sampled_from(["cursor", "count"]) | st.text(max_size=6), query_values),
        max_size=3,
    ).map(urlencode),
    token=st.sampled_from([None, TOKEN, "wrong"]),
)
@example(site="news", query="cursor=99999999999999999999999", token=TOKEN)
async def test_random_item_listings(
    client: TestClient[Any, Any], site: str, query: str, token: str | None
) -> None:
    await ensure_catalog(client)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = await client.get(f"/v1/sites/{quote(site, safe='')}/items?{query}", headers=headers)
    assert response.status in (200, 400, 401, 403, 404), await response.text()
    if response.status == 200:
        doc = await response.json()
        assert set(doc["ids"]) <= CATALOGUED[site]
    else:
        await assert_error_json(response)


# -- bytes no HTTP client would send ------------------------------------------------------


async def raw_request(client: TestClient[Any, Any], request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer \xff\xfe", b"Bearer \xc3\x28", b"Bearer " + TOKEN.encode() + b"\xff", b"\xff"],
    ids=["ff-fe", "bad-utf8-pair", "token-then-ff", "only-ff"],
)
async def test_non_utf8_authorization_is_refused(
    client: TestClient[Any, Any], redis: Redis, authorization: bytes
) -> None:
    status, body = await raw_request(
        client,
        b"GET /v1/sites/news/items/a HTTP/1.1\r\nHost: ranker\r\nAuthorization: "
        + authorization
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert status in (400, 401, 403), body
    assert isinstance(orjson.loads(body)["error"], str)
    assert await data_keys(redis) == []


@pytest.mark.parametrize(
    "target",
    [
        b"/v1/sites/news/top?n=%FF",
        b"/v1/sites/news/top?section=%FF%FE",
        b"/v1/sites/%FF/top",
        b"/v1/hit.gif?site=news&id=%FF",
        b"/v1/sites/news/items/%FF",
    ],
)
async def test_non_utf8_targets_are_refused(client: TestClient[Any, Any], target: bytes) -> None:
    status, body = await raw_request(
        client,
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: ranker\r\nAuthorization: Bearer "
        + TOKEN.encode()
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert status in (400, 404), body
    assert isinstance(orjson.loads(body)["error"], str)
