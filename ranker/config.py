"""Settings: one frozen object built from a TOML file plus an injected environment mapping."""

from __future__ import annotations

import difflib
import hashlib
import hmac
import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ranker.windows import window_span

SITE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")  # used with fullmatch

_DURATION_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")


class ConfigError(ValueError):
    """A setting is missing, unknown or malformed; the message names it."""


def parse_duration(value: object, name: str) -> float:
    """Seconds from `"250ms"`, `"45s"`, `"30m"`, `"6h"`, `"7d"` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration like '6h', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION_RE.fullmatch(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(f"{name}: expected a duration like '6h', '30m' or '250ms', got {value!r}")
    if seconds <= 0:
        raise ConfigError(f"{name}: must be positive, got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    half_life: float  # seconds
    token: str
    title: str = ""
    # Key for beacon tokens (signing.sign) of ids not in the catalog; "" derives one from
    # the token, so a site works without a second secret.
    secret: str = ""
    # Hash slots the site's stories are spread over (Redis Cluster): lists are the exact
    # merge of each shard's. Fixed for the life of the data.
    shards: int = 1

    @property
    def signing_key(self) -> str:
        if self.secret:
            return self.secret
        return hmac.new(self.token.encode(), b"ranker beacon tokens", hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    log_format: str = "json"  # or "text"
    ready_max_lag: float = 10.0  # /readyz fails once accepted views wait longer than this
    # A connection gets this long for a request's headers (and, idle, for its next request),
    # and a body this long without a byte before the request is answered 408.
    read_timeout: float = 10.0
    # Connections open at once from one address (trusted proxies excepted); 0: no cap.
    max_connections_per_address: int = 128
    # /metrics: with a token, only for `Authorization: Bearer <token>`; with a port, only
    # there (on metrics_host) and not on the main port. With neither, /metrics is open
    # when the server listens on loopback only, else refused.
    metrics_token: str = ""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    # None: start the embedded engine with its data under `data_dir`.
    redis_url: str | None = None
    redis_cluster: bool = False  # redis_url names one node of a Redis Cluster
    data_dir: Path = Path("var/ranker")
    sites: Mapping[str, Site] = field(default_factory=dict)
    flush_interval: float = 0.25
    max_body: int = 2048
    # Distinct (site, item, minute) keys buffered while Redis is away before beacons get 503.
    max_pending: int = 1_000_000
    catalog_refresh: float = 1.0
    # What a view must pass to count (0 turns a limit off).
    filter_bots: bool = True
    dedupe_window: float = 1800.0  # repeats of one story by one visitor within it count once
    dedupe_max_entries: int = 2_000_000  # memory bound of the repeat memory, per process
    rate_limit: float = 20.0  # beacons per second per client address, per process
    rate_burst: int = 200
    # Networks of the proxies in front of the collector (CIDR). X-Forwarded-For is read only
    # from a peer in them; any other peer is the client, whatever headers it sends.
    trusted_proxies: tuple[str, ...] = ()
    # Views of one story from one client address (an IPv6 /64) counted per dedupe window,
    # across every worker of the server; the rest are held as `address_limit`.
    max_views_per_address: int = 10
    # CIDR files of hosting networks whose views are held as `datacenter`.
    deny_networks: tuple[str, ...] = ()
    # Hold views from the cloud providers' published ranges (see ranker.networks).
    deny_hosting: bool = True
    # "auto": views from a browser that always sends Fetch Metadata but sent none are held
    # as `inconsistent` when the beacon went to a secure origin (https, or loopback), where
    # browsers send it; "always" / "never".
    fetch_metadata: str = "auto"
    max_field_size: int = 8190  # longest request line or header accepted
    cache_ttl: float = 1.0  # in-process query cache
    max_age: int = 5  # Cache-Control max-age for public reads
    stale_while_revalidate: int = 30
    window_cache: float = 5.0  # how long a window's bucket union is kept in Redis
    minute_retention: float = 3 * 3600.0
    hour_retention: float = 8 * 86400.0
    day_retention: float = 35 * 86400.0
    # Rebase the decay landmark once it lags the clock by this many half-lives.
    rebase_after: float = 24.0
    maintenance_interval: float = 60.0  # how often one collector does each site's upkeep
    hot_max: int = 200_000  # members a hot ranking keeps; the long tail beyond is trimmed
    rising_min_views: int = 10  # short-window views a story needs before it can "rise"
    # Distinct client networks (/24, IPv6 /48) a story's short-window views need to rise.
    rising_min_networks: int = 10
    # A network with more than this share of a story's short-window views (once the story
    # has `concentration_min_views` there) gets its excess held as `concentrated`.
    max_network_share: float = 0.3
    concentration_min_views: int = 50
    demo: bool = False  # serve the demo site's pages (set by `ranker demo`)
    demo_rate: float = 0.0  # simulated demo views per second


# Every accepted key: TOML table -> {key: (Settings field, parser)}.
def _str(v: object, name: str) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{name}: expected a non-empty string, got {v!r}")
    return v


def _int(v: object, name: str) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and re.fullmatch(r"\s*[0-9]{1,9}\s*", v):  # ASCII digits only
        return int(v)
    raise ConfigError(f"{name}: expected an integer, got {v!r}")


def _positive_int(v: object, name: str) -> int:
    n = _int(v, name)
    if n <= 0:
        raise ConfigError(f"{name}: must be positive, got {v!r}")
    return n


def _port(v: object, name: str) -> int:
    n = _int(v, name)
    if not 0 <= n <= 65535:
        raise ConfigError(f"{name}: not a TCP port: {v!r}")
    return n


def _off_or_count(v: object, name: str) -> int:
    n = _int(v, name)  # 0: off
    if n < 0:
        raise ConfigError(f"{name}: 0 (off) or a positive number, got {v!r}")
    return n


def _bool(v: object, name: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{name}: expected true or false, got {v!r}")
    return v


def _off_or_duration(v: object, name: str) -> float:
    if v == 0 or v is False:
        return 0.0
    return parse_duration(v, name)


def _off_or_number(v: object, name: str) -> float:
    if v == 0 or v is False:
        return 0.0
    return _number(v, name)


def _log_format(v: object, name: str) -> str:
    if v not in ("json", "text"):
        raise ConfigError(f"{name}: expected 'json' or 'text', got {v!r}")
    return str(v)


def _number(v: object, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        raise ConfigError(f"{name}: expected a positive number, got {v!r}")
    return float(v)


def _networks(v: object, name: str) -> tuple[str, ...]:
    """A list of CIDR networks (or single addresses), checked here so a typo stops start-up."""
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f'{name}: expected a list of networks like ["10.0.0.0/8"]')
    for entry in v:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ConfigError(f"{name}: not a network (CIDR) or address: {entry!r}") from None
    return tuple(entry.strip() for entry in v)


def _files(v: object, name: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ConfigError(f"{name}: expected a list of file paths")
    return tuple(v)


def _views_per_address(v: object, name: str) -> int:
    n = _int(v, name)  # 0: off
    if not 0 <= n <= MAX_VIEWS_PER_ADDRESS:
        raise ConfigError(f"{name}: from 0 (off) to {MAX_VIEWS_PER_ADDRESS}, got {v!r}")
    return n


def _fetch_metadata(v: object, name: str) -> str:
    if v not in ("auto", "always", "never"):
        raise ConfigError(f"{name}: expected 'auto', 'always' or 'never', got {v!r}")
    return str(v)


def _share(v: object, name: str) -> float:
    share = _number(v, name)
    if share > 1:
        raise ConfigError(f"{name}: a fraction of 1 (0.3 is 30%), got {v!r}")
    return share


def _replaced_proxy_hops(v: object, name: str) -> None:
    raise ConfigError(
        f"{name}: replaced by collector.trusted_proxies, the networks of the proxies in "
        'front of Ranker, e.g. trusted_proxies = ["10.0.0.0/8"]: X-Forwarded-For is read '
        "only when the connection comes from one of them"
    )


_Parser = Any
_TABLES: dict[str, dict[str, tuple[str, _Parser]]] = {
    "server": {
        "host": ("host", _str),
        "port": ("port", _port),
        "log_format": ("log_format", _log_format),
        "ready_max_lag": ("ready_max_lag", parse_duration),
        "read_timeout": ("read_timeout", parse_duration),
        "max_connections_per_address": ("max_connections_per_address", _off_or_count),
        "metrics_token": ("metrics_token", _str),
        "metrics_host": ("metrics_host", _str),
        "metrics_port": ("metrics_port", _port),
    },
    "redis": {
        "url": ("redis_url", _str),
        "cluster": ("redis_cluster", _bool),
        "data_dir": ("data_dir", _str),
    },
    "collector": {
        "flush_interval": ("flush_interval", parse_duration),
        "max_body": ("max_body", _positive_int),
        "max_pending": ("max_pending", _positive_int),
        "catalog_refresh": ("catalog_refresh", parse_duration),
        "filter_bots": ("filter_bots", _bool),
        "dedupe_window": ("dedupe_window", _off_or_duration),
        "dedupe_max_entries": ("dedupe_max_entries", _positive_int),
        "rate_limit": ("rate_limit", _off_or_number),
        "rate_burst": ("rate_burst", _positive_int),
        "trusted_proxies": ("trusted_proxies", _networks),
        "max_views_per_address": ("max_views_per_address", _views_per_address),
        "deny_networks": ("deny_networks", _files),
        "deny_hosting": ("deny_hosting", _bool),
        "fetch_metadata": ("fetch_metadata", _fetch_metadata),
        "proxy_hops": ("proxy_hops", _replaced_proxy_hops),
        "max_field_size": ("max_field_size", _positive_int),
    },
    "query": {
        "cache_ttl": ("cache_ttl", parse_duration),
        "max_age": ("max_age", _positive_int),
        "stale_while_revalidate": ("stale_while_revalidate", _positive_int),
        "window_cache": ("window_cache", parse_duration),
    },
    "retention": {
        "minute": ("minute_retention", parse_duration),
        "hour": ("hour_retention", parse_duration),
        "day": ("day_retention", parse_duration),
    },
    "decay": {"rebase_after": ("rebase_after", _number)},
    "maintenance": {
        "interval": ("maintenance_interval", parse_duration),
        "hot_max": ("hot_max", _positive_int),
    },
    "trends": {
        "rising_min_views": ("rising_min_views", _positive_int),
        "rising_min_networks": ("rising_min_networks", _positive_int),
        "max_network_share": ("max_network_share", _share),
        "concentration_min_views": ("concentration_min_views", _positive_int),
    },
}
_SITE_KEYS = {"half_life", "token", "title", "secret", "shards", "token_env", "secret_env"}
MAX_SHARDS = 64
MAX_VIEWS_PER_ADDRESS = 250  # the shared per-address counters are one byte each
_ENV = {
    "REDIS_URL": "redis_url",
    "RANKER_HOST": "host",
    "RANKER_PORT": "port",
    "RANKER_DATA_DIR": "data_dir",
    "RANKER_LOG_FORMAT": "log_format",
    "RANKER_METRICS_TOKEN": "metrics_token",
}


def _unknown(name: str, choices: set[str] | dict[str, Any]) -> str:
    close = difflib.get_close_matches(name.rsplit(".", 1)[-1], list(choices), n=1)
    return f"{name} (did you mean {close[0]!r}?)" if close else name


def _parse_site(name: str, table: object, unknown: list[str], environ: Mapping[str, str]) -> Site:
    where = f"sites.{name}"
    if not SITE_RE.fullmatch(name):
        raise ConfigError(f"{where}: a site name is 1-32 of a-z, 0-9, '_' and '-'")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown += [_unknown(f"{where}.{k}", _SITE_KEYS) for k in table if k not in _SITE_KEYS]
    if "token" not in table and "token_env" not in table:
        raise ConfigError(f"{where}.token: missing (the bearer token for catalog writes)")
    has_secret = "secret" in table or "secret_env" in table
    return Site(
        name=name,
        half_life=parse_duration(table.get("half_life", "6h"), f"{where}.half_life"),
        token=_file_or_env(table, "token", where, environ),
        title=str(table.get("title", "")),
        secret=_file_or_env(table, "secret", where, environ) if has_secret else "",
        shards=_shards(table.get("shards", 1), f"{where}.shards"),
    )


def _file_or_env(table: dict[str, Any], key: str, where: str, environ: Mapping[str, str]) -> str:
    """A site's `key` from its table, or from the environment variable its `key_env` names,
    so a config file can be shared (or baked into an image) without the credential."""
    if f"{key}_env" not in table:
        return _str(table[key], f"{where}.{key}")
    if key in table:
        raise ConfigError(f"{where}: {key} and {key}_env are both set; keep one")
    var = _str(table[f"{key}_env"], f"{where}.{key}_env")
    if not environ.get(var):
        raise ConfigError(
            f"{where}.{key}_env: ${var} is not set; `ranker token` prints a fresh {key} for it"
        )
    return environ[var]


def _shards(v: object, name: str) -> int:
    n = _positive_int(v, name)
    if n > MAX_SHARDS:
        raise ConfigError(f"{name}: at most {MAX_SHARDS}, got {v!r}")
    return n


def _parse_table(
    table_name: str, table: object, values: dict[str, Any], unknown: list[str]
) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{table_name}: expected a table")
    spec = _TABLES[table_name]
    for key, raw in table.items():
        if key not in spec:
            unknown.append(_unknown(f"{table_name}.{key}", spec))
            continue
        attr, parser = spec[key]
        values[attr] = parser(raw, f"{table_name}.{key}")


def _overlay_environment(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Environment variables over the file's values, and what a cluster URL implies."""
    for var, attr in _ENV.items():
        if environ.get(var):
            parse = {"port": _port, "log_format": _log_format}.get(attr)
            values[attr] = parse(environ[var], var) if parse else environ[var]
    if environ.get("REDIS_CLUSTER"):
        values["redis_cluster"] = environ["REDIS_CLUSTER"].lower() in ("1", "true", "yes")
    url = values.get("redis_url")
    for scheme in CLUSTER_SCHEMES:
        # redis+cluster://host:port names a cluster node: the same as redis.cluster = true.
        if url and url.startswith(scheme + "://"):
            values["redis_url"] = scheme.replace("+cluster", "") + url[len(scheme) :]
            values["redis_cluster"] = True
    if values.get("redis_cluster") and not values.get("redis_url"):
        raise ConfigError("redis.cluster: needs redis.url (or REDIS_URL) naming a node")


def settings_from_mapping(doc: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """Validate a parsed TOML document and overlay the environment; raise ConfigError."""
    values: dict[str, Any] = {}
    unknown: list[str] = []
    sites: dict[str, Site] = {}
    for table_name, table in doc.items():
        if table_name == "sites":
            if not isinstance(table, dict):
                raise ConfigError("sites: expected a table of [sites.NAME] tables")
            for site_name, site_table in table.items():
                sites[site_name] = _parse_site(site_name, site_table, unknown, environ)
        elif table_name in _TABLES:
            _parse_table(table_name, table, values, unknown)
        else:
            unknown.append(_unknown(table_name, {**_TABLES, "sites": None}))
    if unknown:
        raise ConfigError("unknown setting(s): " + ", ".join(unknown))
    _overlay_environment(values, environ)
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    settings = Settings(sites=sites, **values)
    _check_retention(settings)
    return settings


def _check_retention(settings: Settings) -> None:
    # A window must never reach into buckets that have already expired.
    for name, retention, window in (
        ("retention.minute", settings.minute_retention, "1h"),
        ("retention.hour", settings.hour_retention, "7d"),
        ("retention.day", settings.day_retention, "30d"),
    ):
        if retention < window_span(window):
            raise ConfigError(f"{name}: must be at least the {window} window it serves")


# A site's token opens its catalog and, unless it has a secret, is the key its beacon tokens
# are signed with: a server refuses one that is short or published.
MIN_TOKEN_LENGTH = 24
# Every token and secret Ranker's own files show (README, example configs, compose file,
# docs, tests, scripts), and the usual placeholders: public, so refused whatever their
# length. tests/test_config.py fails when a file shows one this and the length let pass.
EXAMPLE_TOKENS = frozenset(
    {
        "change-me",
        "changeme",
        "secret",
        "token",
        "demo-token",
        "test-token",
        "other-token",
        "fuzz-token",
        "bench-token",
        "one-token",
        "many-token",
        "t0k3n",
        "s3cret",
        "stolen",
        "wrong",
    }
)


def check_tokens(settings: Settings) -> None:
    """Refuse sites whose token or secret anyone could guess; `ranker serve` calls this before
    it starts, clients (which only send a token) do not. The message never shows the value."""
    examples = {example.casefold() for example in EXAMPLE_TOKENS}
    secrets = [("server.metrics_token", settings.metrics_token)]
    for site in settings.sites.values():
        secrets += [(f"sites.{site.name}.token", site.token)]
        secrets += [(f"sites.{site.name}.secret", site.secret)]
    for name, value in secrets:
        if not value:
            continue  # a secret derived from the token, or no metrics token
        if value.strip().casefold() in examples:
            problem = "is an example published in Ranker's own files"
        elif len(value) < MIN_TOKEN_LENGTH:
            problem = f"is shorter than {MIN_TOKEN_LENGTH} characters"
        else:
            continue
        raise ConfigError(
            f"{name} {problem}, so anyone could guess it; `ranker token` prints a fresh one"
        )


def load_settings(path: str | Path | None, environ: Mapping[str, str]) -> Settings:
    """Settings from `path` (else `$RANKER_CONFIG`, else built-in defaults) and `environ`."""
    path = path or environ.get("RANKER_CONFIG")
    doc: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return settings_from_mapping(doc, environ)
