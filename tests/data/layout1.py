"""Release 1's Redis data (storage layout 1), as layout1_make.py recorded it in layout1.json,
written back into an engine for a test of a later release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

FIXTURE = Path(__file__).with_name("layout1.json")


def _write(pipe: Pipeline, name: str, kind: str, value: Any) -> None:
    if kind == "string":
        pipe.set(name, value)
    elif kind == "hash":
        pipe.hset(name, mapping=value)
    elif kind == "set":
        pipe.sadd(name, *value)
    elif kind == "zset":
        # Scores as recorded (shortest round-trip decimals): read back bit for bit.
        pipe.zadd(name, dict(value))
    elif kind == "stream":
        for entry_id, fields in value:
            pipe.xadd(name, fields, id=entry_id)
    else:
        raise ValueError(f"{name}: no way to write a {kind}")


async def load_layout1(redis: Redis) -> dict[str, Any]:
    """Write every key of the fixture into `redis` (replacing any of the same name), each
    expiring after the time it had left at the fixture's `now`; the fixture itself: `now`,
    the sites and settings release 1 ran with, the keys, and under `expected` what release 1
    answered at `now`. Meant for an empty database, read with a clock set to `now`."""
    doc: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    async with redis.pipeline(transaction=False) as pipe:
        for name, key in doc["keys"].items():
            pipe.delete(name)
            _write(pipe, name, key["type"], key["value"])
            if key["ttl_ms"] > 0:
                pipe.pexpire(name, key["ttl_ms"])
        await pipe.execute()
    return doc
