"""In-memory aggregation of accepted views into per-site batches: pure, time passed in.

Memory grows with distinct (item, minute) pairs, not with events, so a burst on a hot story
or a long Redis outage costs little. Decay weights are summed relative to the batch's own
reference time; the flush script converts them to the stored landmark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ranker.decay import weight

# Half-lives a batch's weights may span before its reference time moves (2^1024 overflows).
MAX_SPAN = 256.0


@dataclass(slots=True)
class Batch:
    site: str
    half_life: float
    ref: float  # weights below are relative to this time
    weights: dict[str, float] = field(default_factory=dict)  # id -> sum of 2^((t - ref)/H)
    minutes: dict[str, dict[int, int]] = field(default_factory=dict)  # id -> {minute: views}
    views: int = 0
    keys: int = 0  # distinct (id, minute) pairs
    signed: set[str] = field(default_factory=set)  # ids accepted on a signed token
    filtered: dict[str, int] = field(default_factory=dict)  # reason -> beacons not counted

    def add(self, item: str, t: float, count: int = 1) -> bool:
        """Count `count` views of `item` at `t`; True if it made a new (item, minute) pair."""
        if t - self.ref > MAX_SPAN * self.half_life:
            # A batch held through a long outage: move the reference up before 2^x overflows.
            scale = weight(self.ref, t, self.half_life)
            self.weights = {k: w * scale for k, w in self.weights.items()}
            self.ref = t
        self.weights[item] = self.weights.get(item, 0.0) + count * weight(
            t, self.ref, self.half_life
        )
        per_minute = self.minutes.get(item)
        if per_minute is None:
            per_minute = self.minutes[item] = {}
        minute = int(t // 60) * 60
        self.views += count
        if minute not in per_minute:
            self.keys += 1
            per_minute[minute] = count
            return True
        per_minute[minute] += count
        return False

    def rows(self) -> list[tuple[str, float, bool, list[tuple[int, int]]]]:
        """(id, weight, signed, [(minute, views)]) for every item, the flush script's input."""
        return [
            (item, self.weights[item], item in self.signed, sorted(self.minutes[item].items()))
            for item in sorted(self.weights)
        ]


class Aggregator:
    """Open batches, one per site, that the flusher cuts off and writes."""

    def __init__(self, half_lives: Mapping[str, float]) -> None:
        self._half_lives = dict(half_lives)
        self._open: dict[str, Batch] = {}
        self.pending_keys = 0  # (item, minute) pairs in open batches, kept as views arrive
        # (site, reason) -> beacons not counted since start; site "" when it was not known.
        self.filtered: dict[tuple[str, str], int] = {}
        self.counted: dict[str, int] = dict.fromkeys(half_lives, 0)  # site -> views since start

    @property
    def accepted(self) -> int:
        """Views added since start: the 204 answers the collector gave."""
        return sum(self.counted.values())

    @property
    def pending_views(self) -> int:
        return sum(b.views for b in self._open.values())

    def _batch(self, site: str, t: float) -> Batch:
        batch = self._open.get(site)
        if batch is None:
            batch = self._open[site] = Batch(site, self._half_lives[site], ref=t)
        return batch

    def add(self, site: str, item: str, t: float, *, signed: bool = False) -> None:
        self.counted[site] += 1
        batch = self._batch(site, t)
        self.pending_keys += batch.add(item, t)
        if signed:
            batch.signed.add(item)

    def refuse(self, site: str | None, reason: str, t: float) -> None:
        """Count a beacon that was not counted as a view, and why; per site when known."""
        key = (site or "", reason)
        self.filtered[key] = self.filtered.get(key, 0) + 1
        if site in self._half_lives:
            batch = self._batch(site, t)
            batch.filtered[reason] = batch.filtered.get(reason, 0) + 1

    def sites(self) -> list[str]:
        return list(self._open)

    def take(self, site: str) -> Batch | None:
        """Cut off the site's open batch; new views start a new one."""
        batch = self._open.pop(site, None)
        if batch is not None:
            self.pending_keys -= batch.keys
        return batch
