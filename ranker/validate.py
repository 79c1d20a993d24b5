"""Input syntax shared by every endpoint: site, item id and section names, catalog entries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ranker.config import SITE_RE

# Patterns are used with fullmatch: "$" would also accept a trailing newline.
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
SECTION_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
NUMBER_RE = re.compile(r"[0-9]{1,20}")  # ASCII digits only: str.isdigit() accepts "²"

# The catalog's text and link rule. widget.js and dashboard.js carry these patterns
# verbatim (tests check), since they must also render entries stored before the rule; the
# cases all of them are tested on are in tests/data/url_cases.json.
# Displayed text: no C0 or C1 control or DEL, and no bidi embedding, override or isolate,
# which would show a title in another order than it reads (CVE-2021-42574). The bidi marks
# (U+200E, U+200F, U+061C) stay allowed: Arabic and Hebrew titles need them.
TEXT_REFUSED_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# In a link, also whitespace (str.isspace's), the bidi marks and the backslash. Browsers
# read a backslash as "/" ("/\evil.example" is "//evil.example") and drop tabs and newlines
# ("/\t/evil.example" is "//evil.example"), so a link holding either is not what it says.
URL_REFUSED_RE = re.compile(
    r"[\x00-\x20\x7f-\x9f\\\xa0\u061c\u1680\u2000-\u200a\u200e\u200f"
    r"\u2028-\u202f\u205f\u2066-\u2069\u3000]"
)
# An http(s) URL with a host, or a path on the publisher's own site; never "//host",
# javascript: or data:. Used with match; "\/" so that the JS regex literal reads the same.
LINK_RE = re.compile(r"^(?:https?:\/\/[^\/?#]|\/(?!\/))", re.IGNORECASE | re.ASCII)
# Trimmed around a link before the rule, as browsers trim (WHATWG "ASCII whitespace").
LINK_TRIM = "\t\n\f\r "

ID_RULE = "id: 1-128 of A-Z, a-z, 0-9, '_', '.', ':' and '-'"
SECTION_RULE = "section: 1-32 of a-z, 0-9, '_' and '-', and not 'all'"

MAX_TITLE = 300
MAX_SUMMARY = 1000
MAX_URL = 2048
CATALOG_FIELDS = ("title", "url", "section", "summary", "image", "published_at", "hidden")


class InvalidInput(ValueError):
    """The message names the field and what is wrong with it."""


def is_site(value: object) -> bool:
    return isinstance(value, str) and SITE_RE.fullmatch(value) is not None


def is_item_id(value: object) -> bool:
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def is_section(value: object) -> bool:
    # "all" names the site-wide scope, so it cannot also be a section.
    return isinstance(value, str) and value != "all" and SECTION_RE.fullmatch(value) is not None


def safe_url(value: str) -> str | None:
    """`value` as a link (trimmed of ASCII whitespace), or None if it must not be one."""
    url = value.strip(LINK_TRIM)
    return url if LINK_RE.match(url) and not URL_REFUSED_RE.search(url) else None


def clean_text(value: str) -> str:
    """Text as it may be shown: stored before the rule, it may hold what the rule refuses."""
    return TEXT_REFUSED_RE.sub("", value)


def _text(
    doc: dict[str, Any], name: str, limit: int, required: bool, trim: str | None = None
) -> str:
    value = doc.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name}: required")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected a string")
    value = value.strip(trim)
    if required and not value:
        raise InvalidInput(f"{name}: must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{name}: longer than {limit} characters")
    if TEXT_REFUSED_RE.search(value):
        raise InvalidInput(f"{name}: contains control characters or bidi overrides")
    return value


def _link(doc: dict[str, Any], name: str, required: bool) -> str:
    value = _text(doc, name, MAX_URL, required, trim=LINK_TRIM)
    if value and URL_REFUSED_RE.search(value):
        raise InvalidInput(f"{name}: must not contain whitespace, backslashes or bidi marks")
    if value and not LINK_RE.match(value):
        raise InvalidInput(f"{name}: expected an http(s) URL or a path starting with a single /")
    return value


def _timestamp(value: object) -> str:
    if value is None:
        return ""
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float):
            when = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str):
            when = datetime.fromisoformat(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        else:
            raise TypeError
        when = when.astimezone(UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise InvalidInput(
            "published_at: expected ISO-8601 (2026-11-26T08:00:00Z) or unix seconds"
        ) from None
    if not 1900 <= when.year <= 9999:
        raise InvalidInput("published_at: a year from 1900 to 9999")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def catalog_entry(doc: object) -> dict[str, str]:
    """A validated catalog entry as the hash stored in Redis (hidden as "1"/"0")."""
    if not isinstance(doc, dict):
        raise InvalidInput("expected a JSON object")
    unknown = sorted(set(doc) - set(CATALOG_FIELDS) - {"id"})
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")
    section = doc.get("section")
    if section not in (None, "") and not is_section(section):
        raise InvalidInput(SECTION_RULE)
    hidden = doc.get("hidden", False)
    if not isinstance(hidden, bool):
        raise InvalidInput("hidden: expected true or false")
    return {
        "title": _text(doc, "title", MAX_TITLE, required=True),
        "url": _link(doc, "url", required=True),
        "section": section or "",
        "summary": _text(doc, "summary", MAX_SUMMARY, required=False),
        "image": _link(doc, "image", required=False),
        "published_at": _timestamp(doc.get("published_at")),
        "hidden": "1" if hidden else "0",
    }


def public_entry(item_id: str, stored: dict[str, str]) -> dict[str, Any]:
    """A stored catalog hash as the API shows it."""
    return {
        "id": item_id,
        **{k: stored.get(k, "") for k in CATALOG_FIELDS if k != "hidden"},
        "hidden": stored.get("hidden") == "1",
    }
