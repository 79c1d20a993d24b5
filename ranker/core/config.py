"""Settings: one frozen object built from a TOML file plus an injected environment mapping."""

from __future__ import annotations

import difflib
import hashlib
import hmac
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ranker.core.feeds import Feed, parse_feeds
from ranker.core.windows import window_span

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
class PurgeHook:
    """Where a site's CDN purges go (`[[sites.NAME.purge]]`)."""

    kind: str  # "fastly", "cloudflare" or "webhook"
    url: str  # the API's base (Fastly, Cloudflare), or the webhook's address
    target: str = ""  # Fastly's service id, Cloudflare's zone id
    token: str = field(default="", repr=False)  # the API token; never logged


ALERT_KINDS = ("rising", "held", "dropping", "digest")
ALERT_FORMATS = ("slack", "json")


@dataclass(frozen=True, slots=True)
class AlertHook:
    """Where a site's alerts go (`[[sites.NAME.alerts]]`), and which."""

    name: str  # how logs, metrics and the dashboard name it: never its address
    url: str = field(repr=False)  # an incoming webhook's address often is its credential
    format: str = "slack"  # "slack": Slack-compatible {"text"}; "json": the alert's fields
    kinds: frozenset[str] = frozenset(ALERT_KINDS)
    token: str = field(default="", repr=False)  # sent as Authorization: Bearer, if set
    # One section's desk: its rising and held stories and its digest (dropping is the
    # site's); None: the whole site.
    section: str | None = None
    # The daily digest: at this local time (hour, minute) of the site, the window's top n.
    digest_at: tuple[int, int] = (8, 0)
    digest_window: str = "24h"
    digest_n: int = 10
    # A story rising this many times faster than its baseline (after the site's usual
    # growth at this hour is taken out) is told about, once a day.
    rising_ratio: float = 3.0
    # Beacons dropping: an hour with fewer views than this share of the same hour's median
    # on the previous days, when that median is at least drop_min_views.
    drop_share: float = 0.25
    drop_min_views: int = 100


PURGE_KINDS = {
    # kind: (default base URL, the key naming its target)
    "fastly": ("https://api.fastly.com", "service_id"),
    "cloudflare": ("https://api.cloudflare.com/client/v4", "zone_id"),
    "webhook": ("", ""),
}


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
    # IANA time zone of the newsroom: its calendar days are the site's day buckets (30d).
    timezone: str = "UTC"
    # Lists leave out stories published longer ago than this (s; 0: any age), unless a
    # request says otherwise (`max_age=`).
    max_age: float = 0.0
    # The site's own address ("https://news.example"): a story whose catalog url is a path
    # ("/2026/tram") is linked as base_url + path wherever Ranker itself shows it (lists,
    # the dashboard); "" leaves paths as they are (the widget's page resolves them).
    base_url: str = ""
    # CDN purge hooks, called when a write changes what public lists show.
    purge: tuple[PurgeHook, ...] = ()
    # The publisher's origins ("https://news.example"): AMP pages served from them may read
    # the lists with amp-list (`__amp_source_origin`).
    origins: frozenset[str] = frozenset()
    # Where the site's Most viewed boxes are (widget.js' data-placement): the placements
    # whose impressions and clicks are counted, so no outsider can store made-up ones.
    placements: frozenset[str] = frozenset({"default"})
    # Webhooks told when a story rises, a surge is held, beacons drop, and each day's digest.
    alerts: tuple[AlertHook, ...] = ()
    # Feeds and sitemaps whose items the catalog follows (ranker.core.feeds).
    feeds: tuple[Feed, ...] = ()

    def link(self, url: str) -> str:
        """A story's catalog url as the site's readers reach it."""
        if self.base_url and url.startswith("/") and not url.startswith("//"):
            return self.base_url + url
        return url

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo keeps the instance: one per name

    @property
    def signing_key(self) -> str:
        if self.secret:
            return self.secret
        return hmac.new(self.token.encode(), b"ranker beacon tokens", hashlib.sha256).hexdigest()


# Parsers: each takes the raw TOML (or environment) value and the key's name for messages.
def _str(v: object, name: str) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{name}: expected a non-empty string, got {v!r}")
    return v


def _path(v: object, name: str) -> Path:
    return Path(_str(v, name))


def _env_flag(v: object, name: str) -> bool:
    return isinstance(v, str) and v.lower() in ("1", "true", "yes")


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


T = TypeVar("T")
Parser = Callable[[object, str], T]


@dataclass(frozen=True, slots=True)
class Key(Generic[T]):
    """Where a setting comes from: `[table] key = ...` in the TOML file (the field's own
    name unless `key` says otherwise), or the environment variable `env`."""

    table: str
    parse: Parser[T]
    key: str = ""
    env: str = ""
    parse_env: Parser[T] | None = None  # when the environment spells it differently


def setting(
    table: str,
    default: T,
    parse: Parser[T],
    *,
    key: str = "",
    env: str = "",
    parse_env: Parser[T] | None = None,
) -> T:
    """A field of Settings read from `[table]`; typed as its value, for the checker."""
    spec = Key(table, parse, key, env, parse_env)
    return field(default=default, metadata={"key": spec})


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = setting("server", "127.0.0.1", _str, env="RANKER_HOST")
    port: int = setting("server", 8080, _port, env="RANKER_PORT")
    log_format: str = setting("server", "json", _log_format, env="RANKER_LOG_FORMAT")
    # /readyz fails once accepted views wait longer than this.
    ready_max_lag: float = setting("server", 10.0, parse_duration)
    # A connection gets this long for a request's headers (and, idle, for its next request),
    # and a body this long without a byte before the request is answered 408.
    read_timeout: float = setting("server", 10.0, parse_duration)
    # Connections open at once from one address (trusted proxies excepted); 0: no cap.
    max_connections_per_address: int = setting("server", 128, _off_or_count)
    # /metrics: with a token, only for `Authorization: Bearer <token>`; with a port, only
    # there (on metrics_host) and not on the main port. With neither, /metrics is open
    # when the server listens on loopback only, else refused.
    metrics_token: str = setting("server", "", _str, env="RANKER_METRICS_TOKEN")
    metrics_host: str = setting("server", "127.0.0.1", _str)
    metrics_port: int = setting("server", 0, _port)
    # None: start the embedded engine with its data under `data_dir`.
    redis_url: str | None = setting("redis", None, _str, key="url", env="REDIS_URL")
    # redis_url names one node of a Redis Cluster.
    redis_cluster: bool = setting(
        "redis", False, _bool, key="cluster", env="REDIS_CLUSTER", parse_env=_env_flag
    )
    data_dir: Path = setting("redis", Path("var/ranker"), _path, env="RANKER_DATA_DIR")
    sites: Mapping[str, Site] = field(default_factory=dict)
    # `ranker serve --dev`: the filters below relaxed for one machine (`development`);
    # not a config key, so no file can turn it on by accident.
    dev: bool = False
    flush_interval: float = setting("collector", 0.25, parse_duration)
    max_body: int = setting("collector", 2048, _positive_int)
    # Distinct (site, item, minute) keys buffered while Redis is away before beacons get 503.
    max_pending: int = setting("collector", 1_000_000, _positive_int)
    catalog_refresh: float = setting("collector", 1.0, parse_duration)
    # What a view must pass to count (0 turns a limit off).
    filter_bots: bool = setting("collector", True, _bool)
    # Repeats of one story by one visitor within it count once.
    dedupe_window: float = setting("collector", 1800.0, _off_or_duration)
    # Memory bound of the repeat memory, per process.
    dedupe_max_entries: int = setting("collector", 2_000_000, _positive_int)
    # Beacons per second per client address, per process.
    rate_limit: float = setting("collector", 20.0, _off_or_number)
    rate_burst: int = setting("collector", 200, _positive_int)
    # Networks of the proxies in front of the collector (CIDR). X-Forwarded-For is read only
    # from a peer in them; any other peer is the client, whatever headers it sends.
    trusted_proxies: tuple[str, ...] = setting("collector", (), _networks)
    # Views of one story from one client address (an IPv6 /64) counted per dedupe window,
    # across every worker of the server; the rest are held as `address_limit`.
    max_views_per_address: int = setting("collector", 10, _views_per_address)
    # CIDR files of hosting networks whose views are held as `datacenter`.
    deny_networks: tuple[str, ...] = setting("collector", (), _files)
    # Hold views from the cloud providers' published ranges (see ranker.core.networks).
    deny_hosting: bool = setting("collector", True, _bool)
    # "auto": views from a browser that always sends Fetch Metadata but sent none are held
    # as `inconsistent` when the beacon went to a secure origin (https, or loopback), where
    # browsers send it; "always" / "never".
    fetch_metadata: str = setting("collector", "auto", _fetch_metadata)
    max_field_size: int = setting("collector", 8190, _positive_int)  # longest header line
    cache_ttl: float = setting("query", 1.0, parse_duration)  # in-process query cache
    max_age: int = setting("query", 5, _positive_int)  # Cache-Control max-age, public reads
    stale_while_revalidate: int = setting("query", 30, _positive_int)
    # How long a shared cache (a CDN) may keep a public list, given as s-maxage: with purge
    # hooks (`[[sites.NAME.purge]]`) it can be long, since a takedown purges at once.
    s_maxage: int = setting("query", 0, _off_or_count)  # 0: not sent
    # How long a window's bucket union is kept in Redis.
    window_cache: float = setting("query", 5.0, parse_duration)
    minute_retention: float = setting("retention", 3 * 3600.0, parse_duration, key="minute")
    hour_retention: float = setting("retention", 8 * 86400.0, parse_duration, key="hour")
    day_retention: float = setting("retention", 35 * 86400.0, parse_duration, key="day")
    # Rebase the decay landmark once it lags the clock by this many half-lives.
    rebase_after: float = setting("decay", 24.0, _number)
    # How often one collector does each site's upkeep.
    maintenance_interval: float = setting("maintenance", 60.0, parse_duration, key="interval")
    # How often the collector holding a site's alerts looks for new ones and sends them.
    alert_interval: float = setting("alerts", 30.0, parse_duration, key="interval")
    # Members a hot ranking keeps; the long tail beyond is trimmed.
    hot_max: int = setting("maintenance", 200_000, _positive_int)
    # Short-window views a story needs before it can "rise".
    rising_min_views: int = setting("trends", 10, _positive_int)
    # Distinct client networks (/24, IPv6 /48) a story's short-window views need to rise.
    rising_min_networks: int = setting("trends", 10, _positive_int)
    # A network with more than this share of a story's short-window views (once the story
    # has `concentration_min_views` there) gets its excess held as `concentrated`.
    max_network_share: float = setting("trends", 0.3, _share)
    concentration_min_views: int = setting("trends", 50, _positive_int)


def declared_keys() -> dict[str, dict[str, tuple[str, Key[Any]]]]:
    """Every key of the file, from Settings: table -> key -> (field name, where from)."""
    tables: dict[str, dict[str, tuple[str, Key[Any]]]] = {}
    for f in fields(Settings):
        if "key" in f.metadata:
            spec: Key[Any] = f.metadata["key"]
            tables.setdefault(spec.table, {})[spec.key or f.name] = (f.name, spec)
    return tables


_TABLES = declared_keys()
# Keys an earlier release read, and what stands in their place now.
_REMOVED = {
    "collector.proxy_hops": (
        "replaced by collector.trusted_proxies, the networks of the proxies in front of "
        'Ranker, e.g. trusted_proxies = ["10.0.0.0/8"]: X-Forwarded-For is read only when '
        "the connection comes from one of them"
    ),
}


_SITE_KEYS = {
    "half_life",
    "token",
    "title",
    "secret",
    "shards",
    "timezone",
    "max_age",
    "base_url",
    "purge",
    "origins",
    "placements",
    "alerts",
    "feeds",
    "token_env",
    "secret_env",
}
MAX_SHARDS = 64
MAX_VIEWS_PER_ADDRESS = 250  # the shared per-address counters are one byte each


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
        max_age=parse_duration(table["max_age"], f"{where}.max_age") if "max_age" in table else 0.0,
        timezone=_timezone(table.get("timezone", "UTC"), f"{where}.timezone"),
        base_url=_base_url(table.get("base_url", ""), f"{where}.base_url"),
        purge=_purge_hooks(table.get("purge", []), f"{where}.purge", environ),
        origins=_origins(table.get("origins", []), f"{where}.origins"),
        placements=_placements(table.get("placements", []), f"{where}.placements"),
        alerts=_alert_hooks(table.get("alerts", []), f"{where}.alerts", environ),
        feeds=parse_feeds(table.get("feeds", []), f"{where}.feeds"),
    )


PLACEMENT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _placements(v: object, name: str) -> frozenset[str]:
    """The boxes' placements, "default" (a box without data-placement) always among them."""
    if not isinstance(v, list) or not all(
        isinstance(p, str) and PLACEMENT_RE.fullmatch(p) for p in v
    ):
        raise ConfigError(f"{name}: a list of names of 1-32 of a-z, 0-9, '_' and '-'")
    if len(v) > 50:
        raise ConfigError(f"{name}: at most 50")
    return frozenset({"default", *v})


def _origins(v: object, name: str) -> frozenset[str]:
    """Web origins, as browsers write them: scheme, host and port if not the default."""
    if not isinstance(v, list):
        raise ConfigError(f'{name}: expected a list of origins like "https://news.example"')
    out = set()
    for origin in v:
        if not isinstance(origin, str) or not re.fullmatch(
            r"https?://[a-z0-9.-]+(?::[0-9]{1,5})?", origin
        ):
            raise ConfigError(
                f'{name}: {origin!r} is not an origin like "https://news.example" '
                "(lower case, no path or trailing slash)"
            )
        out.add(origin)
    return frozenset(out)


def _purge_hooks(v: object, where: str, environ: Mapping[str, str]) -> tuple[PurgeHook, ...]:
    if not isinstance(v, list) or not all(isinstance(t, dict) for t in v):
        raise ConfigError(f"{where}: expected [[{where}]] tables")
    hooks = []
    for k, table in enumerate(v):
        at = f"{where}[{k}]"
        kind = table.get("kind")
        if kind not in PURGE_KINDS:
            raise ConfigError(f"{at}.kind: one of {', '.join(PURGE_KINDS)}, got {kind!r}")
        base, target_key = PURGE_KINDS[kind]
        known = {"kind", "url", "token", "token_env", *([target_key] if target_key else [])}
        if unknown := sorted(set(table) - known):
            raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)} for kind {kind!r}")
        url = _base_url(table.get("url", base), f"{at}.url")
        if not url:
            raise ConfigError(f"{at}.url: the webhook's http(s) address")
        target = ""
        if target_key:
            target = _str(table.get(target_key, ""), f"{at}.{target_key}")
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", target):
                raise ConfigError(f"{at}.{target_key}: 1-64 of A-Z, a-z, 0-9, '_' and '-'")
        has_token = "token" in table or "token_env" in table
        token = _file_or_env(table, "token", at, environ) if has_token else ""
        if target_key and not token:
            raise ConfigError(f"{at}.token: the {kind} API token (or token_env)")
        hooks.append(PurgeHook(kind, url, target, token))
    return tuple(hooks)


_ALERT_KEYS = {
    "name",
    "url",
    "url_env",
    "format",
    "kinds",
    "token",
    "token_env",
    "digest_at",
    "digest_window",
    "digest_n",
    "rising_ratio",
    "drop_share",
    "drop_min_views",
    "section",
}
HOOK_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
_DIGEST_WINDOWS = ("hot", "1h", "24h", "7d", "30d")


def _alert_hooks(v: object, where: str, environ: Mapping[str, str]) -> tuple[AlertHook, ...]:
    if not isinstance(v, list) or not all(isinstance(t, dict) for t in v):
        raise ConfigError(f"{where}: expected [[{where}]] tables")
    if len(v) > 10:
        raise ConfigError(f"{where}: at most 10 hooks")
    hooks: list[AlertHook] = []
    for k, table in enumerate(v):
        hook = _alert_hook(table, f"{where}[{k}]", environ)
        if any(h.name == hook.name for h in hooks):
            raise ConfigError(f"{where}[{k}].name: {hook.name!r} names another hook too")
        hooks.append(hook)
    return tuple(hooks)


def _alert_hook(table: dict[str, Any], at: str, environ: Mapping[str, str]) -> AlertHook:
    if unknown := sorted(set(table) - _ALERT_KEYS):
        raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)}")
    if "url" not in table and "url_env" not in table:
        raise ConfigError(f"{at}.url: the webhook's http(s) address (or url_env)")
    url = _file_or_env(table, "url", at, environ)
    if not re.fullmatch(r"https?://[^/?#\s\\@]+(?:[/?][^\s\\]*)?", url, re.IGNORECASE):
        raise ConfigError(f"{at}.url: an http(s) address")  # not echoed: it may be secret
    form = table.get("format", "slack")
    if form not in ALERT_FORMATS:
        raise ConfigError(f"{at}.format: one of {', '.join(ALERT_FORMATS)}, got {form!r}")
    kinds = table.get("kinds", list(ALERT_KINDS))
    if not isinstance(kinds, list) or not kinds or not set(kinds) <= set(ALERT_KINDS):
        raise ConfigError(f"{at}.kinds: a list of {', '.join(ALERT_KINDS)}")
    name = table.get("name", f"{form}:{(urlsplit(url).hostname or '').lower()}")
    if not isinstance(name, str) or not HOOK_NAME_RE.fullmatch(name):
        raise ConfigError(f"{at}.name: 1-64 of a-z, 0-9, '_', '.', ':' and '-'")
    window = table.get("digest_window", "24h")
    if window not in _DIGEST_WINDOWS:
        raise ConfigError(f"{at}.digest_window: one of {', '.join(_DIGEST_WINDOWS)}")
    digest_n = _positive_int(table.get("digest_n", 10), f"{at}.digest_n")
    if digest_n > 50:
        raise ConfigError(f"{at}.digest_n: at most 50")
    ratio = _number(table.get("rising_ratio", 3.0), f"{at}.rising_ratio")
    if not 1.0 < ratio <= 1000.0:
        raise ConfigError(f"{at}.rising_ratio: more than 1, at most 1000")
    from ranker.core.validate import SECTION_RULE, is_section  # it reads this module

    section = table.get("section")
    if section is not None and not is_section(section):
        raise ConfigError(f"{at}.{SECTION_RULE}")
    has_token = "token" in table or "token_env" in table
    return AlertHook(
        name=name,
        url=url,
        format=form,
        kinds=frozenset(kinds),
        token=_file_or_env(table, "token", at, environ) if has_token else "",
        digest_at=_clock_time(table.get("digest_at", "08:00"), f"{at}.digest_at"),
        digest_window=window,
        digest_n=digest_n,
        rising_ratio=ratio,
        drop_share=_share(table.get("drop_share", 0.25), f"{at}.drop_share"),
        drop_min_views=_positive_int(table.get("drop_min_views", 100), f"{at}.drop_min_views"),
        section=section,
    )


def _clock_time(v: object, name: str) -> tuple[int, int]:
    """A time of day, "HH:MM" (24-hour clock)."""
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", v) if isinstance(v, str) else None
    if match is None:
        raise ConfigError(f'{name}: a time of day like "08:00" (24-hour clock), got {v!r}')
    return int(match[1]), int(match[2])


def _base_url(v: object, name: str) -> str:
    """An http(s) origin, maybe with a path prefix (a trailing slash dropped), without a
    query or fragment: what a story's path is appended to."""
    if v == "":
        return ""
    url = _str(v, name).rstrip("/")
    if not re.fullmatch(r"https?://[^/?#\s\\@]+(?:/[^?#\s\\]*)?", url, re.IGNORECASE):
        raise ConfigError(f"{name}: an http(s) address like https://news.example, got {v!r}")
    return url


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


def _timezone(v: object, name: str) -> str:
    """An IANA time zone name, checked against the zone data so a typo stops start-up."""
    example = "an IANA time zone name like 'Europe/Berlin' or 'UTC'"
    if not isinstance(v, str):
        raise ConfigError(f"{name}: expected {example}, got {v!r}")
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, like 'America'
        raise ConfigError(f"{name}: unknown time zone {v!r}; expected {example}") from None
    if v in _NO_PLACE or v.startswith(("posix/", "right/")):
        raise ConfigError(f"{name}: {v!r} names no place; expected {example}")
    return v


# Files of the zone data that name no place: 'localtime' is whatever the host's zone is,
# and a newsroom's day must not move with the machine it runs on.
_NO_PLACE = frozenset({"localtime", "posixrules", "Factory"})


def _parse_table(
    table_name: str, table: object, values: dict[str, Any], unknown: list[str]
) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{table_name}: expected a table")
    spec = _TABLES[table_name]
    for key, raw in table.items():
        name = f"{table_name}.{key}"
        if name in _REMOVED:
            raise ConfigError(f"{name}: {_REMOVED[name]}")
        if key not in spec:
            unknown.append(_unknown(name, spec))
            continue
        attr, source = spec[key]
        values[attr] = source.parse(raw, name)


def _overlay_environment(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Environment variables over the file's values."""
    for table in _TABLES.values():
        for attr, source in table.values():
            if source.env and environ.get(source.env):
                values[attr] = (source.parse_env or source.parse)(environ[source.env], source.env)


def _cluster_url(settings: Settings) -> Settings:
    """redis+cluster://host:port names a cluster node: the same as redis.cluster = true."""
    url = settings.redis_url
    for scheme in CLUSTER_SCHEMES:
        if url and url.startswith(scheme + "://"):
            plain = scheme.replace("+cluster", "") + url[len(scheme) :]
            settings = replace(settings, redis_url=plain, redis_cluster=True)
    if settings.redis_cluster and not settings.redis_url:
        raise ConfigError("redis.cluster: needs redis.url (or REDIS_URL) naming a node")
    return settings


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
    settings = _cluster_url(Settings(sites=sites, **values))
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
        "cdn-api-token-that-must-stay-secret",
        "ops-hook-token-that-must-stay-secret",
        "one-token",
        "many-token",
        "t0k3n",
        "s3cret",
        "stolen",
        "wrong",
    }
)


# What `--dev` turns off: everything that tells one person's traffic from a crowd's, so a
# developer's curl beacons and page reloads on one machine count.
DEV_RELAXED = (
    "bot filter (any user agent counts)",
    "repeat filter (every reload counts)",
    "per-address limits and rate limit",
    "Sec-Fetch-* check",
    "hosting-network check",
    "concentration hold (one network may send every view)",
    "rising's crowd rule (one network may make a story rise)",
)


def development(settings: Settings) -> Settings:
    """`settings` with DEV_RELAXED turned off, for a server on a loopback address only."""
    try:
        loopback = ipaddress.ip_address(settings.host.strip("[]")).is_loopback
    except ValueError:
        loopback = settings.host == "localhost"
    if not loopback:
        raise ConfigError(
            f"--dev serves on a loopback address only (127.0.0.1 or ::1), not {settings.host!r}"
        )
    return replace(
        settings,
        dev=True,
        filter_bots=False,
        dedupe_window=0.0,
        rate_limit=0.0,
        max_views_per_address=0,
        fetch_metadata="never",
        deny_hosting=False,
        max_network_share=1.0,
        rising_min_networks=1,
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
