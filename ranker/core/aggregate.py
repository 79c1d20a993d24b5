"""In-memory aggregation of accepted views into per-site batches: pure, time passed in.

Memory grows with distinct (item, minute) pairs, not with events, so a burst on a hot story
or a long Redis outage costs little. Decay weights are summed relative to the batch's own
reference time; the flush script converts them to the stored landmark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ranker.core.decay import weight
from ranker.core.outcomes import Held, Reason
from ranker.core.trends import SHORT_MINUTES

CROWD_WINDOW = SHORT_MINUTES * 60  # seconds: the rising list's short window
# Half-lives a batch's weights may span before its reference time moves (2^1024 overflows).
MAX_SPAN = 256.0


def recirc_field(placement: str, event: str, position: int = 0, item: str = "") -> str:
    """How an impression or a click of a box is counted in its hour's hash:
    "placement|impression", or "placement|click|position|id" ("|" is in none of them)."""
    if event == "impression":
        return f"{placement}|impression"
    return f"{placement}|click|{position}|{item}"


class Row(NamedTuple):
    """Everything a batch holds for one item: the flush script's input for it."""

    id: str
    weight: float  # sum of 2^((t - ref)/H) over its counted views
    signed: bool
    minutes: list[tuple[int, int]]  # (minute, views counted)
    held: list[tuple[str, int, int]]  # (reason, minute, views held)
    networks: list[tuple[int, str]]  # (minute, network hash) first seen this batch
    flag: tuple[str, float] | None  # (network, its share) when views were concentrated


@dataclass(slots=True)
class Batch:
    site: str
    half_life: float
    ref: float  # weights below are relative to this time
    # The catalog version of each of the site's shards when the batch opened (-1: unknown):
    # every id it counts was catalogued then, so while a shard's catalog is still at that
    # version its rows need no check that their id was deleted meanwhile.
    versions: tuple[int, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)  # id -> sum of 2^((t - ref)/H)
    minutes: dict[str, dict[int, int]] = field(default_factory=dict)  # id -> {minute: views}
    views: int = 0
    keys: int = 0  # distinct (id, minute) pairs
    signed: set[str] = field(default_factory=set)  # ids accepted on a signed token
    filtered: dict[str, int] = field(default_factory=dict)  # reason -> beacons not counted
    # id -> {(reason, minute): views held}: views a filter refused, kept so an editor can
    # see them and release them into the counts.
    held: dict[str, dict[tuple[str, int], int]] = field(default_factory=dict)
    # id -> {network hash: minute}: the first networks its counted views came from.
    networks: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (network, share)
    # (hour, event) -> count: the Most viewed box's impressions and clicks (recirc_field).
    recirc: dict[tuple[int, str], int] = field(default_factory=dict)

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

    def hold(self, item: str, reason: Held, t: float) -> bool:
        """Keep a view not counted for `reason`; True if it made a new (item, reason, minute)."""
        per_item = self.held.get(item)
        if per_item is None:
            per_item = self.held[item] = {}
        key = (reason, int(t // 60) * 60)
        views = per_item.get(key, 0)
        per_item[key] = views + 1
        if views == 0:
            self.keys += 1
            return True
        return False

    def rows(self) -> list[Row]:
        """Every item's row, ordered by id: the flush script's input."""
        weights, minutes, held, networks = self.weights, self.minutes, self.held, self.networks
        signed, flags = self.signed, self.flags
        items = sorted(weights)
        if held or flags or networks.keys() - weights.keys():
            items = sorted({*items, *held, *networks, *flags})
        rows = []
        for item in items:
            per_minute = minutes.get(item)
            nets = networks.get(item)
            kept = held.get(item)
            rows.append(
                Row(
                    item,
                    weights.get(item, 0.0),
                    item in signed,
                    sorted(per_minute.items()) if per_minute else [],
                    sorted((r, m, v) for (r, m), v in kept.items()) if kept else [],
                    [(minute, n) for n, minute in nets.items()] if nets else [],
                    flags.get(item) if flags else None,
                )
            )
        return rows


class Aggregator:
    """Open batches, one per site, that the flusher cuts off and writes."""

    def __init__(
        self,
        half_lives: Mapping[str, float],
        crowd: int = 10,
        versions: Callable[[str], tuple[int, ...]] | None = None,
    ) -> None:
        self._half_lives = dict(half_lives)
        self._versions = versions  # site -> its shards' catalog versions, as the ids known
        self._open: dict[str, Batch] = {}
        # Distinct client networks a batch sends per item, up to `crowd`: enough to tell
        # whether a story's readers are a crowd. The flush script merges them per minute.
        self._crowd = crowd
        # (site, item) -> (minute, network) of a story's one view in the short window, not
        # sent yet: a story read once here cannot rise on this process' account, and the
        # long tail of such stories would cost the store a write each.
        # Started afresh every short window (what is dropped then only errs towards fewer
        # networks).
        self._single: dict[tuple[str, str], tuple[int, str]] = {}
        self._single_since = 0
        # (site, item) -> networks this process sent for it this minute: none past `crowd`.
        self._sent: dict[tuple[str, str], int] = {}
        self._sent_minute = 0
        self.pending_keys = 0  # (item, minute) pairs in open batches, kept as views arrive
        # (site, reason) -> beacons not counted since start; site "" when it was not known.
        self.filtered: dict[tuple[str, str], int] = {}
        self.counted: dict[str, int] = dict.fromkeys(half_lives, 0)  # site -> views since start
        self.recirculated = 0  # impressions and clicks counted since start

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
            versions = self._versions(site) if self._versions else ()
            batch = self._open[site] = Batch(site, self._half_lives[site], t, versions)
        return batch

    def add(self, site: str, item: str, t: float, *, signed: bool = False) -> None:
        self.counted[site] += 1
        batch = self._batch(site, t)
        self.pending_keys += batch.add(item, t)
        if signed:
            batch.signed.add(item)

    def hold(self, site: str, item: str, reason: Held, t: float) -> None:
        """A view of a known item that a filter refused: tallied, and kept as a held view."""
        self.refuse(site, reason, t)
        batch = self._batch(site, t)
        self.pending_keys += batch.hold(item, reason, t)

    def flag(self, site: str, item: str, network: str, share: float, t: float) -> None:
        """Note that `network` had `share` of the item's recent views when one was held."""
        self._batch(site, t).flags[item] = (network, share)

    def network(self, site: str, item: str, network: str, t: float) -> None:
        """A counted view came from `network` (a keyed hash of its /24 or /48)."""
        minute = int(t // 60) * 60
        if minute > self._sent_minute:
            self._sent_minute, self._sent = minute, {}
            if minute >= self._single_since + CROWD_WINDOW:
                self._single_since, self._single = minute, {}
        sent_key = (site, item)
        sent = self._sent.get(sent_key, 0)
        if sent >= self._crowd:
            return  # enough networks for this minute already
        batch = self._batch(site, t)
        seen = batch.networks.get(item)
        if seen is not None:
            if network not in seen:
                seen[network] = minute
                self._sent[sent_key] = sent + 1
            return
        first = self._single.pop(sent_key, None)
        if first is None:
            self._single[sent_key] = (minute, network)
            return
        seen = batch.networks[item] = {first[1]: first[0]}
        seen.setdefault(network, minute)
        self._sent[sent_key] = sent + len(seen)

    def refuse(self, site: str | None, reason: Reason, t: float) -> None:
        """Count a beacon that was not counted as a view, and why; per site when known."""
        key = (site or "", reason)
        self.filtered[key] = self.filtered.get(key, 0) + 1
        if site in self._half_lives:
            batch = self._batch(site, t)
            batch.filtered[reason] = batch.filtered.get(reason, 0) + 1

    def recirc(self, site: str, event: str, t: float) -> None:
        """One impression or click of a box (`event` as recirc_field makes it), counted."""
        batch = self._batch(site, t)
        key = (int(t // 3600) * 3600, event)
        batch.recirc[key] = batch.recirc.get(key, 0) + 1
        self.recirculated += 1

    def sites(self) -> list[str]:
        return list(self._open)

    def take(self, site: str) -> Batch | None:
        """Cut off the site's open batch; new views start a new one."""
        batch = self._open.pop(site, None)
        if batch is not None:
            self.pending_keys -= batch.keys
        return batch
