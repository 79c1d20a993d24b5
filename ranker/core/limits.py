"""At most `max_views` counted views of one story from one client address per window, held
in memory that the worker processes of one server share, so N workers do not allow N times
as many.

No Redis round trip per beacon: the counts are a count-min sketch per time slice in an
anonymous shared mapping made by the parent before it forks, and a take costs a few µs.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from fcntl import LOCK_EX, LOCK_UN, lockf
from hashlib import blake2b

DEFAULT_MAX_VIEWS = 10
DEFAULT_WINDOW = 1800.0
# 4 Mi cells a row: 2 rows of 8-byte cells (5 generations of one byte each, and the slice
# a cell was written in) is 64 MiB, shared by all workers. What that holds falsely at which
# load is in AddressLimit's docstring.
DEFAULT_WIDTH = 1 << 22
DEFAULT_DEPTH = 2
MAX_COUNT = 255  # one byte a counter; update rule keeps every counter <= max_views

# The newest slice number seen, an int64 (native order: it never leaves the host), in a page
# of its own, so that the cells begin on a page boundary (see _zero).
_HEADER = mmap.PAGESIZE
_TAG_BITS = 24  # a cell's slice number, in the low bits of its 64-bit word
_TAG_MASK = (1 << _TAG_BITS) - 1
_MASK64 = (1 << 64) - 1
_REMOVE: int | None = getattr(mmap, "MADV_REMOVE", None)  # Linux
_EMPTY = -(1 << 63)  # the newest slice before the first take: the counters are all zero


def limit_key_bytes(site: str, address_key: str, item: str) -> bytes:
    """The key `AddressLimit` counts under. The parts are joined by NUL, which none of them
    holds (site names and ids are validated, addresses normalised), so ("a", "bc", "d") and
    ("ab", "c", "d") are different keys."""
    return f"{site}\0{address_key}\0{item}".encode("utf-8", "surrogatepass")


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
    per row, two cache lines, instead of one byte per row and generation scattered over
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
    defaults (width 2^22, depth 2, 8-byte cells: 64 MiB) and distinct (address, story)
    pairs arriving steadily, each viewed once, the sketch holds up to `window + slice` =
    2250 s of them, λ = pairs/s x 2250 / width to a counter. Probing keys that view again
    and again, measured on a sketch scaled down to the same λ (width 2^14):

    ============  =====  ===============  =======================  =====================
    pairs / s     λ      1st view held    10th held (9 counted)    views a prober gets
    ============  =====  ===============  =======================  =====================
    1,000         0.54   < 1e-9           2 to 4 %                 9.98 of 10
    5,000         2.7    1e-7             55 %                     9.25 of 10
    ============  =====  ===============  =======================  =====================

    A first view is held only if each row carries 10 other views: P[Poisson(λ) >= 10]^2.
    A third row holds the 10th view at 5,000 pairs/s 38 % of the time instead of 55 %, and
    costs a third more memory and time a beacon: not worth it for views 9 and 10 of one
    reader. Past ~1,000 new pairs a second, widen the sketch; keep λ under about 0.5.

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
        depth: int = DEFAULT_DEPTH,
        slices: int = 4,
    ) -> None:
        if not 1 <= max_views <= MAX_COUNT:
            raise ValueError(f"max_views must be from 1 to {MAX_COUNT}")
        if window <= 0 or width < 1 or not 1 <= slices <= 4:
            # 24 bits of slice number and a byte for each of up to 5 generations: 64 bits.
            raise ValueError("window must be positive, width at least 1, slices 1 to 4")
        if not 1 <= depth <= 8:
            raise ValueError("depth must be from 1 to 8")
        self.max_views = max_views
        self.window = window
        self.slice = window / slices
        self.width = width
        self.depth = depth
        self._slices = slices
        self._generations = slices + 1
        self._counts_mask = (1 << 8 * self._generations) - 1
        size = _HEADER + depth * width * 8
        # Anonymous and MAP_SHARED: forked workers write the very same pages. Pages are
        # only backed once written, so an idle limit costs little.
        self._memory = mmap.mmap(-1, size)
        self._newest = memoryview(self._memory)[:_HEADER].cast("q")
        self._newest[0] = _EMPTY
        # One 64-bit word a cell, row after row (native order: it never leaves the host).
        self._cells = memoryview(self._memory)[_HEADER:].cast("Q")
        self._hasher = blake2b(key=os.urandom(16), digest_size=16)
        self._rows = range(depth)
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
            tag, indexes, words, ages, current, estimate = self._read(key, now)
            if estimate >= self.max_views:
                return False
            # Raise the current generation's counters that are at their least. A cell
            # written in an earlier slice first shifts its generations along (the newest
            # byte is this slice's), dropping those past the window.
            least = min(current)
            cells, live, mask = self._cells, self._generations, self._counts_mask
            for index, word, age, value in zip(indexes, words, ages, current, strict=True):
                if value == least:
                    counts = word >> _TAG_BITS
                    if age:
                        counts = counts << 8 * min(age, live) & mask
                    else:
                        counts &= ~0xFF
                    cells[index] = tag | (counts | least + 1) << _TAG_BITS
            return True
        finally:
            if lock is not None:
                lockf(lock, LOCK_UN)

    def _read(
        self, key: bytes, now: float
    ) -> tuple[int, list[int], list[int], list[int], list[int], int]:
        """This slice's tag; the key's cells (where, their words, their ages in slices, their
        counts this slice); and the estimate, the least sum over the window."""
        hasher = self._hasher.copy()  # cheaper than keying a new one
        hasher.update(key)
        value = int.from_bytes(hasher.digest(), "little")
        # Row r's counter: (h1 + r * h2) mod width, double hashing as in Kirsch and
        # Mitzenmacher, "Less hashing, same performance" (2006).
        h1, h2 = value & _MASK64, value >> 64 | 1
        tag = self._advance(now) & _TAG_MASK
        cells, width, live = self._cells, self.width, self._generations
        indexes, words, ages, current = [], [], [], []
        estimate = MAX_COUNT * live
        for row in self._rows:
            index = row * width + (h1 + row * h2) % width
            word = cells[index]
            age = (tag - (word & _TAG_MASK)) & _TAG_MASK
            if age < live:  # its newest `live - age` generations are still in the window
                counts = word >> _TAG_BITS
                estimate = min(estimate, sum(counts.to_bytes(8, "little")[: live - age]))
                current.append(counts & 0xFF if age == 0 else 0)
            else:
                estimate = 0
                current.append(0)
            indexes.append(index)
            words.append(word)
            ages.append(age)
        return tag, indexes, words, ages, current, estimate

    def count(self, key: bytes, now: float) -> int:
        """The estimate `take` compares with `max_views`: the views of `key` counted within
        the window, or more if other keys share all its counters."""
        self._acquire()
        try:
            return self._read(key, now)[5]
        finally:
            self._release()

    def close(self) -> None:
        """Unmap this process's view and drop its lock; other processes keep theirs."""
        self._newest.release()
        self._cells.release()
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
