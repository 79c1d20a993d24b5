"""Settings: the example file, durations, unknown keys, environment overrides, errors."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from ranker.core.config import (
    EXAMPLE_TOKENS,
    MIN_TOKEN_LENGTH,
    ConfigError,
    Settings,
    Site,
    check_tokens,
    declared_keys,
    load_settings,
    parse_duration,
    settings_from_mapping,
)
from ranker.core.windows import window_span

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "ranker.toml"
DEPLOYED = REPO / "deploy" / "ranker.toml"
# Both example files read the site's token from $RANKER_TOKEN.
STRONG = secrets.token_urlsafe(32)
EXAMPLE_ENV = {"RANKER_TOKEN": STRONG}

SITE = {"sites": {"news": {"token": "t0k3n"}}}


def write(tmp_path: Path, text: str, name: str = "ranker.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(doc: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(doc, environ or {})
    return str(info.value)


# -- the example file ----------------------------------------------------------------------


def test_the_example_file_loads() -> None:
    settings = load_settings(EXAMPLE, environ=EXAMPLE_ENV)
    assert set(settings.sites) == {"demo"}
    demo = settings.sites["demo"]
    assert demo.half_life == 21600.0
    assert demo.token == STRONG
    assert demo.title == "The Ranker Gazette"
    assert settings.flush_interval == 0.25
    assert settings.redis_url is None
    assert settings.data_dir == Path("var/ranker")
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.minute_retention == 3 * 3600.0
    assert settings.hour_retention == 8 * 86400.0
    assert settings.day_retention == 35 * 86400.0


def test_the_example_file_loads_from_a_string_path() -> None:
    assert load_settings(str(EXAMPLE), environ=EXAMPLE_ENV).sites["demo"].token == STRONG


# -- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("250ms", 0.25),
        ("45s", 45.0),
        ("30m", 1800.0),
        ("6h", 21600.0),
        ("7d", 604800.0),
        ("1.5h", 5400.0),
        (" 2m ", 120.0),
        ("90", 90.0),
        (90, 90.0),
        (0.5, 0.5),
    ],
)
def test_durations_parse(raw: object, seconds: float) -> None:
    assert parse_duration(raw, "x.y") == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["6 hours", "-1s", "0", 0, -5, True, False, "", "h", None, [1]])
def test_bad_durations_name_the_key(raw: object) -> None:
    with pytest.raises(ConfigError, match=r"collector\.flush_interval"):
        parse_duration(raw, "collector.flush_interval")


def test_a_bad_duration_in_a_file_names_its_key() -> None:
    doc = {**SITE, "query": {"cache_ttl": "6 hours"}}
    assert "query.cache_ttl" in config_error(doc)
    doc = {"sites": {"news": {"token": "t", "half_life": True}}}
    assert "sites.news.half_life" in config_error(doc)


def test_durations_in_a_file_reach_the_settings() -> None:
    doc = {
        **SITE,
        "collector": {"flush_interval": "100ms", "catalog_refresh": 2},
        "query": {"cache_ttl": "30m", "window_cache": "1.5s"},
        "retention": {"minute": "2h", "hour": "7d", "day": "30d"},
    }
    settings = settings_from_mapping(doc, {})
    assert settings.flush_interval == pytest.approx(0.1)
    assert settings.catalog_refresh == 2.0
    assert settings.cache_ttl == 1800.0
    assert settings.window_cache == 1.5
    assert settings.minute_retention == 7200.0
    assert settings.hour_retention == 7 * 86400.0
    assert settings.day_retention == 30 * 86400.0


# -- unknown settings ----------------------------------------------------------------------


def test_an_unknown_table_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[sever]\nport = 1\n[sites.news]\ntoken = "t"\n')
    with pytest.raises(ConfigError, match="sever") as info:
        load_settings(path, environ={})
    assert "'server'" in str(info.value)


def test_an_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nprot = 9000\n[sites.news]\ntoken = "t"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert "server.prot" in message
    assert "'port'" in message


def test_an_unknown_site_key_is_named_with_a_suggestion() -> None:
    message = config_error({"sites": {"demo": {"token": "t", "halflife": "1h"}}})
    assert "sites.demo.halflife" in message
    assert "'half_life'" in message


def test_several_unknowns_are_named_in_one_message() -> None:
    doc = {
        "sever": {},
        "server": {"prot": 1, "port": 80},
        "query": {"cache_tll": "1s"},
        "sites": {"demo": {"token": "t", "halflife": "1h"}},
    }
    message = config_error(doc)
    for name in ("sever", "server.prot", "query.cache_tll", "sites.demo.halflife"):
        assert name in message
    # Known keys are not reported.
    assert "server.port" not in message


def test_an_unknown_key_without_a_near_match_is_still_named() -> None:
    message = config_error({**SITE, "collector": {"zzzzzz": 1}})
    assert "collector.zzzzzz" in message
    assert "did you mean" not in message


# -- sites and types -----------------------------------------------------------------------


def test_a_site_without_a_token_is_an_error() -> None:
    assert "sites.blog.token" in config_error({"sites": {"blog": {"half_life": "1h"}}})


def test_an_empty_token_is_an_error() -> None:
    assert "sites.blog.token" in config_error({"sites": {"blog": {"token": ""}}})


@pytest.mark.parametrize("name", ["Demo Site", "Demo", "", "-x", "a" * 33, "news!"])
def test_a_bad_site_name_is_an_error(name: str) -> None:
    message = config_error({"sites": {name: {"token": "t"}}})
    assert f"sites.{name}" in message


def test_a_bad_site_name_in_a_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[sites."Demo Site"]\ntoken = "t"\n')
    with pytest.raises(ConfigError, match="Demo Site"):
        load_settings(path, environ={})


def test_a_site_defaults_to_a_six_hour_half_life() -> None:
    settings = settings_from_mapping({"sites": {"a_b-1": {"token": "x"}}}, {})
    assert settings.sites["a_b-1"].half_life == 21600.0


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("server", "port", "abc"),
        ("server", "port", 70000),
        ("server", "port", -1),
        ("server", "port", True),
        ("server", "port", 80.5),
        ("server", "port", "²"),
        ("server", "host", ""),
        ("server", "host", 5),
        ("collector", "max_body", 0),
        ("collector", "max_body", -10),
        ("collector", "max_pending", "many"),
        ("query", "max_age", 0),
        ("decay", "rebase_after", 0),
        ("decay", "rebase_after", "24"),
        ("redis", "url", 6379),
        ("collector", "filter_bots", "yes"),
        ("collector", "dedupe_window", "-1s"),
        ("collector", "dedupe_window", "soon"),
        ("collector", "rate_limit", -1),
        ("collector", "rate_limit", "fast"),
        ("collector", "rate_burst", 0),
        ("collector", "trusted_proxies", "10.0.0.0/8"),
        ("collector", "trusted_proxies", ["10.0.0.0/33"]),
        ("collector", "trusted_proxies", ["proxy.internal"]),
        ("collector", "max_views_per_address", -1),
        ("collector", "max_views_per_address", 251),
        ("collector", "deny_networks", "hosting.txt"),
        ("collector", "fetch_metadata", "sometimes"),
        ("trends", "rising_min_networks", 0),
        ("trends", "max_network_share", 1.5),
        ("trends", "max_network_share", 0),
        ("collector", "max_field_size", 0),
        ("server", "log_format", "xml"),
        ("server", "ready_max_lag", 0),
        ("maintenance", "interval", "often"),
        ("maintenance", "hot_max", 0),
    ],
)
def test_wrong_types_are_errors(table: str, key: str, value: object) -> None:
    assert f"{table}.{key}" in config_error({**SITE, table: {key: value}})


def test_proxy_hops_is_an_error_that_names_its_replacement() -> None:
    message = config_error({**SITE, "collector": {"proxy_hops": 1}})
    assert "collector.proxy_hops" in message and "collector.trusted_proxies" in message


def test_the_limits_on_one_outsider_have_their_defaults() -> None:
    settings = settings_from_mapping(SITE, {})
    assert settings.trusted_proxies == ()
    assert settings.max_views_per_address == 10
    assert (settings.rising_min_networks, settings.max_network_share) == (10, 0.3)
    assert settings.fetch_metadata == "auto"


def test_a_table_that_is_not_a_table_is_an_error() -> None:
    assert "server" in config_error({**SITE, "server": 8080})
    assert "sites" in config_error({"sites": "news"})


def test_typed_values_reach_the_settings() -> None:
    doc = {
        **SITE,
        "server": {"host": "0.0.0.0", "port": 9090},
        "redis": {"url": "redis://example:6379/1", "data_dir": "/srv/ranker"},
        "collector": {"max_body": 512, "max_pending": 7},
        "query": {"max_age": 9, "stale_while_revalidate": 60},
        "decay": {"rebase_after": 12},
    }
    settings = settings_from_mapping(doc, {})
    assert (settings.host, settings.port) == ("0.0.0.0", 9090)
    assert settings.redis_url == "redis://example:6379/1"
    assert settings.data_dir == Path("/srv/ranker")
    assert (settings.max_body, settings.max_pending) == (512, 7)
    assert (settings.max_age, settings.stale_while_revalidate) == (9, 60)
    assert settings.rebase_after == 12.0


def test_filters_can_be_tuned_or_turned_off() -> None:
    defaults = settings_from_mapping(SITE, {})
    assert (defaults.filter_bots, defaults.dedupe_window, defaults.rate_limit) == (
        True,
        1800.0,
        20.0,
    )
    doc = {
        **SITE,
        "collector": {
            "filter_bots": False,
            "dedupe_window": 0,
            "rate_limit": 0,
            "trusted_proxies": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"],
            "max_views_per_address": 0,
        },
    }
    settings = settings_from_mapping(doc, {})
    assert (settings.filter_bots, settings.dedupe_window, settings.rate_limit) == (False, 0, 0)
    assert settings.trusted_proxies == ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7")
    assert settings.max_views_per_address == 0
    doc["collector"] = {"dedupe_window": "10m", "rate_limit": 2.5, "rate_burst": 5}
    settings = settings_from_mapping(doc, {})
    assert (settings.dedupe_window, settings.rate_limit, settings.rate_burst) == (600.0, 2.5, 5)


def test_a_sites_signing_key_is_its_secret_or_derived_from_its_token() -> None:
    doc = {
        "sites": {"a": {"token": "t1"}, "b": {"token": "t2"}, "c": {"token": "t1", "secret": "s"}}
    }
    sites = settings_from_mapping(doc, {}).sites
    assert sites["c"].signing_key == "s"
    assert sites["a"].signing_key not in ("t1", sites["b"].signing_key)
    assert len(sites["a"].signing_key) == 64


# -- environment ---------------------------------------------------------------------------


def test_the_environment_overrides_the_file() -> None:
    environ = {
        "REDIS_URL": "redis://cache:6380/2",
        "RANKER_HOST": "0.0.0.0",
        "RANKER_PORT": "9999",
        "RANKER_DATA_DIR": "/data/ranker",
        **EXAMPLE_ENV,
    }
    settings = load_settings(EXAMPLE, environ=environ)
    assert settings.redis_url == "redis://cache:6380/2"
    assert settings.host == "0.0.0.0"
    assert settings.port == 9999
    assert isinstance(settings.port, int)
    assert settings.data_dir == Path("/data/ranker")
    assert isinstance(settings.data_dir, Path)
    # The file's own values are still used for everything else.
    assert settings.sites["demo"].half_life == 21600.0


def test_empty_environment_variables_are_ignored() -> None:
    environ = {"REDIS_URL": "", "RANKER_HOST": "", "RANKER_PORT": "", "RANKER_DATA_DIR": ""}
    environ |= EXAMPLE_ENV
    settings = load_settings(EXAMPLE, environ=environ)
    assert settings.redis_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.data_dir == Path("var/ranker")


@pytest.mark.parametrize("port", ["abc", "70000", "-1", "80.5", "8o8o", "²"])
def test_a_bad_port_in_the_environment_is_a_config_error(port: str) -> None:
    with pytest.raises(ConfigError, match="RANKER_PORT"):
        load_settings(EXAMPLE, environ={"RANKER_PORT": port, **EXAMPLE_ENV})


def test_ranker_config_is_used_when_no_path_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 7070\n[sites.blog]\ntoken = "b"\n', "other.toml")
    settings = load_settings(None, environ={"RANKER_CONFIG": str(path)})
    assert settings.port == 7070
    assert set(settings.sites) == {"blog"}


def test_an_explicit_path_wins_over_ranker_config(tmp_path: Path) -> None:
    other = write(tmp_path, '[sites.blog]\ntoken = "b"\n', "other.toml")
    settings = load_settings(EXAMPLE, environ={"RANKER_CONFIG": str(other), **EXAMPLE_ENV})
    assert set(settings.sites) == {"demo"}


def test_no_path_and_no_ranker_config_gives_the_defaults() -> None:
    settings = load_settings(None, environ={})
    assert settings == Settings()


# -- retention -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [("minute", "30m"), ("minute", "59m"), ("hour", "6d"), ("hour", "1d"), ("day", "29d")],
)
def test_retention_shorter_than_its_window_is_an_error(key: str, value: str) -> None:
    message = config_error({**SITE, "retention": {key: value}})
    assert f"retention.{key}" in message


@pytest.mark.parametrize(("key", "window"), [("minute", "1h"), ("hour", "7d"), ("day", "30d")])
def test_retention_is_checked_against_the_span_of_its_window(key: str, window: str) -> None:
    span = window_span(window)
    settings = settings_from_mapping({**SITE, "retention": {key: span}}, {})
    assert getattr(settings, f"{key}_retention") == span
    assert f"retention.{key}" in config_error({**SITE, "retention": {key: span - 1}})


# -- the settings object -------------------------------------------------------------------


def test_settings_are_frozen() -> None:
    settings = load_settings(EXAMPLE, environ=EXAMPLE_ENV)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.sites["demo"].token = "stolen"  # type: ignore[misc]
    assert settings.port == 8080
    assert settings.sites["demo"].token == STRONG


# -- files ---------------------------------------------------------------------------------


def test_a_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "ranker.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)


def test_a_missing_ranker_config_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="absent.toml"):
        load_settings(None, environ={"RANKER_CONFIG": str(path)})


def test_invalid_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server\nport = = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)
    assert "TOML" in str(info.value)


def test_serve_with_a_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nprot = 9000\n[sites.news]\ntoken = "t"\n', "bad.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANKER_") and k != "REDIS_URL"}
    proc = subprocess.run(
        [sys.executable, "-m", "ranker", "serve", "--config", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert "configuration error" in proc.stderr
    assert "server.prot" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "var").exists()  # nothing was started


@pytest.mark.parametrize(
    ("url", "plain"),
    [
        ("redis+cluster://node1:7000", "redis://node1:7000"),
        ("rediss+cluster://node1:7000/0", "rediss://node1:7000/0"),
    ],
)
def test_a_cluster_url_turns_cluster_mode_on(url: str, plain: str) -> None:
    from_env = settings_from_mapping(SITE, {"REDIS_URL": url})
    from_file = settings_from_mapping({**SITE, "redis": {"url": url}}, {})
    for settings in (from_env, from_file):
        assert (settings.redis_url, settings.redis_cluster) == (plain, True)
    assert not settings_from_mapping(SITE, {"REDIS_URL": "redis://n:1"}).redis_cluster


# -- tokens --------------------------------------------------------------------------------


def test_a_token_and_a_secret_can_come_from_the_environment() -> None:
    doc = {"sites": {"news": {"token_env": "NEWS_TOKEN", "secret_env": "NEWS_SECRET"}}}
    site = settings_from_mapping(doc, {"NEWS_TOKEN": "a" * 30, "NEWS_SECRET": "b" * 30}).sites
    assert (site["news"].token, site["news"].secret) == ("a" * 30, "b" * 30)


@pytest.mark.parametrize("environ", [{}, {"NEWS_TOKEN": ""}])
def test_a_token_env_naming_an_unset_variable_is_an_error_naming_it(
    environ: dict[str, str],
) -> None:
    message = config_error({"sites": {"news": {"token_env": "NEWS_TOKEN"}}}, environ)
    assert "sites.news.token_env" in message and "$NEWS_TOKEN" in message
    assert "ranker token" in message


def test_a_token_and_its_token_env_together_are_an_error() -> None:
    doc = {"sites": {"news": {"token": STRONG, "token_env": "NEWS_TOKEN"}}}
    assert "sites.news" in config_error(doc, {"NEWS_TOKEN": STRONG})


def site(token: str, secret: str = "") -> Settings:
    return Settings(sites={"news": Site("news", half_life=3600.0, token=token, secret=secret)})


def refusal(settings: Settings) -> str:
    with pytest.raises(ConfigError) as info:
        check_tokens(settings)
    return str(info.value)


@pytest.mark.parametrize(
    ("token", "secret", "key"),
    [
        ("t0k3n", "", "token"),
        ("x" * (MIN_TOKEN_LENGTH - 1), "", "token"),
        ("change-me", "", "token"),
        ("CHANGE-ME ", "", "token"),
        ("test-token", "", "token"),
        ("demo-token", "", "token"),
        (STRONG, "s3cret", "secret"),
        (STRONG, "y" * (MIN_TOKEN_LENGTH - 1), "secret"),
    ],
)
def test_a_short_or_published_token_or_secret_is_refused(token: str, secret: str, key: str) -> None:
    message = refusal(site(token, secret))
    assert f"sites.news.{key}" in message
    assert "ranker token" in message
    assert "\n" not in message
    assert (secret or token).strip() not in message


def test_a_long_token_in_the_list_of_examples_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    published = secrets.token_urlsafe(32)  # as if a README showed it
    check_tokens(site(published))
    monkeypatch.setattr("ranker.core.config.EXAMPLE_TOKENS", EXAMPLE_TOKENS | {published})
    message = refusal(site(published))
    assert "sites.news.token is an example" in message and published not in message


def test_a_strong_token_passes_with_its_secret_or_without() -> None:
    check_tokens(site(STRONG))
    check_tokens(site(STRONG, secrets.token_urlsafe(32)))
    check_tokens(site("x" * MIN_TOKEN_LENGTH))
    check_tokens(Settings())


# Where this repository's files write a site token or secret (configs, curl and CLI
# examples, test constants); `$VAR`, `{expression}` and `<placeholder>` are not literals.
_TOKEN_LITERALS = (
    re.compile(r"""(?i)\b\w*(?:token|secret)s?"?\s*[:=]\s*["']([^"'\n]*)["']"""),
    re.compile(r"""(?i)\bbearer\s+([^\s"'\\]+)"""),
    re.compile(r"""--token["']?[\s,]+["']?([^\s"',)]+)"""),
    re.compile(r"""["']([\w-]*(?:token|secret|s3cret|t0k3n)[\w-]*)["']""", re.IGNORECASE),
)


def _token_literals() -> set[str]:
    paths = [REPO / name for name in ("README.md", "ranker.toml", "Dockerfile")]
    paths.append(REPO / "docker-compose.yml")
    for folder, pattern in (
        ("deploy", "*"),
        ("docs", "**/*.md"),
        ("tests", "*.py"),
        ("scripts", "*"),
        ("ranker", "**/*.py"),
    ):
        paths += (p for p in (REPO / folder).glob(pattern) if p.is_file())
    found = set()
    for path in paths:
        for line in path.read_text("utf-8", errors="replace").splitlines():
            for literal in _TOKEN_LITERALS:
                found.update(literal.findall(line))
    return {t for t in found if t.strip(" …") and not re.search(r"[${<]", t)}


def test_no_token_or_secret_shown_in_the_repository_is_accepted_by_a_server() -> None:
    found = _token_literals()
    assert {"demo-token", "other-token", "s3cret"} <= found  # the scan sees them
    accepted = []
    for token in found:
        try:
            check_tokens(site(token))
        except ConfigError:
            continue
        accepted.append(token)
    assert not accepted, "add these to ranker.core.config.EXAMPLE_TOKENS"


def test_the_example_files_hold_no_token_and_need_one_from_the_environment() -> None:
    for path in (EXAMPLE, DEPLOYED):
        with pytest.raises(ConfigError, match=r"sites\.demo\.token_env: \$RANKER_TOKEN"):
            load_settings(path, environ={})
        message = refusal(load_settings(path, {"RANKER_TOKEN": "change-me"}))
        assert "sites.demo.token" in message and "change-me" not in message
        settings = load_settings(path, EXAMPLE_ENV)
        check_tokens(settings)  # what `ranker serve` does before it starts
        assert settings.sites["demo"].token == STRONG


def test_the_container_setup_bakes_in_no_token() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
    rankers = {
        name: service
        for name, service in compose["services"].items()
        if "build" in service or service.get("image") == "ranker:local"
    }
    assert set(rankers) == {"ranker", "ranker-cluster"}
    for service in rankers.values():
        # Required from whoever runs compose, with no default to fall back on.
        given = service["environment"]["RANKER_TOKEN"]
        assert re.fullmatch(r"\$\{RANKER_TOKEN:\?[^}]*ranker token[^}]*\}", given), given
        assert "./deploy/ranker.toml:/etc/ranker/ranker.toml:ro" in service["volumes"]
    deployed = tomllib.loads(DEPLOYED.read_text("utf-8"))
    example = tomllib.loads(EXAMPLE.read_text("utf-8"))
    for doc in (deployed, example):
        for table in doc["sites"].values():
            assert "token" not in table and "secret" not in table
            assert table["token_env"] == "RANKER_TOKEN"
    dockerfile = (REPO / "Dockerfile").read_text("utf-8")
    assert "COPY ranker.toml /etc/ranker/ranker.toml" in dockerfile
    instructions = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in instructions if re.search("token|secret", line, re.I)]


def run_serve(tmp_path: Path, config: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANKER_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "-m", "ranker", "serve", "--config", str(config)],
        cwd=tmp_path,
        env={**env, **environ, "RANKER_DATA_DIR": str(tmp_path / "var")},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("site_table", "environ", "named"),
    [
        ('token = "change-me"', {}, "sites.news.token is an example"),
        ('token = "t0k3n-but-23-characters"', {}, "sites.news.token is shorter"),
        (f'token = "{STRONG}"\nsecret = "s3cret-s3cret"', {}, "sites.news.secret is shorter"),
        ('token_env = "NEWS_TOKEN"', {"NEWS_TOKEN": "test-token"}, "sites.news.token is an"),
        ('token_env = "NEWS_TOKEN"', {}, "sites.news.token_env: $NEWS_TOKEN is not set"),
    ],
)
def test_serve_refuses_a_weak_token_in_one_line_without_showing_it(
    tmp_path: Path, site_table: str, environ: dict[str, str], named: str
) -> None:
    config = write(tmp_path, f"[sites.news]\n{site_table}\n")
    proc = run_serve(tmp_path, config, **environ)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"ranker: configuration error: {named}")
    assert "`ranker token` prints a fresh" in proc.stderr
    for shown in ("change-me", "t0k3n", "s3cret", "test-token"):
        assert shown not in proc.stderr + proc.stdout
    assert "serving" not in proc.stdout
    assert not (tmp_path / "var").exists()  # nothing was started


@pytest.mark.parametrize("config", [EXAMPLE, DEPLOYED], ids=["ranker.toml", "deploy"])
def test_serve_with_an_example_file_and_no_token_given_refuses_to_start(
    tmp_path: Path, config: Path
) -> None:
    proc = run_serve(tmp_path, config)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (
        "ranker: configuration error: sites.demo.token_env: $RANKER_TOKEN is not set; "
        "`ranker token` prints a fresh token for it"
    )
    assert not (tmp_path / "var").exists()


def test_a_weak_metrics_token_is_refused() -> None:
    message = refusal(replace(site(STRONG), metrics_token="change-me"))
    assert "server.metrics_token" in message and "change-me" not in message
    check_tokens(replace(site(STRONG), metrics_token=secrets.token_urlsafe(32)))


def test_every_declared_key_is_documented_and_in_the_example() -> None:
    """The keys come from Settings alone; the README's table and the commented example
    name each of them, and each environment variable."""
    readme = (REPO / "README.md").read_text()
    example: dict[str, set[str]] = {}  # table -> keys set or shown commented out
    table = ""
    for line in EXAMPLE.read_text().splitlines():
        if m := re.fullmatch(r"\[([a-z_.]+)\]", line.strip()):
            table = m.group(1)
        elif m := re.match(r"#?\s*([a-z_]+)\s*=", line):
            example.setdefault(table, set()).add(m.group(1))
    for table, keys in declared_keys().items():
        for key, (_, source) in keys.items():
            assert f"`{table}.{key}`" in readme or f"{table}.{key}`" in readme, (table, key)
            assert key in example.get(table, set()), f"ranker.toml lacks {table}.{key}"
            if source.env:
                assert source.env in readme, source.env


def test_each_declared_key_reaches_its_field() -> None:
    for table, keys in declared_keys().items():
        for key, (attr, _) in keys.items():
            default = getattr(Settings(), attr)
            doc = {table: {key: default}} if not isinstance(default, Path) else {}
            if doc and default not in (None, "", ()):
                settings = settings_from_mapping(doc, {})
                assert getattr(settings, attr) == default, (table, key)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://news.example", "https://news.example"),
        ("http://a.example/paper/", "http://a.example/paper"),
    ],
)
def test_a_site_s_base_url_is_an_http_address(given: str, kept: str) -> None:
    site = settings_from_mapping({"sites": {"news": {"token": "x", "base_url": given}}}, {})
    assert site.sites["news"].base_url == kept
    assert site.sites["news"].link("/2026/tram") == kept + "/2026/tram"
    assert site.sites["news"].link("https://other.example/x") == "https://other.example/x"


@pytest.mark.parametrize(
    "given", ["news.example", "ftp://news.example", "https://user@news.example", "https://a/?q", 7]
)
def test_a_bad_base_url_is_an_error_naming_it(given: object) -> None:
    with pytest.raises(ConfigError, match="sites.news.base_url"):
        settings_from_mapping({"sites": {"news": {"token": "x", "base_url": given}}}, {})
