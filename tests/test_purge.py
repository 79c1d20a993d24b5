"""CDN purges: the hooks of `[[sites.NAME.purge]]` get the surrogate keys of what a write
changed, from a live server to a fake CDN and a fake webhook on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from ranker.core.config import ConfigError, PurgeHook, settings_from_mapping
from ranker.http.app import create_app
from ranker.http.appkeys import METRICS, PURGER
from ranker.http.purge import Purger
from tests.support import (
    BROWSER_HEADERS,
    TOKEN,
    FakeClock,
    auth,
    make_settings,
    put_item,
    receiving,
)

CDN_TOKEN = "cdn-api-token-that-must-stay-secret"


@dataclass
class Receiver:
    """A fake CDN API and webhook: records each request; answers `failures` 503s first on
    each path."""

    failures: int = 0
    status: int = 200
    calls: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((request.path, dict(request.headers), orjson.loads(await request.read())))
        if self.failed.get(request.path, 0) < self.failures:
            self.failed[request.path] = self.failed.get(request.path, 0) + 1
            return web.Response(status=503)
        return web.Response(status=self.status, text="{}")

    def keys(self, path: str) -> list[list[str]]:
        """The keys each successful-or-not request to `path` named."""
        out = []
        for got, _, body in self.calls:
            if got == path:
                out.append(body.get("surrogate_keys") or body.get("tags") or body.get("keys"))
        return out


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    fake = Receiver()
    async with receiving(fake.handle) as base:
        yield fake, base


@pytest.fixture
async def purging(
    engine: Any, redis: Redis, clock: FakeClock, receiver: tuple[Receiver, str]
) -> AsyncIterator[tuple[TestClient[Any, Any], Receiver]]:
    await redis.flushall()
    fake, base = receiver
    settings = make_settings(engine.url)
    hooks = (
        PurgeHook("fastly", base + "/fastly", "svc1", CDN_TOKEN),
        PurgeHook("cloudflare", base + "/cf", "zone1", CDN_TOKEN),
        PurgeHook("webhook", base + "/hook"),
    )
    site = replace(settings.sites["news"], purge=hooks)
    settings = replace(settings, sites={**settings.sites, "news": site})
    app = create_app(settings, clock=clock)
    app[PURGER] = Purger(settings.sites, backoff=0.01)  # retries at once, not in seconds
    async with TestClient(TestServer(app), headers=BROWSER_HEADERS) as client:
        yield client, fake


async def settled(client: TestClient[Any, Any]) -> None:
    await client.app[PURGER].settle(5.0)
    await asyncio.sleep(0)


async def test_each_kind_of_change_purges_what_it_changed(
    purging: tuple[TestClient[Any, Any], Receiver],
) -> None:
    client, fake = purging
    await put_item(client, "a")  # new: in no cached list yet
    await settled(client)
    assert fake.calls == []
    changes = [
        ("put", "/v1/sites/news/items/a", {"title": "New title", "url": "/a"}, ["ranker:news:a"]),
        ("patch", "/v1/sites/news/items/a", {"hidden": True}, ["ranker:news:a"]),
        ("put", "/v1/sites/news/pins/a", {"until": time.time() + 3600}, ["ranker:news"]),
        ("delete", "/v1/sites/news/pins/a", None, ["ranker:news"]),
        ("delete", "/v1/sites/news/items/a", None, ["ranker:news:a"]),
    ]
    for method, path, body, keys in changes:
        fake.calls.clear()
        response = await client.request(method, path, json=body, headers=auth())
        assert response.status < 300, (path, await response.text())
        await settled(client)
        assert fake.keys("/fastly/service/svc1/purge") == [keys], path
        assert fake.keys("/cf/zones/zone1/purge_cache") == [keys], path
        assert fake.keys("/hook") == [keys], path
        ids = {headers["Idempotency-Key"] for _, headers, _ in fake.calls}
        assert len(ids) == 1  # one purge, one key across its hooks
    # The APIs' own forms: Fastly's key header, Cloudflare's bearer token, the webhook's
    # body naming the site and why.
    by_path = {path: (headers, body) for path, headers, body in fake.calls}
    assert by_path["/fastly/service/svc1/purge"][0]["Fastly-Key"] == CDN_TOKEN
    assert by_path["/cf/zones/zone1/purge_cache"][0]["Authorization"] == f"Bearer {CDN_TOKEN}"
    assert "Authorization" not in by_path["/hook"][0]
    assert by_path["/hook"][1]["site"] == "news" and by_path["/hook"][1]["reason"] == "delete"


async def test_an_import_purges_the_site_s_lists_once(
    purging: tuple[TestClient[Any, Any], Receiver],
) -> None:
    client, fake = purging
    lines = b"\n".join(
        orjson.dumps({"id": f"s{k}", "title": f"Story {k}", "url": f"/s{k}"}) for k in range(250)
    )
    response = await client.post(
        "/v1/sites/news/items",
        data=lines,
        headers={**auth(), "Content-Type": "application/x-ndjson"},
    )
    assert response.status == 200
    await settled(client)
    assert fake.keys("/hook") == [["ranker:news"]]


async def test_a_purge_is_retried_with_one_idempotency_key_until_it_goes_through(
    purging: tuple[TestClient[Any, Any], Receiver],
) -> None:
    client, fake = purging
    await put_item(client, "a")
    fake.failures = 2  # each hook's first two attempts fail
    await put_item(client, "a", title="Again")
    await settled(client)
    for path in ("/fastly/service/svc1/purge", "/cf/zones/zone1/purge_cache", "/hook"):
        attempts = [headers["Idempotency-Key"] for got, headers, _ in fake.calls if got == path]
        assert len(attempts) == 3 and len(set(attempts)) == 1, path
    assert len(fake.calls) == 3 + 6  # three purges, six failed attempts retried
    doc = await (await client.get("/v1/sites/news/purges", headers=auth())).json()
    assert sum(h["sent"] for h in doc["hooks"]) == 3
    assert sum(h["retried"] for h in doc["hooks"]) == 6
    assert all(h["failed"] == 0 for h in doc["hooks"])


async def test_a_hook_that_keeps_failing_is_reported_without_its_token(
    purging: tuple[TestClient[Any, Any], Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    client, fake = purging
    fake.status = 500
    await put_item(client, "a")
    with caplog.at_level(logging.WARNING):
        await put_item(client, "a", title="Again")
        await settled(client)
    doc = await (await client.get("/v1/sites/news/purges", headers=auth())).json()
    assert [h["hook"] for h in doc["hooks"]] == [
        "fastly:svc1",
        "cloudflare:zone1",
        "webhook:127.0.0.1",
    ]
    assert all(h["failed"] == 1 and h["last_error"] == "answered 500" for h in doc["hooks"])
    assert len(fake.calls) == 3 * 5  # every attempt, then given up
    assert CDN_TOKEN not in orjson.dumps(doc).decode()
    assert CDN_TOKEN not in caplog.text and "failed" in caplog.text
    labels = {"site": "news", "hook": "fastly:svc1", "outcome": "failed"}
    before = REGISTRY.get_sample_value("ranker_purges_total", labels) or 0.0
    client.app[METRICS].sync()  # what /metrics shows
    assert REGISTRY.get_sample_value("ranker_purges_total", labels) == before + 1


async def test_a_purge_its_process_left_unsent_is_sent_by_another_with_its_key(
    engine: Any, redis: Redis, clock: FakeClock, receiver: tuple[Receiver, str]
) -> None:
    """A takedown whose process stops while the CDN is down: the purge stays in the store,
    and a collector started later sends it, with the idempotency key of the first tries."""
    await redis.flushall()
    fake, base = receiver
    fake.failures = 1000  # down
    settings = make_settings(engine.url)
    hooks = (PurgeHook("webhook", base + "/hook"),)
    site = replace(settings.sites["news"], purge=hooks)
    settings = replace(settings, sites={**settings.sites, "news": site})

    def app_with(purger: Purger) -> web.Application:
        app = create_app(settings, clock=clock)
        app[PURGER] = purger
        return app

    stopping = Purger(settings.sites, backoff=60.0)  # its next try is a minute away
    async with TestClient(TestServer(app_with(stopping)), headers=BROWSER_HEADERS) as client:
        await put_item(client, "a")
        response = await client.patch(
            "/v1/sites/news/items/a", json={"hidden": True}, headers=auth()
        )
        assert response.status == 200
        await until(lambda: fake.calls)
        # The server stops before the next try: the purge is given up here, not done.
    [(_, first, _)] = fake.calls
    assert await redis.hlen("rk:{news}:purges") == 1
    fake.failures = 0  # the CDN is back
    later = Purger(settings.sites, backoff=0.01, left_after=0.2)
    async with TestClient(TestServer(app_with(later)), headers=BROWSER_HEADERS):
        await until(lambda: len(fake.calls) == 2)
        await later.settle(5.0)
    assert await redis.hlen("rk:{news}:purges") == 0
    [_, (_, again, body)] = fake.calls
    assert again["Idempotency-Key"] == first["Idempotency-Key"]
    assert body["keys"] == ["ranker:news:a"] and body["reason"] == "catalog"
    assert later.status["news"]["webhook:127.0.0.1"].sent == 1


async def test_a_purge_done_leaves_nothing_in_the_store(
    purging: tuple[TestClient[Any, Any], Receiver], redis: Redis
) -> None:
    client, fake = purging
    await put_item(client, "a")
    response = await client.delete("/v1/sites/news/items/a", headers=auth())
    assert response.status == 204
    await settled(client)
    assert len(fake.calls) == 3
    assert await redis.exists("rk:{news}:purges") == 0


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_purge_hooks_in_the_configuration() -> None:
    site = {
        "token": TOKEN,
        "purge": [
            {"kind": "fastly", "service_id": "svc", "token": CDN_TOKEN},
            {"kind": "cloudflare", "zone_id": "z1", "token_env": "CF"},
            {"kind": "webhook", "url": "https://hooks.example/purge"},
        ],
    }
    settings = settings_from_mapping({"sites": {"news": site}}, {"CF": CDN_TOKEN})
    assert settings.sites["news"].purge == (
        PurgeHook("fastly", "https://api.fastly.com", "svc", CDN_TOKEN),
        PurgeHook("cloudflare", "https://api.cloudflare.com/client/v4", "z1", CDN_TOKEN),
        PurgeHook("webhook", "https://hooks.example/purge"),
    )
    assert CDN_TOKEN not in repr(settings.sites["news"].purge)


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ({"kind": "akamai"}, "kind: one of fastly, cloudflare, webhook"),
        ({"kind": "fastly", "token": CDN_TOKEN}, "service_id"),
        ({"kind": "fastly", "service_id": "svc"}, "token"),
        ({"kind": "webhook"}, "url"),
        ({"kind": "webhook", "url": "ftp://x"}, "url"),
        ({"kind": "webhook", "url": "https://x", "zone_id": "z"}, "unknown key(s) zone_id"),
    ],
)
def test_a_bad_purge_hook_is_named(hook: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="sites.news.purge") as info:
        settings_from_mapping({"sites": {"news": {"token": TOKEN, "purge": [hook]}}}, {})
    assert message in str(info.value)
