"""One reader, one view: anonymous visitor keys and the in-process memory of recent views.

No cookie and nothing personal is kept: a visitor is a keyed hash of address and user
agent under the day's salt, and forgetting the salt makes old keys unlinkable.
"""

from __future__ import annotations

import time
from collections import deque
from hashlib import blake2b

SALT_BYTES = 32  # random bytes in a day's salt; blake2b takes keys of up to 64
_KEY_MASK = (1 << 60) - 1


def salt_day(now: float) -> str:
    """The UTC day ("YYYY-MM-DD") whose salt hashes visitors at `now`."""
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def visitor_key(salt: bytes, address: str, user_agent: str) -> bytes:
    """16 bytes naming one reader for the salt's day: the same address and user agent give
    the same key; without the salt nobody can tell which address it was."""
    digest = blake2b(key=salt, digest_size=16)
    encoded = address.encode("utf-8", "surrogatepass")
    digest.update(len(encoded).to_bytes(4, "big"))  # so ("a", "bc") is not ("ab", "c")
    digest.update(encoded)
    digest.update(user_agent.encode("utf-8", "surrogatepass"))
    return digest.digest()


def _entry(site: str, visitor: bytes, item: str) -> int:
    # Python's own hash: fast, and keyed per process like this memory. Cut to 60 bits, as an
    # int below 2^60 takes 32 bytes and one up to 2^64 takes 36. A million remembered views
    # hold a colliding pair with odds under one in a million; it would only make a repeat.
    return hash((site, visitor, item)) & _KEY_MASK


class Deduper:
    """Whether a visitor's view of an item is the first within `window` seconds.

    Remembered views sit in generations, one per `window / slices` seconds of the clock,
    and a whole generation is forgotten at once, so nothing is kept per entry but the key.
    A view counted at t makes repeats until at least t + window duplicates, and a repeat
    from t + window + window / slices on counts again; between the two it depends on where
    t fell in its slice. Repeats do not extend the window: a reader who stays counts once
    per window.

    Memory is bounded by `max_entries`: past it the oldest remembered views go early, one by
    one, so only they may count again if repeated; a view is never lost to it. A clock that
    steps back makes entries live longer, never shorter. State is per process: behind N
    collectors not pinned by client address, a reader may count up to N times per window.
    """

    def __init__(self, window: float, max_entries: int, slices: int = 4) -> None:
        if window <= 0 or max_entries < 1 or slices < 1:
            raise ValueError("window must be positive, max_entries and slices at least 1")
        self.window = window
        self.slice = window / slices
        self.max_entries = max_entries
        self._slices = slices
        # (slice number, keys, the same keys oldest first): the set answers look-ups, the
        # queue tells which went in first when the memory is full.
        self._generations: deque[tuple[int, set[int], deque[int]]] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def first_view(self, site: str, visitor: bytes, item: str, now: float) -> bool:
        """True, and remembered, if `visitor` has no counted view of `item` within the
        window; False for a repeat."""
        key = _entry(site, visitor, item)
        current = int(now // self.slice)
        generations = self._generations
        # A generation stays while the clock is within `slices` slices after its own.
        while generations and generations[0][0] < current - self._slices:
            self._size -= len(generations.popleft()[1])
        for _, keys, _ in generations:
            if key in keys:
                return False
        if not generations or generations[-1][0] < current:
            generations.append((current, set(), deque()))
        newest = generations[-1]
        newest[1].add(key)
        newest[2].append(key)
        self._size += 1
        if self._size > self.max_entries:
            oldest = generations[0]
            oldest[1].discard(oldest[2].popleft())
            self._size -= 1
            if not oldest[2]:
                generations.popleft()
        return True
