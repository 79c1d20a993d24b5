"""Settings: the example file, durations, unknown keys, environment overrides, errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ranker.config import (
    ConfigError,
    Settings,
    load_settings,
    parse_duration,
    settings_from_mapping,
)
from ranker.windows import window_span

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "ranker.toml"

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
    settings = load_settings(EXAMPLE, environ={})
    assert set(settings.sites) == {"demo"}
    demo = settings.sites["demo"]
    assert demo.half_life == 21600.0
    assert demo.token == "change-me"
    assert demo.title == "The Ranker Gazette"
    assert settings.flush_interval == 0.25
    assert settings.redis_url is None
    assert settings.data_dir == Path("var/ranker")
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.minute_retention == 3 * 3600.0
    assert settings.hour_retention == 8 * 86400.0
    assert settings.day_retention == 35 * 86400.0


def test_the_example_file_loads_from_a_string_path() -> None:
    assert load_settings(str(EXAMPLE), environ={}).sites["demo"].token == "change-me"


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
    }
    settings = load_settings(EXAMPLE, environ=environ)
    assert settings.redis_url == "redis://cache:6380/2"
    assert settings.host == "0.0.0.0"
    assert settings.port == 9999
    assert isinstance(settings.port, int)
    assert settings.data_dir == Path("/data/ranker")
    assert isinstance(settings.data_dir, Path)
    # The file's own values are still used for everything else.
    assert settings.sites["demo"].token == "change-me"


def test_empty_environment_variables_are_ignored() -> None:
    environ = {"REDIS_URL": "", "RANKER_HOST": "", "RANKER_PORT": "", "RANKER_DATA_DIR": ""}
    settings = load_settings(EXAMPLE, environ=environ)
    assert settings.redis_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.data_dir == Path("var/ranker")


@pytest.mark.parametrize("port", ["abc", "70000", "-1", "80.5", "8o8o", "²"])
def test_a_bad_port_in_the_environment_is_a_config_error(port: str) -> None:
    with pytest.raises(ConfigError, match="RANKER_PORT"):
        load_settings(EXAMPLE, environ={"RANKER_PORT": port})


def test_ranker_config_is_used_when_no_path_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 7070\n[sites.blog]\ntoken = "b"\n', "other.toml")
    settings = load_settings(None, environ={"RANKER_CONFIG": str(path)})
    assert settings.port == 7070
    assert set(settings.sites) == {"blog"}


def test_an_explicit_path_wins_over_ranker_config(tmp_path: Path) -> None:
    other = write(tmp_path, '[sites.blog]\ntoken = "b"\n', "other.toml")
    settings = load_settings(EXAMPLE, environ={"RANKER_CONFIG": str(other)})
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
    settings = load_settings(EXAMPLE, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.sites["demo"].token = "stolen"  # type: ignore[misc]
    assert settings.port == 8080
    assert settings.sites["demo"].token == "change-me"


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
