"""Whether a story's recent views come from a crowd or from one network: pure, time passed in.

Per process, for every story with views in the last few minutes, a small summary of which
client networks they came from. A network whose share of a story's short-window views is
above `max_share` (once the story has `min_views` there) has its excess held, so one
office, one campus or one botnet's /24 cannot carry a story up the list on its own.
"""

from __future__ import annotations

from collections.abc import Hashable

from ranker.core.trends import SHORT_MINUTES as WINDOW_MINUTES  # the rising list's short window

COUNTERS = 16  # networks tracked per story and minute (Misra-Gries summary)


_NONE: dict[str, int] = {}  # shared, never written: most stories never need a past


class _Story:
    """One story's recent views: the current minute's summary, and the sum of the summaries
    of the minutes before it in the window, recomputed once per story and minute."""

    __slots__ = ("minute", "total", "networks", "past_total", "past", "history")

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self.total = 0
        self.networks: dict[str, int] = {}
        self.past_total = 0
        self.past: dict[str, int] = _NONE  # read only until the story's first new minute
        self.history: dict[int, tuple[int, dict[str, int]]] | None = None  # older minutes

    def move_to(self, minute: int) -> None:
        if self.history is None:
            self.history = {}
        if self.total:
            self.history[self.minute] = (self.total, self.networks)
        oldest = minute - WINDOW_MINUTES + 1
        self.history = {m: h for m, h in self.history.items() if oldest <= m < minute}
        self.past_total = sum(total for total, _ in self.history.values())
        past: dict[str, int] = {}
        for _, networks in self.history.values():
            for network, views in networks.items():
                past[network] = past.get(network, 0) + views
        self.past = past
        self.minute, self.total, self.networks = minute, 0, {}


class Concentration:
    """Views of each story per client network over the short window, in bounded memory.

    Each (story, minute) keeps its total and a Misra-Gries summary of `counters` networks:
    a network's count there is never above its true count, and at most total/(counters + 1)
    below it. Underestimating only lets views through, so a view is held only when its
    network's share is above `max_share` for certain; what slips through is at most
    1/(counters + 1) (6%) of the story's views on top of the share. A beacon costs a few
    dictionary look-ups; the window's sum is redone once per story and minute.
    """

    def __init__(self, max_share: float, min_views: int, counters: int = COUNTERS) -> None:
        if not 0 < max_share <= 1 or min_views < 1 or counters < 1:
            raise ValueError("max_share in (0, 1], min_views and counters at least 1")
        self.max_share = max_share
        self.min_views = min_views
        self._counters = counters
        self._stories: dict[Hashable, _Story] = {}
        self._swept = 0

    def __len__(self) -> int:
        return len(self._stories)

    def admit(self, story: Hashable, network: str, now: float) -> float | None:
        """None when a view of `story` from `network` counts (and it is remembered); else
        the network's share of the story's short-window views: hold this one."""
        minute = int(now // 60)
        if minute > self._swept:
            self._sweep(minute - WINDOW_MINUTES + 1)
            self._swept = minute
        state = self._stories.get(story)
        if state is None:
            state = self._stories[story] = _Story(minute)
        elif minute > state.minute:  # a clock that steps back stays in the newest minute
            state.move_to(minute)
        networks = state.networks
        total = state.past_total + state.total
        if total + 1 >= self.min_views:
            mine = state.past.get(network, 0) + networks.get(network, 0)
            if mine + 1 > self.max_share * (total + 1):
                return mine / total if total else 1.0
        state.total += 1
        if network in networks:
            networks[network] += 1
        elif len(networks) < self._counters:
            networks[network] = 1
        else:  # Misra-Gries: every tracked count loses one, and this view is not tracked
            for other in list(networks):
                if networks[other] == 1:
                    del networks[other]
                else:
                    networks[other] -= 1
        return None

    def _sweep(self, oldest: int) -> None:
        """Forget stories with no view in the window: memory follows the recent stories."""
        stale = [s for s, state in self._stories.items() if state.minute < oldest]
        for story in stale:
            del self._stories[story]
