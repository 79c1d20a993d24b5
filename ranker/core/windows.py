"""Time buckets and the exact windows built from them: pure arithmetic, time passed in."""

from __future__ import annotations

from typing import Final, Literal

Resolution = Literal["minute", "hour", "day"]

BUCKET_SECONDS: Final[dict[Resolution, int]] = {"minute": 60, "hour": 3600, "day": 86400}

# window -> (bucket resolution, number of buckets). A window ends with the bucket that holds
# `now` (partly elapsed), so "1h" is the current minute and the 59 before it.
EXACT_WINDOWS: Final[dict[str, tuple[Resolution, int]]] = {
    "1h": ("minute", 60),
    "24h": ("hour", 24),
    "7d": ("hour", 168),
    "30d": ("day", 30),
}
WINDOWS: Final[tuple[str, ...]] = ("hot", *EXACT_WINDOWS, "all")


def bucket_start(t: float, resolution: Resolution) -> int:
    size = BUCKET_SECONDS[resolution]
    return int(t // size) * size


def window_buckets(window: str, now: float) -> tuple[Resolution, list[int]]:
    """The resolution and bucket start times (newest first) that make up `window` at `now`."""
    resolution, count = EXACT_WINDOWS[window]
    size = BUCKET_SECONDS[resolution]
    last = bucket_start(now, resolution)
    return resolution, [last - i * size for i in range(count)]


def window_span(window: str) -> int:
    """Seconds of history a window may reach back: what bucket retention must exceed."""
    resolution, count = EXACT_WINDOWS[window]
    return BUCKET_SECONDS[resolution] * count
