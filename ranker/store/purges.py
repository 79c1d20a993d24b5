"""CDN purges not yet done, kept in Redis (on the site's first shard) while they are sent:
a process killed between a takedown and its purge leaves the purge here, and whichever
collector holds the site's purge lock sends it again (ranker.http.purge)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import orjson

from ranker.store import keys
from ranker.store.redis import Store, round_trip


@dataclass(frozen=True, slots=True)
class Pending:
    id: str  # the purge's idempotency key
    keys: list[str]
    reason: str
    at: float  # when it was last taken up (unix s)


@dataclass
class PurgeLog:
    store: Store

    @property
    def round_trips(self) -> dict[str, int]:
        return self.store.round_trips

    def _tag(self, site: str) -> str:
        return self.store.tags(site)[0]

    @round_trip("purges")
    async def keep(self, site: str, purge: Pending) -> None:
        """Remember a purge being sent (again, at `purge.at`)."""
        body = orjson.dumps({"keys": purge.keys, "reason": purge.reason, "at": purge.at})
        await self.store.redis.hset(keys.purges(self._tag(site)), purge.id, body)

    @round_trip("purges")
    async def forget(self, site: str, purge_id: str) -> None:
        """A purge done: every hook confirmed it or gave it up."""
        await self.store.redis.hdel(keys.purges(self._tag(site)), purge_id)

    @round_trip("purges")
    async def left(self, site: str, before: float) -> list[Pending]:
        """The purges taken up before `before` and not done: their process stopped."""
        raw = cast(dict[str, str], await self.store.redis.hgetall(keys.purges(self._tag(site))))
        out = []
        for purge_id, body in raw.items():
            doc = orjson.loads(body)
            if doc["at"] < before:
                out.append(Pending(purge_id, doc["keys"], doc["reason"], doc["at"]))
        return sorted(out, key=lambda p: (p.at, p.id))

    @round_trip("purges")
    async def lock(self, site: str, owner: str, ttl: float) -> bool:
        """Take the site's purge sweep for `ttl` seconds, unless another collector has it."""
        lock = keys.purges_lock(self._tag(site))
        if await self.store.redis.set(lock, owner, px=int(ttl * 1000), nx=True):
            return True
        return bool(await self.store.redis.get(lock) == owner)
