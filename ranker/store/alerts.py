"""The alerts' outbox in Redis (alerts.lua): which collector sends a site's alerts, each
alert made once per hook, and what is still to be delivered, so that a restart sends what
is pending and nothing twice.

Records live on the site's first shard, as JSON under "hook|key".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib.resources import files
from typing import Any, cast

import orjson

from ranker.store import keys
from ranker.store.redis import Store, round_trip

KEPT = 8 * 86400.0  # how long a delivered (or given up) alert stays in the log


@dataclass(slots=True)
class Record:
    """One alert to one hook."""

    hook: str
    kind: str
    key: str
    title: str
    created: float
    body: dict[str, Any]  # what is posted, made once so every attempt sends the same
    state: str = "pending"  # "pending", "sent" or "failed"
    attempts: int = 0
    last_error: str = ""
    sent_at: float = 0.0
    next_at: float = 0.0

    @property
    def field(self) -> str:
        return f"{self.hook}|{self.key}"

    def dumps(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: str | bytes) -> Record:
        return cls(**orjson.loads(raw))


@dataclass
class AlertBox:
    store: Store
    _script: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        source = files("ranker.store").joinpath("lua", "alerts.lua").read_text(encoding="utf-8")
        self._script = self.store.redis.register_script(source)

    @property
    def round_trips(self) -> dict[str, int]:
        return self.store.round_trips

    def _keys(self, site: str) -> list[str]:
        tag = self.store.tags(site)[0]
        return [keys.alerts_lock(tag), keys.alerts_log(tag), keys.alerts_outbox(tag)]

    @round_trip("alerts")
    async def lock(self, site: str, owner: str, ttl: float) -> bool:
        """Take the site's alerts for `ttl` seconds, or keep them: whether `owner` has them."""
        reply = await self._script(keys=self._keys(site), args=["lock", owner, int(ttl * 1000)])
        return bool(reply == 1)

    @round_trip("alerts")
    async def unlock(self, site: str, owner: str) -> None:
        """Let another collector take the site's alerts at once (a clean shutdown)."""
        lock = self._keys(site)[0]
        if await self.store.redis.get(lock) == owner:
            await self.store.redis.delete(lock)

    @round_trip("alerts")
    async def add(self, site: str, owner: str, records: list[Record], due: float) -> int:
        """Record and queue the alerts not made before; how many were new (none when
        `owner` no longer holds the site's alerts)."""
        if not records:
            return 0
        args: list[Any] = ["add", owner, repr(due)]
        for record in records:
            args += [record.field, record.dumps()]
        return max(0, int(await self._script(keys=self._keys(site), args=args)))

    @round_trip("alerts")
    async def known(self, site: str, records: list[Record]) -> set[str]:
        """The fields of those of `records` made before."""
        if not records:
            return set()
        _, log, _ = self._keys(site)
        fields = [r.field for r in records]
        found = await self.store.redis.hmget(log, fields)
        return {f for f, raw in zip(fields, found, strict=True) if raw is not None}

    @round_trip("alerts")
    async def done(self, site: str, owner: str, record: Record, again: float | None) -> bool:
        """Keep an attempt's outcome; queued again at `again`, or out of the outbox."""
        args = ["done", owner, record.field, record.dumps(), "" if again is None else repr(again)]
        return int(await self._script(keys=self._keys(site), args=args)) == 1

    @round_trip("alerts")
    async def due(self, site: str, now: float, limit: int) -> list[Record]:
        """The pending alerts whose next attempt is due, oldest first."""
        _, log, outbox = self._keys(site)
        fields = cast(
            list[str], await self.store.redis.zrangebyscore(outbox, "-inf", now, start=0, num=limit)
        )
        if not fields:
            return []
        raws = await self.store.redis.hmget(log, fields)
        return [Record.loads(raw) for raw in raws if raw is not None]

    @round_trip("alerts")
    async def log(self, site: str) -> list[Record]:
        """Every alert kept, newest first."""
        _, log, _ = self._keys(site)
        raws = cast(dict[str, str], await self.store.redis.hgetall(log))
        records = [Record.loads(raw) for raw in raws.values()]
        return sorted(records, key=lambda r: (-r.created, r.field))

    @round_trip("alerts")
    async def pending(self, site: str) -> int:
        return int(await self.store.redis.zcard(self._keys(site)[2]))

    @round_trip("alerts")
    async def prune(self, site: str, now: float) -> int:
        """Forget delivered and given-up alerts older than KEPT; how many. Their keys may
        then be made again, which no rule does after that long."""
        _, log, _ = self._keys(site)
        old = [
            field
            for field, raw in cast(dict[str, str], await self.store.redis.hgetall(log)).items()
            if (r := Record.loads(raw)).state != "pending" and r.created < now - KEPT
        ]
        if old:
            await self.store.redis.hdel(log, *old)
        return len(old)
