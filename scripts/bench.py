"""Ranker's benchmark: the collector and the top endpoint against bare aiohttp and the naive
one-ZINCRBY-per-request design, interleaved in one run on loopback, with wrk.

Scenarios (each one server process on uvloop, one wrk with the same threads/connections):
  A  bare aiohttp: read the body, answer 204 (the ceiling)
  B  naive: parse the JSON, one `await redis.zincrby` per request
  C  Ranker's collector, production configuration
  C0 the same with the limits on one outsider off (per-address limit, Fetch Metadata,
     hosting networks, concentration): what those checks cost, measured in the same run
  C2 Ranker's collector with --workers 2
  P  with --previous REV: the collector of an earlier release (git REV), production
     configuration, on the same engine and load: what this release costs against it
  E  bare aiohttp answering cached top-10 JSON bytes
  F  Ranker's top endpoint
  I  Ranker's top endpoint, one request every 10 ms, while C takes a 16 MiB catalog
     import (48,000 entries), against the same requests with no import; no wrk
Beacons are Zipf(s=1.0) over the catalogued stories, with varied user agents, each from a
reader (client address) no other beacon of the run comes from. Per scenario it prints the
throughput and the CPU time per request of the server (all its processes) and of the
engine; targets are judged on those CPU ratios, far steadier than throughput on a shared
machine, with the throughput ratios beside them. Writes JSON too; `--quick` checks only
that every scenario ran and that every 2xx answer became exactly one counted view.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from redis.asyncio import Redis

from ranker.core.config import Settings, Site
from ranker.core.outcomes import HELD
from ranker.core.validate import catalog_entry
from ranker.demo.readers import USER_AGENTS
from ranker.store import keys
from ranker.store.engine import EmbeddedEngine, free_port
from ranker.store.redis import Store

ROOT = Path(__file__).resolve().parent.parent
SITE = "bench"
TOKEN = secrets.token_urlsafe(32)  # `ranker serve` refuses a short or published one
THREADS, CONNECTIONS = 2, 64
# Targets, judged on CPU time per request (far steadier than throughput on a shared
# machine): name -> (scenario, baseline, whose CPU: the server's or the engine's, at most).
CPU_TARGETS = {
    "C/A": ("C", "A", "server", 1.25),
    "F/E": ("F", "E", "server", 1.11),
    "C/B": ("C", "B", "engine", 0.5),
    "C/C0": ("C", "C0", "server", 1.10),
    "C/P": ("C", "P", "server", 1.10),
}
# Throughput ratios, printed beside them: name -> (scenario, baseline).
THROUGHPUT = {
    "C/A": ("C", "A"),
    "C/B": ("C", "B"),
    "F/E": ("F", "E"),
    "C2/C": ("C2", "C"),
    "C/C0": ("C", "C0"),
    "C/P": ("C", "P"),
}
# Scenario I: the top list's p99 while a 16 MiB import runs, in ms. Its requests come one
# every IMPORT_PROBE_EVERY s, for IMPORT_IDLE s with no import before each import.
IMPORT_TARGET_MS = 50.0
IMPORT_ENTRIES = 48_000
IMPORT_PROBE_EVERY = 0.01
IMPORT_IDLE = 2.0

# wrk's request generator: Zipf(s) over ids s000000.., a user agent and client address each.
WRK_LUA = r"""
local n, s = %(n)d, %(s)f
local cum, total = {}, 0
for k = 1, n do total = total + 1 / (k ^ s); cum[k] = total end
local agents = {%(agents)s}
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local function draw()
  local x, lo, hi = math.random() * total, 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cum[mid] < x then lo = mid + 1 else hi = mid end
  end
  return lo - 1
end
-- Every beacon from a reader of its own: the i-th request of thread `tid` in wrk run
-- `first` (an argument) comes from the address numbered first + tid * POOL + i, in
-- 10.0.0.0/8. A repeat would be a duplicate, which costs less than a new reader's view and
-- would flatter the faster scenario. 256 readers share each /24, as a crowd's do.
local POOL, first, me = 150000, 0, 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)  -- a global of the thread's own state
  threads = threads + 1
end
function init(args)
  first, me = tonumber(args[1] or "0"), tid or 0
end
local function reader(i)
  local a = (first + me * POOL + i) %% 16777216
  -- The low bits pick the /24, so consecutive readers come from different networks.
  return string.format("10.%%d.%%d.%%d", a %% 256, math.floor(a / 256) %% 256,
                       math.floor(a / 65536))
end
-- A pool of ready requests per thread, so making them costs the load generator nothing
-- while it measures; built on first use: wrk fills in the Host header only after the
-- script is loaded. Large enough that no scenario runs out within a round.
local pool, next_one = {}, 0
local function fill()
 for i = 1, POOL do
  local body = string.format('{"site":"%(site)s","id":"s%%06d"}', draw())
  pool[i] = wrk.format("POST", "/v1/hit", {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["User-Agent"] = agents[math.random(#agents)],
    ["Sec-Fetch-Site"] = "cross-site",
    ["Sec-Fetch-Mode"] = "no-cors",
    ["Sec-Fetch-Dest"] = "empty",
    ["X-Forwarded-For"] = reader(i),
  }, body)
 end
end
request = function()
  if #pool == 0 then fill() end
  next_one = next_one %% #pool + 1
  return pool[next_one]
end
"""


# -- the baseline servers, run as `bench.py --serve A|B|E` ---------------------------------


def serve_baseline(kind: str, port: int, source: str) -> None:
    from aiohttp import web

    from ranker.runtime.serve import _new_loop

    app = web.Application()
    if kind == "A":

        async def bare(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=204)

        app.router.add_post("/v1/hit", bare)
    elif kind == "B":

        async def naive_ctx(app: web.Application) -> Any:
            app["redis"] = Redis.from_url(source)
            yield
            await app["redis"].aclose()

        async def naive(request: web.Request) -> web.Response:
            doc = orjson.loads(await request.read())
            await request.app["redis"].zincrby(f"naive:{doc['site']}", 1, doc["id"])
            return web.Response(status=204)

        app.cleanup_ctx.append(naive_ctx)
        app.router.add_post("/v1/hit", naive)
    else:
        # The very bytes Ranker's top endpoint answered, so F and E send the same body.
        body = Path(source).read_bytes()

        async def cached(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="application/json")

        # The same URL as F, so both pay the same routing and query parsing.
        app.router.add_get("/v1/sites/{site}/top", cached)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=_new_loop())


# -- orchestration -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a server has used, with every process it started (the
    workers of `--workers N`), from /proc: steadier than requests per second."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        own = int(stat.parent.name)
        parent[own], ticks[own] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo += [child for child, up in parent.items() if up == p and child not in tree]
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


async def wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def parse_wrk(out: str) -> dict[str, float]:
    def seconds(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(q: int) -> float:
        found = re.search(rf"^\s+{q}%\s+(\S+)\s*$", out, re.MULTILINE)
        return seconds(found.group(1))  # type: ignore[union-attr]

    p50, p99 = percentile(50), percentile(99)
    return {
        "rps": rps,
        "requests": total,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "p50_ms": p50 * 1e3,
        "p99_ms": p99 * 1e3,
    }


_WRK_RUNS = itertools.count()
WRK_POOL = 150_000  # requests each wrk thread prepares (WRK_LUA's POOL)


async def run_wrk(url: str, seconds: float, lua: Path | None) -> dict[str, float]:
    args = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    tail: list[str] = []
    if lua is not None:
        args += ["-s", str(lua)]
        # Readers no earlier run used: each run's threads take the next block of numbers.
        tail = ["--", str(next(_WRK_RUNS) * THREADS * WRK_POOL)]
    proc = await asyncio.create_subprocess_exec(
        *args, url, *tail, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.decode()}")
    return parse_wrk(out.decode())


def import_body() -> bytes:
    """A catalog import as a site would send it: JSON lines, 48,000 entries padded with a
    summary to just under the 16 MiB cap."""
    lines = []
    for k in range(IMPORT_ENTRIES):
        entry = {
            "id": f"imp{k:06d}",
            "title": f"Story {k}: a headline of a typical length for a news site",
            "url": f"https://news.example/2026/11/import-{k}",
            "section": "world",
            "published_at": "2026-11-02T10:00:00Z",
            "summary": "",
        }
        entry["summary"] = "x" * (340 - len(orjson.dumps(entry)))  # 340 bytes a line
        lines.append(orjson.dumps(entry))
    return b"\n".join(lines)


def latency_ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    return {"p50": at(0.5), "p99": at(0.99), "max": ordered[-1] * 1e3, "requests": len(ordered)}


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.engine = EmbeddedEngine(workdir / "engine", persist=False)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: dict[str, int] = {}
        self.pids: dict[str, int] = {}  # each scenario's server, for its CPU time
        self.server_cpu: dict[str, dict[str, float]] = {}
        self.results: dict[str, list[dict[str, float]]] = {}
        self.redis_cost: dict[str, dict[str, float]] = {}
        self.conservation: list[dict[str, int]] = []
        self.lags: dict[str, list[float]] = {"redis": [], "api": []}
        self.imports: dict[str, Any] | None = None  # scenario I

    async def start(self) -> None:
        url = await asyncio.to_thread(self.engine.start)
        self.redis = Redis.from_url(url, decode_responses=True)
        await self.catalog(url)
        config = self.workdir / "ranker.toml"
        config.write_text(
            f'[sites.{SITE}]\nhalf_life = "6h"\ntoken = "{TOKEN}"\n'
            # Production filters; the readers' addresses come through one proxy hop.
            '[collector]\ncatalog_refresh = "250ms"\ntrusted_proxies = ["127.0.0.1/32"]\n'
        )
        env = {**os.environ, "REDIS_URL": url}
        for name, kind in (("A", "A"), ("B", "B")):
            self.ports[name] = free_port()
            self.procs.append(
                baseline := subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--serve",
                        kind,
                        "--port",
                        str(self.ports[name]),
                        "--source",
                        url,
                    ],
                    env=env,
                )
            )
            self.pids[name] = baseline.pid
        unguarded = self.workdir / "unguarded.toml"
        unguarded.write_text(
            config.read_text()
            + 'max_views_per_address = 0\ndeny_hosting = false\nfetch_metadata = "never"\n'
            + "[trends]\nmax_network_share = 1\n"
        )
        if self.args.previous:
            await self.start_previous(env)
        for name, workers, conf in (("C", 1, config), ("C0", 1, unguarded), ("C2", 2, config)):
            if name not in self.args.scenarios and name != "C":  # F reads from C
                continue
            self.ports[name] = free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ranker",
                    "serve",
                    "--config",
                    str(conf),
                    "--port",
                    str(self.ports[name]),
                    "--workers",
                    str(workers),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.procs.append(proc)
            self.pids[name] = proc.pid  # with its workers, for --workers 2
        for port in self.ports.values():
            await wait_listening(port)
        self.ports["F"] = self.ports["C"]
        self.pids["F"] = self.pids["C"]
        self.lua = self.workdir / "beacons.lua"
        self.lua.write_text(
            WRK_LUA
            % {
                "n": self.args.stories,
                "s": 1.0,
                "site": SITE,
                "agents": ", ".join(json.dumps(a) for a in USER_AGENTS),
            }
        )

    async def start_previous(self, env: dict[str, str]) -> None:
        """Scenario P: the earlier release's `ranker serve`, from `git archive`, with the
        same sites and filters (in its own words for the proxy)."""
        tree = self.workdir / "previous"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", self.args.previous, "ranker"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        config = self.workdir / "previous.toml"
        # Releases before trusted_proxies named the proxy by its hop count.
        trusted = any("trusted_proxies" in p.read_text() for p in tree.rglob("config.py"))
        proxy = 'trusted_proxies = ["127.0.0.1/32"]' if trusted else "proxy_hops = 1"
        config.write_text(
            f'[sites.{SITE}]\nhalf_life = "6h"\ntoken = "{TOKEN}"\n'
            f'[collector]\ncatalog_refresh = "250ms"\n{proxy}\n'
        )
        self.ports["P"] = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "ranker", "serve", "--config", str(config)]
            + ["--port", str(self.ports["P"])],
            env={**env, "PYTHONPATH": str(tree)},
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        self.pids["P"] = proc.pid

    async def start_e(self) -> None:
        """E answers with the bytes F answers now (after the collector's warm-up views)."""
        body_file = self.workdir / "top.json"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.ports['C']}/v1/sites/{SITE}/top?n=10") as r,
        ):
            body_file.write_bytes(await r.read())
        self.ports["E"] = free_port()
        self.procs.append(
            cached := subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--serve",
                    "E",
                    "--port",
                    str(self.ports["E"]),
                    "--source",
                    str(body_file),
                ]
            )
        )
        self.pids["E"] = cached.pid
        await wait_listening(self.ports["E"])

    async def catalog(self, url: str) -> None:
        settings = Settings(redis_url=url, sites={SITE: Site(SITE, 21600.0, TOKEN)})
        store = Store(self.redis, settings)
        self.memory_empty = int((await self.redis.info("memory"))["used_memory"])
        for start in range(0, self.args.stories, 5000):
            entries = [
                (
                    f"s{k:06d}",
                    catalog_entry(
                        {
                            "title": f"Story {k}: a headline of a typical length for a news site",
                            "url": f"https://news.example/2026/11/story-{k}",
                            "section": "world",
                        }
                    ),
                )
                for k in range(start, min(start + 5000, self.args.stories))
            ]
            await store.put_items(SITE, entries)
        self.memory_catalog = int((await self.redis.info("memory"))["used_memory"])

    async def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        await self.redis.aclose()
        await asyncio.to_thread(self.engine.stop)

    async def health(self, port: int, workers: int) -> dict[int, dict[str, Any]]:
        """/healthz of every worker: new connections until each pid has answered."""
        seen: dict[int, dict[str, Any]] = {}
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(500):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                    doc = await r.json()
                seen[doc["pid"]] = doc
                if len(seen) == workers:
                    return seen
        raise RuntimeError("not every worker answered /healthz")

    async def counted(self) -> int:
        scores = await self.redis.zrange(keys.total(SITE, "all"), 0, -1, withscores=True)
        return int(sum(s for _, s in scores))

    async def settled(self, port: int, workers: int) -> tuple[int, int, int]:
        """(beacons answered 204 so far, answered 202 (received, not counted), views counted
        in Redis) once all is flushed."""
        for _ in range(200):
            docs = await self.health(port, workers)
            if all(d["pending_views"] == 0 for d in docs.values()):
                break
            await asyncio.sleep(0.05)
        filtered = sum(
            n for d in docs.values() for reason, n in d["not_counted"].items() if reason in HELD
        )
        return sum(d["accepted_views"] for d in docs.values()), filtered, await self.counted()

    async def redis_stats(self) -> dict[str, float]:
        info = await self.redis.info()
        calls = sum(v["calls"] for k, v in (await self.redis.info("commandstats")).items())
        return {
            "cpu": info["used_cpu_user"] + info["used_cpu_sys"],
            "commands": info["total_commands_processed"],
            "calls": calls,
        }

    async def scenario(self, name: str, seconds: float) -> None:
        port = self.ports[name]
        pid = self.pids.get(name)
        cpu_before = cpu_seconds(pid) if pid else 0.0
        if name in ("E", "F"):
            path = f"/v1/sites/{SITE}/top?n=10"
            result = await run_wrk(f"http://127.0.0.1:{port}{path}", seconds, None)
        else:
            workers = 2 if name == "C2" else 1
            if name.startswith("C") or name == "P":
                accepted0, filtered0, counted0 = await self.settled(port, workers)
            before = await self.redis_stats()
            cpu_before = cpu_seconds(pid) if pid else 0.0
            result = await run_wrk(f"http://127.0.0.1:{port}/v1/hit", seconds, self.lua)
            cpu_after = cpu_seconds(pid) if pid else 0.0
            if name.startswith("C") or name == "P":
                accepted, filtered, counted = await self.settled(port, workers)
                self.conservation.append(
                    {
                        "scenario": name,
                        "accepted": accepted - accepted0,
                        "filtered": filtered - filtered0,
                        "counted": counted - counted0,
                        "wrk_2xx": int(result["requests"] - result["non2xx"]),
                    }
                )
            after = await self.redis_stats()
            served = max(result["requests"] - result["non2xx"], 1)
            cost = self.redis_cost.setdefault(
                name, {"cpu": 0.0, "commands": 0.0, "calls": 0.0, "beacons": 0.0}
            )
            for k in ("cpu", "commands", "calls"):
                cost[k] += after[k] - before[k]
            cost["beacons"] += served
        if name in ("E", "F"):
            cpu_after = cpu_seconds(pid) if pid else 0.0
        # The server's CPU per request answered: every scenario, all its processes.
        spent = self.server_cpu.setdefault(name, {"cpu": 0.0, "requests": 0.0})
        spent["cpu"] += cpu_after - cpu_before
        spent["requests"] += max(result["requests"] - result["non2xx"], 1)
        self.results.setdefault(name, []).append(result)

    async def probe_lags(self, port: int, seconds: float) -> None:
        """Probe beacons during load: how long until Redis, then the API, shows each."""
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        end = time.monotonic() + seconds - 1.5
        k = len(self.lags["api"])
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < end:
                item, section = f"probe{k}", f"probe-{k}"
                async with session.put(
                    f"{base}/v1/sites/{SITE}/items/{item}",
                    headers=auth,
                    json={"title": item, "url": "/p", "section": section},
                ):
                    pass
                async with session.post(
                    f"{base}/v1/hit",
                    data=orjson.dumps({"site": SITE, "id": item}),
                    headers={
                        "Content-Type": "text/plain",
                        "User-Agent": USER_AGENTS[0],
                        "Sec-Fetch-Site": "cross-site",
                        "Sec-Fetch-Mode": "no-cors",
                        "Sec-Fetch-Dest": "empty",
                        "X-Forwarded-For": f"192.0.2.{k % 250 + 1}",
                    },
                ) as r:
                    assert r.status == 204, r.status
                sent = time.monotonic()
                while not await self.redis.zscore(keys.total(SITE, "all"), item):
                    await asyncio.sleep(0.005)
                self.lags["redis"].append(time.monotonic() - sent)
                url = f"{base}/v1/sites/{SITE}/top?n=1&window=all&section={section}"
                while True:
                    async with session.get(url) as r:
                        if (await r.json())["items"]:
                            break
                    await asyncio.sleep(0.01)
                self.lags["api"].append(time.monotonic() - sent)
                k += 1

    async def import_scenario(self) -> None:
        """Scenario I, on C: the top list, one request every IMPORT_PROBE_EVERY s, first
        with no import, then while one runs; once per round, the same import each time."""
        base = f"http://127.0.0.1:{self.ports['C']}/v1/sites/{SITE}"
        body = import_body()
        idle: list[float] = []
        during: list[float] = []
        took: list[float] = []
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
        async with aiohttp.ClientSession() as session:

            async def probe(into: list[float], until: asyncio.Future[Any]) -> None:
                while not until.done():
                    sent = time.monotonic()
                    async with session.get(f"{base}/top?n=10") as r:
                        assert r.status == 200, r.status
                        await r.read()
                    if not until.done():
                        into.append(time.monotonic() - sent)
                    await asyncio.sleep(IMPORT_PROBE_EVERY)

            async def post() -> dict[str, Any]:
                async with session.post(
                    f"{base}/items", data=io.BytesIO(body), headers=headers
                ) as r:
                    if r.status != 200:
                        raise RuntimeError(f"import answered {r.status}: {await r.text()}")
                    doc: dict[str, Any] = await r.json()
                    return doc

            for _ in range(self.args.rounds):
                await probe(idle, asyncio.ensure_future(asyncio.sleep(IMPORT_IDLE)))
                started = time.monotonic()
                task = asyncio.ensure_future(post())
                await probe(during, task)
                doc = await task
                took.append(time.monotonic() - started)
                if doc["imported"] != IMPORT_ENTRIES or doc["errors"]:
                    raise RuntimeError(f"import stored {doc['imported']}: {doc['errors'][:3]}")
        self.imports = {
            "bytes": len(body),
            "entries": IMPORT_ENTRIES,
            "seconds": took,
            "top_ms_during": latency_ms(during),
            "top_ms_idle": latency_ms(idle),
        }

    async def run(self) -> dict[str, Any]:
        await self.start()
        try:
            # Warm up each server once, then interleave the rounds. I runs apart, last.
            loaded = [name for name in self.args.scenarios if name != "I"]
            for name in loaded:
                if name == "E":
                    await self.start_e()
                await self.scenario(name, 1)
            self.results.clear()
            self.redis_cost.clear()
            self.conservation.clear()
            for _ in range(self.args.rounds):
                for name in loaded:
                    await self.scenario(name, self.args.seconds)
            if "C" in self.args.scenarios:
                # Lag probes under the same load, in a run of their own: their polling would
                # otherwise be billed to the collector's Redis cost.
                load = asyncio.create_task(
                    run_wrk(
                        f"http://127.0.0.1:{self.ports['C']}/v1/hit",
                        max(self.args.seconds, 4),
                        self.lua,
                    )
                )
                await self.probe_lags(self.ports["C"], max(self.args.seconds, 4))
                await load
            memory = int((await self.redis.info("memory"))["used_memory"])
            viewed = await self.redis.zcard(keys.total(SITE, "all"))
            if "I" in self.args.scenarios:  # after the memory count: it adds 48,000 entries
                await self.import_scenario()
        finally:
            await self.stop()
        return self.report(memory, viewed)

    def report(self, memory: int, viewed: int) -> dict[str, Any]:
        summary = {
            name: {
                "rps": statistics.median(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "server_cpu_us_per_request": self.server_cpu[name]["cpu"]
                / self.server_cpu[name]["requests"]
                * 1e6,
            }
            for name, runs in self.results.items()
        }
        ratios = {
            label: summary[a]["rps"] / summary[b]["rps"]
            for label, (a, b) in THROUGHPUT.items()
            if a in summary and b in summary
        }
        cost = {
            name: {
                "redis_cpu_us_per_beacon": c["cpu"] / c["beacons"] * 1e6,
                "redis_commands_per_beacon": c["commands"] / c["beacons"],
                "redis_calls_per_beacon": c["calls"] / c["beacons"],
            }
            for name, c in self.redis_cost.items()
        }
        per_request = {
            "server": {n: s["server_cpu_us_per_request"] for n, s in summary.items()},
            "engine": {n: c["redis_cpu_us_per_beacon"] for n, c in cost.items()},
        }
        cpu_ratios = {
            label: per_request[what][a] / per_request[what][b]
            for label, (a, b, what, _) in CPU_TARGETS.items()
            if a in per_request[what] and per_request[what].get(b)
        }

        def pct(values: list[float], q: float) -> float | None:
            if not values:
                return None
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        return {
            "stories": self.args.stories,
            "rounds": self.args.rounds,
            "seconds": self.args.seconds,
            "threads": THREADS,
            "connections": CONNECTIONS,
            "scenarios": summary,
            "ratios": ratios,
            "cpu_ratios": cpu_ratios,
            "redis": cost,
            "lag_s": {
                kind: {"p50": pct(v, 0.5), "p99": pct(v, 0.99), "probes": len(v)}
                for kind, v in self.lags.items()
            },
            "memory": {
                "catalog_bytes_per_story": (self.memory_catalog - self.memory_empty)
                / self.args.stories,
                "total_bytes_per_story": (memory - self.memory_empty) / self.args.stories,
                "ranking_bytes_per_viewed_story": (memory - self.memory_catalog) / max(viewed, 1),
                "viewed_stories": viewed,
            },
            "conservation": self.conservation,
            "import": self.imports,
        }


def print_report(doc: dict[str, Any]) -> None:
    print(
        f"\n{doc['stories']:,} stories, {doc['rounds']} round(s) x {doc['seconds']} s per "
        f"scenario, wrk -t{doc['threads']} -c{doc['connections']}\n"
    )
    names = {
        "A": "bare aiohttp 204",
        "B": "naive ZINCRBY",
        "C": "Ranker collector",
        "C0": "collector, checks off",
        "C2": "Ranker collector x2",
        "P": "previous release",
        "E": "bare cached JSON",
        "F": "Ranker top",
    }
    print(
        f"{'':3}{'scenario':22}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'server CPU us/req':>19}{'engine CPU us/req':>19}{'engine cmds/req':>17}"
    )
    for name, label in names.items():
        s = doc["scenarios"].get(name)
        if s is None:
            continue
        r = doc["redis"].get(name)
        engine = f"{r['redis_cpu_us_per_beacon']:.2f}" if r else ""
        cmds = f"{r['redis_calls_per_beacon']:.3f}" if r else ""
        print(
            f"{name:3}{label:22}{s['rps']:>10,.0f}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
            f"{s['server_cpu_us_per_request']:>19.1f}{engine:>19}{cmds:>17}"
        )
    print()
    for label, (_, _, what, target) in CPU_TARGETS.items():
        if label not in doc["cpu_ratios"]:
            continue
        value = doc["cpu_ratios"][label]
        throughput = doc["ratios"].get(label)
        beside = f"   (throughput {throughput:.2f})" if throughput is not None else ""
        print(
            f"{label:5} {what} CPU per request {value:5.2f}   target <= {target:<5} "
            f"{'ok' if value <= target else 'MISSED'}{beside}"
        )
    if "C2/C" in doc["ratios"]:
        print(f"C2/C  throughput {doc['ratios']['C2/C']:.2f} (two workers against one)")
    imports = doc["import"]
    if imports:
        during, idle = imports["top_ms_during"], imports["top_ms_idle"]
        for label, t in (("during the import", during), ("with no import", idle)):
            print(
                f"I  /top {label:18} p50/p99/max {t['p50']:5.1f} /{t['p99']:5.1f} /"
                f"{t['max']:6.1f} ms  ({t['requests']} requests)"
            )
        p99 = during["p99"]
        print(
            f"   the import: {imports['bytes'] / 2**20:.1f} MiB, {imports['entries']:,} entries, "
            f"took {', '.join(f'{t:.2f}' for t in imports['seconds'])} s; "
            f"/top p99 {p99 / idle['p99']:.1f}x that with no import\n"
            f"I p99 {p99:5.1f} ms   target <= {IMPORT_TARGET_MS:g} ms "
            f"{'ok' if p99 <= IMPORT_TARGET_MS else 'MISSED'}"
        )
    lag = doc["lag_s"]
    if lag["api"]["probes"]:
        print(
            f"lag to Redis p50/p99 {lag['redis']['p50']:.3f}/{lag['redis']['p99']:.3f} s, "
            f"to the API {lag['api']['p50']:.3f}/{lag['api']['p99']:.3f} s "
            f"({lag['api']['probes']} probes; targets p99 <= 1 s / 2 s)"
        )
    m = doc["memory"]
    print(
        f"Redis memory: {m['total_bytes_per_story']:.0f} B per story in all "
        f"({m['catalog_bytes_per_story']:.0f} catalog), "
        f"{m['ranking_bytes_per_viewed_story']:.0f} B of rankings per viewed story"
    )
    for c in doc["conservation"]:
        ok = "exact" if c["accepted"] == c["counted"] else "MISMATCH"
        print(
            f"conservation {c['scenario']:3}: {c['accepted']:,} beacons answered 204, "
            f"{c['counted']:,} counted ({ok}); {c['filtered']:,} answered 202 (filtered, "
            f"not counted); wrk saw {c['wrk_2xx']:,} 2xx"
        )


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # Try the package lists as they are; refresh them only if that fails.
        for refresh in (False, True):
            if refresh:
                subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
            install = ["apt-get", "install", "-y", "-qq", "wrk"]
            subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False)
            if shutil.which("wrk"):
                break
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is needed (apt-get install wrk)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run for CI: small, short, checks only correctness",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="per scenario per round")
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--json", default="artifacts/bench.json")
    parser.add_argument(
        "--scenarios",
        default="A,B,C,C0,C2,E,F,I",
        help="which to run, e.g. E,F while tuning, or I alone",
    )
    parser.add_argument(
        "--previous",
        metavar="REV",
        help="also run scenario P: the collector of git revision REV (an earlier release)",
    )
    parser.add_argument("--serve", choices=["A", "B", "E"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)  # B: Redis URL; E: body file
    args = parser.parse_args()
    if args.serve:
        serve_baseline(args.serve, args.port, args.source)
        return 0
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    if args.previous and "P" not in args.scenarios:
        args.scenarios.append("P")
    if args.quick:
        args.rounds, args.seconds, args.stories = 1, 2, 10_000
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="ranker-bench-") as tmp:
        doc = asyncio.run(Bench(args, Path(tmp)).run())
    print_report(doc)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(doc, indent=2))
    print(f"\nwritten to {args.json}")
    failures = [
        f"{c['scenario']}: {c['accepted']} answered 204 but {c['counted']} counted"
        for c in doc["conservation"]
        if c["accepted"] != c["counted"]
    ]
    missing = set(args.scenarios) - set(doc["scenarios"]) - ({"I"} if doc["import"] else set())
    if missing:
        failures.append(f"scenarios that did not run: {sorted(missing)}")
    for failure in failures:
        print(f"bench: FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
