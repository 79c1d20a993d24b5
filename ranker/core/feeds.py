"""A site's feeds and sitemaps (`[[sites.NAME.feeds]]`): their settings, checked when the
configuration is read. What their items become is ranker.core.feedread's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

EVERY_DEFAULT: Final = 120.0  # seconds between polls of a feed
EVERY_BOUNDS: Final = (30.0, 86400.0)
ID_RULES: Final = ("guid", "link", "path")  # or a regular expression with one group
SECTION_RULES: Final = ("category", "path")  # or a regular expression with one group
FEED_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_FEEDS: Final = 20  # per site
MAX_URL: Final = 2048  # as the catalog's links (validate.MAX_URL)
FEED_KEYS: Final = frozenset({"url", "name", "every", "id", "section", "allow_private"})


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed or sitemap whose items a site's catalog follows (`[[sites.NAME.feeds]]`)."""

    name: str  # in status, metrics and key names
    url: str = field(repr=False)  # may carry a key in its query: shown only as `shown_url`
    every: float = EVERY_DEFAULT
    id: str = "guid"  # "guid", "link", "path" or a regular expression with one group
    section: str = ""  # "", "category", "path" or a regular expression with one group
    allow_private: bool = False  # may be on loopback or a private network (tests, intranets)

    @property
    def shown_url(self) -> str:
        """The URL without credentials or query, which may hold a key."""
        return shown_url(self.url)

    @property
    def rules(self) -> str:
        """What decides the entries made from the same document: a document fetched again
        unchanged is applied again only when these changed."""
        return f"{self.id}\n{self.section}"


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" + ("?…" if parts.query else "")


# -- configuration ------------------------------------------------------------------------


def parse_feeds(value: object, where: str) -> tuple[Feed, ...]:
    """`[[sites.NAME.feeds]]` tables as Feeds; ConfigError names the key that is wrong."""
    from ranker.core.config import ConfigError  # the config module imports this one

    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"{where}: expected [[{where}]] tables")
    if len(value) > MAX_FEEDS:
        raise ConfigError(f"{where}: at most {MAX_FEEDS} feeds a site")
    feeds: dict[str, Feed] = {}
    for k, table in enumerate(value):
        feed = parse_feed(table, f"{where}[{k}]")
        if feed.name in feeds:
            raise ConfigError(
                f"{where}[{k}].name: {feed.name!r} names two feeds; give one a name of its own"
            )
        feeds[feed.name] = feed
    return tuple(feeds.values())


def parse_feed(table: Mapping[str, Any], at: str) -> Feed:
    """One feed's table; ConfigError names `at` and the key."""
    from ranker.core.config import ConfigError, parse_duration

    if unknown := sorted(set(table) - FEED_KEYS):
        raise ConfigError(f"{at}: unknown key(s) {', '.join(unknown)}")
    url = table.get("url")
    if not isinstance(url, str) or not re.fullmatch(
        r"https?://[^/?#\s\\]+(?:[/?#][^\s\\]*)?", url, re.IGNORECASE
    ):
        raise ConfigError(
            f"{at}.url: expected the feed's or sitemap's http(s) address, got {url!r}"
        )
    if len(url) > MAX_URL:
        raise ConfigError(f"{at}.url: longer than {MAX_URL} characters")
    name = table.get("name", default_name(url))
    if not isinstance(name, str) or not FEED_NAME_RE.fullmatch(name):
        raise ConfigError(f"{at}.name: 1-32 of a-z, 0-9, '_' and '-', got {name!r}")
    every = parse_duration(table.get("every", EVERY_DEFAULT), f"{at}.every")
    low, high = EVERY_BOUNDS
    if not low <= every <= high:
        raise ConfigError(f"{at}.every: from 30s to 1d, got {table.get('every')!r}")
    allow_private = table.get("allow_private", False)
    if not isinstance(allow_private, bool):
        raise ConfigError(f"{at}.allow_private: expected true or false")
    return Feed(
        name=name,
        url=url,
        every=every,
        id=_rule(table.get("id", "guid"), ID_RULES, f"{at}.id"),
        section=_rule(table.get("section", ""), SECTION_RULES, f"{at}.section"),
        allow_private=allow_private,
    )


def _rule(value: object, names: tuple[str, ...], at: str) -> str:
    """One of `names`, or a regular expression with exactly one group."""
    from ranker.core.config import ConfigError

    said = f"{', '.join(repr(n) for n in names)} or a regular expression with one group"
    if not isinstance(value, str):
        raise ConfigError(f"{at}: expected {said}, got {value!r}")
    if value in names or value == "" and at.endswith(".section"):
        return value
    try:
        pattern = re.compile(value)
    except re.error as e:
        raise ConfigError(f"{at}: {value!r} is not a regular expression ({e}); {said}") from None
    if pattern.groups != 1:
        raise ConfigError(
            f"{at}: the regular expression {value!r} has {pattern.groups} groups; exactly one "
            "(in parentheses) says what to take, e.g. '/story/([0-9]+)'"
        )
    return value


def default_name(url: str) -> str:
    """A feed's name when the configuration gives none: its host and path as a name."""
    parts = urlsplit(url)
    made = re.sub(r"[^a-z0-9]+", "-", f"{parts.hostname or ''}{parts.path}".lower()).strip("-")
    return (made[:32].strip("-_") or "feed") if made[:1].isalnum() else "feed"
