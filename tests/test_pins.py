"""Editors' pins: PUT/DELETE/GET /v1/sites/{site}/pins, and the lists that show them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from tests.support import FakeClock, auth, flush, hit, put_item

Client = TestClient[Any, Any]
ALL_WINDOWS = ("hot", "1h", "24h", "7d", "30d", "all")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def pin(client: Client, item_id: str, clock: FakeClock, **fields: Any) -> Any:
    body = {"until": _iso(clock.now + 3600), **fields}
    response = await client.put(f"/v1/sites/news/pins/{item_id}", json=body, headers=auth())
    assert response.status == 200, await response.text()
    return await response.json()


async def listed(client: Client, query: str = "") -> list[tuple[str, bool]]:
    response = await client.get(f"/v1/sites/news/top?{query}")
    assert response.status == 200, await response.text()
    doc = await response.json()
    assert [it["rank"] for it in doc["items"]] == list(range(1, len(doc["items"]) + 1))
    return [(it["id"], it["pinned"]) for it in doc["items"]]


async def stories(client: Client, views: dict[str, int], **fields: Any) -> None:
    for story, count in views.items():
        await put_item(client, story, **fields)
        for _ in range(count):
            assert await hit(client, story) == 204
    await flush(client)


async def test_a_pinned_story_holds_its_place_in_its_windows_until_its_time(
    client: Client, clock: FakeClock
) -> None:
    await stories(client, {"a": 4, "b": 3, "c": 2, "d": 1, "quiet": 0})
    doc = await pin(client, "quiet", clock, position=2, windows=["24h", "hot"])
    assert doc == {
        "id": "quiet",
        "title": "Story quiet",
        "url": "https://example.com/quiet",
        "position": 2,
        "until": _iso(clock.now + 3600),
        "section": None,
        "windows": ["hot", "24h"],
    }
    pinned = [("a", False), ("quiet", True), ("b", False)]
    assert await listed(client, "n=3&window=24h") == pinned
    assert await listed(client, "n=3") == pinned
    assert await listed(client, "n=3&window=all") == [("a", False), ("b", False), ("c", False)]
    # Not in a section's lists, nor in an author's.
    assert ("quiet", True) not in await listed(client, "n=3&window=24h&section=tech")
    html = await (await client.get("/v1/sites/news/top.html?n=3&window=24h")).text()
    assert html.index('data-id="a"') < html.index('data-id="quiet"') < html.index('data-id="b"')
    assert html.count("ranker-pinned") == 1
    assert '<li class="ranker-item ranker-pinned" data-id="quiet">' in html
    listing = await (await client.get("/v1/sites/news/pins", headers=auth())).json()
    assert listing == {"pins": [doc]}
    clock.advance(3601)
    assert await listed(client, "n=3&window=24h") == [("a", False), ("b", False), ("c", False)]
    listing = await (await client.get("/v1/sites/news/pins", headers=auth())).json()
    assert listing == {"pins": []}


async def test_unpinning_hiding_and_deleting(client: Client, clock: FakeClock) -> None:
    await stories(client, {"a": 3, "b": 2, "c": 1})
    await pin(client, "c", clock)
    assert await listed(client, "n=2") == [("c", True), ("a", False)]
    response = await client.delete("/v1/sites/news/pins/c", headers=auth())
    assert response.status == 204
    assert await listed(client, "n=2") == [("a", False), ("b", False)]
    missing = await client.delete("/v1/sites/news/pins/c", headers=auth())
    assert missing.status == 404 and (await missing.json())["error"] == "unknown_pin"
    # Hidden beats pinned; showing it again brings the pin back.
    await pin(client, "c", clock)
    await client.patch("/v1/sites/news/items/c", json={"hidden": True}, headers=auth())
    assert await listed(client, "n=2") == [("a", False), ("b", False)]
    await client.patch("/v1/sites/news/items/c", json={"hidden": False}, headers=auth())
    assert await listed(client, "n=2") == [("c", True), ("a", False)]
    # A deleted story's pin goes with it: the id catalogued again is not pinned.
    assert (await client.delete("/v1/sites/news/items/c", headers=auth())).status == 204
    await put_item(client, "c")
    assert await listed(client, "n=3&backfill=false") == [("a", False), ("b", False)]
    assert (await (await client.get("/v1/sites/news/pins", headers=auth())).json())["pins"] == []


async def test_a_section_s_pin_and_a_page_that_excludes_it(
    client: Client, clock: FakeClock
) -> None:
    await stories(client, {"s1": 5, "s2": 4, "s3": 3}, section="sport")
    await stories(client, {"w1": 9})
    await pin(client, "s3", clock, section="sport", position=1)
    assert await listed(client, "n=2&section=sport") == [("s3", True), ("s1", False)]
    assert await listed(client, "n=2") == [("w1", False), ("s1", False)]
    # The pinned story's own page leaves it out; on another page, an excluded story
    # ahead of the pin does not move it.
    assert await listed(client, "n=2&section=sport&exclude=s3") == [("s1", False), ("s2", False)]
    await pin(client, "s2", clock, section="sport", position=2)
    assert await listed(client, "n=3&section=sport&exclude=s1") == [
        ("s3", True),
        ("s2", True),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "until:"),
        ({"until": "soon"}, "until: expected ISO-8601"),
        ({"until": 1}, "until: in the future"),
        ({"until": "2999-01-01T00:00:00Z"}, "within 90 days"),
        ({"until": "+1h", "position": 0}, "position:"),
        ({"until": "+1h", "position": 101}, "position:"),
        ({"until": "+1h", "windows": []}, "windows:"),
        ({"until": "+1h", "windows": ["2h"]}, "windows: some of"),
        ({"until": "+1h", "section": "all"}, "section:"),
        ({"until": "+1h", "colour": "red"}, "unknown field: colour"),
        ([], "expected a JSON object"),
    ],
)
async def test_a_bad_pin_is_422(client: Client, clock: FakeClock, body: Any, message: str) -> None:
    await put_item(client, "a")
    if isinstance(body, dict) and body.get("until") == "+1h":
        body = {**body, "until": _iso(clock.now + 3600)}
    response = await client.put("/v1/sites/news/pins/a", json=body, headers=auth())
    assert response.status == 422
    doc = await response.json()
    assert doc["error"] == "invalid_pin" and message in doc["message"], doc


async def test_pins_need_the_token_and_a_catalogued_story(client: Client, clock: FakeClock) -> None:
    body = {"until": _iso(clock.now + 60)}
    assert (await client.put("/v1/sites/news/pins/a", json=body)).status == 401
    assert (await client.get("/v1/sites/news/pins")).status == 401
    assert (await client.delete("/v1/sites/news/pins/a")).status == 401
    response = await client.put("/v1/sites/news/pins/nope", json=body, headers=auth())
    assert response.status == 404 and (await response.json())["error"] == "unknown_item"


# -- the reference ------------------------------------------------------------------------


def reference(
    ranked: list[str], pins: dict[str, int], excluded: set[str], n: int
) -> list[tuple[str, bool]]:
    """Pins (not excluded) at their positions, by position then id; the ranked stories,
    less pinned and excluded ones, filling the places between and after; the first n."""
    others = [s for s in ranked if s not in pins and s not in excluded]
    out: list[tuple[str, bool]] = []
    for story, position in sorted(pins.items(), key=lambda sp: (sp[1], sp[0])):
        if story in excluded:
            continue
        while len(out) < position - 1 and others:
            out.append((others.pop(0), False))
        out.append((story, True))
    return (out + [(s, False) for s in others])[:n]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.lists(st.integers(0, 4), min_size=1, max_size=10),
    pins=st.dictionaries(
        st.integers(0, 9),
        st.tuples(st.integers(1, 6), st.sets(st.sampled_from(ALL_WINDOWS), min_size=1)),
        max_size=3,
    ),
    n=st.integers(1, 6),
    excluded=st.sets(st.integers(0, 9), max_size=2),
)
async def test_pins_match_the_reference_in_every_window(
    client: Client,
    redis: Redis,
    clock: FakeClock,
    counts: list[int],
    pins: dict[int, tuple[int, set[str]]],
    n: int,
    excluded: set[int],
) -> None:
    """Reference: in each window, the stories with views by views then id, with the pins
    of that window placed as `reference` says; excluded stories out, before the cut."""
    await redis.flushall()
    names = [f"p{k:02d}" for k in range(len(counts))]
    await stories(client, dict(zip(names, counts, strict=True)))
    for k, (position, windows) in pins.items():
        if k < len(names):
            await pin(client, names[k], clock, position=position, windows=sorted(windows))
    gone = {names[k] for k in excluded if k < len(names)}
    ranked = sorted(
        (s for s, c in zip(names, counts, strict=True) if c),
        key=lambda s: (
            -counts[names.index(s)],
            s,
        ),
    )
    query = f"n={n}&backfill=false" + (f"&exclude={','.join(sorted(gone))}" if gone else "")
    for window in ALL_WINDOWS:
        here = {names[k]: p for k, (p, w) in pins.items() if k < len(names) and window in w}
        expected = reference(ranked, here, gone, n)
        assert await listed(client, f"{query}&window={window}") == expected, window
