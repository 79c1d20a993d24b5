"""The ranking invariants I1-I4 against the real engine, driven by a fake clock:
the collector's aggregator and flusher write, the query path reads, a reference model judges."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from ranker.core.aggregate import Aggregator, Batch
from ranker.core.config import Settings
from ranker.core.decay import decayed
from ranker.core.validate import catalog_entry
from ranker.core.windows import EXACT_WINDOWS
from ranker.store import keys
from ranker.store.flusher import Flusher
from ranker.store.redis import FLUSH_CHUNK, Store
from tests.model import Reference, assert_same_ranking, ranked
from tests.support import FakeClock

SITE = "news"
SECTIONS = ("politics", "sport", "tech")
ITEMS = [f"story-{i}" for i in range(8)]
PRUNED = 1e-5  # comfortably above the rebase prune threshold (1e-6 views)
# Pruning a member below 1e-6 views and re-adding it later loses that sliver, at most a
# millionth of the re-added views; otherwise scores agree to rounding.
HOT_REL = 2e-6

hyp = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Harness:
    """The write path (aggregator + flusher) and the read path (store.top) on one site."""

    def __init__(
        self,
        redis: Redis,
        base: Settings,
        clock: FakeClock,
        half_life: float,
        rebase_after: float = 24.0,
        shards: int = 1,
        zone: str = "UTC",
    ) -> None:
        site = replace(base.sites[SITE], half_life=half_life, shards=shards, timezone=zone)
        self.settings = replace(base, sites={SITE: site}, rebase_after=rebase_after)
        self.clock = clock
        self.store = Store(redis, self.settings)
        self.aggregator = Aggregator({SITE: half_life})
        self.flusher = Flusher(self.store, self.aggregator, interval=1.0, max_pending=10**9)
        self.reference = Reference(half_life, zone)
        self.half_life = half_life

    def section(self, item: str) -> str:
        return SECTIONS[int(item.rsplit("-", 1)[1]) % len(SECTIONS)]

    async def catalog(self) -> None:
        await self.store.redis.flushall()
        await self.store.put_items(
            SITE,
            [
                (
                    item,
                    catalog_entry(
                        {"title": item, "url": f"/{item}", "section": self.section(item)}
                    ),
                )
                for item in ITEMS
            ],
        )

    def view(self, item: str) -> None:
        self.aggregator.add(SITE, item, self.clock())
        self.reference.view(item, self.clock(), self.section(item))

    async def flush(self) -> None:
        assert await self.flusher.flush()

    async def roll(self) -> int:
        """The upkeep, as a collector runs it: finished minutes rolled into hours and days;
        the minutes rolled. (The lock of the last call is let go first.)"""
        await self.store.redis.delete(*(keys.maintenance_lock(t) for t in self.store.tags(SITE)))
        done, _, _, minutes = await self.store.maintain(SITE, self.clock(), self.half_life, 60)
        assert done
        return minutes

    async def play(self, events: list[tuple[str, int, int]]) -> None:
        """(item, seconds since the last event, then 0: nothing, 1: a flush, 2: a flush and
        the upkeep), then a final flush."""
        for item, gap, step in events:
            self.clock.advance(gap)
            self.view(item)
            if step:
                await self.flush()
            if step == 2:
                await self.roll()
        await self.flush()

    async def hot(self, n: int, section: str | None = None) -> list[tuple[str, float]]:
        now = self.clock()
        landmark, rows = await self.store.top(SITE, section, "hot", n, now, 5000)
        assert landmark is not None or not rows
        return [(r.id, decayed(r.score, landmark or now, now, self.half_life)) for r in rows]

    async def window(
        self, name: str, n: int, section: str | None = None
    ) -> list[tuple[str, float]]:
        _, rows = await self.store.top(SITE, section, name, n, self.clock(), 5000)
        return [(r.id, r.score) for r in rows]


@pytest.fixture(params=[1, 3], ids=["one-shard", "three-shards"])
def shards(request: pytest.FixtureRequest) -> int:
    """Stories in one hash slot, or spread over three whose lists are merged."""
    return int(request.param)


def _visible(ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return [(i, v) for i, v in ranking if v >= PRUNED]


STEPS = st.sampled_from([0, 1, 1, 2])  # after a view: nothing, a flush, a flush and upkeep
events_strategy = st.lists(
    st.tuples(st.sampled_from(ITEMS), st.integers(0, 900), STEPS),
    min_size=1,
    max_size=60,
)


@hyp
@given(
    events=events_strategy, n=st.integers(1, 8), half_life=st.sampled_from([60.0, 900.0, 3600.0])
)
async def test_i1_hot_ranking_equals_reference(
    redis: Redis,
    settings: Settings,
    shards: int,
    events: list[tuple[str, int, int]],
    n: int,
    half_life: float,
) -> None:
    h = Harness(redis, settings, FakeClock(), half_life, shards=shards)
    await h.catalog()
    await h.play(events)
    now = h.clock()
    assert_same_ranking(
        _visible(await h.hot(n)), _visible(ranked(h.reference.hot(now), n)), rel=HOT_REL
    )
    for section in SECTIONS:
        assert_same_ranking(
            _visible(await h.hot(n, section)),
            _visible(ranked(h.reference.hot(now, section), n)),
            rel=HOT_REL,
        )


async def test_i1_ties_are_broken_by_id(redis: Redis, settings: Settings, shards: int) -> None:
    h = Harness(redis, settings, FakeClock(), 3600.0, shards=shards)
    await h.catalog()
    for item in ("story-5", "story-1", "story-3"):
        h.view(item)
    await h.flush()
    assert [i for i, _ in await h.hot(3)] == ["story-1", "story-3", "story-5"]
    assert [i for i, _ in await h.window("1h", 2)] == ["story-1", "story-3"]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=6), st.integers(1, 40)),
        min_size=20,
        max_size=60,
    )
)
async def test_i2_rebases_over_hundreds_of_half_lives(
    redis: Redis, settings: Settings, steps: list[tuple[list[str], int]]
) -> None:
    """Half-life 60 s, landmark moved every 2 half-lives; each step is up to 40
    half-lives, so a run spans hundreds of them and rebases dozens of times."""
    h = Harness(redis, settings, FakeClock(), 60.0, rebase_after=2.0)
    await h.catalog()
    landmarks = set()
    for views, half_lives in steps:
        h.clock.advance(half_lives * 60.0)
        for item in views:
            h.view(item)
        await h.flush()
        landmarks.add(await h.store.landmark(SITE))
        now = h.clock()
        assert_same_ranking(
            _visible(await h.hot(8)), _visible(ranked(h.reference.hot(now), 8)), rel=HOT_REL
        )
        # Scores stay bounded: the landmark is never more than a few half-lives behind.
        raw = await redis.zrange(keys.hot(SITE, "all"), 0, -1, withscores=True)
        assert all(score <= 2.0**4 * len(h.reference.events) for _, score in raw)
    assert len(landmarks) >= len(steps) // 2


async def test_i2_a_rebase_leaves_ranking_and_counts_unchanged(
    redis: Redis, settings: Settings
) -> None:
    h = Harness(redis, settings, FakeClock(), 600.0)
    await h.catalog()
    for k, item in enumerate(ITEMS * 3):
        h.clock.advance(37 * (k % 5))
        h.view(item)
        if k % 4 == 0:
            h.view(ITEMS[k % 3])
    await h.flush()
    h.clock.advance(3 * 600.0)
    before = await h.hot(8)
    old = await h.store.landmark(SITE)
    new = await h.store.rebase(SITE, int(h.clock()), 600.0, 0.0, 1e-6)
    assert new > old
    after = await h.hot(8)
    assert [i for i, _ in after] == [i for i, _ in before]
    for (_, v1), (_, v2) in zip(before, after, strict=True):
        assert abs(v1 - v2) <= 1e-12 * v1


async def test_i2_a_racing_rebase_is_applied_once(redis: Redis, settings: Settings) -> None:
    h = Harness(redis, settings, FakeClock(), 600.0)
    await h.catalog()
    h.view("story-1")
    await h.flush()
    h.clock.advance(6000)
    target = int(h.clock())
    first = await h.store.rebase(SITE, target, 600.0, 3000.0, 1e-6)
    second = await h.store.rebase(SITE, target + 5, 600.0, 3000.0, 1e-6)
    assert first == second == target
    assert abs((await h.hot(1))[0][1] - 2.0**-10) < 1e-15


# Gaps that land near bucket and window edges as well as anywhere in a month.
gaps = st.one_of(
    st.integers(0, 120),
    st.sampled_from(
        [
            59,
            60,
            61,
            3540,
            3599,
            3600,
            3601,
            82800,
            86399,
            86400,
            86401,
            6 * 86400 + 82800,
            7 * 86400,
            29 * 86400 + 3600,
            30 * 86400,
        ]
    ),
    st.integers(0, 4 * 86400),
)


# Time zones whose days are not all 24 hours or do not start on a UTC hour, and starting
# times a little before their next daylight-saving changes (in Redis' future, so the
# buckets' expiry times are too).
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe")
STARTS = (
    None,  # now
    1805227200,  # 2027-03-13 20:00 UTC: New York springs forward the next morning
    1806177600,  # 2027-03-27 20:00 UTC: Berlin springs forward that night
    1806753600,  # 2027-04-03 12:00 UTC: Lord Howe falls back half an hour that night
    1824926400,  # 2027-10-30 20:00 UTC: Berlin falls back that night
)


@hyp
@given(
    events=st.lists(
        # After the views: nothing, a flush, a flush and upkeep, or the batch held back
        # (its flush failed) to be written after later upkeep rolled its minutes.
        st.tuples(st.sampled_from(ITEMS), gaps, st.integers(1, 3), st.sampled_from([0, 1, 2, 3])),
        min_size=1,
        max_size=40,
    ),
    tail=st.one_of(gaps, st.integers(0, 3 * 86400)),
    zone=st.sampled_from(ZONES),
    start=st.sampled_from(STARTS),
    rolled_last=st.booleans(),
)
async def test_i4_windows_equal_reference_at_bucket_granularity(
    redis: Redis,
    settings: Settings,
    shards: int,
    events: list[tuple[str, int, int, int]],
    tail: int,
    zone: str,
    start: int | None,
    rolled_last: bool,
) -> None:
    """Window counts equal the reference's, whether the minutes are rolled into hours and
    days or still to be, whether a batch arrives before or after its minutes were rolled,
    in any time zone, across daylight-saving changes."""
    h = Harness(redis, settings, FakeClock(start), 3600.0, shards=shards, zone=zone)
    await h.catalog()
    late: list[Batch] = []
    for item, gap, repeat, step in events:
        h.clock.advance(gap)
        for _ in range(repeat):
            h.view(item)
        if step == 3 and (batch := h.aggregator.take(SITE)) is not None:
            late.append(batch)
        elif step:
            await h.flush()
        if step == 2:
            await h.roll()
    await h.flush()
    h.clock.advance(tail)
    if rolled_last:
        await h.roll()
    for k, batch in enumerate(late):  # retried at last, after the upkeep moved on
        assert (await h.store.flush(batch, f"late-{k}"))[0]
    now = h.clock()
    for name in (*EXACT_WINDOWS, "all"):
        assert await h.window(name, 8) == ranked(h.reference.window(name, now), 8), name
        for section in SECTIONS:
            assert await h.window(name, 8, section) == ranked(
                h.reference.window(name, now, section), 8
            ), (name, section)


@pytest.mark.parametrize(
    ("window", "size", "buckets"),
    [("1h", 60, 60), ("24h", 3600, 24), ("7d", 3600, 168), ("30d", 86400, 30)],
)
async def test_i4_window_edges(
    redis: Redis, settings: Settings, window: str, size: int, buckets: int
) -> None:
    """A view stays in its window while its bucket is one of the newest `buckets`."""
    clock = FakeClock()
    clock.now = clock.now // size * size + size - 1  # the last second of a bucket
    h = Harness(redis, settings, clock, 3600.0)
    await h.catalog()
    h.view("story-1")
    await h.flush()
    h.clock.advance(1 + (buckets - 2) * size)  # the newest bucket is now its last one
    assert await h.window(window, 3) == [("story-1", 1.0)]
    h.clock.advance(size - 1)
    assert await h.window(window, 3) == [("story-1", 1.0)]
    h.clock.advance(1)
    assert await h.window(window, 3) == []
    assert await h.window("all", 3) == [("story-1", 1.0)]


async def views(redis: Redis, key: str) -> float:
    return sum(s for _, s in await redis.zrange(key, 0, -1, withscores=True))


async def test_i3_buckets_and_totals_conserve_every_view(
    redis: Redis, settings: Settings, shards: int
) -> None:
    h = Harness(redis, settings, FakeClock(), 3600.0, shards=shards)
    await h.catalog()
    accepted = 0
    for k in range(500):
        h.clock.advance((k * 7919) % 1300)
        h.view(ITEMS[k % 5])
        accepted += 1
        if k % 37 == 0:
            await h.flush()
    await h.flush()
    tags = h.store.tags(SITE)
    assert len(tags) == shards

    async def minutes_not_rolled() -> float:
        minutes = [(t, int(m)) for t in tags for m in await redis.zrange(keys.unrolled(t), 0, -1)]
        return sum([await views(redis, keys.bucket(t, "all", "minute", m)) for t, m in minutes])

    async def in_buckets(resolution: str) -> float:
        found = [await redis.keys(f"rk:{{{tag}}}:b:all:{resolution}:*") for tag in tags]
        return sum([await views(redis, key) for names in found for key in names])

    # Hours and days hold every view but those of the minutes not rolled yet; rolled
    # minute by minute, or all at once, they hold them all.
    for roll_up in (False, True, True):
        assert await in_buckets("minute") == accepted
        pending = await minutes_not_rolled()
        assert pending > 0 or roll_up
        for resolution in ("hour", "day"):
            assert await in_buckets(resolution) + pending == accepted, resolution
        assert sum([await views(redis, keys.total(tag, "all")) for tag in tags]) == accepted
        per_section = [sum(v for _, v in await h.window("all", 99, s)) for s in SECTIONS]
        assert sum(per_section) == accepted
        if roll_up:
            h.clock.advance(3600)
            assert await h.roll() > 0 or pending == 0
    # Each story's counts live in its own shard only.
    for tag in tags:
        for item, _ in await redis.zrange(keys.total(tag, "all"), 0, -1, withscores=True):
            assert h.store.tags(SITE)[keys.shard_of(item, shards)] == tag


async def test_i3_a_retried_batch_is_counted_once(
    redis: Redis, settings: Settings, shards: int
) -> None:
    """A flush whose reply was lost is resent under the same id and must not count twice."""
    h = Harness(redis, settings, FakeClock(), 3600.0, shards=shards)
    await h.catalog()
    h.view("story-2")
    h.view("story-2")
    h.view("story-1")  # on another shard when there are three
    batch = h.aggregator.take(SITE)
    assert batch is not None
    assert (await h.store.flush(batch, "batch-1"))[0] is True
    assert (await h.store.flush(batch, "batch-1"))[0] is False
    assert await h.store.total(SITE, "story-2") == 2
    assert await h.store.total(SITE, "story-1") == 1


async def test_a_site_idle_for_thousands_of_half_lives_ranks_correctly(
    redis: Redis, settings: Settings
) -> None:
    """The landmark may lag far behind after idleness; the next flush must not overflow."""
    h = Harness(redis, settings, FakeClock(), 60.0)
    await h.catalog()
    h.view("story-1")
    h.view("story-1")
    await h.flush()
    h.clock.advance(10_000 * 60.0)
    h.view("story-2")
    await h.flush()
    assert await h.hot(3) == [("story-2", 1.0)]  # story-1 decayed to nothing and was pruned
    assert await h.store.landmark(SITE) == h.clock()


async def test_a_large_batch_goes_in_chunks_each_applied_once(
    redis: Redis, settings: Settings
) -> None:
    """A batch wider than one script is split; a retry after a partial failure (here:
    chunk 1 already marked applied) writes only the chunks that were not."""
    h = Harness(redis, settings, FakeClock(), 3600.0)
    ids = [f"wide-{k:04d}" for k in range(2 * FLUSH_CHUNK + 50)]
    await h.store.put_items(SITE, [(i, catalog_entry({"title": i, "url": f"/{i}"})) for i in ids])
    for item_id in ids:
        h.aggregator.add(SITE, item_id, h.clock())
    batch = h.aggregator.take(SITE)
    assert batch is not None
    await redis.hset(keys.flushed(SITE, "wide"), "1", "1")
    assert (await h.store.flush(batch, "wide"))[0] is True
    totals = dict(await redis.zrange(keys.total(SITE, "all"), 0, -1, withscores=True))
    in_chunk_1 = set(sorted(ids)[FLUSH_CHUNK : 2 * FLUSH_CHUNK])
    assert set(totals) == set(ids) - in_chunk_1
    assert all(v == 1 for v in totals.values())
    assert (await h.store.flush(batch, "wide"))[0] is False
    assert dict(await redis.zrange(keys.total(SITE, "all"), 0, -1, withscores=True)) == totals


async def test_i1_equal_decayed_counts_added_up_differently_still_tie_by_id(
    redis: Redis, settings: Settings, shards: int
) -> None:
    """Stories viewed at the same moments but written in batches with other reference
    times get equal decayed counts that differ in their last bits: they still rank by id."""
    h = Harness(redis, settings, FakeClock(), 3600.0, shards=shards)
    ids = [f"tie-{k:03d}" for k in range(40)]
    early = [f"early-{k:02d}" for k in range(36)]  # one view each, to set reference times
    entries = [(i, catalog_entry({"title": i, "url": f"/{i}"})) for i in [*ids, *early]]
    await h.store.put_items(SITE, entries)
    rng = random.Random(3)
    for trial in range(6):
        t = h.clock() + trial * 111.1
        order = ids[:]
        rng.shuffle(order)
        for start in range(0, len(order), 7):
            # A view a little earlier sets the batch's reference time.
            h.aggregator.add(SITE, early.pop(), t - rng.random() * 50)
            for item in order[start : start + 7]:
                h.aggregator.add(SITE, item, t)
            await h.flush()
    h.clock.advance(1000)
    assert [i for i, _ in await h.hot(40)] == ids
    assert [i for i, _ in await h.hot(5)] == ids[:5]


async def test_i3_a_batch_retried_for_longer_than_its_marker_lives_is_still_counted_once(
    redis: Redis, settings: Settings
) -> None:
    """Every attempt renews the batch's marker, so a batch retried for hours (some chunk
    failing) is never applied twice."""
    h = Harness(redis, settings, FakeClock(), 3600.0)
    await h.catalog()
    h.view("story-2")
    batch = h.aggregator.take(SITE)
    assert batch is not None
    assert (await h.store.flush(batch, "long"))[0] is True
    await redis.pexpire(keys.flushed(SITE, "long"), 50)  # nearly gone
    assert (await h.store.flush(batch, "long"))[0] is False
    assert await redis.ttl(keys.flushed(SITE, "long")) > 3600  # renewed by the attempt
    assert await h.store.total(SITE, "story-2") == 1
