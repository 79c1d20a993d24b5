"""Forward decay (Cormode et al., ICDE 2009): pure arithmetic, time is always passed in.

A view at time t adds 2^((t - L)/H) to its item's score, L being the site's landmark and
H its half-life. Ranking by score is ranking by exponentially decayed count, and nothing
has to touch old members as time passes; the count shown at `now` is score * 2^((L - now)/H).
Moving the landmark from L to L' multiplies every score by weight(L, L', H): the rebase,
done in Redis by lua/lib_rebase.lua.
"""

from __future__ import annotations


def weight(t: float, landmark: float, half_life: float) -> float:
    """What one view at `t` adds to a score measured against `landmark`."""
    return float(2.0 ** ((t - landmark) / half_life))


def decayed(score: float, landmark: float, now: float, half_life: float) -> float:
    """The decayed view count at `now` of a score measured against `landmark`."""
    return score * float(2.0 ** ((landmark - now) / half_life))
