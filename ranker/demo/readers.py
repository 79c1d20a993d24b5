"""Simulated readers: bounded, Zipf-distributed view beacons against a running collector."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
import orjson

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
)


class Zipf:
    """Ranks 0..n-1 drawn with probability proportional to 1/(rank+1)^s."""

    def __init__(self, n: int, s: float, rng: random.Random) -> None:
        self._cumulative = list(itertools.accumulate(1.0 / (k + 1) ** s for k in range(n)))
        self._rng = rng

    def draw(self) -> int:
        return bisect.bisect_left(self._cumulative, self._rng.random() * self._cumulative[-1])


@dataclass
class Result:
    sent: int = 0
    accepted: int = 0  # 204/200 answers: views the collector promised to count
    filtered: int = 0  # 202 answers: received but not counted (a repeat, say)
    rejected: int = 0  # 4xx/5xx answers
    failed: int = 0  # no answer (connection errors)
    per_item: dict[str, int] = field(default_factory=dict)  # accepted views per id


async def simulate(
    url: str,
    site: str,
    ids: Sequence[str],
    *,
    rate: float = 200.0,
    duration: float = 10.0,
    count: int | None = None,
    zipf_s: float = 1.0,
    drift: float = 0.0,
    concurrency: int = 32,
    seed: int = 1,
    lead: Sequence[str] = (),
) -> Result:
    """Send views for `ids` (shuffled into a popularity order, after the `lead` ones, in
    their order) at about `rate` per second.

    Stops after `duration` seconds or `count` beacons, whichever comes first. Every `drift`
    seconds a story from further down jumps to the top, as breaking news does. Each beacon
    comes from a different made-up reader, named in X-Forwarded-For: a collector that
    trusts this machine as a proxy (`trusted_proxies = ["127.0.0.1/32"]`) sees many
    readers on many networks; any other sees one address, and counts at most
    `max_views_per_address` views of each story from it.
    """
    if not ids:
        raise ValueError("no ids to simulate views for")
    rng = random.Random(seed)
    order = [i for i in ids if i not in lead]
    rng.shuffle(order)
    order = [*lead, *order]
    zipf = Zipf(len(order), zipf_s, rng)
    result = Result()
    limit = count if count is not None else 1 << 62
    slots = asyncio.Semaphore(concurrency)
    endpoint = url.rstrip("/") + "/v1/hit"

    async def send(session: aiohttp.ClientSession, item_id: str) -> None:
        body = orjson.dumps({"site": site, "id": item_id})
        headers = {
            "Content-Type": "text/plain;charset=UTF-8",
            "User-Agent": rng.choice(USER_AGENTS),
            # What a browser's navigator.sendBeacon sends with it (Fetch Metadata).
            "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Mode": "no-cors",
            "Sec-Fetch-Dest": "empty",
            "X-Forwarded-For": "10.{}.{}.{}".format(*rng.randbytes(2), rng.randrange(1, 255)),
        }
        try:
            async with session.post(endpoint, data=body, headers=headers) as response:
                await response.read()
                if response.status == 202:
                    result.filtered += 1
                elif response.status < 300:
                    result.accepted += 1
                    result.per_item[item_id] = result.per_item.get(item_id, 0) + 1
                else:
                    result.rejected += 1
        except (TimeoutError, aiohttp.ClientError, OSError):
            result.failed += 1
        finally:
            slots.release()

    start = time.monotonic()
    next_drift = start + drift if drift > 0 else float("inf")
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks: set[asyncio.Task[None]] = set()
        while result.sent < limit:
            now = time.monotonic()
            if now - start >= duration:
                break
            if now >= next_drift and len(order) > 6:
                riser = order.pop(rng.randrange(min(5, len(order) - 1), min(60, len(order))))
                order.insert(0, riser)
                next_drift = now + drift
            due = min(int((now - start) * rate) + 1, limit) - result.sent
            if due <= 0:
                await asyncio.sleep(min(0.02, 1.0 / rate))
                continue
            for _ in range(due):
                await slots.acquire()
                result.sent += 1
                task = asyncio.create_task(send(session, order[zipf.draw()]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    return result
