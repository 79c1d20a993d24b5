"""The OpenAPI description at /openapi.json: valid OpenAPI 3.1, in step with the routes, and
true of a live `ranker serve`, which schemathesis fuzzes from it: no 5xx, every answer as
described."""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import schemathesis
from aiohttp import web
from redis import Redis

from ranker import demo
from ranker.core.config import Settings, Site
from ranker.core.windows import BUCKET_SECONDS
from ranker.http.app import create_app
from ranker.http.catalog import IMPORT_TYPES as JSON_LINES
from ranker.http.routes import DOCUMENT, ROUTES
from ranker.store.engine import EmbeddedEngine
from tests.support import free_port, make_settings

# The site and story the description's examples name, so its examples meet real data.
SITE = "demo"
STORY = "tram-line-approved"
SITE_TOKEN = secrets.token_urlsafe(32)  # `ranker serve` refuses a short or published one
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Beacons from a client that says it is a bot are received (202) but neither checked further
# nor counted: the fuzzing client says it is a browser.
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
MAX_EXAMPLES = 30  # fuzzed requests per operation, besides examples and edge cases


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def routes(app: web.Application) -> set[tuple[str, str]]:
    # aiohttp answers HEAD wherever it answers GET: not described separately.
    return {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}


def test_every_route_is_described_and_nothing_else() -> None:
    app = create_app(make_settings("redis://127.0.0.1:1"))
    # The last route answers what no other does (404/405): no operation of its own.
    assert routes(app) - {("*", "/{path}")} == documented(DOCUMENT)


def test_each_entry_of_the_table_is_served_and_described_as_it_says() -> None:
    """ranker.http.routes is the one list: the app registers each entry's handler, and the
    description has its operation, with its answers."""
    app = create_app(make_settings("redis://127.0.0.1:1"))
    handlers = {
        (r.method, r.resource.canonical): getattr(r.handler, "__wrapped__", None)
        for r in app.router.routes()
    }
    for route in ROUTES:
        assert handlers[(route.method, route.path)] is route.handler, route.operation_id
        operation = DOCUMENT["paths"][route.path][route.method.lower()]
        assert operation["operationId"] == route.operation_id
        assert set(operation["responses"]) == {str(status) for status in route.responses}
        named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert named == set(re.findall(r"\{(\w+)\}", route.path)), route.operation_id
    operation_ids = [
        op["operationId"] for item in DOCUMENT["paths"].values() for op in item.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_demo_mode_adds_only_its_page() -> None:
    """The demo's article page is left out of the description: it is not part of the API."""
    settings = make_settings("redis://127.0.0.1:1")
    sites = {**settings.sites, "demo": Site("demo", half_life=3600.0, token="t")}
    plain = routes(create_app(settings))
    with_demo = create_app(replace(settings, sites=sites), plugins=[demo.plugin(rate=0)])
    assert routes(with_demo) - plain == {("GET", "/")}


def test_the_description_is_valid_openapi() -> None:
    schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))
    schema.validate()
    for operation in schema.get_all_operations():
        operation.ok()  # raises for an operation schemathesis cannot use
    broken = copy.deepcopy(DOCUMENT)
    broken["paths"]["/healthz"]["get"]["responses"] = {"200": {"content": {}}}  # no description
    with pytest.raises(Exception, match="description"):
        schemathesis.openapi.from_dict(broken).validate()


# -- the live server ----------------------------------------------------------------------


def _wait_until(check: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    pytest.fail(f"timed out waiting until {what}")


def _seed(base: str, http: requests.Session) -> None:
    """One catalogued story with enough views in the last minutes to rank and to rise."""
    headers = {"Authorization": f"Bearer {SITE_TOKEN}"}
    entry = {"title": "Council approves new tram line", "url": "/tram", "section": "politics"}
    response = http.put(f"{base}/v1/sites/{SITE}/items/{STORY}", json=entry, headers=headers)
    assert response.status_code == 201, response.text
    for reader in range(20):  # one view each from 20 readers: repeats would not count
        beacon = {"site": SITE, "id": STORY}
        agent = {
            "User-Agent": f"{BROWSER} reader/{reader}",  # a visitor each
            "X-Forwarded-For": f"10.{reader}.0.1",  # on a network of their own
            "Sec-Fetch-Site": "cross-site",  # what the browser sends with a beacon
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Dest": "empty",
        }
        assert http.post(f"{base}/v1/hit", json=beacon, headers=agent).status_code == 204

    def listed() -> bool:
        top = http.get(f"{base}/v1/sites/{SITE}/top", params={"window": "1h"}).json()
        return [it["views"] for it in top["items"]] == [20]

    _wait_until(listed, "the views are written")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["User-Agent"] = BROWSER
        yield session


@pytest.fixture(scope="module")
def live_server(
    engine: EmbeddedEngine, tmp_path_factory: pytest.TempPathFactory, http: requests.Session
) -> Iterator[str]:
    """`ranker serve` on a free port, on the session's engine, with one seeded story."""
    with Redis.from_url(engine.url) as redis:
        redis.flushall()
    workdir = tmp_path_factory.mktemp("live")
    config = workdir / "ranker.toml"
    # Seeded readers are named by a proxy on loopback, each on a network of its own.
    config.write_text(
        f'[collector]\ntrusted_proxies = ["127.0.0.1/32"]\n[sites.{SITE}]\ntoken = "{SITE_TOKEN}"\n'
    )
    port = free_port()
    env = {**os.environ, "REDIS_URL": engine.url, "RANKER_PORT": str(port)}
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ranker", "serve", "--config", str(config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # Its own answer (its pid): another process that took the port would answer too.
        _wait_until(
            lambda: _answers(http, f"{base}/healthz").get("pid") == proc.pid, "the server listens"
        )
        _seed(base, http)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    output = log_path.read_text(errors="replace")
    assert "Traceback" not in output, output  # an error the answers did not show


def _answers(http: requests.Session, url: str) -> dict[str, Any]:
    response = http.get(url)
    return response.json() if response.status_code == 200 else {}


def test_the_served_description_is_the_document(live_server: str, http: requests.Session) -> None:
    response = http.get(f"{live_server}/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert response.json() == json.loads(json.dumps(DOCUMENT))


@schemathesis.serializer(*(t for t in JSON_LINES if t != "text/plain"))
def _json_lines(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """An import body: a generated list of entries as one JSON document per line."""
    if isinstance(value, bytes):
        return value
    lines = value if isinstance(value, list) else [value]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


# Mostly the configured site and often the seeded story, so requests get past the 404s to
# the code behind them.
FUZZ = schemathesis.Config.from_dict(
    {
        "seed": 20261126,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "auth": {"openapi": {"siteToken": {"bearer": SITE_TOKEN}}},
        "dictionaries": {"sites": {"values": [SITE]}, "stories": {"values": [STORY]}},
        "parameters": {
            "path.site": {"dictionary": "sites", "probability": 0.9},
            "query.site": {"dictionary": "sites", "probability": 0.9},
            "path.id": {"dictionary": "stories", "probability": 0.3},
            "query.id": {"dictionary": "stories", "probability": 0.3},
        },
        "operations": [
            # Bad lines are reported in the answer's `errors`, never refused: any body of
            # JSON lines is answered 200.
            {
                "include-operation-id": "importItems",
                "checks": {"negative_data_rejection": {"enabled": False}},
            },
            {  # the same for a feed sync's entries
                "include-operation-id": "feedSync",
                "checks": {"negative_data_rejection": {"enabled": False}},
            },
            # A pin's `until` must lie in the future (and within 90 days), which a schema
            # cannot say: a past one is refused although it fits the schema.
            {
                "include-operation-id": "putPin",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
        ],
    }
)
# The document the server serves (see the test above), one test per operation. Loaded here,
# not from a fixture: schemathesis' fixture-based loader fails on pytest 9.2.
described = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=FUZZ)
_defaults = Settings()
_RETENTION = {
    "minute": _defaults.minute_retention,
    "hour": _defaults.hour_retention,
    "day": _defaults.day_retention,
}
BUCKET_LIMITS = {res: int(_RETENTION[res] // size) for res, size in BUCKET_SECONDS.items()}


def _at_most(query: dict[str, Any], name: str, limit: int) -> None:
    value = str(query.get(name, ""))
    if re.fullmatch("[0-9]+", value):
        query[name] = min(int(value), limit)


@schemathesis.hook("before_call")
def _rules_stated_in_words(context: Any, case: schemathesis.Case, kwargs: Any) -> None:
    """What the description says only in prose, applied to the generated requests: a body's
    id repeats the path's, and how far back `n` or `days` reach depends on the retention."""
    body, path, query = case.body, case.path_parameters or {}, case.query or {}
    if isinstance(body, dict) and isinstance(body.get("id"), str) and "id" in path:
        body["id"] = unquote(path["id"])
    res = query.get("res", "minute")
    if case.operation.path.endswith("/series") and isinstance(res, str) and res in BUCKET_LIMITS:
        _at_most(query, "n", BUCKET_LIMITS[res])
    if case.operation.path.endswith("/beacons"):
        _at_most(query, "days", BUCKET_LIMITS["day"])


@described.parametrize()
def test_the_live_server_answers_as_described(
    case: schemathesis.Case, live_server: str, http: requests.Session
) -> None:
    case.call_and_validate(base_url=live_server, session=http)
