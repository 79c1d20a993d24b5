"""Time buckets and the exact windows built from them: pure arithmetic, time passed in.

Minute and hour buckets are UTC. Day buckets are a site's local calendar days (its time
zone, UTC by default): a day starts at the first instant of its local date, so it lasts
23 or 25 hours across a DST change, and where clocks jump over midnight it starts when
they land (01:00 in America/Santiago on 2022-09-11).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo
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


def window_buckets(window: str, now: float, zone: tzinfo = UTC) -> tuple[Resolution, list[int]]:
    """The resolution and bucket start times (newest first) that make up `window` at `now`.

    Day buckets are the local days of `zone` (see `day_starts`); minute and hour buckets
    are UTC whatever the zone.
    """
    resolution, count = EXACT_WINDOWS[window]
    if resolution == "day":
        return resolution, day_starts(now, count, zone)
    size = BUCKET_SECONDS[resolution]
    last = bucket_start(now, resolution)
    return resolution, [last - i * size for i in range(count)]


def window_span(window: str) -> int:
    """Seconds of history a window may reach back: what bucket retention must exceed."""
    resolution, count = EXACT_WINDOWS[window]
    return BUCKET_SECONDS[resolution] * count


# -- local days ----------------------------------------------------------------------------
#
# A local day runs from the first instant of its date to the first instant of the next. In
# UTC that is a multiple of 86400. Elsewhere a day is 23 or 25 hours long where DST begins
# or ends (23.5 and 24.5 on Lord Howe Island), and a day whose midnight never shows on the
# clock (the clocks jump from 24:00 to 01:00) starts at the jump. Where clocks were turned
# back across midnight (Newfoundland until 2010: 00:01 back to 23:01), the day already
# begun keeps the rewound hour: days never overlap and never go back.

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_DAY: Final = timedelta(days=1)


def day_start(t: float, zone: tzinfo) -> int:
    """Unix time of the first instant of the local day (in `zone`) that holds `t`.

    Always `day_start(t) <= t < next_day_start(day_start(t))`.
    """
    return _day_of(math.floor(t), zone)[1]


def next_day_start(start: int, zone: tzinfo) -> int:
    """Unix time of the first instant of the local day after the one holding `start`."""
    return _first_instant(_day_of(start, zone)[0] + _ONE_DAY, zone)


def day_starts(now: float, n: int, zone: tzinfo) -> list[int]:
    """The starts of the `n` local days ending with the one holding `now`, newest first;
    each is the `next_day_start` of the one after it."""
    starts = [day_start(now, zone)] if n > 0 else []
    while len(starts) < n:
        starts.append(day_start(starts[-1] - 1, zone))
    return starts


def local_date(t: float, zone: tzinfo) -> str:
    """`YYYY-MM-DD`: the date of the local day holding `t`.

    That is the date on the clock, except in the rewound minutes of a clock turned back
    across midnight, which belong to the day already begun.
    """
    return _day_of(math.floor(t), zone)[0].isoformat()


def _day_of(t: int, zone: tzinfo) -> tuple[date, int]:
    """The local day holding the whole second `t`: its date and first instant."""
    today = _wall_date(t, zone)
    start = _first_instant(today, zone)
    following = _first_instant(today + _ONE_DAY, zone)
    if following <= t:  # the clock went back across midnight: the next day has begun
        return _wall_date(following, zone), following
    return today, start


def _wall_date(t: int, zone: tzinfo) -> date:
    return datetime.fromtimestamp(t, zone).date()


def _first_instant(day: date, zone: tzinfo) -> int:
    """The first whole second whose local date (in `zone`) is `day` or later."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    # fold=0 and fold=1 read midnight with the offset before and after a transition there;
    # where midnight is repeated the earlier reading is the first, and where it is skipped
    # the day starts between the two readings (both are one reading elsewhere).
    early, late = sorted((_unix(midnight), _unix(midnight.replace(fold=1))))
    if _wall_date(early, zone) >= day:
        return early
    while late - early > 1:  # bisect: early is before the day, late in it (or after)
        middle = (early + late) // 2
        if _wall_date(middle, zone) >= day:
            late = middle
        else:
            early = middle
    return late


def _unix(wall: datetime) -> int:
    """Unix time of an aware wall-clock time (offsets are whole seconds)."""
    return (wall - _EPOCH) // timedelta(seconds=1)


def utc_iso(t: float) -> str:
    """Unix time `t` as the APIs write it: UTC to the second, `2026-12-02T08:00:00Z`."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
