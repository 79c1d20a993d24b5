"""Every Redis key name Ranker uses, declared once in `SCHEMA`: the functions below format
it for Python, `lua_prelude` turns it into the functions the Lua scripts build names with,
and a test holds the README's key schema to it.

All keys of a site share the hash tag `{site}`, so each script touches one cluster slot;
a site spread over S shards uses the tags `{site:0}` .. `{site:S-1}`, each holding the
stories that hash to it, with their own rankings and catalog (`shard_tags`, `shard_of`).
Functions below take such a tag as `site`. `scope` is "all" in what this release writes;
layout 1 also kept a copy of every ranking per section, which `ranker migrate` removes
(the names keep the field so that data can be found). A window's query cache has a scope
per section too: the section's intersection.

The scripts are told the site's `prefix` and build per-item, per-scope and per-bucket names
themselves, with the prelude's `key_<name>(prefix, ...)`, rather than receive each in KEYS:
one flush call handles up to 300 stories over many buckets, and passing every name would
multiply its arguments (strings to send, parse and hash) for names the script can build
once each. Names built from the prefix carry its hash tag, so they hash to the slot of the
script's KEYS. The constants the scripts share with Python (bucket sizes, the catalog log's
cap) come from the prelude too.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Callable, Iterable
from typing import Final, NamedTuple

from ranker.core.windows import BUCKET_SECONDS

CATALOG_LOG_MAX: Final = 10_000  # entries the catalog log keeps (trimmed with MAXLEN ~)
# The storage layout written by this release, in meta `layout`: 2 rolls minutes into hours
# and days and reads sections through member sets; data without it is layout 1.
LAYOUT: Final = 2
# Seconds a day of any time zone lasts at most (25 h, where a daylight-saving time ends):
# how long a script may take a day to be when it is not told when the next one starts.
LONGEST_DAY: Final = 25 * 3600
# Seconds of one count of the views counted (`traffic`): how finely the alert of beacons
# dropping can tell when they stopped.
TRAFFIC_SLOT: Final = 600


class Shape(NamedTuple):
    type: str  # what TYPE answers for the key
    pattern: str  # its name: `{site}` is the hash tag with its braces, `{x}` the argument x


# Every key, under the name of the function below that builds it. Names are stored data:
# data written by an earlier release must still be found, so a pattern never changes.
PREFIX: Final = "rk:{site}:"  # how every name of a site starts: what the scripts are told
SCHEMA: Final[dict[str, Shape]] = {
    "meta": Shape("hash", "rk:{site}:meta"),
    "hot": Shape("zset", "rk:{site}:hot:{scope}"),
    "total": Shape("zset", "rk:{site}:tot:{scope}"),
    "bucket": Shape("zset", "rk:{site}:b:{scope}:{resolution}:{start}"),
    "window": Shape("zset", "rk:{site}:win:{scope}:{name}:{end}"),
    "fresh": Shape("zset", "rk:{site}:fresh:{scope}:{name}:{end}:{max_age}"),
    "recent": Shape("zset", "rk:{site}:recent:{max_age}"),
    "published": Shape("zset", "rk:{site}:published"),
    "item": Shape("hash", "rk:{site}:item:{item_id}"),
    "items": Shape("set", "rk:{site}:items"),
    "section": Shape("set", "rk:{site}:sec:{section}"),
    "members": Shape("set", "rk:{site}:by:{kind}:{slug}"),
    "names": Shape("hash", "rk:{site}:names:{kind}"),
    "pins": Shape("hash", "rk:{site}:pins"),
    "unrolled": Shape("zset", "rk:{site}:unrolled"),
    "hidden": Shape("set", "rk:{site}:hidden"),
    "rising_tmp": Shape("zset", "rk:{site}:tmp:rising:{scope}:{part}"),
    "networks": Shape("hash", "rk:{site}:nets:{minute}"),
    "held": Shape("zset", "rk:{site}:held:{reason}:{resolution}:{start}"),
    "held_total": Shape("zset", "rk:{site}:heldtot:{reason}"),
    "flags": Shape("hash", "rk:{site}:flags"),
    "catalog_log": Shape("stream", "rk:{site}:catlog"),
    "scopes": Shape("set", "rk:{site}:scopes"),
    "maintenance_lock": Shape("string", "rk:{site}:lock:maintenance"),
    "flushed": Shape("hash", "rk:{site}:flushed:{batch_id}"),
    "beacons": Shape("hash", "rk:{site}:beacons:{day}"),
    "recirc": Shape("hash", "rk:{site}:recirc:{hour}"),
    "traffic": Shape("string", "rk:{site}:traffic:{start}"),
    "alerts_log": Shape("hash", "rk:{site}:alerts:log"),
    "alerts_outbox": Shape("zset", "rk:{site}:alerts:outbox"),
    "alerts_lock": Shape("string", "rk:{site}:lock:alerts"),
    "purges": Shape("hash", "rk:{site}:purges"),
    "purges_lock": Shape("string", "rk:{site}:lock:purges"),
    "deleted": Shape("zset", "rk:{site}:deleted"),
    "feed": Shape("hash", "rk:{site}:feed:{feed}"),
    "salt": Shape("string", "rk:salt:{day}"),  # shared by all sites: no tag, no script
}

_FIELD = re.compile(r"\{(\w+)\}")


def fields(pattern: str) -> list[str]:
    """The arguments a pattern names, in order, `site` included."""
    return _FIELD.findall(pattern)


def _formatter(pattern: str) -> Callable[..., str]:
    """`pattern` as a positional `str.format`, the site put inside literal braces."""
    count = itertools.count()

    def placeholder(m: re.Match[str]) -> str:
        slot = f"{{{next(count)}}}"  # {0}, {1}, ...
        return "{{" + slot + "}}" if m[1] == "site" else slot

    return _FIELD.sub(placeholder, pattern).format


_PREFIX: Final = _formatter(PREFIX)
_NAMES: Final = {name: _formatter(shape.pattern) for name, shape in SCHEMA.items()}

_LUA_KEYWORDS: Final = frozenset(
    "and break do else elseif end false for function if in local nil not or repeat return "
    "then true until while".split()
)


def _lua_function(name: str, pattern: str) -> str:
    """Lua `key_<name>(prefix, ...)`: the key's name from the site's prefix, as the Python
    function `name` makes it from the site."""
    params, parts = ["prefix"], ["prefix"]
    for k, part in enumerate(_FIELD.split(pattern.removeprefix(PREFIX))):
        if k % 2:  # an argument (Lua keywords cannot name parameters)
            param = f"{part}_" if part in _LUA_KEYWORDS else part
            params.append(param)
            parts.append(param)
        elif part:
            assert "'" not in part and "\\" not in part, pattern
            parts.append(f"'{part}'")
    return f"local function key_{name}({', '.join(params)}) return {' .. '.join(parts)} end"


def _lua_list(items: Iterable[str]) -> str:
    return "{" + ", ".join(items) + "}"


# What the prelude may define: constants, then a function per site key.
_LUA_DEFINITIONS: Final = {
    # The resolutions of buckets and their sizes (s), finest first: the scripts index them
    # 1..3 alike, and the retentions they are given in that order.
    "RESOLUTIONS": f"local RESOLUTIONS = {_lua_list(repr(r) for r in BUCKET_SECONDS)}",
    "BUCKET_SECONDS": f"local BUCKET_SECONDS = {_lua_list(map(str, BUCKET_SECONDS.values()))}",
    "CATALOG_LOG_MAX": f"local CATALOG_LOG_MAX = {CATALOG_LOG_MAX}",
    "LAYOUT": f"local LAYOUT = '{LAYOUT}'",
    "LONGEST_DAY": f"local LONGEST_DAY = {LONGEST_DAY}",
    "TRAFFIC_SLOT": f"local TRAFFIC_SLOT = {TRAFFIC_SLOT}",
    **{
        f"key_{name}": _lua_function(name, shape.pattern)
        for name, shape in SCHEMA.items()
        if shape.pattern.startswith(PREFIX)
    },
}


def lua_prelude(source: str) -> str:
    """The definitions of `_LUA_DEFINITIONS` that the script `source` uses, to put before it;
    only those, since a script runs its prelude on every call."""
    return "".join(
        line + "\n" for name, line in _LUA_DEFINITIONS.items() if re.search(rf"\b{name}\b", source)
    )


def shard_tags(site: str, shards: int) -> list[str]:
    """The hash tags of a site's shards: just the site's name when it has one."""
    return [site] if shards <= 1 else [f"{site}:{k}" for k in range(shards)]


def shard_of(item_id: str, shards: int) -> int:
    """Which shard holds `item_id`: stable across processes and versions (CRC-32)."""
    return zlib.crc32(item_id.encode()) % shards if shards > 1 else 0


def prefix(site: str) -> str:
    """How every name of the site starts: what the scripts build names from."""
    return _PREFIX(site)


def meta(site: str) -> str:
    """HASH: `landmark` (decay landmark, unix seconds), `catver` (catalog version), `rolled`
    (the last minute whose views are in its hour and day buckets) and `layout` (the storage
    layout the data is in, LAYOUT; absent before roll-ups). No TTL."""
    return _NAMES["meta"](site)


def hot(site: str, scope: str) -> str:
    """ZSET id -> forward-decayed score against the landmark. No TTL; rebase prunes."""
    return _NAMES["hot"](site, scope)


def total(site: str, scope: str) -> str:
    """ZSET id -> all-time view count. No TTL."""
    return _NAMES["total"](site, scope)


def bucket(site: str, scope: str, resolution: str, start: int) -> str:
    """ZSET id -> exact views in one minute/hour/day bucket (`scope` "all": sections are read
    through their members). Days are the site's local days, `start` their first second.
    Expires `retention` after it ends; a minute not rolled into its hour and day yet is kept
    until it is."""
    return _NAMES["bucket"](site, scope, resolution, start)


def window(site: str, scope: str, name: str, end: int) -> str:
    """ZSET: union of a window's buckets ending at bucket `end`; a query cache, seconds of TTL."""
    return _NAMES["window"](site, scope, name, end)


def fresh(site: str, scope: str, name: str, end: int, max_age: int) -> str:
    """ZSET: a list's ranking less the stories published more than `max_age` seconds ago
    (an intersection with `recent`); a query cache, like `window`."""
    return _NAMES["fresh"](site, scope, name, end, max_age)


def recent(site: str, max_age: int) -> str:
    """ZSET id -> publish time: the stories published within the last `max_age` seconds,
    taken from `published`; a query cache, like `window`."""
    return _NAMES["recent"](site, max_age)


def published(site: str) -> str:
    """ZSET id -> publish time (unix s) of every catalogued story that has one: what a
    list's `max_age` is read against. No TTL; kept by catalog writes."""
    return _NAMES["published"](site)


def item(site: str, item_id: str) -> str:
    """HASH: catalog entry (title, url, section, summary, image, published_at, hidden). No TTL."""
    return _NAMES["item"](site, item_id)


def items(site: str) -> str:
    """SET of catalogued ids, hidden ones included: what collectors accept views for. No TTL."""
    return _NAMES["items"](site)


def section(site: str, section: str) -> str:
    """SET of the catalogued ids in `section`: a section's lists are the site's lists
    intersected with it. No TTL."""
    return _NAMES["section"](site, section)


def members(site: str, kind: str, slug: str) -> str:
    """SET of the catalogued ids naming an author or a tag (`kind` "author" or "tag") whose
    slug is `slug`: lists by author or tag are the site's intersected with it. No TTL."""
    return _NAMES["members"](site, kind, slug)


def names(site: str, kind: str) -> str:
    """HASH slug -> name of the authors or tags (`kind`) catalogued entries name, as last
    written; a slug goes when no entry names it. No TTL."""
    return _NAMES["names"](site, kind)


def pins(site: str) -> str:
    """HASH id -> "position|until|section|windows": where editors pinned a story (section
    "" for the site's lists, windows comma-separated) until a unix time. An expired pin is
    left out, and removed when pins are listed; a deleted story's goes with it."""
    return _NAMES["pins"](site)


def unrolled(site: str) -> str:
    """ZSET minute start -> itself: the minutes with views not rolled into their hour and
    day buckets yet, which queries of hour and day windows add. No TTL; a few members."""
    return _NAMES["unrolled"](site)


def hidden(site: str) -> str:
    """SET of catalogued ids that are hidden from every list, so editors can find them."""
    return _NAMES["hidden"](site)


def rising_tmp(site: str, scope: str, part: str) -> str:
    """ZSET: a scratch union for the rising list, deleted by the script that makes it."""
    return _NAMES["rising_tmp"](site, scope, part)


def networks(site: str, minute: int) -> str:
    """HASH id -> the keyed hashes (12 hex digits each, concatenated) of the distinct client
    networks that id's counted views came from in the minute starting at `minute`, at most
    `trends.rising_min_networks` of them: the rising list's crowd rule. Fifteen minutes after
    the minute."""
    return _NAMES["networks"](site, minute)


def held(site: str, reason: str, resolution: str, start: int) -> str:
    """ZSET id -> views held for `reason` in one minute/hour/day bucket (site-wide): what a
    release moves into the counted bucket of the same start. Expires like counted buckets."""
    return _NAMES["held"](site, reason, resolution, start)


def held_total(site: str, reason: str) -> str:
    """ZSET id -> views held for `reason` and not released, all time. No TTL; deleting an
    item or releasing its views removes it."""
    return _NAMES["held_total"](site, reason)


def flags(site: str) -> str:
    """HASH id -> "network|share|unix time": the last time views of the id were held as
    concentrated, from which network (/24 or /48) and with what share. Cleared by a release
    or a deletion; the dashboard shows recent ones."""
    return _NAMES["flags"](site)


def catalog_log(site: str) -> str:
    """STREAM of catalog additions/deletions (op, id, v), capped near CATALOG_LOG_MAX
    entries: lets collectors follow the catalog without reloading it."""
    return _NAMES["catalog_log"](site)


def scopes(site: str) -> str:
    """SET of the sections catalogued entries have had, for the dashboard's choice. No TTL."""
    return _NAMES["scopes"](site)


def maintenance_lock(site: str) -> str:
    """STRING: held by the collector doing the site's upkeep (maintain.lua), so it runs once
    per period whichever and however many collectors there are. Expires after the period."""
    return _NAMES["maintenance_lock"](site)


def flushed(site: str, batch_id: str) -> str:
    """HASH chunk number -> 1 for each chunk of a batch applied, so a retried flush never
    counts twice. Six hours."""
    return _NAMES["flushed"](site, batch_id)


def beacons(site: str, day: int) -> str:
    """HASH of the site's day starting at `day`: `counted` views, and per reason the beacons not
    counted (bot, prefetch, duplicate, unsigned, rate_limited, malformed, overloaded), and
    `released` held views. Expires with the day buckets."""
    return _NAMES["beacons"](site, day)


def recirc(site: str, hour: int) -> str:
    """HASH "placement|impression" or "placement|click|position|id" -> count: the Most viewed
    box's impressions and clicks in that UTC hour (on the site's first shard). Expires
    `retention.day` after the hour."""
    return _NAMES["recirc"](site, hour)


def traffic(site: str, start: int) -> str:
    """STRING: the views counted on this shard in the TRAFFIC_SLOT seconds from `start` (a
    multiple of them; INCRBY per flush), for the alert of beacons dropping. Expires
    `retention.hour` after the slot."""
    return _NAMES["traffic"](site, start)


def alerts_log(site: str) -> str:
    """HASH "hook|alert" -> JSON record of one alert to one hook (what it says, its state,
    attempts, last error): an alert is made once, whichever collector finds it first, so
    none is sent twice (HSETNX). Records older than eight days are removed by the sender.
    On the site's first shard."""
    return _NAMES["alerts_log"](site)


def alerts_outbox(site: str) -> str:
    """ZSET "hook|alert" -> when its next attempt is due (unix s): the alerts not delivered
    yet, so a restarted collector sends what is pending and nothing else."""
    return _NAMES["alerts_outbox"](site)


def alerts_lock(site: str) -> str:
    """STRING: the collector that finds and sends the site's alerts; renewed while it runs,
    taken over by another when it stops renewing."""
    return _NAMES["alerts_lock"](site)


def purges(site: str) -> str:
    """HASH purge id -> JSON {keys, reason, at}: CDN purges being sent, removed once every
    hook confirmed or gave them up; one left longer than a purge takes is sent again. On
    the site's first shard."""
    return _NAMES["purges"](site)


def purges_lock(site: str) -> str:
    """STRING: the collector that sends the purges other collectors left; expires."""
    return _NAMES["purges_lock"](site)


def deleted(site: str) -> str:
    """ZSET id -> unix time an editor deleted the story: a feed never brings it back. No
    TTL; writing the id through the catalog API (PUT, import) removes it."""
    return _NAMES["deleted"](site)


def feed(site: str, feed: str) -> str:
    """HASH of a configured feed (on the site's first shard): `due` (unix s, when the next
    poll may start: whichever collector moves it first polls), what was kept of each of its
    documents (`documents`: URL -> ETag, Last-Modified, digest, as JSON), and the status
    editors see. No TTL; one per configured feed."""
    return _NAMES["feed"](site, feed)


def salt(day: str) -> str:
    """STRING: the random salt of visitor hashes on UTC day `day` (YYYY-MM-DD), shared by
    every collector so one reader is one visitor whichever process answers. Two days: the
    previous day's salt dies soon after midnight, so a visitor cannot be followed across days."""
    return _NAMES["salt"](day)
