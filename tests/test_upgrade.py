"""Upgrades keep data: what release 1 wrote (storage layout 1, tests/data/layout1.json) reads
the same in this release, before and after `Store.migrate`, and keeps counting after it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from ranker.core.aggregate import Aggregator
from ranker.core.config import Settings, Site
from ranker.store import keys
from ranker.store.redis import Store
from tests.data.layout1 import load_layout1

WINDOWS = ("hot", "1h", "24h", "7d", "30d", "all")


@pytest.fixture
async def layout1(redis: Redis, settings: Settings) -> tuple[dict[str, Any], Store]:
    """The fixture's data in the engine, and a store of this release over it, with the
    sites and settings release 1 ran with."""
    await redis.flushall()
    doc = await load_layout1(redis)
    sites = {
        name: Site(name, half_life=s["half_life"], token=f"{name}-" + "t" * 30, shards=s["shards"])
        for name, s in doc["sites"].items()
    }
    fixed = doc["settings"]
    ours = replace(
        settings,
        sites=sites,
        window_cache=0.0,
        minute_retention=fixed["minute_retention"],
        hour_retention=fixed["hour_retention"],
        day_retention=fixed["day_retention"],
        rebase_after=fixed["rebase_after"],
        hot_max=fixed["hot_max"],
    )
    return doc, Store(redis, ours)


async def answers(store: Store, site: str, expected: dict[str, Any], now: float) -> dict[str, Any]:
    """What this release answers to every question the fixture recorded release 1's answer to."""
    got: dict[str, Any] = {"top": {}, "series": {}}
    for scope in expected["top"]:
        section = None if scope == "all" else scope
        got["top"][scope] = {}
        for window in WINDOWS:
            _, rows = await store.top(site, section, window, 50, now, 10_000)
            got["top"][scope][window] = [[r.id, r.score] for r in rows]
    for resolution, series in expected["series"].items():
        ids = list(series["views"])
        got["series"][resolution] = {
            "starts": series["starts"],
            "views": await store.series(site, ids, resolution, series["starts"]),
        }
    got["totals"] = {i: await store.total(site, i) for i in expected["totals"]}
    days = expected["beacons"]["days"]
    got["beacons"] = {"days": days, "tallies": await store.beacons(site, days)}
    held = expected["held"]
    got["held"] = {
        "reasons": held["reasons"],
        "views": await store.held(site, list(held["views"]), held["reasons"]),
    }
    got["landmark"] = await store.landmark(site)
    return got


def same(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in ("series", "totals", "beacons", "held", "landmark"):
        assert got[key] == expected[key], key
    for scope, windows in expected["top"].items():
        for window, rows in windows.items():
            ours = got["top"][scope][window]
            assert [i for i, _ in ours] == [i for i, _ in rows], (scope, window)
            for (_, g), (_, e) in zip(ours, rows, strict=True):
                assert g == pytest.approx(e, rel=1e-12), (scope, window)


async def test_layout_1_reads_the_same_before_and_after_the_migration(
    layout1: tuple[dict[str, Any], Store], redis: Redis
) -> None:
    doc, store = layout1
    now = doc["now"]
    for site, expected in doc["expected"].items():
        # Before: the site-wide lists already read the old data as it was.
        before = await answers(store, site, expected, now)
        assert before["top"]["all"] == expected["top"]["all"]
        assert before["series"] == expected["series"]
    old_copies = [k for k in await redis.keys("rk:*") if ":b:all:" not in k and ":b:" in k]
    assert old_copies  # layout 1 wrote buckets per section

    for site, expected in doc["expected"].items():
        done = await store.migrate(site, now)
        assert done["shards"] == len(store.tags(site)) and done["removed"] > 0
        same(await answers(store, site, expected, now), expected)
        # Done once: the second run finds every shard migrated.
        assert await store.migrate(site, now + 1) == {"shards": 0, "members": 0, "removed": 0}
        for tag in store.tags(site):
            assert await redis.hget(keys.meta(tag), "layout") == str(keys.LAYOUT)
            for section in expected["sections"]:
                assert not await redis.exists(keys.hot(tag, section), keys.total(tag, section))
    assert not [k for k in await redis.keys("rk:*") if ":b:" in k and ":b:all:" not in k]
    # The catalog's publish times are indexed too: lists of recent stories read old data.
    week = 7 * 86400
    for site, expected in doc["expected"].items():
        published = {
            name.rsplit(":", 1)[1]: key["value"].get("published_at", "")
            for name, key in doc["keys"].items()
            if ":item:" in name and name.startswith(f"rk:{{{site}")
        }
        cutoff = datetime.fromtimestamp(now - week, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        recent = [
            [i, v] for i, v in expected["top"]["all"]["all"] if published.get(i, "") >= cutoff
        ]
        _, rows = await store.top(site, None, "all", 50, now, 10_000, max_age=week)
        assert [[r.id, r.score] for r in rows] == recent[:50] and recent


async def test_a_migration_cut_short_is_finished_by_the_next(
    layout1: tuple[dict[str, Any], Store], redis: Redis
) -> None:
    """Every step can be done again: a shard whose migration stopped before it was marked
    done (here: its section members half written) is migrated again, to the same result."""
    doc, store = layout1
    now, expected = doc["now"], doc["expected"]["news"]
    await store.migrate("news", now)
    await redis.hdel(keys.meta("news"), "layout")
    for section in expected["sections"]:
        await redis.spop(keys.section("news", section), 3)
    assert (await store.migrate("news", now))["shards"] == 1
    same(await answers(store, "news", expected, now), expected)


async def test_after_the_migration_new_views_add_to_the_old_counts(
    layout1: tuple[dict[str, Any], Store], redis: Redis
) -> None:
    doc, store = layout1
    now = doc["now"]
    expected = doc["expected"]["news"]
    await store.migrate("news", now)
    story = expected["top"]["world"]["all"][0][0]

    async def counts(at: float) -> dict[str, float]:
        out = {}
        for window in WINDOWS[1:]:
            _, rows = await store.top("news", "world", window, 50, at, 10_000)
            out[window] = {r.id: r.score for r in rows}.get(story, 0.0)
        return out

    later = now + 200
    before = await counts(later)
    assert before["all"] == dict(expected["top"]["world"]["all"])[story]
    aggregator = Aggregator({"news": 21600.0})
    for k in range(7):
        aggregator.add("news", story, now + 30 + 20 * k)  # this minute and the next two
    batch = aggregator.take("news")
    assert batch is not None
    assert (await store.flush(batch, "after-upgrade"))[0]
    assert await counts(later) == {w: v + 7 for w, v in before.items()}
    await redis.delete(keys.maintenance_lock("news"))
    assert (await store.maintain("news", later, 21600.0, 60.0))[3] > 0  # minutes rolled
    assert await counts(later) == {w: v + 7 for w, v in before.items()}
