"""Input syntax shared by every endpoint: site, item id and section names, and the catalog
entry: its model, its text and link rule, and that rule as the OpenAPI patterns."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from ranker.core.config import SITE_RE

# Patterns are used with fullmatch: "$" would also accept a trailing newline.
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
SECTION_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
NUMBER_RE = re.compile(r"[0-9]{1,20}")  # ASCII digits only: str.isdigit() accepts "²"

# The catalog's text and link rule. The dashboard's rule.js (built into widget.js) carries
# these patterns verbatim (tests check), since it must also render entries stored before the
# rule; the cases all of them are tested on are in tests/data/url_cases.json.
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
# Trimmed around text: str.isspace's characters, all in the BMP (a test checks every code
# point), so the OpenAPI patterns can name them too.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

ID_RULE = "id: 1-128 of A-Z, a-z, 0-9, '_', '.', ':' and '-'"
SECTION_RULE = "section: 1-32 of a-z, 0-9, '_' and '-', and not 'all'"
DATE_RULE = "published_at: expected ISO-8601 (2026-11-26T08:00:00Z) or unix seconds"

MAX_TITLE = 300
MAX_SUMMARY = 1000
MAX_URL = 2048
MAX_NAME = 100  # an author's or a tag's name
MAX_SLUG = 64  # the name as looked up (`slug`)
# Lists an entry may name its stories by, as (catalog field, most names, what one is
# called in a query and in key names): a list can be asked for by author or by tag.
FACETS: Final = {"authors": (10, "author"), "tags": (30, "tag")}
CATALOG_FIELDS = ("title", "url", "section", "summary", "image", "published_at", "hidden")
NAME_RULE = "a name of 1-100 characters"


class InvalidInput(ValueError):
    """The message names the field and what is wrong with it."""


def is_site(value: object) -> bool:
    return isinstance(value, str) and SITE_RE.fullmatch(value) is not None


def is_item_id(value: object) -> bool:
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def is_section(value: object) -> bool:
    # "all" names the site-wide scope, so it cannot also be a section.
    return isinstance(value, str) and value != "all" and SECTION_RE.fullmatch(value) is not None


def slug(name: str) -> str:
    """An author's or a tag's name as lists are asked for by it: NFKC, case-folded, each
    run of characters other than letters, marks and digits made one "-", at most MAX_SLUG
    characters. "Jane Doe", "jane-doe" and "JANE  DOE" are one. A name with no letter or
    digit ("🙂") is "x-" and its UTF-8 in hex; "" only for an empty or blank name."""
    name = name.strip(WHITESPACE)
    out: list[str] = []
    for c in unicodedata.normalize("NFKC", name).casefold():
        if unicodedata.category(c)[0] in "LMN":
            out.append(c)
        elif out and out[-1] != "-":
            out.append("-")
    made = "".join(out)[:MAX_SLUG].strip("-")
    if not made and name:
        made = f"x-{name.encode().hex()}"[:MAX_SLUG]
    return made


def safe_url(value: str) -> str | None:
    """`value` as a link (trimmed of ASCII whitespace), or None if it must not be one."""
    url = value.strip(LINK_TRIM)
    return url if LINK_RE.match(url) and not URL_REFUSED_RE.search(url) else None


def clean_text(value: str) -> str:
    """Text as it may be shown: stored before the rule, it may hold what the rule refuses."""
    return TEXT_REFUSED_RE.sub("", value)


# -- the rule as JSON Schema patterns (ECMA-262, searched, so anchored) -------------------


def pattern(regex: re.Pattern[str], *, optional: bool = False) -> str:
    """A pattern used with fullmatch as a JSON Schema one."""
    return f"^(?:{regex.pattern}){'?' if optional else ''}$"


def _inside(regex: re.Pattern[str]) -> str:
    """The inside of a regex that is one character class: its escapes read the same in
    ECMA-262, so it goes into the patterns as written."""
    assert regex.pattern[0] == "[" and regex.pattern[1] != "^" and regex.pattern[-1] == "]"
    return regex.pattern[1:-1]


def _chars(text: str) -> str:
    """Characters as the inside of a character class."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in text)


_CONTROLS: Final = _inside(TEXT_REFUSED_RE)
_URL_REFUSED: Final = _inside(URL_REFUSED_RE)
_SPACE: Final = _chars(WHITESPACE)
# Trimmed text: it starts and ends with neither whitespace nor a refused character.
_PLAIN: Final = f"[^{_SPACE}{_CONTROLS}]"
_CORE: Final = f"{_PLAIN}(?:[^{_CONTROLS}]*{_PLAIN})?"
# LINK_RE without its lookahead, which not every generator of examples reads.
_LINK: Final = (
    f"(?:[hH][tT][tT][pP][sS]?://[^/?#{_URL_REFUSED}][^{_URL_REFUSED}]*"
    f"|/(?:[^/{_URL_REFUSED}][^{_URL_REFUSED}]*)?)"
)


def _stripped(core: str, trim: str, *, optional: bool = False) -> str:
    return f"^[{trim}]*(?:{core}){'?' if optional else ''}[{trim}]*$"


# What datetime.fromisoformat reads, from 1900 on (UTC); days 29-31 are left out.
DATE_PATTERN: Final = (
    r"^(?:19|[2-9][0-9])[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?$"
)
UNIX_RANGE: Final = {"minimum": -2_208_988_800, "maximum": 253_402_300_799}  # 1900-9999

# -- the catalog entry --------------------------------------------------------------------
# Types and unknown fields are msgspec's to check; the rule (trimming, then length, text and
# link syntax) is __post_init__'s, since no schema constraint states it exactly. Constraints
# only the rule applies are extra_json_schema: in the description, not enforced twice.

_TEXT_DOC: Final = (
    "trimmed; without control characters (C0, DEL, C1) or bidi embeddings, overrides and "
    "isolates (U+202A-U+202E, U+2066-U+2069)"
)
_LINK_DOC: Final = (
    "an http(s) URL or a path starting with a single `/`; trimmed of surrounding ASCII "
    "whitespace, then without whitespace, control characters, backslashes or bidi controls"
)


_TEXT: Final = _stripped(_CORE, _SPACE)
_OPTIONAL_TEXT: Final = _stripped(_CORE, _SPACE, optional=True)
_URL: Final = _stripped(_LINK, _chars(LINK_TRIM))
_OPTIONAL_URL: Final = _stripped(_LINK, _chars(LINK_TRIM), optional=True)

Title = Annotated[
    str,
    Meta(description=_TEXT_DOC, extra_json_schema={"maxLength": MAX_TITLE, "pattern": _TEXT}),
]
Url = Annotated[
    str, Meta(description=_LINK_DOC, extra_json_schema={"maxLength": MAX_URL, "pattern": _URL})
]
Section = Annotated[
    Annotated[str, Meta(extra_json_schema={"pattern": pattern(SECTION_RE, optional=True)})] | None,
    Meta(description="empty or null: no section", extra_json_schema={"not": {"const": "all"}}),
]
Summary = Annotated[
    Annotated[str, Meta(extra_json_schema={"maxLength": MAX_SUMMARY, "pattern": _OPTIONAL_TEXT})]
    | None,
    Meta(description=_TEXT_DOC),
]
Image = Annotated[
    Annotated[str, Meta(extra_json_schema={"maxLength": MAX_URL, "pattern": _OPTIONAL_URL})] | None,
    Meta(description=_LINK_DOC + "; empty or null: none"),
]
PublishedAt = Annotated[
    Annotated[str, Meta(extra_json_schema={"pattern": DATE_PATTERN})]
    | Annotated[float, Meta(extra_json_schema=UNIX_RANGE)]
    | None,
    Meta(
        description="ISO-8601 (a time without zone is UTC) or unix seconds; stored as UTC",
        examples=["2026-11-26T08:00:00Z"],
    ),
]
Hidden = Annotated[bool, Meta(description="true: counted, but left out of lists")]


_Name = Annotated[str, Meta(extra_json_schema={"maxLength": MAX_NAME, "pattern": _TEXT})]
_NAMES_DOC: Final = (
    f"each {NAME_RULE}; a list by {{}} (`?{{}}=`) matches a name whatever its case and punctuation"
)
Authors = Annotated[
    Annotated[list[_Name], Meta(max_length=FACETS["authors"][0])] | None,
    Meta(description=_NAMES_DOC.format("author", "author"), examples=[["Jane Doe"]]),
]
Tags = Annotated[
    Annotated[list[_Name], Meta(max_length=FACETS["tags"][0])] | None,
    Meta(description=_NAMES_DOC.format("tag", "tag"), examples=[["climate", "elections"]]),
]
ItemId = Annotated[str, Meta(extra_json_schema={"pattern": pattern(ID_RE)})]


class ItemWrite(Struct, forbid_unknown_fields=True, kw_only=True):
    """a catalog entry; `title` and `url` are required"""

    id: Annotated[str, Meta(description="if given, the same as the path's")] | UnsetType = UNSET
    title: Title
    url: Url
    section: Section = None
    summary: Summary = None
    image: Image = None
    published_at: PublishedAt = None
    authors: Authors = None
    tags: Tags = None
    hidden: Hidden = False

    def __post_init__(self) -> None:
        if self.section not in (None, "") and not is_section(self.section):
            raise InvalidInput(SECTION_RULE)
        self.title = _text("title", self.title, MAX_TITLE, required=True)
        self.url = _link("url", self.url, required=True)
        self.summary = _text("summary", self.summary, MAX_SUMMARY, required=False)
        self.image = _link("image", self.image, required=False)
        self.published_at = _timestamp(self.published_at)
        self.authors = _names_of("authors", self.authors)
        self.tags = _names_of("tags", self.tags)

    def stored(self) -> dict[str, str]:
        """The entry as the hash stored in Redis (hidden as "1"/"0"; authors and tags one
        per line, and their slugs, one per line, in `author_keys` and `tag_keys`)."""
        names = {}
        for field, (_, kind) in FACETS.items():
            given = getattr(self, field) or []
            names[field] = "\n".join(given)
            names[f"{kind}_keys"] = "\n".join(slug(name) for name in given)
        return {
            "title": self.title,
            "url": self.url,
            "section": self.section or "",
            "summary": self.summary or "",
            "image": self.image or "",
            "published_at": str(self.published_at or ""),
            "hidden": "1" if self.hidden else "0",
            **names,
        }


class ItemImport(ItemWrite, kw_only=True):
    """one line of an import: a catalog entry with its id"""

    id: ItemId  # required here


# Some fields of an entry: what a PATCH sends, merged into the stored entry and then checked
# whole as an ItemWrite. Derived from it, so that the two cannot differ.
ItemPatch = msgspec.defstruct(
    "ItemPatch",
    [(f.name, f.type | UnsetType, UNSET) for f in msgspec.structs.fields(ItemWrite)],
    forbid_unknown_fields=True,
)
ItemPatch.__doc__ = "some fields of a catalog entry, merged into the stored one"

_KNOWN: Final = frozenset(f.encode_name for f in msgspec.structs.fields(ItemWrite))
_REQUIRED: Final = frozenset(f.name for f in msgspec.structs.fields(ItemWrite) if f.required)
# What a field of the wrong type is told, as the rule said before msgspec checked types.
_WRONG_TYPE: Final = {
    "section": SECTION_RULE,
    "hidden": "hidden: expected true or false",
    "published_at": DATE_RULE,
    "authors": f"authors: a list of up to {FACETS['authors'][0]} names",
    "tags": f"tags: a list of up to {FACETS['tags'][0]} names",
}
_AT: Final = re.compile(r" - at `\$\.(\w+)(?:\[\d+\])?`$")
_MISSING: Final = re.compile(r"^Object missing required field `(\w+)`$")


def _explain(error: msgspec.ValidationError, doc: object) -> str:
    """msgspec's complaint about `doc` as the rule words it: first any unknown fields, all
    named; then the field of the wrong type; else the rule's own message."""
    if not isinstance(doc, dict):
        return "expected a JSON object"
    unknown = sorted(set(doc) - _KNOWN)
    if unknown:
        return f"unknown field(s): {', '.join(unknown)}"
    text = str(error)
    if (missing := _MISSING.match(text)) is not None:
        return f"{missing[1]}: required"
    if (at := _AT.search(text)) is not None:
        name = at[1]
        if name in _REQUIRED and doc.get(name) is None:
            return f"{name}: required"
        return _WRONG_TYPE.get(name, f"{name}: expected a string")
    return text


def catalog_entry(doc: object) -> dict[str, str]:
    """A validated catalog entry as the hash stored in Redis (hidden as "1"/"0")."""
    try:
        return msgspec.convert(doc, ItemWrite).stored()
    except msgspec.ValidationError as e:
        raise InvalidInput(_explain(e, doc)) from None


def _text(name: str, value: str | None, limit: int, required: bool, trim: str = WHITESPACE) -> str:
    value = (value or "").strip(trim)
    if required and not value:
        raise InvalidInput(f"{name}: must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{name}: longer than {limit} characters")
    if TEXT_REFUSED_RE.search(value):
        raise InvalidInput(f"{name}: contains control characters or bidi overrides")
    return value


def _names_of(field: str, names: list[str] | None) -> list[str]:
    """Authors or tags: each trimmed and by the text rule; the first of names that look
    alike (the same slug) kept."""
    kept: dict[str, str] = {}
    for given in names or []:
        if len(given) > MAX_NAME:  # before trimming too, as the schema's maxLength says
            raise InvalidInput(f"{field}: longer than {MAX_NAME} characters")
        name = _text(field, given, MAX_NAME, required=True)
        kept.setdefault(slug(name), name)
    return list(kept.values())


def _link(name: str, value: str | None, required: bool) -> str:
    value = _text(name, value, MAX_URL, required, trim=LINK_TRIM)
    if value and URL_REFUSED_RE.search(value):
        raise InvalidInput(f"{name}: must not contain whitespace, backslashes or bidi marks")
    if value and not LINK_RE.match(value):
        raise InvalidInput(f"{name}: expected an http(s) URL or a path starting with a single /")
    return value


def _timestamp(value: str | float | None) -> str:
    if value is None:
        return ""
    try:
        if isinstance(value, str):
            when = datetime.fromisoformat(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        else:
            when = datetime.fromtimestamp(value, UTC)
        when = when.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(DATE_RULE) from None
    if not 1900 <= when.year <= 9999:
        raise InvalidInput("published_at: a year from 1900 to 9999")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_time(value: str | float, name: str) -> float:
    """A time given as ISO-8601 (without zone: UTC) or unix seconds, from 1900 to 9999, as
    unix seconds; InvalidInput names `name`."""
    try:
        stored = _timestamp(value)
    except InvalidInput:
        raise InvalidInput(f"{name}: expected ISO-8601 or unix seconds") from None
    return datetime.fromisoformat(stored).timestamp()


def public_entry(item_id: str, stored: dict[str, str]) -> dict[str, Any]:
    """A stored catalog hash as the API shows it."""
    return {
        "id": item_id,
        **{k: stored.get(k, "") for k in CATALOG_FIELDS if k != "hidden"},
        **{field: names_of(stored.get(field, "")) for field in FACETS},
        "hidden": stored.get("hidden") == "1",
    }


def names_of(stored: str) -> list[str]:
    """Authors or tags as stored (one per line) as a list."""
    return stored.split("\n") if stored else []
