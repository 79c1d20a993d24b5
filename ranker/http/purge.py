"""CDN purges: when a write changes what public lists show (a story hidden, deleted or
changed; a pin), the process that took it asks each of the site's purge hooks
(`[[sites.NAME.purge]]`) to drop the cached copies that carry the changed surrogate keys
(query.surrogate_keys), in the background, with retries.

Each purge has one idempotency key, sent with every attempt (`Idempotency-Key`), so a
receiver that got an attempt whose answer was lost does the work once. Outcomes are
counted per hook for /metrics, and the last failure is kept for editors
(`GET /v1/sites/{site}/purges`). No hook's token is ever logged or shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from yarl import URL

from ranker.core.config import PurgeHook, Site
from ranker.http.hooks import HookError, post
from ranker.store.purges import Pending, PurgeLog
from ranker.store.redis import StoreUnavailable

log = logging.getLogger("ranker.purge")

ATTEMPTS = 5  # per purge and hook: the first try and four retries
# A purge kept in the store longer than this was left by a process that stopped: every
# attempt of a purge (5 attempts of at most TIMEOUT, with backoff) is over well before.
LEFT_AFTER = 120.0
SWEEP_EVERY = 30.0  # seconds between looks for purges left unsent
BACKOFF = 0.5  # seconds before the first retry; doubled for each next one, with jitter
TIMEOUT = 5.0  # seconds one attempt may take
QUEUE_MAX = 10_000  # purges waiting; past that the oldest is given up (and counted failed)
CONCURRENCY = 8  # attempts in flight at once
# Keys one request may carry: Cloudflare takes 30 tags a call, Fastly 256 keys.
BATCH = {"fastly": 256, "cloudflare": 30, "webhook": 1000}


@dataclass
class HookStatus:
    """What editors and /metrics are told about one hook."""

    hook: str  # its name: kind and target, never its token
    sent: int = 0  # purges it confirmed
    failed: int = 0  # purges given up after every attempt
    retried: int = 0  # attempts that failed and were tried again
    last_error: str = ""
    last_error_at: float = 0.0

    def public(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "sent": self.sent,
            "failed": self.failed,
            "retried": self.retried,
            "last_error": self.last_error or None,
            "last_error_at": self.last_error_at or None,
        }


@dataclass
class _Purge:
    site: str
    keys: list[str]
    reason: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def hook_name(hook: PurgeHook) -> str:
    """How a hook is named in logs, metrics and the dashboard: no credential in it."""
    return f"{hook.kind}:{hook.target or URL(hook.url).host}"


def _request(hook: PurgeHook, purge: _Purge, keys: list[str]) -> tuple[str, dict[str, str], bytes]:
    """The URL, headers and body of one attempt."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": purge.id}
    body: dict[str, Any]
    if hook.kind == "fastly":
        headers["Fastly-Key"] = hook.token
        body = {"surrogate_keys": keys}
        url = f"{hook.url}/service/{hook.target}/purge"
    elif hook.kind == "cloudflare":
        headers["Authorization"] = f"Bearer {hook.token}"
        body = {"tags": keys}
        url = f"{hook.url}/zones/{hook.target}/purge_cache"
    else:
        if hook.token:
            headers["Authorization"] = f"Bearer {hook.token}"
        body = {"site": purge.site, "keys": keys, "reason": purge.reason, "id": purge.id}
        url = hook.url
    return url, headers, orjson.dumps(body)


def changed(
    purger: Purger, site: str, ids: Iterable[str] = (), *, lists: bool = False, reason: str
) -> None:
    """Purge what a write changed: the stories `ids`, or with `lists` every list of the
    site (a pin moves stories in lists that do not show them yet)."""
    keys = [f"ranker:{site}"] if lists else [f"ranker:{site}:{i}" for i in ids]
    if keys:
        purger.purge(site, keys, reason)


class Purger:
    """Takes purges from the request handlers (`purge`, never blocking) and sends them
    from its own task (`run`).

    With a purge log (`keep_in`), each purge is kept in Redis while it is sent, and one
    collector per site (whichever holds its purge lock) sends again, with the same
    idempotency key, the purges kept longer than LEFT_AFTER: those whose process stopped
    between the write and the purge."""

    def __init__(
        self,
        sites: Mapping[str, Site],
        backoff: float = BACKOFF,
        sleep: Callable[[float], Any] = asyncio.sleep,
        left_after: float = LEFT_AFTER,
    ) -> None:
        self._hooks = {name: site.purge for name, site in sites.items() if site.purge}
        self._backoff = backoff
        self._sleep = sleep
        self._left_after = left_after
        self._log: PurgeLog | None = None
        self._owner = uuid.uuid4().hex
        self._sending: set[str] = set()  # ids of the purges this process is sending
        self._unfinished = 0  # purges queued or being sent
        self._queue: asyncio.Queue[_Purge] = asyncio.Queue()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._inflight: set[asyncio.Task[None]] = set()
        self.status: dict[str, dict[str, HookStatus]] = {
            name: {hook_name(h): HookStatus(hook_name(h)) for h in hooks}
            for name, hooks in self._hooks.items()
        }

    def purge(self, site: str, keys: Iterable[str], reason: str) -> None:
        """Drop what carries `keys` from the site's CDNs, soon; nothing without hooks."""
        if site not in self._hooks:
            return
        self._enqueue(_Purge(site, list(dict.fromkeys(keys)), reason))

    def _enqueue(self, purge: _Purge) -> None:
        if self._queue.qsize() >= QUEUE_MAX:
            dropped = self._queue.get_nowait()
            self._unfinished -= 1
            for status in self.status[dropped.site].values():
                status.failed += 1
                status.last_error, status.last_error_at = "too many purges waiting", time.time()
        self._unfinished += 1
        self._queue.put_nowait(purge)

    def keep_in(self, log: PurgeLog) -> None:
        """Keep purges being sent in `log`, and send those other processes left there."""
        self._log = log

    async def run(self, session: aiohttp.ClientSession) -> None:
        sweeping = asyncio.create_task(self._sweep()) if self._log and self._hooks else None
        try:
            while True:
                purge = await self._queue.get()
                await self._keep(purge)
                task = asyncio.create_task(self._send_all(session, purge))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        finally:
            if sweeping is not None:
                sweeping.cancel()

    async def _keep(self, purge: _Purge) -> None:
        self._sending.add(purge.id)
        if self._log is None:
            return
        try:
            pending = Pending(purge.id, purge.keys, purge.reason, time.time())
            await self._log.keep(purge.site, pending)
        except StoreUnavailable as e:  # sent all the same; only a crash now would lose it
            log.warning("purge %s is sent without a record in the store: %s", purge.id, e)

    async def _send_all(self, session: aiohttp.ClientSession, purge: _Purge) -> None:
        try:
            await asyncio.gather(*(self._send(session, h, purge) for h in self._hooks[purge.site]))
            if self._log is not None:
                with contextlib.suppress(StoreUnavailable):  # sent again later: harmless
                    await self._log.forget(purge.site, purge.id)
        finally:
            self._sending.discard(purge.id)
            self._unfinished -= 1

    async def _sweep(self) -> None:
        """Every SWEEP_EVERY, take up the purges other processes left unsent."""
        assert self._log is not None
        while True:
            await asyncio.sleep(min(SWEEP_EVERY, self._left_after))
            for site in self._hooks:
                try:
                    if not await self._log.lock(site, self._owner, 2 * SWEEP_EVERY):
                        continue
                    for left in await self._log.left(site, time.time() - self._left_after):
                        if left.id not in self._sending and self._queue.qsize() < QUEUE_MAX:
                            log.info("purge %s was left unsent; sending it", left.id)
                            self._enqueue(_Purge(site, left.keys, left.reason, left.id))
                except StoreUnavailable as e:
                    log.warning("purges left unsent on %s could not be read: %s", site, e)

    async def cancel(self) -> None:
        """Stop the attempts still in flight."""
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)

    async def settle(self, timeout: float) -> None:
        """Give what is queued and in flight up to `timeout` seconds to finish."""
        deadline = time.monotonic() + timeout
        while self._unfinished and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def _send(self, session: aiohttp.ClientSession, hook: PurgeHook, purge: _Purge) -> None:
        status = self.status[purge.site][hook_name(hook)]
        size = BATCH[hook.kind]
        for start in range(0, len(purge.keys), size):
            keys = purge.keys[start : start + size]
            for attempt in range(ATTEMPTS):
                try:
                    async with self._slots:
                        await self._attempt(session, hook, purge, keys)
                    break
                except HookError as e:
                    status.last_error, status.last_error_at = str(e), time.time()
                    if not e.retry or attempt == ATTEMPTS - 1:
                        status.failed += 1
                        log.warning("purge %s of %s failed: %s", purge.id, status.hook, e)
                        return
                    status.retried += 1
                    delay = self._backoff * 2**attempt
                    await self._sleep(delay * random.uniform(0.5, 1.0))
        status.sent += 1

    async def _attempt(
        self, session: aiohttp.ClientSession, hook: PurgeHook, purge: _Purge, keys: list[str]
    ) -> None:
        url, headers, body = _request(hook, purge, keys)
        await post(session, url, body, headers, TIMEOUT)
