"""Ranker on a real 3-primary Redis Cluster (Valkey, from the same binary as the embedded
engine): every key of a site shares a hash tag, so each script runs on one node."""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from ranker.core.config import Settings
from ranker.core.windows import BUCKET_SECONDS
from ranker.http.app import create_app
from ranker.store import keys
from ranker.store.engine import EmbeddedEngine, find_server_binary, free_cluster_port
from ranker.store.keys import shard_tags
from tests.model import ranked
from tests.support import TOKEN, FakeClock, auth, flush, hit, make_settings, put_item
from tests.test_invariants import ITEMS, SECTIONS, SITE, Harness


def _cli(server: str) -> str:
    for name in ("valkey-cli", "redis-cli"):
        beside = Path(server).with_name(name)
        if beside.is_file():
            return str(beside)
        if found := shutil.which(name):
            return found
    raise RuntimeError("no valkey-cli/redis-cli to create the cluster with")


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("cluster")
    ports = [free_cluster_port() for _ in range(3)]
    nodes = [
        EmbeddedEngine(
            base / f"node{i}",
            persist=False,
            port=port,
            extra_args=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
        )
        for i, port in enumerate(ports)
    ]
    try:
        for node in nodes:
            node.start()
        subprocess.run(
            [
                _cli(find_server_binary()),
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until every node agrees the cluster is up
            states = [
                subprocess.run(
                    [_cli(find_server_binary()), "-p", str(p), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout
                for p in ports
            ]
            if all("cluster_state:ok" in s for s in states):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the cluster did not come up")
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
async def cluster(cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(cluster_url, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


async def test_sites_live_on_different_nodes(cluster: RedisCluster) -> None:
    slots = {site: cluster.keyslot(f"rk:{{{site}}}:meta") for site in ("news", "other")}
    nodes = {site: cluster.get_node_from_key(f"rk:{{{site}}}:meta").port for site in slots}
    assert len(set(nodes.values())) == 2, nodes  # the test covers more than one node


@pytest.fixture(params=[1, 3], ids=["one-shard", "three-shards"])
def shards(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def _sharded(base: Settings, shards: int) -> Settings:
    sites = {name: replace(site, shards=shards) for name, site in base.sites.items()}
    return replace(base, sites=sites)


async def test_a_sharded_site_spreads_over_the_nodes(cluster: RedisCluster) -> None:
    nodes = {cluster.get_node_from_key(f"rk:{{{tag}}}:meta").port for tag in shard_tags("news", 3)}
    assert len(nodes) >= 2, nodes


async def test_the_whole_service_on_a_cluster(
    cluster: RedisCluster, cluster_url: str, shards: int
) -> None:
    clock = FakeClock()
    settings = _sharded(make_settings(cluster_url, redis_cluster=True), shards)
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        for site, token in (("news", TOKEN), ("other", "other-token")):
            for k, section in enumerate(("sport", "tech", "tech")):
                await put_item(client, f"s{k}", site=site, token=token, section=section)
            for k, n in enumerate((1, 3, 2)):
                for _ in range(n):
                    assert await hit(client, f"s{k}", site=site) == 204
        await flush(client)
        for site in ("news", "other"):
            doc = await (await client.get(f"/v1/sites/{site}/top?window=all")).json()
            assert [(i["id"], i["views"]) for i in doc["items"]] == [
                ("s1", 3),
                ("s2", 2),
                ("s0", 1),
            ]
            tech = await (await client.get(f"/v1/sites/{site}/top?window=1h&section=tech")).json()
            assert [i["id"] for i in tech["items"]] == ["s1", "s2"]
        assert (
            await client.patch("/v1/sites/news/items/s1", json={"hidden": True}, headers=auth())
        ).status == 200
        assert (await client.delete("/v1/sites/news/items/s2", headers=auth())).status == 204
        clock.advance(1.1)
        doc = await (await client.get("/v1/sites/news/top?window=all")).json()
        assert [i["id"] for i in doc["items"]] == ["s0"]
        rising = await client.get("/v1/sites/other/rising?n=3", headers=auth("other-token"))
        assert rising.status == 200
        series = await (
            await client.get("/v1/sites/other/items/s1/series?n=2", headers=auth("other-token"))
        ).json()
        assert sum(c for _, c in series["points"]) == 3
    # A second process learns the catalog from the cluster.
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        assert await hit(client, "s0") == 204
        assert await hit(client, "s2") == 404


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(
        st.tuples(st.sampled_from(ITEMS), st.integers(0, 7200), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
async def test_rankings_on_a_cluster_equal_the_reference(
    cluster: RedisCluster, cluster_url: str, shards: int, events: list[tuple[str, int, bool]]
) -> None:
    base = make_settings(cluster_url, redis_cluster=True)
    h = Harness(
        cluster,
        replace(base, sites={SITE: base.sites["news"]}),
        FakeClock(),
        600.0,
        rebase_after=2.0,
        shards=shards,
    )
    await h.catalog()
    await h.play(events)
    now = h.clock()
    for name in ("1h", "24h", "all"):
        for section in (None, *SECTIONS):
            assert await h.window(name, 8, section) == ranked(
                h.reference.window(name, now, section), 8
            )
    got = [(i, round(v, 9)) for i, v in await h.hot(8) if v >= 1e-5]
    want = [(i, round(v, 9)) for i, v in ranked(h.reference.hot(now), 8) if v >= 1e-5]
    assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=2e-6)


async def test_one_node_and_a_sharded_cluster_rank_the_same_stream_alike(
    cluster: RedisCluster, cluster_url: str, redis: Redis, engine: EmbeddedEngine
) -> None:
    rng = random.Random(11)
    events = [(rng.choice(ITEMS), rng.randrange(0, 400), rng.random() < 0.2) for _ in range(400)]
    start = time.time()
    single = make_settings(engine.url)
    one = Harness(
        redis, replace(single, sites={SITE: single.sites["news"]}), FakeClock(start), 900.0
    )
    base = make_settings(cluster_url, redis_cluster=True)
    many = Harness(
        cluster, replace(base, sites={SITE: base.sites["news"]}), FakeClock(start), 900.0, shards=3
    )
    for h in (one, many):
        await h.catalog()
        await h.play(events)
    for name in ("1h", "24h", "7d", "all"):
        for section in (None, *SECTIONS):
            assert await one.window(name, 8, section) == await many.window(name, 8, section)
    for section in (None, *SECTIONS):
        a, b = await one.hot(8, section), await many.hot(8, section)
        assert [i for i, _ in a] == [i for i, _ in b], section
        assert [v for _, v in a] == pytest.approx([v for _, v in b], rel=1e-9)


async def test_every_view_is_counted_once_on_a_sharded_cluster(
    cluster: RedisCluster, cluster_url: str
) -> None:
    """I3 with the site over three shards on three nodes: the totals and every bucket
    resolution add up to the views accepted, once the minutes are rolled."""
    base = make_settings(cluster_url, redis_cluster=True)
    h = Harness(
        cluster, replace(base, sites={SITE: base.sites["news"]}), FakeClock(), 3600.0, shards=3
    )
    await h.catalog()
    start = h.clock()
    for k in range(600):
        h.clock.advance((k * 7919) % 700)
        h.view(ITEMS[k % len(ITEMS)])
        if k % 41 == 0:
            await h.flush()
    await h.flush()
    tags = h.store.tags(SITE)
    assert len({cluster.get_node_from_key(keys.meta(t)).port for t in tags}) >= 2

    async def views(key: str) -> float:
        return sum(s for _, s in await cluster.zrange(key, 0, -1, withscores=True))

    assert sum([await views(keys.total(t, "all")) for t in tags]) == 600
    # Hours and days get their minutes from the upkeep, which rolls them on each shard.
    h.clock.advance(120)
    while await h.roll():  # at most MAX_ROLL minutes a call
        pass
    assert all([await cluster.zcard(keys.unrolled(t)) == 0 for t in tags])
    for resolution, size in BUCKET_SECONDS.items():
        first, last = int(start // size) * size, int(h.clock() // size) * size
        counted = 0.0
        for tag in tags:
            for bucket in range(first, last + size, size):
                counted += await views(keys.bucket(tag, "all", resolution, bucket))
        assert counted == 600, resolution
