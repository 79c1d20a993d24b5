"""The shared per-address view limit: against an exact reference, the window bound even when
every key collides, a clock that steps back, and processes that share one limit."""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranker.core.limits import AddressLimit, limit_key_bytes

T0 = 1_800_000_000.0  # a multiple of every slice below: slices start on it
KEY = limit_key_bytes("news", "203.0.113.7", "story-1")
FORK = multiprocessing.get_context("fork")


class ReferenceLimit:
    """Exact counts, no sketch: per key, the slice number each counted view went to. Slices
    are numbered by the latest time seen; a step back of more than a window starts over."""

    def __init__(self, max_views: int, window: float, slices: int) -> None:
        self.max_views = max_views
        self.slice = window / slices
        self.slices = slices
        self.newest: int | None = None
        self.views: dict[bytes, list[int]] = {}

    def _current(self, now: float) -> int:
        current = int(now // self.slice)
        if self.newest is None or current > self.newest:
            self.newest = current
        elif current < self.newest - self.slices:
            self.newest = current
            self.views.clear()
        return self.newest

    def count(self, key: bytes, now: float) -> int:
        current = self._current(now)
        return sum(1 for number in self.views.get(key, []) if number >= current - self.slices)

    def take(self, key: bytes, now: float) -> bool:
        if self.count(key, now) >= self.max_views:
            return False
        assert self.newest is not None
        self.views.setdefault(key, []).append(self.newest)
        return True


@pytest.fixture
def limit() -> Iterator[AddressLimit]:
    made = AddressLimit(2, 60.0, width=1024)  # slices of 15 s
    yield made
    made.close()


_KEYS = [limit_key_bytes("news", address, item) for address in ("a", "b") for item in "xy"]


@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(_KEYS),
            # Quarter seconds, mostly forward; back by up to 10 s, which is more than the
            # shorter windows: those start over.
            st.integers(-40, 200).map(lambda quarters: quarters / 4),
        ),
        max_size=120,
    ),
    max_views=st.integers(1, 4),
    window=st.sampled_from([4.0, 10.0, 60.0]),
    slices=st.sampled_from([1, 2, 4]),
)
def test_the_limit_follows_the_reference(
    events: list[tuple[bytes, float]], max_views: int, window: float, slices: int
) -> None:
    # Four keys over 4096 counters a row: all three rows shared has odds of about 1e-10.
    limit = AddressLimit(max_views, window, width=4096, slices=slices)
    reference = ReferenceLimit(max_views, window, slices)
    now = T0
    try:
        for key, step in events:
            now += step
            assert limit.count(key, now) == reference.count(key, now)
            assert limit.take(key, now) == reference.take(key, now)
    finally:
        limit.close()


@settings(max_examples=300)  # the property everything else rests on, and cheap to ask
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, 30).map(lambda n: limit_key_bytes("news", str(n % 7), str(n))),
            st.integers(0, 40).map(lambda quarters: quarters / 4),  # forward
            st.floats(0.0, 1.0),  # back from the latest time, as a share of the window
        ),
        max_size=200,
    ),
    max_views=st.integers(1, 4),
    window=st.sampled_from([4.0, 10.0, 60.0]),
    slices=st.sampled_from([1, 2, 4]),
    width=st.integers(1, 8),
    depth=st.integers(1, 3),
)
def test_no_window_holds_more_than_max_views_even_when_keys_collide(
    events: list[tuple[bytes, float, float]],
    max_views: int,
    window: float,
    slices: int,
    width: int,
    depth: int,
) -> None:
    limit = AddressLimit(max_views, window, width=width, depth=depth, slices=slices)
    # Never more than a window behind the latest time passed in, so nothing starts over;
    # the bound holds over that latest time (on a steady clock, the time itself).
    ahead, seen = T0, -math.inf
    counted: dict[bytes, list[float]] = {}
    try:
        for key, forward, back in events:
            ahead += forward
            now = ahead - round(back * window * 4) / 4  # on the quarter-second grid
            seen = max(seen, now)
            if limit.take(key, now):
                counted.setdefault(key, []).append(seen)
    finally:
        limit.close()
    for times in counted.values():
        for first, last in zip(times, times[max_views:], strict=False):
            assert last - first > window


def test_a_view_is_remembered_from_one_window_to_one_window_and_a_slice(
    limit: AddressLimit,
) -> None:
    assert limit.take(KEY, T0 + 1.0)
    assert limit.take(KEY, T0 + 14.0)
    assert not limit.take(KEY, T0 + 1.0 + 60.0)  # a window after the first: still held
    assert not limit.take(KEY, T0 + 74.9)
    assert limit.count(KEY, T0 + 74.9) == 2
    # Slice 0 leaves the sum when slice 5 begins: window + slice after its start.
    assert limit.count(KEY, T0 + 75.0) == 0
    assert limit.take(KEY, T0 + 75.0)
    assert limit.count(limit_key_bytes("news", "203.0.113.7", "story-2"), T0 + 75.0) == 0


def test_a_clock_stepping_back_forgets_nothing_early(limit: AddressLimit) -> None:
    assert limit.take(KEY, T0 + 100.0)
    # Back by a whole window: the view still counts, and one taken now is remembered as of
    # the latest time seen, not the earlier one.
    assert limit.count(KEY, T0 + 40.0) == 1
    assert limit.take(KEY, T0 + 40.0)
    assert not limit.take(KEY, T0 + 100.0)
    assert limit.count(KEY, T0 + 104.0) == 2  # after T0 + 40 + window
    assert limit.count(KEY, T0 + 164.0) == 2  # a window after the latest time
    assert limit.count(KEY, T0 + 180.0) == 0


def test_a_clock_far_behind_starts_over(limit: AddressLimit) -> None:
    # A time more than a window behind the latest is taken as a clock that ran ahead being
    # corrected; the alternative is every key frozen at its count until the clock catches
    # up with that time.
    assert limit.take(KEY, T0 + 3600.0)
    assert limit.take(KEY, T0 + 3600.0)
    assert not limit.take(KEY, T0 + 3600.0)
    assert limit.count(KEY, T0 + 100.0) == 0
    assert limit.take(KEY, T0 + 100.0)


def test_collisions_only_hold_more() -> None:
    limit = AddressLimit(3, 60.0, width=1)  # every key on the same counters
    try:
        assert [limit.take(limit_key_bytes("news", "a", str(n)), T0) for n in range(5)] == [
            True,
            True,
            True,
            False,
            False,
        ]
    finally:
        limit.close()


def test_key_parts_cannot_run_into_each_other() -> None:
    assert limit_key_bytes("a", "bc", "d") != limit_key_bytes("ab", "c", "d")
    assert limit_key_bytes("a", "b", "cd") != limit_key_bytes("a", "bc", "d")
    assert limit_key_bytes("news", "203.0.113.7", "x") == limit_key_bytes(
        "news", "203.0.113.7", "x"
    )


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_views": 0},
        {"max_views": 256},
        {"window": 0.0},
        {"width": 0},
        {"depth": 0},
        {"depth": 9},
        {"slices": 0},
    ],
)
def test_bad_settings_are_refused(arguments: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"max_views": 10, "window": 60.0, "width": 64} | arguments
    with pytest.raises(ValueError):
        AddressLimit(**settings)


# -- processes sharing one limit --------------------------------------------------------


def _join_all(processes: Sequence[multiprocessing.process.BaseProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()


def test_workers_hammering_the_same_keys_are_granted_exactly_max_views() -> None:
    # 25 keys, 320 takes of each, 250 of them granted: grants, and so races between the
    # check and the increment, go on through most of the run, not just its first moments.
    limit = AddressLimit(250, 60.0, width=1 << 16)
    limit.share_across_fork()
    keys = [limit_key_bytes("news", "203.0.113.7", f"story-{n}") for n in range(25)]
    start = FORK.Event()
    granted = FORK.Queue()

    def hammer() -> None:
        start.wait()
        mine = [0] * len(keys)
        for n in range(2_000):
            index = n % len(keys)
            mine[index] += limit.take(keys[index], T0 + n * 0.001)
        granted.put(mine)

    workers = [FORK.Process(target=hammer) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        start.set()
        results = [granted.get(timeout=10) for _ in workers]
    finally:
        _join_all(workers, timeout=5)
    assert [sum(column) for column in zip(*results, strict=True)] == [250] * len(keys)
    assert all(worker.exitcode == 0 for worker in workers)
    # The parent sees what the workers counted: the memory is one.
    assert [limit.count(key, T0 + 2.0) for key in keys] == [250] * len(keys)
    limit.close()


def test_a_worker_killed_holding_the_lock_does_not_wedge_the_others() -> None:
    limit = AddressLimit(5, 60.0, width=1 << 12)
    limit.share_across_fork()
    holding = FORK.Event()
    waiting = FORK.Event()
    granted = FORK.Queue()

    def die_holding_the_lock() -> None:
        limit._acquire()  # the test hook: what take() does before it reads
        holding.set()
        waiting.wait(5)
        time.sleep(0.1)  # let the other block on the lock
        os.kill(os.getpid(), signal.SIGKILL)

    def take_after() -> None:
        holding.wait(5)
        waiting.set()
        granted.put(sum(limit.take(KEY, T0) for _ in range(10)))

    holder = FORK.Process(target=die_holding_the_lock)
    other = FORK.Process(target=take_after)
    try:
        holder.start()
        other.start()
        holder.join(5)
        assert holder.exitcode == -signal.SIGKILL
        assert granted.get(timeout=1.0) == 5  # the kernel dropped the dead holder's lock
    finally:
        _join_all([holder, other], timeout=1)
    assert limit.take(KEY, T0) is False  # and the parent gets it too
    limit.close()


def test_sharing_is_set_up_by_the_process_that_made_the_limit(limit: AddressLimit) -> None:
    failed = FORK.Queue()

    def child() -> None:
        try:
            limit.share_across_fork()
        except RuntimeError:
            failed.put(True)
        else:
            failed.put(False)

    process = FORK.Process(target=child)
    try:
        process.start()
        assert failed.get(timeout=5)
    finally:
        _join_all([process], timeout=5)


def test_what_one_process_writes_and_forgets_the_others_see() -> None:
    # A cell's old generations age out in every process alike, and a new slice written by
    # one process is read by the others.
    limit = AddressLimit(2, 60.0, width=4096)
    limit.share_across_fork()
    assert limit.take(KEY, T0) and limit.take(KEY, T0 + 20.0)
    counted = FORK.Queue()

    def later() -> None:
        counted.put((limit.count(KEY, T0 + 80.0), limit.take(KEY, T0 + 200.0)))

    process = FORK.Process(target=later)
    try:
        process.start()
        assert counted.get(timeout=5) == (1, True)  # one slice left, then all of them
    finally:
        _join_all([process], timeout=5)
    assert limit.count(KEY, T0 + 200.0) == 1
    assert limit.take(KEY, T0 + 200.0)
    assert not limit.take(KEY, T0 + 200.0)
    limit.close()


def test_a_clock_far_behind_starts_over_in_every_process() -> None:
    limit = AddressLimit(2, 60.0, width=4096)
    limit.share_across_fork()
    assert limit.take(KEY, T0 + 3600.0) and limit.take(KEY, T0 + 3600.0)
    counted = FORK.Queue()

    def corrected() -> None:
        counted.put(limit.count(KEY, T0))  # an hour back: memory starts over

    process = FORK.Process(target=corrected)
    try:
        process.start()
        assert counted.get(timeout=5) == 0
    finally:
        _join_all([process], timeout=5)
    assert limit.count(KEY, T0) == 0
    limit.close()
