"""What editors are told without looking: the rules that decide an alert, as arithmetic
over counts (time passed in), and how an alert reads in each webhook format.

An alert has a `key` naming what it is about (a story on a day, an hour, a day's digest):
one key is one message per hook, however many collectors look and however often.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ranker.core.windows import BUCKET_SECONDS, utc_iso

HOUR = BUCKET_SECONDS["hour"]
EARLIER_DAYS = 7  # the days "the same hour" is read from
MIN_EARLIER_DAYS = 3  # days with views the dropping rule needs before it says anything
LATE_VIEWS = 120  # seconds after a slot of counts ends before it is judged (late flushes)
DIGEST_LATE = 3 * HOUR  # a digest not sent within this of its time is skipped, not sent late


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # "rising", "held", "dropping", "digest" or "test"
    key: str  # what it is about; one key, one message per hook
    site: str
    title: str  # one line, plain text
    lines: tuple[str, ...] = ()  # details, plain text
    link: str = ""  # the story's address, if about one
    items: tuple[tuple[str, str, float], ...] = ()  # (title, url, views) of a digest
    data: dict[str, Any] = field(default_factory=dict)  # the figures, for JSON receivers


def same_time(t: int, zone: ZoneInfo, days: int = EARLIER_DAYS) -> list[int]:
    """The instants with the wall-clock time `t` has, on each of the `days` days before,
    newest first (across a change of clocks, the time the wall clock shows)."""
    wall = datetime.fromtimestamp(t, zone)
    return [int((wall - timedelta(days=d)).timestamp()) for d in range(1, days + 1)]


def usual_growth(days: Sequence[tuple[int, int]]) -> float:
    """How much faster the site usually reads in an hour than in the two hours before it,
    from (views in the hour, views in the two hours before) of earlier days: the median
    ratio, never below 1 (a quiet evening makes nothing easier to alert), 1 without
    history."""
    ratios = [now / (before / 2) for now, before in days if now > 0 and before > 0]
    return max(1.0, statistics.median(ratios)) if ratios else 1.0


def dropped(views: int, earlier: Sequence[int], share: float, min_views: int) -> float | None:
    """The usual count (the median of `earlier` days' same hour, days without views left
    out) when `views` fell below `share` of it; None when it did not, or when too few days
    or too few views make the usual count mean little."""
    known = [v for v in earlier if v > 0]
    if len(known) < MIN_EARLIER_DAYS:
        return None
    usual = statistics.median(known)
    if usual < min_views or views >= share * usual:
        return None
    return float(usual)


def digest_due(now: float, at: tuple[int, int], zone: ZoneInfo) -> str | None:
    """The local date whose digest is due at `now`: from `at` (hour, minute) of the site's
    day until DIGEST_LATE after, past midnight too; None outside that."""
    today = datetime.fromtimestamp(now, zone).date()
    for day in (today, today - timedelta(days=1)):
        due = datetime(day.year, day.month, day.day, *at, tzinfo=zone).timestamp()
        if due <= now < due + DIGEST_LATE:
            return day.isoformat()
    return None


def _slack_text(text: str) -> str:
    """Plain text as Slack's mrkdwn shows it: &, < and > escaped, nothing else special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, text: str) -> str:
    if not url.startswith(("http://", "https://")):
        return _slack_text(text)
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
    return f"<{safe}|{_slack_text(text)}>"


def slack_body(alert: Alert) -> dict[str, Any]:
    """Slack's incoming-webhook message (also taken by Mattermost, Rocket.Chat, Discord's
    /slack endpoint): `text` in mrkdwn."""
    head = f"*{_slack_text(alert.title)}*"
    if alert.link:
        head += "\n" + _slack_link(alert.link, alert.link)
    lines = [head, *(_slack_text(line) for line in alert.lines)]
    for rank, (title, url, views) in enumerate(alert.items, 1):
        lines.append(f"{rank}. {_slack_link(url, title)} ({views:,.0f} views)")
    return {"text": "\n".join(lines), "unfurl_links": False, "unfurl_media": False}


def json_body(alert: Alert, now: float) -> dict[str, Any]:
    """The alert's fields, for a receiver of one's own."""
    return {
        "kind": alert.kind,
        "key": alert.key,
        "site": alert.site,
        "at": utc_iso(now),
        "title": alert.title,
        "lines": list(alert.lines),
        "link": alert.link or None,
        "items": [{"title": t, "url": u, "views": v} for t, u, v in alert.items],
        "data": alert.data,
    }


def body(alert: Alert, form: str, now: float) -> dict[str, Any]:
    return slack_body(alert) if form == "slack" else json_body(alert, now)


def sample(site: str, now: float) -> Alert:
    """What `ranker alerts test` sends."""
    return Alert(
        kind="test",
        key=f"test:{int(now)}",
        site=site,
        title=f"Ranker alerts for {site} reach this channel",
        lines=(
            "A test message: stories rising, surges held, beacons dropping and the daily "
            "digest will come here.",
        ),
    )
