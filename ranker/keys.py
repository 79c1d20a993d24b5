"""Every Redis key name Ranker uses, in one place.

All keys of a site share the hash tag `{site}`, so each script touches one cluster slot;
a site spread over S shards uses the tags `{site:0}` .. `{site:S-1}`, each holding the
stories that hash to it, with their own rankings and catalog (`shard_tags`, `shard_of`).
Functions below take such a tag as `site`. The Lua scripts derive per-item, per-scope and
per-bucket names from `prefix(tag)` with the same suffixes as the functions below; keep
the two in step. `scope` is "all" or a section name.
"""

from __future__ import annotations

import zlib

# Why a view that reached a known story was not counted: each reason has held buckets and a
# held total of its own (below), in the order the collector's filters run.
HELD_REASONS = (
    "bot",
    "prefetch",
    "inconsistent",
    "datacenter",
    "duplicate",
    "address_limit",
    "concentrated",
)


def shard_tags(site: str, shards: int) -> list[str]:
    """The hash tags of a site's shards: just the site's name when it has one."""
    return [site] if shards <= 1 else [f"{site}:{k}" for k in range(shards)]


def shard_of(item_id: str, shards: int) -> int:
    """Which shard holds `item_id`: stable across processes and versions (CRC-32)."""
    return zlib.crc32(item_id.encode()) % shards if shards > 1 else 0


def prefix(site: str) -> str:
    return f"rk:{{{site}}}:"


def meta(site: str) -> str:
    """HASH: `landmark` (decay landmark, unix seconds) and `catver` (catalog version). No TTL."""
    return f"rk:{{{site}}}:meta"


def hot(site: str, scope: str) -> str:
    """ZSET id -> forward-decayed score against the landmark. No TTL; rebase prunes."""
    return f"rk:{{{site}}}:hot:{scope}"


def total(site: str, scope: str) -> str:
    """ZSET id -> all-time view count. No TTL."""
    return f"rk:{{{site}}}:tot:{scope}"


def bucket(site: str, scope: str, resolution: str, start: int) -> str:
    """ZSET id -> exact views in one minute/hour/day bucket. Expires `retention` after it ends."""
    return f"rk:{{{site}}}:b:{scope}:{resolution}:{start}"


def window(site: str, scope: str, name: str, end: int) -> str:
    """ZSET: union of a window's buckets ending at bucket `end`; a query cache, seconds of TTL."""
    return f"rk:{{{site}}}:win:{scope}:{name}:{end}"


def item(site: str, item_id: str) -> str:
    """HASH: catalog entry (title, url, section, summary, image, published_at, hidden). No TTL."""
    return f"rk:{{{site}}}:item:{item_id}"


def items(site: str) -> str:
    """SET of catalogued ids, hidden ones included: what collectors accept views for. No TTL."""
    return f"rk:{{{site}}}:items"


def hidden(site: str) -> str:
    """SET of catalogued ids that are hidden from every list, so editors can find them."""
    return f"rk:{{{site}}}:hidden"


def rising_tmp(site: str, scope: str, part: str) -> str:
    """ZSET: a scratch union for the rising list, deleted by the script that makes it."""
    return f"rk:{{{site}}}:tmp:rising:{scope}:{part}"


def networks(site: str, minute: int) -> str:
    """HASH id -> the keyed hashes (12 hex digits each, concatenated) of the distinct client
    networks that id's counted views came from in the minute starting at `minute`, at most
    `trends.rising_min_networks` of them: the rising list's crowd rule. Fifteen minutes after
    the minute."""
    return f"rk:{{{site}}}:nets:{minute}"


def held(site: str, reason: str, resolution: str, start: int) -> str:
    """ZSET id -> views held for `reason` in one minute/hour/day bucket (site-wide): what a
    release moves into the counted bucket of the same start. Expires like counted buckets."""
    return f"rk:{{{site}}}:held:{reason}:{resolution}:{start}"


def held_total(site: str, reason: str) -> str:
    """ZSET id -> views held for `reason` and not released, all time. No TTL; deleting an
    item or releasing its views removes it."""
    return f"rk:{{{site}}}:heldtot:{reason}"


def flags(site: str) -> str:
    """HASH id -> "network|share|unix time": the last time views of the id were held as
    concentrated, from which network (/24 or /48) and with what share. Cleared by a release
    or a deletion; the dashboard shows recent ones."""
    return f"rk:{{{site}}}:flags"


def catalog_log(site: str) -> str:
    """STREAM of catalog additions/deletions (op, id, v), capped near 10k entries: lets
    collectors follow the catalog without reloading it."""
    return f"rk:{{{site}}}:catlog"


def scopes(site: str) -> str:
    """SET of sections that have a hot ranking, so a rebase can find every one. No TTL."""
    return f"rk:{{{site}}}:scopes"


def maintenance_lock(site: str) -> str:
    """STRING: held by the collector doing the site's upkeep (maintain.lua), so it runs once
    per period whichever and however many collectors there are. Expires after the period."""
    return f"rk:{{{site}}}:lock:maintenance"


def flushed(site: str, batch_id: str) -> str:
    """HASH chunk number -> 1 for each chunk of a batch applied, so a retried flush never
    counts twice. Six hours."""
    return f"rk:{{{site}}}:flushed:{batch_id}"


def beacons(site: str, day: int) -> str:
    """HASH of the UTC day starting at `day`: `counted` views, and per reason the beacons not
    counted (bot, prefetch, duplicate, unsigned, rate_limited, malformed, overloaded).
    Expires with the day buckets."""
    return f"rk:{{{site}}}:beacons:{day}"


def salt(day: str) -> str:
    """STRING: the random salt of visitor hashes on UTC day `day` (YYYY-MM-DD), shared by
    every collector so one reader is one visitor whichever process answers. Two days: the
    previous day's salt dies soon after midnight, so a visitor cannot be followed across days."""
    return f"rk:salt:{day}"
