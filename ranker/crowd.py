"""Whether a story's recent views come from a crowd or from one network: pure, time passed in.

Per process, for every story with views in the last few minutes, a small summary of which
client networks they came from. A network whose share of a story's short-window views is
above `max_share` (once the story has `min_views` there) has its excess held, so one
office, one campus or one botnet's /24 cannot carry a story up the list on its own.
"""

from __future__ import annotations

from collections.abc import Hashable

WINDOW_MINUTES = 10  # the rising list's short window: the current minute and the 9 before
COUNTERS = 16  # networks tracked per story and minute (Misra-Gries summary)


class Concentration:
    """Views of each story per client network over the short window, in bounded memory.

    Each (story, minute) keeps its total and a Misra-Gries summary of `counters` networks:
    a network's count there is never above its true count, and at most total/(counters + 1)
    below it. Underestimating only lets views through, so a view is held only when its
    network's share is above `max_share` for certain; what slips through is at most
    1/(counters + 1) (6%) of the story's views on top of the share.
    """

    def __init__(self, max_share: float, min_views: int, counters: int = COUNTERS) -> None:
        if not 0 < max_share <= 1 or min_views < 1 or counters < 1:
            raise ValueError("max_share in (0, 1], min_views and counters at least 1")
        self.max_share = max_share
        self.min_views = min_views
        self._counters = counters
        # story -> {minute: [total views, {network: views}]}
        self._stories: dict[Hashable, dict[int, tuple[list[int], dict[str, int]]]] = {}
        self._swept = 0

    def __len__(self) -> int:
        return len(self._stories)

    def admit(self, story: Hashable, network: str, now: float) -> float | None:
        """None when a view of `story` from `network` counts (and it is remembered); else
        the network's share of the story's short-window views: hold this one."""
        minute = int(now // 60)
        oldest = minute - WINDOW_MINUTES + 1
        if minute > self._swept:
            self._sweep(oldest)
            self._swept = minute
        minutes = self._stories.get(story)
        if minutes is None:
            minutes = self._stories[story] = {}
        total = from_network = 0
        for m, (count, networks) in list(minutes.items()):
            if m < oldest:
                del minutes[m]
                continue
            total += count[0]
            from_network += networks.get(network, 0)
        if total + 1 >= self.min_views and from_network + 1 > self.max_share * (total + 1):
            return from_network / total if total else 1.0
        entry = minutes.get(minute)
        if entry is None:
            entry = minutes[minute] = ([0], {})
        entry[0][0] += 1
        networks = entry[1]
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
        stale = [s for s, minutes in self._stories.items() if max(minutes, default=0) < oldest]
        for story in stale:
            del self._stories[story]
