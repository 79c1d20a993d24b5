"""The deployed topology on loopback, without Docker, and a check that it counts exactly.

What docker-compose.yml's `cluster` profile runs: three Valkey primaries (the server binary
Ranker embeds, append-only file on) joined by deploy/valkey-cluster-init.sh, and N
`ranker serve` collectors with deploy/ranker.toml pointing at `redis+cluster://`. A catalog
goes in through the API, then a bounded number of beacons, spread round-robin over the
collectors as the load balancer spreads them; each names its own reader in
X-Forwarded-For (deploy/ranker.toml trusts loopback), each on a network of its own, so
every one counts. Checks: every collector serves the
same lists, equal to the 204 answers; after SIGTERM (each collector flushes on its way out
and exits 0), the all-time totals in Redis equal the 204 answers per story and per
section. Exits 1 on any mismatch. Everything listens on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import SubprocessError
from types import FrameType
from typing import Any, cast

import aiohttp
import orjson
from redis.cluster import RedisCluster
from redis.exceptions import RedisError

from ranker.core.config import load_settings
from ranker.demo.readers import USER_AGENTS, Zipf
from ranker.store import keys
from ranker.store.engine import (
    EmbeddedEngine,
    die_with_parent,
    find_server_binary,
    free_cluster_port,
    free_port,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "ranker.toml"
CLUSTER_INIT = ROOT / "deploy" / "valkey-cluster-init.sh"
SECTIONS = ("politics", "sport", "culture", "business")
NODES = 3
WINDOWS = ("all", "1h")  # exact counts: each must equal the 204 answers


class Mismatch(Exception):
    """The topology answered, but not what the 204 answers promised."""


class Stopped(Exception):
    """SIGTERM, or the --timeout alarm."""


def valkey_cli() -> str:
    beside = Path(find_server_binary()).with_name("valkey-cli")
    return str(beside) if beside.is_file() else "valkey-cli"


@dataclass
class Tally:
    """What the collectors answered: 204s per story and per collector, other statuses."""

    views: Counter[str] = field(default_factory=Counter)
    per_collector: Counter[int] = field(default_factory=Counter)
    other: Counter[int] = field(default_factory=Counter)  # status (0: no answer) -> count
    sent: int = 0
    learning: int = 0  # 404s while a collector had yet to read a story from the catalog log


@dataclass
class Collector:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-15:])


class Topology:
    """The processes: cluster nodes and collectors, all stopped by `close()`."""

    def __init__(self, workdir: Path, config: Path) -> None:
        self.workdir = workdir
        self.config = config
        self.nodes: list[EmbeddedEngine] = []
        self.collectors: list[Collector] = []

    def start_cluster(self) -> list[int]:
        ports: list[int] = []
        for i in range(NODES):
            port = free_cluster_port()
            node = EmbeddedEngine(
                self.workdir / f"valkey-{i + 1}",
                persist=True,
                port=port,
                extra_args=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
            )
            self.nodes.append(node)
            node.start()
            ports.append(port)
        init = subprocess.run(
            ["sh", str(CLUSTER_INIT), *(f"127.0.0.1:{p}" for p in ports)],
            env={**os.environ, "VALKEY_CLI": valkey_cli()},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if init.returncode != 0:
            raise RuntimeError(f"joining the cluster failed:\n{init.stdout}{init.stderr}")
        return ports

    def start_collectors(self, count: int, redis_url: str, environ: dict[str, str]) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RANKER_", "REDIS_", "PROMETHEUS_"))
        }
        env |= {
            "REDIS_URL": redis_url,
            "RANKER_HOST": "127.0.0.1",  # the file says 0.0.0.0, for containers
            "RANKER_DATA_DIR": str(self.workdir / "unused"),
            **environ,
        }
        for i in range(count):
            port = free_port()
            log = self.workdir / f"collector-{i + 1}.log"
            with open(log, "wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "ranker", "serve", "--config", str(self.config)]
                    + ["--port", str(port)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
            self.collectors.append(Collector(port, process, log))

    def terminate_collectors(self, timeout: float = 30.0) -> tuple[list[int | None], float]:
        """SIGTERM to every collector at once; their exit codes and how long they took."""
        started = time.monotonic()
        for c in self.collectors:
            if c.process.poll() is None:
                c.process.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for c in self.collectors:
            try:
                codes.append(c.process.wait(max(0.1, started + timeout - time.monotonic())))
            except subprocess.TimeoutExpired:
                codes.append(None)
        return codes, time.monotonic() - started

    def close(self) -> None:
        for c in self.collectors:
            if c.process.poll() is None:
                c.process.kill()
                c.process.wait()
        for node in self.nodes:
            node.stop()


# -- traffic and reads over HTTP ----------------------------------------------------------


async def wait_ready(session: aiohttp.ClientSession, collectors: list[Collector]) -> None:
    deadline = time.monotonic() + 30
    for c in collectors:
        while True:
            if c.process.poll() is not None:
                raise RuntimeError(f"collector on :{c.port} exited:\n{c.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{c.url}/readyz") as r:
                    if r.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"collector on :{c.port} not ready:\n{c.log_tail()}")
            await asyncio.sleep(0.1)


async def put_catalog(
    session: aiohttp.ClientSession, collectors: list[Collector], site: str, token: str, n: int
) -> dict[str, tuple[str, Collector]]:
    """n stories, each written through the next collector; id -> (section, writer)."""
    stories = {
        f"story-{k:04d}": (SECTIONS[k % len(SECTIONS)], collectors[k % len(collectors)])
        for k in range(n)
    }
    for item_id, (section, writer) in stories.items():
        body = {
            "title": f"Story {item_id}",
            "url": f"https://news.example/{item_id}",
            "section": section,
        }
        async with session.put(
            f"{writer.url}/v1/sites/{site}/items/{item_id}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            if r.status not in (200, 201):
                raise RuntimeError(f"PUT {item_id}: {r.status} {await r.text()}")
    return stories


class Readers:
    """Beacons from readers who never repeat: reader k is 10.a.b.c with a browser agent."""

    def __init__(self, site: str, tally: Tally) -> None:
        self.site = site
        self.tally = tally
        self.numbers = itertools.count(1)

    def headers(self) -> dict[str, str]:
        k = next(self.numbers)
        return {
            "Content-Type": "text/plain;charset=UTF-8",
            "User-Agent": USER_AGENTS[k % len(USER_AGENTS)],
            # What a browser sends with navigator.sendBeacon.
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "no-cors",
            "Sec-Fetch-Dest": "empty",
            # A crowd: consecutive readers on different networks.
            "X-Forwarded-For": f"10.{k & 255}.{k >> 8 & 255}.{k >> 16 & 255}",
        }

    async def view(self, session: aiohttp.ClientSession, c: Collector, item_id: str) -> int:
        self.tally.sent += 1
        body = orjson.dumps({"site": self.site, "id": item_id})
        try:
            async with session.post(f"{c.url}/v1/hit", data=body, headers=self.headers()) as r:
                await r.read()
                status = r.status
        except (TimeoutError, aiohttp.ClientError, OSError):
            status = 0
        if status == 204:
            self.tally.views[item_id] += 1
            self.tally.per_collector[c.port] += 1
        else:
            self.tally.other[status] += 1
        return status

    async def until_known(
        self,
        session: aiohttp.ClientSession,
        collectors: list[Collector],
        stories: dict[str, tuple[str, Collector]],
    ) -> None:
        """A collector counts the stories it wrote at once, the others' once it has read
        them from the catalog log (within `catalog_refresh`), in the order written. Wait
        until each counts a view of the last story another collector wrote; these views
        count like any other."""
        deadline = time.monotonic() + 15
        for c in collectors:
            others = [i for i, (_, writer) in stories.items() if writer is not c]
            if not others:
                continue
            while await self.view(session, c, others[-1]) != 204:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"collector on :{c.port} never learnt {others[-1]}")
                await asyncio.sleep(0.1)
        # The tries before: unknown_item, nothing stored.
        self.tally.learning = self.tally.other.pop(404, 0)
        self.tally.sent -= self.tally.learning

    async def run(
        self,
        session: aiohttp.ClientSession,
        collectors: list[Collector],
        ids: list[str],
        count: int,
        concurrency: int,
        seed: int,
    ) -> None:
        """`count` beacons, Zipf-distributed over `ids`, collector after collector."""
        rng = random.Random(seed)
        zipf = Zipf(len(ids), 1.0, rng)
        ring = itertools.cycle(collectors)
        slots = asyncio.Semaphore(concurrency)

        async def one(c: Collector, item_id: str) -> None:
            async with slots:
                await self.view(session, c, item_id)

        await asyncio.gather(*(one(next(ring), ids[zipf.draw()]) for _ in range(count)))


async def health(session: aiohttp.ClientSession, c: Collector) -> dict[str, Any]:
    async with session.get(f"{c.url}/healthz") as r:
        doc: dict[str, Any] = await r.json()
        return doc


async def settle(session: aiohttp.ClientSession, collectors: list[Collector]) -> None:
    """Until no collector holds views it has not written."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        docs = [await health(session, c) for c in collectors]
        if all(d["pending_views"] == 0 for d in docs):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("views still pending after 20 s")


async def top(
    session: aiohttp.ClientSession, c: Collector, site: str, window: str
) -> list[tuple[str, float]]:
    async with session.get(f"{c.url}/v1/sites/{site}/top?n=100&window={window}") as r:
        if r.status != 200:
            raise Mismatch(f":{c.port} top?window={window}: {r.status} {await r.text()}")
        doc = await r.json()
    return [(i["id"], i["views"]) for i in doc["items"]]


async def check_lists(
    session: aiohttp.ClientSession, collectors: list[Collector], site: str, tally: Tally
) -> list[str]:
    """Every collector's lists: the same as each other's, exact windows equal to the tally."""
    problems = []
    for window in (*WINDOWS, "hot"):
        lists = [await top(session, c, site, window) for c in collectors]
        if window == "hot":  # decayed floats move with the clock; the order must not
            lists = [[(i, 0.0) for i, _ in got] for got in lists]
        if any(got != lists[0] for got in lists):
            problems.append(f"top?window={window}: the collectors disagree")
        if window == "hot":
            continue
        got = lists[0]
        wrong = [(i, v, tally.views[i]) for i, v in got if v != tally.views[i]]
        if wrong:
            problems.append(f"top?window={window}: (id, listed, 204s) differ: {wrong[:5]}")
        if len(got) != min(100, len(tally.views)):
            problems.append(f"top?window={window}: {len(got)} stories, {len(tally.views)} viewed")
        if [v for _, v in got] != sorted((v for _, v in got), reverse=True):
            problems.append(f"top?window={window}: not in order of views")
    return problems


# -- the run ------------------------------------------------------------------------------


def say(line: str) -> None:
    print(line, flush=True)


def shown(path: Path) -> str:
    """`path` from the repository's root when it is inside."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def conservation(
    redis_port: int,
    site: str,
    shards: int,
    stories: dict[str, tuple[str, Collector]],
    tally: Tally,
) -> tuple[list[str], str]:
    """Redis's all-time totals (over every shard of the site) against the 204 answers;
    problems, and where the site lives."""
    client = RedisCluster(host="127.0.0.1", port=redis_port, decode_responses=True)
    tags = keys.shard_tags(site, shards)
    try:
        places = []
        for tag in tags:
            key = keys.total(tag, "all")
            node = client.get_node_from_key(key)  # type: ignore[no-untyped-call]
            places.append(f"slot {client.keyslot(key)} on :{node.port}")  # type: ignore[no-untyped-call]
        where = ", ".join(places)
        problems = []
        for scope in ("all", *SECTIONS):
            stored: dict[str, int] = {}
            for tag in tags:
                rows = cast(
                    list[tuple[str, float]],
                    client.zrange(keys.total(tag, "all"), 0, -1, withscores=True),
                )
                # A section's counts are the site's, read through the section's members.
                members = (
                    None
                    if scope == "all"
                    else cast(set[str], client.smembers(keys.section(tag, scope)))
                )
                stored.update({i: int(v) for i, v in rows if members is None or i in members})
            want = {
                i: n for i, n in tally.views.items() if scope == "all" or stories[i][0] == scope
            }
            if stored != want:
                diff = {
                    i: (stored.get(i, 0), want.get(i, 0))
                    for i in stored.keys() | want.keys()
                    if stored.get(i, 0) != want.get(i, 0)
                }
                problems.append(
                    f"{keys.total(site, 'all')} ({scope}): {sum(stored.values())} views stored, "
                    f"{sum(want.values())} answered 204; (stored, 204s) per story: "
                    f"{dict(list(diff.items())[:5])}"
                )
        return problems, where
    finally:
        client.close()


async def traffic(
    topology: Topology, args: argparse.Namespace, site: str, token: str, tally: Tally
) -> tuple[dict[str, tuple[str, Collector]], list[str], list[dict[str, Any]]]:
    """Catalog, beacons, lists; returns the catalog, problems and /healthz at SIGTERM."""
    collectors = topology.collectors
    problems: list[str] = []
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await wait_ready(session, collectors)
        stories = await put_catalog(session, collectors, site, token, args.stories)
        say(
            f"catalog:     {len(stories)} stories in {len(SECTIONS)} sections, "
            "written round-robin through the collectors"
        )
        readers = Readers(site, tally)
        await readers.until_known(session, collectors, stories)
        ids = list(stories)
        first = args.beacons // 2
        # Half, then the lists once everything is written; the other half is still being
        # flushed when SIGTERM comes.
        await readers.run(session, collectors, ids, first, args.concurrency, seed=1)
        await settle(session, collectors)
        problems += await check_lists(session, collectors, site, tally)
        say(
            f"lists:       after {tally.sent} beacons, top?window=all|1h|hot from "
            f"{len(collectors)} collectors "
            + ("agree, and equal the 204 answers" if not problems else "DIFFER")
        )
        await readers.run(session, collectors, ids, args.beacons - first, args.concurrency, 2)
        at_sigterm = [await health(session, c) for c in collectors]
    return stories, problems, at_sigterm


def run(args: argparse.Namespace, workdir: Path) -> list[str]:
    # deploy/ranker.toml reads the site's token from $RANKER_TOKEN: a fresh one per run.
    environ = {"RANKER_TOKEN": secrets.token_urlsafe(32)}
    settings = load_settings(args.config, environ)
    site = args.site or next(iter(settings.sites), "")
    if site not in settings.sites:
        raise SystemExit(f"topology: no site {site!r} in {args.config}")
    token = settings.sites[site].token
    topology = Topology(workdir, args.config)
    tally = Tally()
    try:
        ports = topology.start_cluster()
        say(
            f"cluster:     {NODES} Valkey primaries, cluster_state:ok, on 127.0.0.1:"
            + ",".join(map(str, ports))
        )
        redis_url = f"redis+cluster://127.0.0.1:{ports[0]}"
        topology.start_collectors(args.collectors, redis_url, environ)
        collectors = topology.collectors
        say(
            f"collectors:  {len(collectors)} x ranker serve on 127.0.0.1:"
            + ",".join(str(c.port) for c in collectors)
            + f", REDIS_URL={redis_url}, {shown(args.config)} "
            + f"(trusted_proxies = {list(settings.trusted_proxies)})"
        )
        stories, problems, at_sigterm = asyncio.run(traffic(topology, args, site, token, tally))
        answered = sum(tally.views.values())
        say(
            f"beacons:     {tally.sent} sent round-robin: {answered} answered 204 ("
            + " / ".join(str(tally.per_collector[c.port]) for c in collectors)
            + ")"
            + (f", others {dict(tally.other)}" if tally.other else ", no other answer")
            + (
                f"; {tally.learning} more answered 404 while a collector read the catalog log"
                if tally.learning
                else ""
            )
        )
        if tally.other:
            problems.append(f"beacons not answered 204: {dict(tally.other)}")
        for c, doc in zip(collectors, at_sigterm, strict=True):
            if doc["accepted_views"] != tally.per_collector[c.port]:
                problems.append(
                    f":{c.port} /healthz accepted_views {doc['accepted_views']}, "
                    f"but answered 204 {tally.per_collector[c.port]} times"
                )
        codes, took = topology.terminate_collectors()
        pending = sum(d["pending_views"] for d in at_sigterm)
        say(f"SIGTERM:     {pending} views still buffered; exit codes {codes} after {took:.1f} s")
        if any(code != 0 for code in codes):
            problems.append(f"collectors exited with {codes}, not 0")
            for c in collectors:
                say(f"--- collector :{c.port} log\n{c.log_tail()}")
        shards = settings.sites[site].shards
        lost, where = conservation(ports[0], site, shards, stories, tally)
        problems += lost
        say(
            f"redis:       {keys.total(site, 'all')} ({where}) "
            + ("holds every 204, per story and per section" if not lost else "DIFFERS")
        )
        return problems
    finally:
        topology.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--collectors", type=int, default=3, help="ranker serve processes")
    parser.add_argument("--beacons", type=int, default=3000, help="beacons to send in all")
    parser.add_argument("--stories", type=int, default=40, help="stories to catalog")
    parser.add_argument("--concurrency", type=int, default=32, help="beacons in flight")
    parser.add_argument("--config", type=Path, default=CONFIG, help="the collectors' TOML")
    parser.add_argument("--site", help="site to use (default: the config's first)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds for the whole run")
    args = parser.parse_args()
    if args.collectors < 1 or args.beacons < 2 or args.stories < 1:
        parser.error("needs at least 1 collector, 2 beacons and 1 story")

    def give_up(signum: int, frame: FrameType | None) -> None:
        # Raised wherever the run is; the finally clauses stop what it started.
        if signum == signal.SIGALRM:
            raise Stopped(f"no result within --timeout {args.timeout} s")
        raise Stopped(f"stopped by {signal.Signals(signum).name}")

    signal.signal(signal.SIGALRM, give_up)
    signal.signal(signal.SIGTERM, give_up)
    signal.alarm(args.timeout)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="ranker-topology-") as tmp:
            problems = run(args, Path(tmp))
    except (
        Mismatch,
        Stopped,
        RedisError,
        RuntimeError,
        TimeoutError,
        OSError,
        SubprocessError,
    ) as e:
        problems = [str(e) if isinstance(e, Stopped) else f"{type(e).__name__}: {e}"]
    finally:
        signal.alarm(0)
    for problem in problems:
        say(f"topology: FAILED {problem}")
    say(f"{'FAILED' if problems else 'OK'} in {time.monotonic() - started:.1f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
