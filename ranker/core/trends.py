"""What editors watch besides the top lists: the rising list, defined here as pure
arithmetic over minute buckets (time passed in)."""

from __future__ import annotations

from dataclasses import dataclass

from ranker.core.validate import slug
from ranker.core.windows import bucket_start

SHORT_MINUTES = 10  # the current minute (partly elapsed) and the 9 before it
BASELINE_MINUTES = 120  # the two hours before the short window


def rising_buckets(now: float) -> tuple[list[int], list[int]]:
    """Minute-bucket starts of the short window and of the baseline before it."""
    newest = bucket_start(now, "minute")
    short = [newest - 60 * i for i in range(SHORT_MINUTES)]
    baseline = [short[-1] - 60 * (i + 1) for i in range(BASELINE_MINUTES)]
    return short, baseline


def history_ready_at(since: float) -> float:
    """When a site that began counting at `since` has a whole baseline: the first minute
    whose baseline starts no earlier than the minute counting began in."""
    return bucket_start(since, "minute") + (SHORT_MINUTES - 1 + BASELINE_MINUTES) * 60


@dataclass(frozen=True, slots=True)
class Rising:
    id: str
    title: str
    url: str
    section: str
    views_short: int
    views_baseline: int
    rate_short: float  # views per hour
    rate_baseline: float  # views per hour
    ratio: float
    networks: int  # distinct client networks of the short window's views, up to the minimum


def rank_rising(
    candidates: list[tuple[str, int, int, str, str, str, int]],
    now: float,
    min_views: int,
    n: int,
    min_networks: int = 1,
) -> list[Rising]:
    """Stories whose hourly rate in the short window beats the baseline's.

    The baseline rate is floored at `min_views` per baseline window, so a story nobody
    read before needs real traffic now to rise; and the short window's views must come
    from at least `min_networks` distinct client networks (/24, IPv6 /48), so no one
    address, and no one network, can make a story rise whatever it sends.
    """
    elapsed = (SHORT_MINUTES - 1) * 60 + (now - bucket_start(now, "minute")) + 1
    floor = min_views / (BASELINE_MINUTES / 60)
    out = []
    for item_id, short, baseline, title, url, section, networks in candidates:
        if short < min_views or networks < min_networks:
            continue
        rate_short = short * 3600 / elapsed
        rate_baseline = baseline / (BASELINE_MINUTES / 60)
        ratio = rate_short / max(rate_baseline, floor)
        if ratio > 1.0:
            out.append(
                Rising(
                    item_id,
                    title,
                    url,
                    section,
                    short,
                    baseline,
                    rate_short,
                    rate_baseline,
                    ratio,
                    networks,
                )
            )
    out.sort(key=lambda r: (-r.ratio, -r.views_short, r.id))
    return out[:n]


@dataclass(frozen=True, slots=True)
class AuthorViews:
    author: str  # the slug
    name: str  # as the author's most viewed story names them
    views: float
    stories: int  # stories with views
    top_story: tuple[str, str, str]  # id, title, url of the most viewed


def rank_authors(
    stories: list[tuple[str, str, str, float, list[str]]], n: int
) -> list[AuthorViews]:
    """Authors by the summed views of their stories, given as (id, title, url, views,
    author names), most viewed first; ties by slug. A story by two authors counts for
    both, as a byline does."""
    found: dict[str, AuthorViews] = {}
    for item_id, title, url, views, names in sorted(stories, key=lambda s: (-s[3], s[0])):
        for name in names:
            key = slug(name)
            was = found.get(key)
            if was is None:
                found[key] = AuthorViews(key, name, views, 1, (item_id, title, url))
            else:
                found[key] = AuthorViews(
                    key, was.name, was.views + views, was.stories + 1, was.top_story
                )
    return sorted(found.values(), key=lambda a: (-a.views, a.author))[:n]
