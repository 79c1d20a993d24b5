"""The pure core: decay arithmetic, batching and bucket arithmetic, no I/O."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from ranker.core.aggregate import Aggregator, Batch
from ranker.core.decay import decayed, weight
from ranker.core.windows import WINDOWS, bucket_start, window_buckets, window_span

times = st.floats(min_value=1.6e9, max_value=2.0e9, allow_nan=False)
half_lives = st.floats(min_value=1.0, max_value=30 * 86400.0)


@given(t=times, landmark=times, now=times, h=half_lives)
def test_a_view_decays_to_half_per_half_life(
    t: float, landmark: float, now: float, h: float
) -> None:
    if abs(t - landmark) / h > 500 or abs(now - landmark) / h > 500:
        return  # beyond what a landmark is allowed to lag (rebase_after)
    shown = decayed(weight(t, landmark, h), landmark, now, h)
    assert math.isclose(shown, 0.5 ** ((now - t) / h), rel_tol=1e-9)


@given(old=times, delta=st.floats(0, 1e7), h=half_lives, score=st.floats(1e-6, 1e12))
def test_rebase_keeps_the_shown_count(old: float, delta: float, h: float, score: float) -> None:
    if delta / h > 500:
        return
    new = old + delta
    now = new + h
    moved = score * weight(old, new, h)  # what the rebase script multiplies by
    assert math.isclose(decayed(moved, new, now, h), decayed(score, old, now, h), rel_tol=1e-9)


@given(views=st.lists(st.tuples(st.sampled_from("abcde"), st.floats(0, 3600)), max_size=80))
def test_a_batch_counts_every_view_once(views: list[tuple[str, float]]) -> None:
    start = 1.8e9
    batch = Batch("news", 600.0, ref=start)
    for item, offset in views:
        batch.add(item, start + offset)
    assert batch.views == len(views)
    per_item = {row.id: sum(n for _, n in row.minutes) for row in batch.rows()}
    assert per_item == {i: sum(1 for v, _ in views if v == i) for i in {v for v, _ in views}}
    assert batch.keys == len({(i, int((start + o) // 60)) for i, o in views})
    for row in batch.rows():
        expected = sum(weight(start + o, start, 600.0) for i, o in views if i == row.id)
        assert math.isclose(row.weight, expected, rel_tol=1e-9)


def test_a_batch_spanning_thousands_of_half_lives_stays_finite() -> None:
    """A batch held through a long outage must not overflow 2^x."""
    batch = Batch("news", 60.0, ref=1.8e9)
    batch.add("old", 1.8e9)
    batch.add("new", 1.8e9 + 5000 * 60.0)
    weights = {row.id: row.weight for row in batch.rows()}
    assert math.isfinite(weights["new"]) and weights["new"] > weights["old"] >= 0.0
    assert batch.views == 2


def test_the_aggregator_cuts_one_batch_per_site() -> None:
    aggregator = Aggregator({"news": 600.0, "other": 60.0})
    aggregator.add("news", "a", 1.8e9)
    aggregator.add("other", "a", 1.8e9)
    aggregator.add("news", "a", 1.8e9 + 1)
    assert aggregator.pending_views == 3 and aggregator.pending_keys == 2
    news = aggregator.take("news")
    assert news is not None and news.views == 2 and news.half_life == 600.0
    assert aggregator.take("news") is None
    assert aggregator.sites() == ["other"]


@given(now=times, window=st.sampled_from([w for w in WINDOWS if w not in ("hot", "all")]))
def test_window_buckets_are_contiguous_and_end_at_now(now: float, window: str) -> None:
    resolution, starts = window_buckets(window, now)
    size = starts[0] - starts[1]
    assert starts[0] == bucket_start(now, resolution) <= now < starts[0] + size
    assert all(a - b == size for a, b in zip(starts, starts[1:], strict=False))
    assert len(starts) * size == window_span(window)
