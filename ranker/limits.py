"""At most `max_views` counted views of one story from one client address per window, held
in memory that the worker processes of one server share, so N workers do not allow N times
as many.

No Redis round trip per beacon: the counts are a count-min sketch per time slice in an
anonymous shared mapping made by the parent before it forks, and a take costs a few µs.
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
from fcntl import LOCK_EX, LOCK_UN, lockf
from hashlib import blake2b

DEFAULT_MAX_VIEWS = 10
DEFAULT_WINDOW = 1800.0
# 4 Mi cells a row: 3 rows of 8-byte cells (5 generations of one byte each, and the slice
# a cell was written in) is 96 MiB, shared by all workers. What that holds falsely at which
# load is in AddressLimit's docstring.
DEFAULT_WIDTH = 1 << 22
MAX_COUNT = 255  # one byte a counter; update rule keeps every counter <= max_views

# The newest slice number seen, an int64 (native order: it never leaves the host), in a page
# of its own, so that the cells begin on a page boundary (see _zero).
_HEADER = mmap.PAGESIZE
_TAG = 3  # bytes of a cell's slice number
_TAG_MASK = (1 << 8 * _TAG) - 1
_MASK64 = (1 << 64) - 1
_REMOVE: int | None = getattr(mmap, "MADV_REMOVE", None)  # Linux
_EMPTY = -(1 << 63)  # the newest slice before the first take: the counters are all zero
_LENGTHS = struct.Struct(">III")


def limit_key_bytes(site: str, address_key: str, item: str) -> bytes:
    """The key `AddressLimit` counts under: the three parts' lengths, then the parts, so
    ("a", "bc", "d") and ("ab", "c", "d") are different keys."""
    site_bytes = site.encode("utf-8", "surrogatepass")
    address_bytes = address_key.encode("utf-8", "surrogatepass")
    item_bytes = item.encode("utf-8", "surrogatepass")
    lengths = _LENGTHS.pack(len(site_bytes), len(address_bytes), len(item_bytes))
    return lengths + site_bytes + address_bytes + item_bytes  # a third of a join's cost


class AddressLimit:
    """Whether a key (site, client address, story) is still under `max_views` counted views
    within `window` seconds.

    Time is cut into slices of `window / slices` seconds; each slice's views go to its own
    generation of counters, and a count is the sum over the current generation and the
    `slices` before it. A ring of `slices + 1` generations holds exactly those: when the
    clock enters a new slice the generation it reuses is zeroed.

    The bound. No interval of `window` seconds holds more than `max_views` counted views of
    a key. Let slice numbers be s(t) = floor(t / slice). A view counted at t lies in
    generation s(t), which stays in the sum until the clock reaches slice s(t) + slices + 1,
    that is until a time >= (s(t) + slices + 1) * slice > t + window. Suppose views of a key
    counted at t_0 <= ... <= t_max_views all lay within one window: the last one, at
    t_max_views <= t_0 + window, still saw every earlier view in the sum, so its count was
    at least max_views and it was held, not counted. The sum never under-counts a key (see
    below), so collisions can only hold more. Counts outlast the window by up to one slice:
    a view counted at t is remembered until somewhere in [t + window, t + window + slice).

    The clock. Slices are numbered by the latest time any process has passed in: a clock
    that steps back by up to `window` makes nothing forgotten early (its views are counted
    in the latest generation, so they are remembered longer), and the bound above holds
    over the latest time seen. A step back of more than a window is taken as a correction
    of a clock that had run ahead, and memory starts over: otherwise one far-future time
    would freeze every key at its count until the clock caught up with it.

    The layout. A key's counters for all live generations sit side by side in one cell of
    `3 + slices + 1` bytes (8 with the defaults): the number of the slice the cell was last
    written in (24 bits), then one byte per generation, newest first. A take reads one cell
    per row, three cache lines, instead of one byte per row and generation scattered over
    the whole mapping, and nothing is zeroed when the clock moves on: a cell's generations
    older than the window simply stop counting, and shift out when it is next written. (A
    cell last written 2^24 slices ago, 240 years at the default slice, would read as
    current: it only holds more.)

    The sketch. Each generation has `depth` rows of `width` one-byte counters; a key picks
    one counter per row with a keyed blake2b (its key drawn when the limit is made, so
    every forked worker hashes alike and nobody outside can aim collisions at a reader).
    The estimate is the least, over rows, of the row's sum over the live generations. A
    counted view raises only the current generation's counters that equal their least
    ("conservative update"): every counter still stays >= the count of every key on it in
    its generation, so the estimate never falls under the true count, while a key no longer
    adds to rows where others have raised its counter already. A counter is only raised
    from below `max_views`, so one byte holds it.

    What collisions cost is a view held early ("false hold"), and it falls on keys near
    their limit: others raise a key's count only where they share all its rows. With the
    defaults (width 2^22, depth 3, 8-byte cells: 96 MiB) and distinct (address, story)
    pairs arriving steadily, each viewed once, the sketch holds up to `window + slice` =
    2250 s of them, λ = pairs/s x 2250 / width to a counter. Probing keys that view again
    and again, measured on a sketch scaled down to the same λ:

    ============  =====  ===============  =======================  =====================
    pairs / s     λ      1st view held    10th held (9 counted)    views a prober gets
    ============  =====  ===============  =======================  =====================
    1,000         0.54   < 1e-9           4.4 %  (9th: 1.4e-4)     9.96 of 10
    5,000         2.7    < 1e-9           69 %   (8th: 1.3 %)      9.1 of 10
    ============  =====  ===============  =======================  =====================

    A first view is held only if each row carries 10 other views: P[Poisson(λ) >= 10]^3,
    4e-29 and 1e-10. Plain count-min (every row raised) holds the 10th 5.7 % and 75 % of
    the time; width 2^23 (192 MiB) brings it to 0.7 % and 29 %. Keep λ under about 0.5.

    Processes. Make the limit in the parent and call `share_across_fork()` before forking;
    workers use the object they inherit, nothing to attach. From then on every take holds
    a POSIX record lock (`lockf`) on an unlinked temporary file. Such a lock belongs to the
    process, so each forked worker is its own holder through the inherited descriptor, with
    no reopening after the fork (flock's would be shared by the whole fork family), and the
    kernel drops it when the holder dies, even by SIGKILL. Whatever a dying holder left half
    done can only over-count (a cell is written whole, after the check). Within one process
    the lock does not exclude threads: take from one thread (the event loop).
    """

    def __init__(
        self,
        max_views: int = DEFAULT_MAX_VIEWS,
        window: float = DEFAULT_WINDOW,
        *,
        width: int = DEFAULT_WIDTH,
        depth: int = 3,
        slices: int = 4,
    ) -> None:
        if not 1 <= max_views <= MAX_COUNT:
            raise ValueError(f"max_views must be from 1 to {MAX_COUNT}")
        if window <= 0 or width < 1 or slices < 1:
            raise ValueError("window must be positive, width and slices at least 1")
        if not 1 <= depth <= 8:
            raise ValueError("depth must be from 1 to 8")
        self.max_views = max_views
        self.window = window
        self.slice = window / slices
        self.width = width
        self.depth = depth
        self._slices = slices
        self._generations = slices + 1
        self._cell = _TAG + self._generations
        size = _HEADER + depth * width * self._cell
        # Anonymous and MAP_SHARED: forked workers write the very same pages. Pages are
        # only backed once written, so an idle limit costs little.
        self._memory = mmap.mmap(-1, size)
        self._newest = memoryview(self._memory)[:_HEADER].cast("q")
        self._newest[0] = _EMPTY
        self._hasher = blake2b(key=os.urandom(16), digest_size=16)
        self._stamp = b"\0" * _TAG
        self._lock: int | None = None
        self._owner = os.getpid()

    def share_across_fork(self) -> None:
        """Serialise takes between this process and the processes it forks from now on.
        Call it in the parent, before the fork."""
        if os.getpid() != self._owner:
            raise RuntimeError("share_across_fork() belongs in the process that made the limit")
        if self._lock is None:
            descriptor, path = tempfile.mkstemp(prefix="ranker-limit-", suffix=".lock")
            os.unlink(path)  # the descriptor is all anyone needs, and nothing is left behind
            self._lock = descriptor

    def take(self, key: bytes, now: float) -> bool:
        """True, and the view is counted, if `key` has fewer than `max_views` views counted
        within the window; False, and nothing changes, if it has reached them."""
        lock = self._lock
        if lock is not None:
            lockf(lock, LOCK_EX)
        try:
            cells, least, estimate = self._read(key, now)
            if estimate >= self.max_views:
                return False
            # Raise the current generation's counters that are at their least: the cell's
            # newest count, if the cell was written in this slice. Newest first: this
            # slice's count, zeros for slices nobody wrote, then the older generations
            # still in the window.
            memory, live, stamp = self._memory, self._generations, self._stamp
            for offset, cell, age, current in cells:
                if current == least:
                    if age == 0:
                        rest = cell[_TAG + 1 :]
                    else:
                        rest = (bytes(min(age, live) - 1) + cell[_TAG : _TAG + live - 1])[
                            : live - 1
                        ]
                    memory[offset : offset + self._cell] = stamp + bytes((least + 1,)) + rest
            return True
        finally:
            if lock is not None:
                lockf(lock, LOCK_UN)

    def _read(self, key: bytes, now: float) -> tuple[list[tuple[int, bytes, int, int]], int, int]:
        """The key's cells (offset, bytes, age in slices, count this slice), the least count
        this slice over its rows, and the estimate: the least sum over the window."""
        hasher = self._hasher.copy()  # cheaper than keying a new one
        hasher.update(key)
        value = int.from_bytes(hasher.digest(), "little")
        # Row r's counter: (h1 + r * h2) mod width, double hashing as in Kirsch and
        # Mitzenmacher, "Less hashing, same performance" (2006).
        h1, h2 = value & _MASK64, value >> 64 | 1
        tag = self._advance(now) & _TAG_MASK
        self._stamp = tag.to_bytes(_TAG, "little")
        memory, width, size, live = self._memory, self.width, self._cell, self._generations
        cells = []
        least = estimate = MAX_COUNT + 1
        for row in range(self.depth):
            offset = _HEADER + (row * width + (h1 + row * h2) % width) * size
            cell = memory[offset : offset + size]
            age = (tag - (cell[0] | cell[1] << 8 | cell[2] << 16)) & _TAG_MASK
            if age < live:  # the newest `live - age` generations are still in the window
                estimate = min(estimate, sum(cell[_TAG : _TAG + live - age]))
                current = cell[_TAG] if age == 0 else 0
            else:
                estimate = current = 0
            least = min(least, current)
            cells.append((offset, cell, age, current))
        return cells, least, estimate

    def count(self, key: bytes, now: float) -> int:
        """The estimate `take` compares with `max_views`: the views of `key` counted within
        the window, or more if other keys share all its counters."""
        self._acquire()
        try:
            return self._read(key, now)[2]
        finally:
            self._release()

    def close(self) -> None:
        """Unmap this process's view and drop its lock; other processes keep theirs."""
        self._newest.release()
        self._memory.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _advance(self, now: float) -> int:
        """The current slice number: the latest any process has passed in, unless the clock
        went back by more than a window, when memory starts over at `now`."""
        current = int(now // self.slice)
        newest = self._newest[0]
        if newest - self._slices <= current <= newest:
            return newest  # the same slice, or a clock stepped back a little
        self._newest[0] = current
        if newest != _EMPTY and current < newest:
            self._zero()  # far back: a clock that had run ahead was corrected
        return current

    def _zero(self) -> None:
        first = -(-_HEADER // mmap.PAGESIZE) * mmap.PAGESIZE
        last = len(self._memory) // mmap.PAGESIZE * mmap.PAGESIZE
        if not (first < last and self._give_back(first, last)):
            first = last = len(self._memory)
        # The rest by copying zeros: calloc'd bytes, not a Python loop.
        self._memory[_HEADER:first] = bytes(first - _HEADER)
        self._memory[last:] = bytes(len(self._memory) - last)

    def _give_back(self, first: int, last: int) -> bool:
        """Zero whole pages by handing them back to the system; False where it cannot."""
        # They then read as zeros in every process: 3 ms for a full default generation,
        # and one nobody wrote (an idle limit, a clock moved in tests) is not paged in
        # only to be zeroed, as copying zeros over it would.
        if _REMOVE is None:
            return False
        try:
            self._memory.madvise(_REMOVE, first, last - first)
        except OSError:  # a kernel or mapping without hole punching
            return False
        return True

    def _acquire(self) -> None:
        if self._lock is not None:
            lockf(self._lock, LOCK_EX)

    def _release(self) -> None:
        if self._lock is not None:
            lockf(self._lock, LOCK_UN)
