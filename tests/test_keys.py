"""Key names have one source, `keys.SCHEMA`: the Python functions format it, the Lua scripts
build names only with the prelude generated from it, every key the store touches (in a
script or not) matches it, and the README's key schema table agrees with it."""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
from dataclasses import replace
from importlib.resources import files
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Monitor

from ranker.core.aggregate import Batch
from ranker.core.config import Settings, Site
from ranker.core.outcomes import HELD
from ranker.core.validate import ID_RE, SECTION_RE
from ranker.core.windows import BUCKET_SECONDS, WINDOWS, bucket_start
from ranker.store import keys
from ranker.store.alerts import AlertBox, Record
from ranker.store.keys import PREFIX, SCHEMA
from ranker.store.purges import Pending, PurgeLog
from ranker.store.redis import Pin, Store
from tests.support import FakeClock

LUA = files("ranker.store").joinpath("lua")
README = Path(__file__).parent.parent / "README.md"
# Functions of keys.py that name no key.
NOT_KEYS = {"shard_tags", "shard_of", "prefix", "fields", "lua_prelude"}


def _scripts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in LUA.iterdir() if p.name.endswith(".lua")}


def _int_fields(name: str) -> set[str]:
    hints = typing.get_type_hints(getattr(keys, name))
    return {field for field, hint in hints.items() if hint is int}


# What an argument of a key may be, when more is known than "no separator in it".
VALUES = {
    "site": r"\{[^{}]+\}",
    # "all" or a section, then maybe an author's or a tag's slug (no ":" in either)
    "scope": f"(?:all|{SECTION_RE.pattern})(?:[+](?:author|tag)=[^:+=]+)*",
    "item_id": ID_RE.pattern,
    "resolution": "|".join(BUCKET_SECONDS),
    "name": "|".join(WINDOWS),
    "section": SECTION_RE.pattern,
    "reason": "|".join(HELD),
    "kind": "author|tag",
}


def _regex(name: str) -> re.Pattern[str]:
    """What the names of SCHEMA[name] look like: numbers where the function takes an int."""
    numbers = _int_fields(name)
    out = ""
    for k, part in enumerate(re.split(r"\{(\w+)\}", SCHEMA[name].pattern)):
        if k % 2 == 0:
            out += re.escape(part)
        else:
            value = r"\d+" if part in numbers else VALUES.get(part, "[^:]+")
            out += f"(?:{value})"
    return re.compile(out)


REGEXES = {name: _regex(name) for name in SCHEMA}


def declared(key: str) -> str | None:
    """The name of the SCHEMA entry `key` matches; None when none does."""
    found = [name for name, regex in REGEXES.items() if regex.fullmatch(key)]
    assert len(found) <= 1, (key, found)  # patterns must not overlap
    return found[0] if found else None


# -- keys.py ------------------------------------------------------------------------------


# The names as released: stored data that an upgrade must still find.
RELEASED = {
    "meta": "rk:{site}:meta",
    "hot": "rk:{site}:hot:{scope}",
    "total": "rk:{site}:tot:{scope}",
    "bucket": "rk:{site}:b:{scope}:{resolution}:{start}",
    "section": "rk:{site}:sec:{section}",
    "unrolled": "rk:{site}:unrolled",
    "fresh": "rk:{site}:fresh:{scope}:{name}:{end}:{max_age}",
    "recent": "rk:{site}:recent:{max_age}",
    "published": "rk:{site}:published",
    "window": "rk:{site}:win:{scope}:{name}:{end}",
    "item": "rk:{site}:item:{item_id}",
    "items": "rk:{site}:items",
    "hidden": "rk:{site}:hidden",
    "rising_tmp": "rk:{site}:tmp:rising:{scope}:{part}",
    "networks": "rk:{site}:nets:{minute}",
    "held": "rk:{site}:held:{reason}:{resolution}:{start}",
    "held_total": "rk:{site}:heldtot:{reason}",
    "flags": "rk:{site}:flags",
    "catalog_log": "rk:{site}:catlog",
    "scopes": "rk:{site}:scopes",
    "maintenance_lock": "rk:{site}:lock:maintenance",
    "flushed": "rk:{site}:flushed:{batch_id}",
    "beacons": "rk:{site}:beacons:{day}",
    "salt": "rk:salt:{day}",
}


def test_released_names_do_not_change() -> None:
    # A new key may be added here and in SCHEMA; a released one keeps its name (and the
    # order of its arguments in it), or an upgrade would lose its data.
    current = {name: shape.pattern for name, shape in SCHEMA.items()}
    assert {name: current.get(name) for name in RELEASED} == RELEASED


def test_each_function_formats_its_pattern() -> None:
    for name, shape in SCHEMA.items():
        function = getattr(keys, name)
        params = list(inspect.signature(function).parameters)
        assert params == keys.fields(shape.pattern), name
        # Each argument lands where the pattern names it (`site` gets the tag's braces).
        assert function(*(p if p == "site" else f"{{{p}}}" for p in params)) == shape.pattern
    assert keys.prefix("site") == PREFIX
    assert keys.bucket("news:2", "all", "hour", 3600) == "rk:{news:2}:b:all:hour:3600"


def test_every_key_function_is_declared_in_the_schema() -> None:
    functions = {
        name
        for name, value in vars(keys).items()
        if inspect.isfunction(value) and value.__module__ == keys.__name__
    }
    public = {name for name in functions if not name.startswith("_")}
    assert public - NOT_KEYS == set(SCHEMA)


def test_every_site_key_carries_the_sites_hash_tag() -> None:
    shared = {name for name, shape in SCHEMA.items() if not shape.pattern.startswith(PREFIX)}
    assert shared == {"salt"}  # one key for all sites, never touched by a script
    assert PREFIX.count("{site}") == 1
    for shape in SCHEMA.values():
        assert keys.fields(shape.pattern).count("site") <= 1


async def test_the_prelude_names_keys_as_python_does(redis: Redis) -> None:
    tag = "news:2"
    samples: dict[str, str | int] = {
        "scope": "world",
        "resolution": "hour",
        "start": 1_700_000_000 // 3600 * 3600,
        "name": "24h",
        "end": 1_699_999_200,
        "item_id": "a:b.c-1",  # ids may hold the separator
        "part": "short",
        "section": "world",
        "kind": "author",
        "slug": "jane-doe",
        "max_age": 172_800,
        "minute": 1_700_000_040,
        "reason": "address_limit",
        "batch_id": "0123abcd",
        "day": 1_699_920_000,
        "hour": 1_699_999_200,
        "feed": "news-example-feed",
    }
    for name, shape in SCHEMA.items():
        if not shape.pattern.startswith(PREFIX):
            continue
        args = [samples[f] for f in keys.fields(shape.pattern) if f != "site"]
        call = f"key_{name}(ARGV[1]{''.join(f', ARGV[{k + 2}]' for k in range(len(args)))})"
        source = f"return {call}"
        built = await redis.eval(keys.lua_prelude(source) + source, 0, keys.prefix(tag), *args)
        assert built == getattr(keys, name)(tag, *args), name


def test_the_prelude_holds_only_what_a_script_uses() -> None:
    prelude = keys.lua_prelude("redis.call('ZINCRBY', key_hot(p, scope), 1, id)")
    assert prelude.splitlines() == [
        "local function key_hot(prefix, scope) return prefix .. 'hot:' .. scope end"
    ]
    sizes = ", ".join(str(s) for s in BUCKET_SECONDS.values())
    assert keys.lua_prelude("BUCKET_SECONDS[1]") == f"local BUCKET_SECONDS = {{{sizes}}}\n"


# -- the Lua sources ----------------------------------------------------------------------

# Literals that are not key names: a data format, and operands of concatenations that are
# not key names either (an exclusive score bound, a flag's separator).
NOT_KEY_LITERALS = {"(%d+):(%x+)"}
NOT_KEY_CONCATENATED = {"(", "|"}
LITERAL_RE = re.compile(r"""--[^\n]*|'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)\"""")


def _code(source: str) -> tuple[str, list[str]]:
    """The source without comments, each string literal replaced by STR<n>; the literals."""
    assert "[[" not in source and "--[" not in source  # long strings and comments: not lexed
    literals: list[str] = []

    def replace_literal(m: re.Match[str]) -> str:
        if m[0].startswith("--"):
            return ""
        literals.append(m[1] if m[1] is not None else m[2])
        return f"STR{len(literals) - 1}"

    return LITERAL_RE.sub(replace_literal, source), literals


def test_scripts_build_key_names_only_with_the_prelude() -> None:
    numbers = {*BUCKET_SECONDS.values(), keys.CATALOG_LOG_MAX, keys.LONGEST_DAY}
    for file, source in _scripts().items():
        code, literals = _code(source)
        for k, literal in enumerate(literals):
            if ":" in literal:
                assert literal in NOT_KEY_LITERALS, (file, literal)
            if re.search(rf"\.\.\s*STR{k}\b|\bSTR{k}\s*\.\.", code):
                assert literal in NOT_KEY_CONCATENATED, (file, literal)
        # The prefix (`p` in every script) goes only to the prelude's functions.
        assert not re.search(r"\bp\s*\.\.|\.\.\s*p\b", code), file
        used = set(re.findall(r"\bkey_\w+|\b[A-Z][A-Z_]*[A-Z]\b", code)) - {"KEYS", "ARGV"}
        defined = set(re.findall(r"^local (?:function )?(\w+)", keys.lua_prelude(source), re.M))
        assert used == defined, (file, used ^ defined)
        assert not re.search(r"function\s+key_", code), file  # only the prelude defines them
        for number in re.findall(r"(?<![\w.])\d+(?![\w.])", code):
            assert int(number) not in numbers, (file, number)  # from the prelude instead


# -- the README ---------------------------------------------------------------------------


def _shape(pattern: str) -> str:
    return re.sub(r"\{[^{}]*\}", "{}", pattern)


def test_the_readme_key_schema_is_the_declared_one() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Redis key schema", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = []
    for row in rows:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        documented.append((_shape(cells[0].strip("`")), cells[1]))
    schema = [(_shape(shape.pattern), shape.type) for shape in SCHEMA.values()]
    assert len(set(documented)) == len(documented)
    assert sorted(documented) == sorted(schema)


# -- every key the store touches ----------------------------------------------------------

MONITOR_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')
SENTINEL = "test-keys: the workload is done"


def _unescape(arg: str) -> str:
    return re.sub(
        r"\\(x[0-9a-fA-F]{2}|.)",
        lambda m: chr(int(m[1][1:], 16)) if m[1].startswith("x") and len(m[1]) == 3 else m[1],
        arg,
    )


async def _commands(monitor: Monitor) -> list[tuple[bool, tuple[str, ...]]]:
    """The commands MONITOR shows until the sentinel ECHO: (from a script, arguments)."""
    assert monitor.connection is not None
    commands = []
    while True:
        line = str(await monitor.connection.read_response())
        client, command = line.split(" [", 1)[1].split("] ", 1)
        args = tuple(_unescape(a) for a in MONITOR_ARG.findall(command))
        if args[0].upper() == "ECHO" and args[1:] == (SENTINEL,):
            return commands
        commands.append((client.endswith(" lua"), args))


async def _workload(store: Store, cached: Store, site: str, now: int) -> None:
    """Every store method, hence every script, with held views, networks, a flag, refusals,
    views of unknown and signed ids, cached and uncached windows."""
    sections = ["world", "sport", ""]
    await store.put_items(
        site,
        [
            (
                f"s{k}",
                {
                    "title": f"Story {k}",
                    "url": f"/s{k}",
                    "section": sections[k % 3],
                    "published_at": "2026-11-30T10:00:00Z" if k % 2 else "",
                    "authors": "Jane Doe" if k % 2 else "",
                    "author_keys": "jane-doe" if k % 2 else "",
                },
            )
            for k in range(12)
        ],
    )
    await store.set_hidden(site, "s1", True)
    await store.pin(site, "s2", Pin(1, now + 3600, None, ("hot", "24h")))
    await store.pin(site, "s5", Pin(2, now + 60, "world", ("all",)))
    minute = bucket_start(now, "minute")
    batch = Batch(site, 3600.0, ref=now)
    for k in range(12):
        batch.add(f"s{k}", now - 60 * k, count=k + 1)
    batch.add("s0", now - 7200)  # a second minute, in another hour
    batch.add("unknown", now)
    batch.add("signed", now)
    batch.signed.add("signed")
    for item, reason in (("s2", "bot"), ("s3", "concentrated"), ("s3", "address_limit")):
        batch.hold(item, reason, now)
    batch.flags["s3"] = ("203.0.113.0/24", 0.9)
    for item in ("s4", "s5"):
        batch.networks[item] = {"0123456789ab": minute, "ba9876543210": minute}
    batch.filtered = {"bot": 2, "duplicate": 1}
    batch.recirc = {(minute // 3600 * 3600, "sidebar|impression"): 3}
    await store.flush(batch, "batch-1")
    await store.flush(batch, "batch-1")  # a retry: the marker says it is applied
    for window in WINDOWS:
        for section in (None, "world"):
            await store.top(site, section, window, 5, now, 100)
            await store.top(site, section, window, 5, now, 100, max_age=86_400)
            await store.top(site, section, window, 5, now, 100, 0, {"author": "jane-doe"})
    await cached.top(site, None, "24h", 5, now, 100)  # its union stays a few seconds
    await store.latest(site, "world", 5, now - 86_400 * 365, 100)
    await store.latest(site, None, 5, 0, 100, {"author": "jane-doe"})
    for section in (None, "world"):
        await store.listing(site, section, "hot", 5, now, 100, pins=True)
    await store.pins(site, now)
    await store.unpin(site, "s5")
    short = [minute - 60 * k for k in range(3)]
    await store.rising_candidates(site, None, short, [minute - 60 * k for k in range(3, 9)], 1)
    await store.rising_candidates(site, "world", short, [minute - 240], 1)
    await store.series(site, ["s0", "s4"], "minute", short)
    await store.held(site, ["s2", "s3"], HELD)
    await store.most_held(site, HELD, 5)
    await store.flags(site)
    await store.recirculation(site, [minute // 3600 * 3600])
    await store.traffic(site, [minute // 3600 * 3600, minute // 3600 * 3600 - 3600], 3600)
    box = AlertBox(store)
    assert await box.lock(site, "me", 60)
    record = Record("hook", "digest", "digest:2026-12-02", "Most viewed", now, {"text": "x"})
    assert await box.add(site, "me", [record], now) == 1
    [due] = await box.due(site, now, 10)
    await box.done(site, "me", due, None)
    await box.log(site)
    await box.pending(site)
    await box.prune(site, now)
    await box.unlock(site, "me")
    purges = PurgeLog(store)
    await purges.keep(site, Pending("p1", ["ranker:news"], "pin", now - 600))
    assert [p.id for p in await purges.left(site, now - 60)] == ["p1"]
    assert await purges.lock(site, "me", 60)
    await purges.forget(site, "p1")
    await store.sections(site)
    await store.hidden_items(site)
    await store.get_items(site, ["s0", "nope"])
    await store.get_item(site, "s0")
    await store.total(site, "s0")
    await store.is_catalogued(site, "s0")
    await store.beacons(site, [bucket_start(now, "day")])
    await store.landmark(site)
    await store.salt("2024-01-01")
    cursor = 0
    while True:
        cursor, _ = await store.list_items(site, cursor, 5)
        if cursor == 0:
            break
    for tag in store.tags(site):
        await store.catalog_snapshot(tag)
        await store.catalog_version(tag)
        await store.catalog_changes(tag, "0-0")
    await store.release(site, "s2", HELD, now)
    await store.release(site, "s3", ["concentrated"], now)
    await store.maintain(site, now, 3600.0, 60.0)
    await store.rebase(site, now + 30 * 3600, 3600.0, 0.0)
    await store.delete_item(site, "s3", now)  # held views left too
    await store.delete_item(site, "signed", now)  # counts, no entry
    # Feed sync: a poll claimed, entries written as a feed writes them (s3 deleted above:
    # left out), its status kept.
    await store.feed_claim(site, "feed", now, 120.0)
    fed = {"title": "Story 3", "url": "/s3", "hidden": "0"}
    await store.sync_items(site, [("s3", fed), ("s0", fed), ("s12", fed)])
    await store.feed_save(site, "feed", {"outcome": "changed"}, {"total_added": 1})
    await store.feed_states(site, ["feed"])


@pytest.mark.parametrize("shards", [1, 3], ids=["one-shard", "three-shards"])
async def test_every_key_the_store_touches_is_declared(
    redis: Redis, settings: Settings, clock: FakeClock, shards: int
) -> None:
    site = "news"
    settings = replace(
        settings, sites={site: Site(site, half_life=3600.0, token="t" * 32, shards=shards)}
    )
    store = Store(redis, settings)
    cached = Store(redis, replace(settings, window_cache=5.0))
    async with redis.monitor() as monitor:
        reading = asyncio.create_task(_commands(monitor))
        await _workload(store, cached, site, int(clock()))
        await redis.echo(SENTINEL)
        commands = await asyncio.wait_for(reading, 60)

    scripts = {args[1] for _, args in commands if args[0].upper() == "EVALSHA"}
    assert len(scripts) == len([f for f in _scripts() if not f.startswith("lib_")])
    assert sum(lua for lua, _ in commands) > 1000  # what the scripts did, not just EVALSHA
    async with redis.pipeline(transaction=False) as pipe:
        distinct = sorted({args for _, args in commands})
        for command in distinct:
            pipe.command_getkeys(*command)
        replies = await pipe.execute(raise_on_error=False)
    touched: set[str] = set()
    for command, reply in zip(distinct, replies, strict=True):
        if isinstance(reply, list):
            touched.update(reply)
        else:  # a command without keys (SCRIPT LOAD, PING, ...)
            assert "no key arguments" in str(reply) or "Invalid" in str(reply), (command, reply)
    tags = {f"{{{tag}}}" for tag in store.tags(site)}
    matched = {}
    for key in touched:
        name = declared(key)
        assert name is not None, key
        matched[key] = name
        if name != "salt":
            assert any(tag in key for tag in tags), key
    assert set(matched.values()) == set(SCHEMA)  # the workload touched every kind of key

    for key in await redis.keys("*"):  # and what stays has the declared type
        name = declared(key)
        assert name is not None, key
        assert await redis.type(key) == SCHEMA[name].type, key
