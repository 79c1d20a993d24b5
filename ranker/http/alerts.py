"""Alerts and digests (`[[sites.NAME.alerts]]`): one collector per site, whichever holds the
site's alert lock, looks every `alerts.interval` for what editors should be told and sends
it to the site's webhooks.

- rising: a story rising by Rising's rule, `rising_ratio` times faster than its baseline
  once the site's usual growth at this hour (the same hour on earlier days) is taken out,
  so a normal morning does not alert every day; once a story and day.
- held: views of a story held as concentrated (one network's surge), for an editor to
  release or not; once a story and day.
- dropping: an hour with far fewer views counted than the same hour on earlier days (a
  tracking snippet broke); once an hour.
- digest: the day's most viewed at a local time.

An alert is made once per hook (its key, recorded with HSETNX in the outbox) and kept until
delivered, with retries and backoff, each attempt carrying the same `Idempotency-Key`; a
restarted collector sends what is pending and nothing twice. A webhook's address is never
logged or shown: it is often its credential.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from ranker.core import alerts as rules
from ranker.core.alerts import Alert
from ranker.core.config import ALERT_KINDS, AlertHook, Settings, Site
from ranker.core.trends import SHORT_MINUTES, history_ready_at, rank_rising, rising_buckets
from ranker.core.windows import bucket_start, local_date, utc_iso
from ranker.http.hooks import HookError, post
from ranker.http.query import TopKey, compute_top
from ranker.store.alerts import AlertBox, Record
from ranker.store.keys import TRAFFIC_SLOT
from ranker.store.redis import Store, StoreUnavailable

log = logging.getLogger("ranker.alerts")

ATTEMPTS = 8  # per alert and hook: the first try and seven retries
LONGEST_WAIT = 1800.0  # seconds between retries at most
TIMEOUT = 10.0  # seconds one attempt may take
PER_TICK = 50  # deliveries one look makes at most, per site
RISING_PER_TICK = 3  # new rising alerts per hook and look: a flood is a few messages
HELD_SEEN = 3600.0  # a story whose views were held this recently is told about
MAX_TEXT = 4000  # characters of a message's text (Slack cuts at 40,000; readers far sooner)


async def send(session: aiohttp.ClientSession, hook: AlertHook, body: bytes, key: str) -> int:
    """One attempt: post `body` to the hook; its status, or HookError."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    if hook.token:
        headers["Authorization"] = f"Bearer {hook.token}"
    return await post(session, hook.url, body, headers, TIMEOUT)


async def deliver_now(
    hooks: Sequence[AlertHook], alert: Alert, attempts: int = 3, wait: float = 1.0
) -> list[tuple[AlertHook, str]]:
    """Send `alert` to each hook at once, outside the outbox (`ranker alerts test`), with a
    few quick retries: per hook, "sent (HTTP 200)" or "failed: ..."."""
    out = []
    async with aiohttp.ClientSession() as session:
        for hook in hooks:
            now = time.time()
            body = orjson.dumps(_body(alert, hook, now))
            key = f"{alert.site}:{hook.name}|{alert.key}"
            for attempt in range(1, attempts + 1):
                try:
                    status = await send(session, hook, body, key)
                    out.append((hook, f"sent (HTTP {status})"))
                    break
                except HookError as e:
                    if not e.retry or attempt == attempts:
                        out.append((hook, f"failed: {e}"))
                        break
                    await asyncio.sleep(wait * attempt)
    return out


@dataclass
class HookCounts:
    """A hook's deliveries by this process, for /metrics."""

    sent: int = 0
    failed: int = 0
    retried: int = 0


class Alerter:
    def __init__(
        self, settings: Settings, store: Store, clock: Callable[[], float], owner: str = ""
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self.box = AlertBox(store)
        self._sites: Mapping[str, Site] = {n: s for n, s in settings.sites.items() if s.alerts}
        self._owner = owner or secrets.token_hex(8)
        self._interval = settings.alert_interval
        self._pruned: dict[str, float] = {}
        # site -> hook -> kind -> counts
        self.counts: dict[str, dict[str, dict[str, HookCounts]]] = {
            name: {h.name: {k: HookCounts() for k in (*ALERT_KINDS, "test")} for h in site.alerts}
            for name, site in self._sites.items()
        }

    @property
    def sites(self) -> Mapping[str, Site]:
        return self._sites

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for name in self._sites:
                try:
                    await self.look(session, name)
                except StoreUnavailable as e:
                    log.warning("alerts of %s: the store is unavailable, will retry: %s", name, e)
                except Exception:  # one look gone wrong must not end the site's alerts
                    log.exception("alerts of %s: the look failed, will retry", name)

    async def release(self) -> None:
        """Hand the sites' alerts to another collector now (a clean shutdown)."""
        for name in self._sites:
            try:
                await self.box.unlock(name, self._owner)
            except StoreUnavailable:
                pass  # the lock expires by itself

    async def look(self, session: aiohttp.ClientSession, site: str) -> bool:
        """Find the site's new alerts and send what is due, if this collector holds the
        site's alerts; whether it does."""
        ttl = max(3 * self._interval, 5.0)
        if not await self.box.lock(site, self._owner, ttl):
            return False
        now = self._clock()
        records = [
            Record(hook.name, a.kind, a.key, a.title, now, _body(a, hook, now))
            for hook, a in await self.find(site, now)
        ]
        known = await self.box.known(site, records)
        records = _capped([r for r in records if r.field not in known])
        await self.box.add(site, self._owner, records, now)
        for record in await self.box.due(site, now, PER_TICK):
            # Kept, or given up when another collector took over (this one stalled).
            if not await self.box.lock(site, self._owner, ttl):
                break
            await self._deliver(session, site, record)
        if now - self._pruned.get(site, 0.0) > 3600:
            self._pruned[site] = now
            await self.box.prune(site, now)
        return True

    async def find(self, site: str, now: float) -> list[tuple[AlertHook, Alert]]:
        """What the site's hooks should be told now; made again on every look, and kept
        once by its key."""
        hooks = self._sites[site].alerts
        wanted = {kind for hook in hooks for kind in hook.kinds}
        found: list[tuple[AlertHook, Alert]] = []
        if "rising" in wanted:
            found += await self._rising_by_hook(site, now)
        if "held" in wanted:
            held = await self._held(site, now)
            for hook in hooks:
                if "held" in hook.kinds:
                    found += [(hook, a) for section, a in held if hook.section in (None, section)]
        if "dropping" in wanted:
            counts = await self._last_hour(site, now)
            for hook in hooks:
                if "dropping" in hook.kinds and (alert := self._dropping(site, hook, counts)):
                    found.append((hook, alert))
        for hook in hooks:
            if "digest" in hook.kinds and (alert := await self._digest(site, hook, now)):
                found.append((hook, alert))
        return found

    async def _rising_by_hook(self, site: str, now: float) -> list[tuple[AlertHook, Alert]]:
        found: list[tuple[AlertHook, Alert]] = []
        rising: dict[str | None, list[tuple[float, Alert]]] = {}  # by section
        for hook in self._sites[site].alerts:
            if "rising" in hook.kinds:
                if hook.section not in rising:
                    rising[hook.section] = await self._rising(site, now, hook.section)
                chosen = rising[hook.section]
                found += [(hook, a) for ratio, a in chosen if ratio >= hook.rising_ratio]
        return found

    async def _rising(
        self, site: str, now: float, section: str | None
    ) -> list[tuple[float, Alert]]:
        """(ratio beyond the usual growth, alert) of the stories rising now (in `section`).
        The usual growth is the site's: a section's own hours are too few views to judge."""
        since = await self._store.since(site)
        if since is None or history_ready_at(since) > now:
            return []  # no baseline yet: every story would look like it rises
        settings, config = self._settings, self._sites[site]
        short, baseline = rising_buckets(now)
        min_views = settings.rising_min_views
        candidates = await self._store.rising_candidates(site, section, short, baseline, min_views)
        ranked = rank_rising(candidates, now, min_views, 20, settings.rising_min_networks)
        if not ranked:
            return []
        growth = await self._usual_growth(site, now)
        day = local_date(now, config.zone)
        out = []
        for r in ranked:
            ratio = r.ratio / growth
            alert = Alert(
                kind="rising",
                key=f"rising:{r.id}:{day}",
                site=site,
                title=f"Rising: {r.title or r.id}",
                lines=(
                    f"{r.views_short} views in the last {SHORT_MINUTES} minutes, "
                    f"{ratio:.1f}x its pace of the two hours before"
                    + (f" (the site itself reads {growth:.1f}x faster now)" if growth > 1 else ""),
                ),
                link=config.link(r.url),
                data={
                    "id": r.id,
                    "views_short": r.views_short,
                    "views_baseline": r.views_baseline,
                    "ratio": round(r.ratio, 2),
                    "usual_growth": round(growth, 2),
                    "section": r.section or None,
                },
            )
            out.append((ratio, alert))
        return out

    async def _usual_growth(self, site: str, now: float) -> float:
        """How much faster the site usually reads in this hour than in the two before it."""
        hour = bucket_start(now, "hour")
        earlier = [_slot(t) for t in rules.same_time(hour, self._sites[site].zone)]
        views = await self._store.traffic(site, earlier, rules.HOUR)
        two_hours = 2 * rules.HOUR
        before = await self._store.traffic(site, [t - two_hours for t in earlier], two_hours)
        return rules.usual_growth(list(zip(views, before, strict=True)))

    async def _held(self, site: str, now: float) -> list[tuple[str | None, Alert]]:
        """(section, alert) of the stories with views held as concentrated lately."""
        flags = {
            item_id: flag
            for item_id, flag in (await self._store.flags(site)).items()
            if flag[2] >= now - HELD_SEEN
        }
        if not flags:
            return []
        ids = sorted(flags)
        held = await self._store.held(site, ids, ["concentrated"])
        entries = await self._store.get_items(site, ids)
        config = self._sites[site]
        out = []
        for item_id in ids:
            views = held[item_id].get("concentrated", 0)
            if not views:
                continue  # released already
            network, share, at = flags[item_id]
            entry = entries.get(item_id, {})
            out.append(
                (
                    entry.get("section") or None,
                    Alert(
                        kind="held",
                        key=f"held:{item_id}:{local_date(at, config.zone)}",
                        site=site,
                        title=f"Held: {entry.get('title') or item_id}",
                        lines=(
                            f"{views} views held: {share:.0%} of its recent views came from one "
                            "network. Release them on the dashboard if they are readers.",
                        ),
                        link=config.link(entry.get("url", "")),
                        data={"id": item_id, "held": views, "share": round(share, 3)},
                    ),
                )
            )
        return out

    async def _last_hour(self, site: str, now: float) -> tuple[int, int, list[int]]:
        """(end of the last hour of counts, its views, the views of the same hour on each
        of the days before): the last hour ends with the last slot judged."""
        end = _slot(now - rules.LATE_VIEWS)
        start = end - rules.HOUR
        earlier = [_slot(t) for t in rules.same_time(start, self._sites[site].zone)]
        views, *before = await self._store.traffic(site, [start, *earlier], rules.HOUR)
        return end, views, before

    def _dropping(
        self, site: str, hook: AlertHook, counts: tuple[int, int, list[int]]
    ) -> Alert | None:
        """The last hour against the same hour on the days before, by the hook's own
        thresholds: at most one alert a clock hour while the fall lasts."""
        end, views, before = counts
        start = end - rules.HOUR
        config = self._sites[site]
        usual = rules.dropped(views, before, hook.drop_share, hook.drop_min_views)
        if usual is None:
            return None
        return Alert(
            kind="dropping",
            key=f"dropping:{bucket_start(end, 'hour')}",
            site=site,
            title=f"Beacons dropping on {config.title or site}",
            lines=(
                f"{views} views counted in the hour to {utc_iso(end)}, against {usual:.0f} "
                "in that hour on a usual day: is the tracking snippet on every page?",
            ),
            data={"from": utc_iso(start), "to": utc_iso(end), "views": views, "usual": usual},
        )

    async def _digest(self, site: str, hook: AlertHook, now: float) -> Alert | None:
        config = self._sites[site]
        day = rules.digest_due(now, hook.digest_at, config.zone)
        if day is None:
            return None
        top = await compute_top(
            self._store,
            self._settings,
            TopKey(site, hook.digest_window, hook.section, hook.digest_n, int(config.max_age)),
            now,
        )
        items = tuple(
            (it["title"] or it["id"], it["url"], it["views"])
            for it in top["items"]
            if not it["backfill"] and not it["pinned"]  # the most viewed, not the box
        )
        name = config.title or site
        in_section = f" in {hook.section}" if hook.section else ""
        return Alert(
            kind="digest",
            key=f"digest:{day}",
            site=site,
            title=f"Most viewed on {name}{in_section}, {day} ({hook.digest_window})",
            lines=() if items else ("Nothing was counted in the window.",),
            items=items,
            data={"date": day, "window": hook.digest_window},
        )

    async def _deliver(self, session: aiohttp.ClientSession, site: str, record: Record) -> None:
        hook = next((h for h in self._sites[site].alerts if h.name == record.hook), None)
        now = self._clock()
        again: float | None = None
        if hook is None:  # the hook left the configuration: nothing to send it to
            record.state, record.last_error = "failed", "the hook is no longer configured"
        else:
            counts = self.counts[site][hook.name][record.kind]
            record.attempts += 1
            try:
                await send(session, hook, orjson.dumps(record.body), f"{site}:{record.field}")
                record.state, record.sent_at, record.last_error = "sent", now, ""
                counts.sent += 1
            except HookError as e:
                record.last_error = str(e)
                if e.retry and record.attempts < ATTEMPTS:
                    wait = min(self._interval * 2 ** (record.attempts - 1), LONGEST_WAIT)
                    record.next_at = again = now + wait
                    counts.retried += 1
                else:
                    record.state = "failed"
                    counts.failed += 1
                    log.warning(
                        "alert %s to %s failed after %d attempts: %s",
                        record.key,
                        hook.name,
                        record.attempts,
                        e,
                    )
        await self.box.done(site, self._owner, record, again)


def _slot(t: float) -> int:
    """The start of the slot of counts (keys.TRAFFIC_SLOT) holding `t`."""
    return int(t - t % TRAFFIC_SLOT)


def _capped(records: list[Record]) -> list[Record]:
    """At most RISING_PER_TICK new rising alerts per hook (the fastest first, as found):
    a flood of rising stories is a few messages a look, not one per story."""
    seen: dict[str, int] = {}
    out = []
    for record in records:
        if record.kind == "rising":
            seen[record.hook] = seen.get(record.hook, 0) + 1
            if seen[record.hook] > RISING_PER_TICK:
                continue
        out.append(record)
    return out


def _body(alert: Alert, hook: AlertHook, now: float) -> dict[str, Any]:
    body = rules.body(alert, hook.format, now)
    if isinstance(body.get("text"), str) and len(body["text"]) > MAX_TEXT:
        body["text"] = body["text"][: MAX_TEXT - 1] + "…"
    return body
