"""The `ranker` command: serve, demo, top, trends, simulate, sign, token, migrate, catalog
import and sync."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from ranker.core.config import (
    DEV_RELAXED,
    ConfigError,
    Settings,
    check_tokens,
    development,
    load_settings,
    parse_duration,
)
from ranker.core.validate import clean_text

if TYPE_CHECKING:
    from ranker.core.feeds import Feed
    from ranker.http.appkeys import Plugin


def _serve(settings: Settings, workers: int = 1, plugins: Sequence[Plugin] = ()) -> int:
    if not settings.sites:
        print("ranker: no sites configured; add a [sites.NAME] table", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Workers write their metrics here, so any one of them can answer for all. It
            # must be set before prometheus-client is first imported (by ranker.runtime.serve).
            shared = stack.enter_context(tempfile.TemporaryDirectory(prefix="ranker-metrics-"))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
        from ranker.http import logs
        from ranker.runtime.serve import run
        from ranker.store.engine import EmbeddedEngine, EngineError

        if not settings.redis_url and EmbeddedEngine.in_use(settings.data_dir):
            print(f"ranker: {settings.data_dir} is in use by another Ranker", file=sys.stderr)
            return 1
        logs.setup(settings.log_format)
        if settings.dev:
            _warn_development()
        print(f"ranker: serving http://{settings.host}:{settings.port}/", flush=True)
        try:
            return run(settings, workers, plugins)
        except EngineError as e:  # a second server that started at the same moment
            print(f"ranker: {e}", file=sys.stderr)
            return 1


_DEV_HELP = (
    "local development, on a loopback address only: the bot, repeat, per-address and "
    "crowd filters are off, so views from this machine count"
)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config, os.environ)
    if getattr(args, "host", None):
        settings = replace(settings, host=args.host)
    if getattr(args, "port", None) is not None:
        settings = replace(settings, port=args.port)
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    check_tokens(settings)
    if args.dev:
        settings = development(settings)
    return _serve(settings, args.workers)


def cmd_demo(args: argparse.Namespace) -> int:
    from ranker import demo

    settings = _settings(args)
    # Sites from a config are real ones; only the demo's own site has a public token.
    check_tokens(settings)
    if args.dev:
        settings = development(settings)
    given = bool(args.config or os.environ.get("RANKER_DATA_DIR"))
    return _serve(
        demo.settings(settings, settings.data_dir if given else None),
        plugins=[demo.plugin(args.rate)],
    )


def _warn_development() -> None:
    """Said at start, where nobody can miss it, while `--dev` is on."""
    lines = [
        "ranker: DEVELOPMENT MODE (--dev): views from this one machine count. Turned off:",
        *(f"ranker:   - {what}" for what in DEV_RELAXED),
        'ranker: never run this for readers; /healthz says "dev": true while it is on.',
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


def cmd_sign(args: argparse.Namespace) -> int:
    """Print a beacon token for an id that is not in the catalog (see ranker.core.signing)."""
    from ranker import demo
    from ranker.core.signing import sign
    from ranker.core.validate import ID_RULE, is_item_id

    settings = _settings(args)
    # Without a configuration, the demo's site (`ranker demo` accepts its tokens).
    site = settings.sites.get(args.site) or demo.settings(settings, None).sites.get(args.site)
    if site is None:
        print(f"ranker: no site {args.site!r} in the configuration", file=sys.stderr)
        return 2
    if not is_item_id(args.id):
        print(f"ranker: {ID_RULE}", file=sys.stderr)
        return 2
    expires = int(time.time() + parse_duration(args.ttl, "--ttl"))
    print(sign(site.signing_key, site.name, args.id, expires))
    return 0


def cmd_alerts_test(args: argparse.Namespace) -> int:
    """Send a sample alert to each of a site's alert hooks; 1 if any did not take it."""
    import asyncio

    from ranker.core.alerts import sample
    from ranker.http.alerts import deliver_now

    settings = _settings(args)
    site = settings.sites.get(args.site)
    if site is None:
        print(f"ranker: no site {args.site!r} in the configuration", file=sys.stderr)
        return 2
    if not site.alerts:
        name = site.name
        print(f"ranker: sites.{name} has no [[sites.{name}.alerts]] hooks", file=sys.stderr)
        return 2
    results = asyncio.run(deliver_now(site.alerts, sample(site.name, time.time())))
    for hook, outcome in results:
        print(f"{hook.name}: {outcome}")
    return 0 if all(outcome.startswith("sent") for _, outcome in results) else 1


def cmd_token(args: argparse.Namespace) -> int:
    """Print a fresh random token, for a site's `token` or `secret`."""
    print(secrets.token_urlsafe(32))  # 43 URL-safe characters, 256 random bits
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring every configured site's data to this release's storage layout. `ranker serve`
    does it at start too; this does it ahead, and says what it did."""
    settings = _settings(args)
    if not settings.sites:
        print("ranker: no sites configured; add a [sites.NAME] table", file=sys.stderr)
        return 2
    return asyncio.run(_migrate(settings))


async def _migrate(settings: Settings) -> int:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    from ranker.store.engine import EmbeddedEngine
    from ranker.store.keys import LAYOUT
    from ranker.store.redis import Store, StoreUnavailable

    engine, url = None, settings.redis_url
    if not url:
        if EmbeddedEngine.in_use(settings.data_dir):
            print(
                f"ranker: {settings.data_dir} is in use by a running Ranker (which migrated "
                "its data when it started)",
                file=sys.stderr,
            )
            return 1
        engine = EmbeddedEngine(settings.data_dir)
        url = engine.start()
    redis = (
        RedisCluster.from_url(url, decode_responses=True)
        if settings.redis_cluster
        else Redis.from_url(url, decode_responses=True)
    )
    try:
        store = Store(redis, settings)
        for name in settings.sites:
            done = await store.migrate(name, time.time())
            if done["shards"]:
                print(
                    f"{name}: {done['shards']} shard(s) migrated to layout {LAYOUT}: "
                    f"{done['members']} section memberships written, "
                    f"{done['removed']} keys of per-section copies removed"
                )
            else:
                print(f"{name}: already at layout {LAYOUT}")
        return 0
    except StoreUnavailable as e:
        print(
            f"ranker: the store did not answer ({e}); nothing is lost, run it again",
            file=sys.stderr,
        )
        return 1
    finally:
        await redis.aclose()
        if engine is not None:
            engine.stop()


def _base_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url).rstrip("/")
    settings = load_settings(args.config, os.environ)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


def _token(args: argparse.Namespace, site: str) -> str:
    if args.token:
        return str(args.token)
    if env := os.environ.get("RANKER_TOKEN"):
        return env
    settings = load_settings(args.config, os.environ)
    if site in settings.sites:
        return settings.sites[site].token
    from ranker import demo

    return demo.TOKEN if site == demo.SITE else ""


async def _get_json(url: str, **kwargs: Any) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url, **kwargs) as response:
        doc = orjson.loads(await response.read())
        if response.status >= 400:
            raise SystemExit(f"ranker: {response.status} {doc.get('message', '')}")
        return doc


def format_table(doc: dict[str, Any]) -> str:
    """A top list as a fixed-width table for the terminal."""
    rows = [("#", "views", "section", "title")]
    for it in doc["items"]:
        views = it["views"]
        shown = f"{views:,.1f}" if isinstance(views, float) else f"{views:,}"
        rows.append((str(it["rank"]), shown, it["section"] or "", clean_text(it["title"])))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:>{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows]
    scope = f" / {doc['section']}" if doc["section"] else ""
    header = f"{doc['site']}{scope}: most viewed, window {doc['window']}, at {doc['computed_at']}"
    return "\n".join([header, *lines])


def cmd_top(args: argparse.Namespace) -> int:
    params = {"n": str(args.n), "window": args.window}
    if args.section:
        params["section"] = args.section
    for name in ("exclude", "max_age", "author", "tag"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    if args.no_backfill:
        params["backfill"] = "false"
    doc = asyncio.run(_get_json(f"{_base_url(args)}/v1/sites/{args.site}/top", params=params))
    print(format_table(doc))
    return 0


def format_rising(doc: dict[str, Any]) -> str:
    """The rising list as a fixed-width table for the terminal."""
    rows = [("#", "rise", f"views {doc['short_window']}", "per hour", "section", "title")]
    for it in doc["items"]:
        rows.append(
            (
                str(it["rank"]),
                f"x{it['ratio']:.1f}",
                f"{it['views_short']:,}",
                f"{it['rate_short']:,.0f}",
                it["section"] or "",
                clean_text(it["title"]),  # an entry stored before the rule: no escapes
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        "  ".join(f"{c:>{w}}" for c, w in zip(r[:4], widths, strict=False))
        + f"  {r[4]:<{widths[4]}}  {r[5]}"
        for r in rows
    ]
    scope = f" / {doc['section']}" if doc["section"] else ""
    header = (
        f"{doc['site']}{scope}: rising, last {doc['short_window']} against the "
        f"{doc['baseline_window']} before (at least {doc['min_views']} views from "
        f"{doc['min_networks']} networks), "
        f"at {doc['computed_at']}"
    )
    history = doc.get("history") or {"ready": True}
    if not history["ready"]:
        ready = f" (ready at {history['ready_at']})" if history.get("ready_at") else ""
        header += f"\nnot enough history yet{ready}: the ratios compare with time not counted"
    if not doc["items"]:
        return f"{header}\nnothing is rising right now"
    return "\n".join([header, *lines])


def cmd_trends(args: argparse.Namespace) -> int:
    params = {"n": str(args.n)}
    if args.section:
        params["section"] = args.section
    headers = {"Authorization": f"Bearer {_token(args, args.site)}"}
    doc = asyncio.run(
        _get_json(f"{_base_url(args)}/v1/sites/{args.site}/rising", params=params, headers=headers)
    )
    print(format_rising(doc))
    return 0


async def _catalog_ids(base: str, site: str, token: str) -> list[str]:
    ids: list[str] = []
    cursor: str | None = "0"
    while cursor is not None:
        doc = await _get_json(
            f"{base}/v1/sites/{site}/items",
            params={"cursor": cursor},
            headers={"Authorization": f"Bearer {token}"},
        )
        ids += doc["ids"]
        cursor = doc["cursor"]
    return sorted(set(ids))


def cmd_simulate(args: argparse.Namespace) -> int:
    from ranker.demo.readers import simulate

    base = _base_url(args)
    ids = asyncio.run(_catalog_ids(base, args.site, _token(args, args.site)))
    if not ids:
        print(f"ranker: site {args.site!r} has no catalogued stories to view", file=sys.stderr)
        return 1
    result = asyncio.run(
        simulate(
            base,
            args.site,
            ids,
            rate=args.rate,
            duration=args.duration,
            count=args.count,
            zipf_s=args.zipf,
            drift=args.drift,
            concurrency=args.concurrency,
            seed=args.seed,
        )
    )
    print(
        f"sent {result.sent}, counted {result.accepted}, filtered {result.filtered}, "
        f"refused {result.rejected}, "
        f"failed {result.failed}"
    )
    return 0 if result.failed == 0 else 1


async def _import(base: str, site: str, token: str, path: Path, chunk: int) -> dict[str, int]:
    totals = {"imported": 0, "created": 0, "errors": 0}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    async with aiohttp.ClientSession() as session:
        with path.open("rb") as f:
            first_line = 1
            while lines := [line for _, line in zip(range(chunk), f, strict=False)]:
                async with session.post(
                    f"{base}/v1/sites/{site}/items", data=b"".join(lines), headers=headers
                ) as response:
                    doc = orjson.loads(await response.read())
                    if response.status >= 400:
                        raise SystemExit(f"ranker: {response.status} {doc.get('message', '')}")
                for err in doc["errors"]:
                    print(f"{path}:{first_line + err['line'] - 1}: {err['error']}", file=sys.stderr)
                totals["imported"] += doc["imported"]
                totals["created"] += doc["created"]
                totals["errors"] += len(doc["errors"])
                first_line += len(lines)
    return totals


def cmd_catalog_import(args: argparse.Namespace) -> int:
    totals = asyncio.run(
        _import(_base_url(args), args.site, _token(args, args.site), Path(args.file), args.chunk)
    )
    print(
        f"imported {totals['imported']} ({totals['created']} new), "
        f"{totals['errors']} line(s) refused"
    )
    return 0 if totals["errors"] == 0 else 1


async def _sync(base: str, site: str, token: str, feed: Feed) -> int:
    """One pass over a feed from here: fetched and read locally, its entries written through
    the catalog API as feed sync writes them (POST .../feeds/sync), and what became of them
    printed."""
    from ranker.core.feedread import FeedError
    from ranker.core.validate import public_entry
    from ranker.http.feedfetch import FetchError, address_check, collect, session

    check = address_check(feed)
    try:
        async with session(check) as client:
            read = await collect(client, feed, {}, check)
    except (FetchError, FeedError) as e:
        print(f"ranker: {feed.shown_url}: {e}", file=sys.stderr)
        return 1
    lines = []
    for item_id, fields in read.entries.items():
        shown = public_entry(item_id, fields)
        del shown["hidden"]  # the catalog's own is kept
        lines.append(orjson.dumps({k: v for k, v in shown.items() if v not in ("", [])}))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/v1/sites/{site}/feeds/sync", data=b"\n".join(lines), headers=headers
        ) as response,
    ):
        doc = orjson.loads(await response.read())
        if response.status >= 400:
            raise SystemExit(f"ranker: {response.status} {doc.get('message', '')}")
    print(f"{feed.shown_url}: {read.kind or 'nothing'}, {read.seen} items")
    for outcome, said in (
        ("added", "added"),
        ("updated", "updated"),
        ("unchanged", "unchanged"),
        ("deleted", "deleted by an editor, left out"),
    ):
        ids = doc[outcome]
        listed = "" if outcome == "unchanged" or not ids else ": " + ", ".join(ids[:10])
        print(f"{said} {len(ids)}{listed}{', …' if len(ids) > 10 and listed else ''}")
    skipped = read.skipped + [(f"entry {e['line']}", e["error"]) for e in doc["errors"]]
    print(f"skipped {len(skipped)}" + (":" if skipped else ""))
    for what, why in skipped:
        print(f"  {clean_text(what)}: {clean_text(why)}" if what else f"  {clean_text(why)}")
    return 0


def cmd_catalog_sync(args: argparse.Namespace) -> int:
    from ranker.core.feeds import parse_feed

    if "://" not in args.feed:  # the name of one of the site's configured feeds
        site = load_settings(args.config, os.environ).sites.get(args.site)
        named = {f.name: f for f in site.feeds} if site else {}
        if args.feed not in named:
            known = ", ".join(sorted(named)) or "none"
            print(
                f"ranker: {args.feed!r} is neither an http(s) address nor a feed of "
                f"sites.{args.site} in the configuration (its feeds: {known})",
                file=sys.stderr,
            )
            return 2
        if args.id != "guid" or args.section or args.allow_private:
            print(
                "ranker: a configured feed has its own rules: leave out --id, --section "
                "and --allow-private",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(
            _sync(_base_url(args), args.site, _token(args, args.site), named[args.feed])
        )
    given = {"url": args.feed, "id": args.id, "allow_private": args.allow_private}
    if args.section:
        given["section"] = args.section
    try:
        feed = parse_feed(given, "")  # checked as a configured feed is
    except ConfigError as e:
        said = str(e).removeprefix(".")  # the option's name, or the feed's address
        print(f"ranker: {said[5:] if said.startswith('url: ') else '--' + said}", file=sys.stderr)
        return 2
    return asyncio.run(_sync(_base_url(args), args.site, _token(args, args.site), feed))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ranker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", help="TOML settings file (default: $RANKER_CONFIG)")
        return p

    def client(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        with_config(p)
        p.add_argument("--url", help="a running Ranker (default: from the config's [server])")
        return p

    serve = with_config(sub.add_parser("serve", help="run the collector and API"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT) and one Redis",
    )
    serve.add_argument("--dev", action="store_true", help=_DEV_HELP)
    serve.set_defaults(func=cmd_serve)

    demo = with_config(sub.add_parser("demo", help="serve a demo site with simulated readers"))
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--rate", type=float, default=40.0, help="simulated views per second")
    demo.add_argument("--dev", action="store_true", help=_DEV_HELP)
    demo.set_defaults(func=cmd_demo)

    top = client(sub.add_parser("top", help="print a site's most viewed list"))
    top.add_argument("site")
    top.add_argument("--window", default="hot", help="hot, 1h, 24h, 7d, 30d or all")
    top.add_argument("--section")
    top.add_argument("-n", type=int, default=10)
    top.add_argument("--exclude", metavar="IDS", help="comma-separated ids to leave out")
    top.add_argument("--max-age", metavar="AGE", help="only stories published within (48h)")
    top.add_argument("--author", help="only stories naming this author")
    top.add_argument("--tag", help="only stories with this tag")
    top.add_argument(
        "--no-backfill", action="store_true", help="do not fill a short list with new stories"
    )
    top.set_defaults(func=cmd_top)

    trends = client(sub.add_parser("trends", help="print a site's rising stories"))
    trends.add_argument("site")
    trends.add_argument("--section")
    trends.add_argument("--token", help="the site's token (default: from the config)")
    trends.add_argument("-n", type=int, default=10)
    trends.set_defaults(func=cmd_trends)

    sim = client(sub.add_parser("simulate", help="send bounded Zipf-distributed views"))
    sim.add_argument("--site", default="demo")
    sim.add_argument("--token", help="the site's token, to list its catalog")
    sim.add_argument("--rate", type=float, default=200.0, help="views per second")
    sim.add_argument("--duration", type=float, default=10.0, help="seconds, at most")
    sim.add_argument("--count", type=int, help="views, at most")
    sim.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent s")
    sim.add_argument(
        "--drift",
        type=float,
        default=0.0,
        help="every this many seconds a lesser story jumps to the top",
    )
    sim.add_argument("--concurrency", type=int, default=32)
    sim.add_argument("--seed", type=int, default=1)
    sim.set_defaults(func=cmd_simulate)

    sign = with_config(
        sub.add_parser("sign", help="print a beacon token for an id not in the catalog")
    )
    sign.add_argument("site")
    sign.add_argument("id")
    sign.add_argument("--ttl", default="30d", help="how long the token is valid (e.g. 7d)")
    sign.set_defaults(func=cmd_sign)

    token = sub.add_parser("token", help="print a fresh random token for a site's configuration")
    token.set_defaults(func=cmd_token)

    migrate = with_config(
        sub.add_parser(
            "migrate", help="bring stored data to this release's layout (serve does too)"
        )
    )
    migrate.set_defaults(func=cmd_migrate)

    alerts = sub.add_parser("alerts", help="alert webhooks")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    alerts_test = with_config(
        alerts_sub.add_parser("test", help="send a sample alert to each of a site's hooks")
    )
    alerts_test.add_argument("site")
    alerts_test.set_defaults(func=cmd_alerts_test)

    catalog = sub.add_parser("catalog", help="catalog maintenance")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    imp = client(catalog_sub.add_parser("import", help="import entries from a JSON-lines file"))
    imp.add_argument("file")
    imp.add_argument("--site", default="demo")
    imp.add_argument("--token", help="the site's token (default: from the config)")
    imp.add_argument("--chunk", type=int, default=1000, help="lines per request")
    imp.set_defaults(func=cmd_catalog_import)
    sync = client(
        catalog_sub.add_parser(
            "sync", help="one pass over a feed or sitemap: its stories into the catalog"
        )
    )
    sync.add_argument(
        "feed",
        metavar="URL|NAME",
        help="the feed's or sitemap's address, or the name of a feed the site is configured with",
    )
    sync.add_argument("--site", default="demo")
    sync.add_argument("--token", help="the site's token (default: from the config)")
    sync.add_argument("--id", default="guid", help="guid, link, path or a pattern with one group")
    sync.add_argument("--section", help="category, path or a pattern with one group")
    sync.add_argument(
        "--allow-private", action="store_true", help="the feed may be on this machine or network"
    )
    sync.set_defaults(func=cmd_catalog_sync)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as e:
        print(f"ranker: configuration error: {e}", file=sys.stderr)
        return 2
    except (aiohttp.ClientError, OSError) as e:
        print(f"ranker: {e}", file=sys.stderr)
        return 1
    return result
