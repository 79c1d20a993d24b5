"""A plain-Python reference model of what Ranker must show: no decay tricks, no buckets in
Redis, just the events and the definitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

# The windows' definitions, written out again rather than imported, so a change to
# Ranker's table cannot silently change the reference too: (bucket seconds, buckets).
# "30d" is 30 calendar days of the site's time zone, whatever their length.
WINDOWS = {"1h": (60, 60), "24h": (3600, 24), "7d": (3600, 168)}
DAYS = {"30d": 30}


@dataclass
class Reference:
    half_life: float
    zone: str = "UTC"  # the site's time zone: its calendar days are the "30d" window's
    events: list[tuple[str, float, str]] = field(default_factory=list)  # (id, t, section)

    def view(self, item: str, t: float, section: str = "") -> None:
        self.events.append((item, t, section))

    def _scoped(self, section: str | None) -> list[tuple[str, float, str]]:
        return [e for e in self.events if section is None or e[2] == section]

    def hot(self, now: float, section: str | None = None) -> dict[str, float]:
        """Exponentially decayed view counts at `now`, straight from the definition."""
        scores: dict[str, float] = {}
        for item, t, _ in self._scoped(section):
            scores[item] = scores.get(item, 0.0) + 0.5 ** ((now - t) / self.half_life)
        return scores

    def window(self, name: str, now: float, section: str | None = None) -> dict[str, int]:
        """Exact counts of views in the window's buckets (bucket granularity)."""
        counts: dict[str, int] = {}
        zone = ZoneInfo(self.zone)
        today = datetime.fromtimestamp(now, zone).date()
        for item, t, _ in self._scoped(section):
            if name in DAYS:
                if not 0 <= (today - datetime.fromtimestamp(t, zone).date()).days < DAYS[name]:
                    continue
            elif name != "all":
                size, n = WINDOWS[name]
                age = now // size * size - t // size * size  # whole buckets between them
                if not 0 <= age < n * size:
                    continue
            counts[item] = counts.get(item, 0) + 1
        return counts


def ranked(scores: dict[str, float] | dict[str, int], n: int) -> list[tuple[str, float]]:
    """The reference order: by score descending, ties by id ascending."""
    return sorted(
        ((k, float(v)) for k, v in scores.items() if v > 0), key=lambda kv: (-kv[1], kv[0])
    )[:n]


def assert_same_ranking(
    got: list[tuple[str, float]], expected: list[tuple[str, float]], rel: float = 1e-9
) -> None:
    """Same length, and rank by rank the same values; where values differ by more than
    rounding, the same ids too. Near-equal floats may legitimately swap places."""
    assert len(got) == len(expected), (got, expected)
    for (gid, gv), (eid, ev) in zip(got, expected, strict=True):
        assert abs(gv - ev) <= rel * max(abs(ev), 1e-300), (gid, gv, eid, ev)
    exp_value = dict(expected)
    for gid, gv in got:
        if gid in exp_value:
            assert abs(exp_value[gid] - gv) <= rel * max(abs(gv), 1e-300), (gid, gv)
    clear_of_ties = [
        eid
        for i, (eid, ev) in enumerate(expected)
        if all(abs(ev - ov) > rel * 4 * abs(ev) for j, (_, ov) in enumerate(expected) if j != i)
    ]
    positions = {gid: i for i, (gid, _) in enumerate(got)}
    for eid in clear_of_ties:
        if eid == expected[-1][0] and len(expected) > 1:
            continue  # the last place may be shared with an item just outside the list
        assert positions.get(eid) == [e for e, _ in expected].index(eid), (eid, got, expected)
