"""The operators' view: readiness, Prometheus metrics, JSON logs with request ids."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ranker.http import logs
from ranker.http.appkeys import FLUSHER
from tests.support import BROWSER_HEADERS, flush, hit, put_item

Client = TestClient[Any, Any]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(await response.text())


async def test_metrics_count_beacons_by_outcome_flushes_and_cache(client: Client) -> None:
    before = await scrape(client)
    await put_item(client, "a")
    for _ in range(3):
        assert await hit(client, "a") == 204
    bot = {"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}
    response = await client.post("/v1/hit", json={"site": "news", "id": "a"}, headers=bot)
    assert response.status == 202
    await client.post("/v1/hit", data=b"{", headers={"Content-Type": "text/plain"})
    await flush(client)
    for _ in range(2):
        assert (await client.get("/v1/sites/news/top")).status == 200
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("ranker_beacons_total", site="news", outcome="counted") == 3
    assert grew("ranker_beacons_total", site="news", outcome="bot") == 1
    assert grew("ranker_beacons_total", site="", outcome="malformed") == 1
    assert grew("ranker_views_written_total") == 3
    assert grew("ranker_flush_seconds_count") >= 1
    assert grew("ranker_redis_round_trips_total", purpose="flush") >= 1
    assert grew("ranker_query_cache_total", result="miss") == 1
    assert grew("ranker_query_cache_total", result="hit") == 1
    assert after[("ranker_pending_keys", ())] == 0


async def test_pending_views_show_in_the_metrics_until_written(client: Client) -> None:
    await put_item(client, "a")
    await hit(client, "a")
    assert (await scrape(client))[("ranker_pending_views", ())] == 1
    await flush(client)
    assert (await scrape(client))[("ranker_pending_views", ())] == 0


async def test_ready_while_views_reach_redis_in_time(client: Client) -> None:
    response = await client.get("/readyz")
    assert response.status == 200
    doc = await response.json()
    assert (doc["status"], doc["redis"], doc["flush_lag_s"]) == ("ready", "ok", 0)
    await put_item(client, "a")
    await hit(client, "a")
    flusher = client.app[FLUSHER]
    flusher.caught_up_at -= 60  # views have waited a minute: the flusher is stuck
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["flush_lag_s"] >= 60
    await flush(client)
    assert (await client.get("/readyz")).status == 200


async def test_an_error_carries_the_request_id(client: Client) -> None:
    response = await client.get("/v1/sites/news/rising", headers={"X-Request-ID": "req-42"})
    assert response.status == 401
    assert response.headers["X-Request-ID"] == "req-42"
    response = await client.get("/v1/sites/nope/top")
    generated = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    # An id that does not look like one is replaced, not echoed.
    response = await client.get("/nowhere", headers={"X-Request-ID": "a b\u00e9"})
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-ID"])


def test_json_log_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("json")
    try:
        logging.getLogger("ranker.test").warning("outside a request")
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["level"] == "WARNING" and line["logger"] == "ranker.test"
        assert line["message"] == "outside a request" and "timestamp" in line
        assert "request_id" not in line
    finally:
        logging.getLogger().handlers.clear()


async def test_a_beacon_answered_204_has_no_request_id_to_pay_for(client: Client) -> None:
    await put_item(client, "a")
    response = await client.post(
        "/v1/hit", json={"site": "news", "id": "a"}, headers=BROWSER_HEADERS
    )
    assert response.status == 204
    assert "X-Request-ID" not in response.headers
