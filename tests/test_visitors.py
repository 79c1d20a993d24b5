"""Visitor keys and the repeat memory, against a plain reference: pure, no server."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranker.core.visitors import Deduper, salt_day, visitor_key

SALT = bytes(range(32))
VISITOR = visitor_key(SALT, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)")
T0 = 1_800_000_000.0  # a multiple of every slice below: slices start on it


class ReferenceDedupe:
    """The last time each (site, visitor, item) was counted. A repeat up to `window` after
    it is a duplicate; one `window + slice` or more after it counts; in between the
    Deduper may answer either way, depending on where the counted view fell in its slice."""

    def __init__(self, window: float, slice_: float) -> None:
        self.window = window
        self.slice = slice_
        self.counted: dict[tuple[str, bytes, str], float] = {}

    def answers(self, key: tuple[str, bytes, str], now: float) -> set[bool]:
        last = self.counted.get(key)
        if last is None or now - last >= self.window + self.slice:
            return {True}
        if now - last <= self.window:
            return {False}
        return {True, False}

    def record(self, key: tuple[str, bytes, str], now: float, counted: bool) -> None:
        if counted:
            self.counted[key] = now


# Times on a half-second grid and windows of whole slices, so boundaries are met exactly.
_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["news", "other"]),
        st.sampled_from([VISITOR, b"\x01" * 16, b"\x02" * 16]),
        st.sampled_from(["a", "b"]),
        st.integers(0, 40).map(lambda half_seconds: half_seconds / 2),
    ),
    max_size=150,
)


@given(
    events=_EVENTS,
    window=st.sampled_from([4.0, 10.0, 60.0]),
    slices=st.sampled_from([1, 2, 4]),
    offset=st.integers(0, 119).map(lambda half_seconds: half_seconds / 2),
)
def test_the_deduper_follows_the_reference(
    events: list[tuple[str, bytes, str, float]], window: float, slices: int, offset: float
) -> None:
    deduper = Deduper(window, max_entries=10_000, slices=slices)
    reference = ReferenceDedupe(window, window / slices)
    now = T0 + offset
    for site, visitor, item, dt in events:
        now += dt
        counted = deduper.first_view(site, visitor, item, now)
        assert counted in reference.answers((site, visitor, item), now)
        reference.record((site, visitor, item), now, counted)


@given(
    events=_EVENTS,
    window=st.sampled_from([4.0, 10.0, 60.0]),
    max_entries=st.integers(1, 6),
)
def test_a_full_memory_forgets_early_but_never_drops_a_view(
    events: list[tuple[str, bytes, str, float]], window: float, max_entries: int
) -> None:
    deduper = Deduper(window, max_entries, slices=4)
    reference = ReferenceDedupe(window, window / 4)
    now = T0
    for site, visitor, item, dt in events:
        now += dt
        counted = deduper.first_view(site, visitor, item, now)
        if not counted:  # a repeat only where the reference allows one
            assert False in reference.answers((site, visitor, item), now)
        reference.record((site, visitor, item), now, counted)
        assert len(deduper) <= max_entries


@given(
    events=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 3).map(float)), min_size=1, max_size=200
    ),
    max_entries=st.integers(1, 12),
)
def test_past_the_cap_only_the_oldest_views_are_forgotten(
    events: list[tuple[int, float]], max_entries: int
) -> None:
    """Within one window (nothing expires) the memory is exactly the last `max_entries`
    views counted: a repeat of any of them is a duplicate, of anything older a view."""
    deduper = Deduper(window=86400.0, max_entries=max_entries, slices=4)
    remembered: list[int] = []  # the reference: counted views, oldest first
    now = T0
    for story, dt in events:
        now += dt
        counted = deduper.first_view("news", VISITOR, f"s{story}", now)
        assert counted == (story not in remembered)
        if counted:
            remembered.append(story)
            del remembered[:-max_entries]
        assert len(deduper) == len(remembered)


def test_a_full_memory_keeps_a_readers_recent_view() -> None:
    """A thousand other visitors past the cap do not make a reader's repeat count again,
    as long as the reader's view is not among the oldest."""
    deduper = Deduper(window=1800.0, max_entries=1000, slices=4)
    for k in range(999):
        assert deduper.first_view("news", bytes([k % 256, k // 256]) * 8, "a", T0 + k * 0.001)
    assert deduper.first_view("news", VISITOR, "a", T0 + 1)
    for k in range(999):  # others arrive: the oldest go, the reader stays
        assert deduper.first_view("news", bytes([k % 256, k // 256, 7]) * 5 + b"x", "b", T0 + 2)
    assert not deduper.first_view("news", VISITOR, "a", T0 + 3)
    tiny = Deduper(1800.0, 10)
    for k in range(11):
        assert tiny.first_view("news", VISITOR, f"s{k}", T0 + k)
    assert len(tiny) == 10
    assert not tiny.first_view("news", VISITOR, "s10", T0 + 12)


@pytest.mark.parametrize("start", [T0, T0 + 7.5, T0 + 14.999])  # where in its slice
def test_the_window_boundary(start: float) -> None:
    deduper = Deduper(window=60.0, max_entries=100, slices=4)  # 15-second slices
    assert deduper.first_view("news", VISITOR, "a", start)
    assert not deduper.first_view("news", VISITOR, "a", start + 1)
    assert not deduper.first_view("news", VISITOR, "a", start + 60 - 1e-3)
    assert not deduper.first_view("news", VISITOR, "a", start + 60)
    assert deduper.first_view("news", VISITOR, "a", start + 60 + 15)


def test_the_slice_decides_between_window_and_window_plus_slice() -> None:
    early = Deduper(window=60.0, max_entries=100, slices=4)
    assert early.first_view("news", VISITOR, "a", T0)  # at the start of its slice
    assert early.first_view("news", VISITOR, "a", T0 + 75)
    late = Deduper(window=60.0, max_entries=100, slices=4)
    assert late.first_view("news", VISITOR, "a", T0 + 14)  # near the end of its slice
    assert not late.first_view("news", VISITOR, "a", T0 + 74.9)
    assert late.first_view("news", VISITOR, "a", T0 + 75)


def test_repeats_do_not_extend_the_window() -> None:
    deduper = Deduper(window=60.0, max_entries=100, slices=4)
    assert deduper.first_view("news", VISITOR, "a", T0)
    for t in range(10, 75, 10):
        assert not deduper.first_view("news", VISITOR, "a", T0 + t)
    assert deduper.first_view("news", VISITOR, "a", T0 + 75)  # one view per window


def test_site_visitor_and_item_each_make_a_view() -> None:
    deduper = Deduper(window=60.0, max_entries=100)
    other_visitor = visitor_key(SALT, "203.0.113.8", "Mozilla/5.0 (X11; Linux x86_64)")
    assert deduper.first_view("news", VISITOR, "a", T0)
    assert deduper.first_view("other", VISITOR, "a", T0)
    assert deduper.first_view("news", other_visitor, "a", T0)
    assert deduper.first_view("news", VISITOR, "b", T0)
    assert not deduper.first_view("news", VISITOR, "a", T0 + 1)
    assert len(deduper) == 4


def test_memory_stays_bounded_and_every_first_view_counts() -> None:
    deduper = Deduper(window=60.0, max_entries=50, slices=4)
    for k in range(1000):
        assert deduper.first_view("news", VISITOR, f"story-{k}", T0 + k * 0.01)
        assert len(deduper) <= 50
    # The earliest were forgotten early, so their repeat counts again: never the reverse.
    assert deduper.first_view("news", VISITOR, "story-0", T0 + 10)
    assert not deduper.first_view("news", VISITOR, "story-999", T0 + 10)


def test_a_clock_stepping_back_keeps_entries() -> None:
    deduper = Deduper(window=60.0, max_entries=100, slices=4)
    assert deduper.first_view("news", VISITOR, "a", T0 + 100)
    assert deduper.first_view("news", VISITOR, "b", T0)  # earlier than the last view
    assert not deduper.first_view("news", VISITOR, "b", T0 + 100 + 60)


@pytest.mark.parametrize(("window", "max_entries", "slices"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_a_deduper_needs_positive_settings(window: float, max_entries: int, slices: int) -> None:
    with pytest.raises(ValueError):
        Deduper(window, max_entries, slices)


# -- visitor keys and salts -----------------------------------------------------------------


def test_a_visitor_key_depends_on_salt_address_and_user_agent() -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64)"
    key = visitor_key(SALT, "203.0.113.7", ua)
    assert len(key) == 16 and key == VISITOR
    assert visitor_key(b"another salt", "203.0.113.7", ua) != key
    assert visitor_key(SALT, "203.0.113.8", ua) != key
    assert visitor_key(SALT, "203.0.113.7", ua + " ") != key
    assert visitor_key(SALT, "a", "bc") != visitor_key(SALT, "ab", "c")


@given(
    salt=st.binary(max_size=64),
    address=st.text(st.characters(exclude_categories=())),
    user_agent=st.text(st.characters(exclude_categories=())),
)
def test_any_address_and_user_agent_make_a_key(salt: bytes, address: str, user_agent: str) -> None:
    key = visitor_key(salt, address, user_agent)
    assert len(key) == 16 and key == visitor_key(salt, address, user_agent)


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (0.0, "1970-01-01"),
        (86399.999, "1970-01-01"),
        (86400.0, "1970-01-02"),
        (1767225599.5, "2025-12-31"),
        (1767225600.0, "2026-01-01"),
    ],
)
def test_salt_day_is_the_utc_date(now: float, day: str) -> None:
    assert salt_day(now) == day


@given(st.floats(0, 4e9))
def test_salt_day_agrees_with_datetime(now: float) -> None:
    # Whole seconds: datetime rounds 23:59:59.9999996 up to the next day.
    assert salt_day(now) == datetime.fromtimestamp(math.floor(now), UTC).strftime("%Y-%m-%d")
