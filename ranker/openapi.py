"""The OpenAPI 3.1 description of Ranker's HTTP interface, served at `/openapi.json`. Built
once from the constants the handlers validate with, so patterns, ranges and enums cannot drift."""

from __future__ import annotations

import re
from typing import Any, Final

import orjson
from aiohttp import web

from ranker import __version__, assets, editors, handlers, query, trends
from ranker.admission import HELD, REASONS, RELEASED_BY_DEFAULT
from ranker.config import SITE_RE, Settings
from ranker.validate import (
    CATALOG_FIELDS,
    ID_RE,
    LINK_TRIM,
    MAX_SUMMARY,
    MAX_TITLE,
    MAX_URL,
    SECTION_RE,
    TEXT_REFUSED_RE,
    URL_REFUSED_RE,
)
from ranker.windows import BUCKET_SECONDS, WINDOWS

JSON: Final = "application/json"
# Accepted for JSON lines by `POST /v1/sites/{site}/items`; the first is the one clients send.
JSON_LINES: Final = (
    "application/x-ndjson",
    "application/jsonl",
    "application/json-lines",
    "text/plain",
)
MAX_AGE: Final = 300  # the description changes only with a new release
# Not constants in the handlers; the live fuzz test holds the server to these.
RISING_MAX_N: Final = 100
PAGE_MAX_COUNT: Final = 10_000
PAGE_DEFAULT_COUNT: Final = 1000
SERIES_DEFAULT_N: Final = 60

Doc = dict[str, Any]


def pattern(regex: re.Pattern[str], *, optional: bool = False) -> str:
    """A `validate` pattern (used with fullmatch) as a JSON Schema one (searched, ECMA-262)."""
    return f"^(?:{regex.pattern}){'?' if optional else ''}$"


def _ref(name: str, kind: str = "schemas") -> Doc:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: Doc) -> Doc:
    return {JSON: {"schema": schema}}


def _ok(description: str, schema: Doc, headers: Doc | None = None) -> Doc:
    response: Doc = {"description": description, "content": _json(schema)}
    if headers:
        response["headers"] = headers
    return response


def _error(description: str, *codes: str, headers: Doc | None = None) -> Doc:
    """An error response whose `error` field is one of `codes`."""
    schema = {"allOf": [_ref("Error"), {"properties": {"error": {"enum": list(codes)}}}]}
    return _ok(f"{description} (`{'`, `'.join(codes)}`)", schema, headers)


def _header(description: str, schema: Doc | None = None) -> Doc:
    return {"description": description, "required": True, "schema": schema or {"type": "string"}}


CORS_HEADER: Final = {"Access-Control-Allow-Origin": _header("`*`: readable from any page")}
CACHE_HEADERS: Final = {
    **CORS_HEADER,
    "ETag": _header("the representation's tag, for `If-None-Match`"),
    "Cache-Control": _header("`public, max-age=…, stale-while-revalidate=…` from `[query]`"),
}
NOT_MODIFIED: Final = {"description": "the client's copy is current", "headers": CACHE_HEADERS}
RETRY_AFTER: Final = {
    "Retry-After": _header("seconds to wait", {"type": "string", "pattern": "^[0-9]+$"})
}
UNKNOWN_SITE: Final = _error("no configured site of that name", "unknown_site")
UNKNOWN_ITEM: Final = _error(
    "no configured site, or no catalogued story, of that name", "unknown_site", "unknown_item"
)
TOO_LARGE: Final = _error(
    f"the body is larger than {handlers.MAX_IMPORT_BYTES // 2**20} MiB", "payload_too_large"
)
# Every operation that takes the site's token can also answer these.
AUTH_RESPONSES: Final = {
    "401": _error(
        "no `Authorization: Bearer` header",
        "unauthorized",
        headers={"WWW-Authenticate": _header('`Bearer realm="ranker"`')},
    ),
    "403": _error("not this site's token", "forbidden"),
}
# Any value is ignored for a catalogued id; for another, only a valid token counts.
TOKEN_FIELD: Final = {
    "description": (
        "for an id missing from the catalog: `EXPIRES.MAC` from `ranker.signing.sign` with "
        "the site's `secret`; ignored for catalogued ids"
    ),
    "examples": ["1767225600.nsWfbZWZgMEdEx8ncDeOZA"],
}
SITE_TOKEN: Final[list[dict[str, list[str]]]] = [{"siteToken": []}]
BINARY: Final = {"type": "string", "format": "binary"}


def _retention_limits() -> str:
    defaults = Settings()
    retention = {
        "minute": defaults.minute_retention,
        "hour": defaults.hour_retention,
        "day": defaults.day_retention,
    }
    limits = ", ".join(
        f"{int(retention[res] // size)} for `{res}`" for res, size in BUCKET_SECONDS.items()
    )
    return f"at most the resolution's retention in buckets (with the default retention: {limits})"


def _char_class(codes: list[int]) -> str:
    """Code points as the inside of a regex character class, runs as ranges."""
    runs: list[list[int]] = []
    for code in sorted(set(codes)):
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])

    def escape(code: int) -> str:
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return "".join(escape(a) + ("" if a == b else "-" + escape(b)) for a, b in runs)


# validate.py's checks of catalog text, as patterns. Surrounding whitespace (str.strip's:
# none lies outside the BMP; around a link only LINK_TRIM's) is stripped first; what remains
# of a text has none of TEXT_REFUSED_RE's characters, and of a link none of URL_REFUSED_RE's.
_SPACES: Final = [c for c in range(0x10000) if chr(c).isspace()]
_CONTROLS: Final = [c for c in range(0x10000) if TEXT_REFUSED_RE.match(chr(c))]
_URL_REFUSED: Final = _char_class([c for c in range(0x10000) if URL_REFUSED_RE.match(chr(c))])
_SPACE: Final = _char_class(_SPACES)
_PLAIN: Final = f"[^{_char_class([*_SPACES, *_CONTROLS])}]"
_CORE: Final = f"{_PLAIN}(?:[^{_char_class(_CONTROLS)}]*{_PLAIN})?"
# LINK_RE without its lookahead, which not every generator of examples reads.
_LINK: Final = (
    f"(?:[hH][tT][tT][pP][sS]?://[^/?#{_URL_REFUSED}][^{_URL_REFUSED}]*"
    f"|/(?:[^/{_URL_REFUSED}][^{_URL_REFUSED}]*)?)"
)
_LINK_TRIM: Final = _char_class([ord(c) for c in LINK_TRIM])


def _stripped(core: str, *, optional: bool = False, trim: str = _SPACE) -> str:
    return f"^[{trim}]*(?:{core}){'?' if optional else ''}[{trim}]*$"


# What datetime.fromisoformat reads, from 1900 on (UTC); days 29-31 are left out.
_DATE: Final = (
    r"^(?:19|[2-9][0-9])[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?$"
)
_UNIX_RANGE: Final = {"minimum": -2_208_988_800, "maximum": 253_402_300_799}  # 1900-9999


def _item_fields() -> Doc:
    """A schema for each field of a catalog entry as it is sent, keyed like CATALOG_FIELDS."""
    link = (
        "an http(s) URL or a path starting with a single `/`; trimmed of surrounding ASCII "
        "whitespace, then without whitespace, control characters, backslashes or bidi "
        "controls"
    )
    text = "trimmed; without control characters (C0, DEL, C1) or bidi embeddings, overrides"
    text += " and isolates (U+202A-U+202E, U+2066-U+2069)"
    optional = ["string", "null"]
    schemas: Doc = {
        "title": {
            "type": "string",
            "maxLength": MAX_TITLE,
            "pattern": _stripped(_CORE),
            "description": text,
        },
        "url": {
            "type": "string",
            "maxLength": MAX_URL,
            "pattern": _stripped(_LINK, trim=_LINK_TRIM),
            "description": link,
        },
        "section": {
            "type": optional,
            "pattern": pattern(SECTION_RE, optional=True),
            "not": {"const": "all"},
            "description": "empty or null: no section",
        },
        "summary": {
            "type": optional,
            "maxLength": MAX_SUMMARY,
            "pattern": _stripped(_CORE, optional=True),
            "description": text,
        },
        "image": {
            "type": optional,
            "maxLength": MAX_URL,
            "pattern": _stripped(_LINK, optional=True, trim=_LINK_TRIM),
            "description": link + "; empty or null: none",
        },
        "published_at": {
            "type": ["string", "number", "null"],
            "pattern": _DATE,
            **_UNIX_RANGE,
            "description": "ISO-8601 (a time without zone is UTC) or unix seconds; stored as UTC",
            "examples": ["2026-11-26T08:00:00Z"],
        },
        "hidden": {"type": "boolean", "description": "true: counted, but left out of lists"},
    }
    return {name: schemas[name] for name in CATALOG_FIELDS}


def _schemas() -> Doc:
    text_fields = {name: {"type": "string"} for name in CATALOG_FIELDS if name != "hidden"}
    nullable = {"type": ["string", "null"]}
    count = {"type": "integer", "minimum": 0}
    by_reason = {
        "type": "object",
        "propertyNames": {"enum": list(REASONS)},
        "additionalProperties": count,
    }
    fields = _item_fields()
    top_item = {
        "type": "object",
        "required": [
            "rank",
            "id",
            "title",
            "url",
            "section",
            "summary",
            "image",
            "published_at",
            "views",
        ],
        "properties": {
            "rank": {"type": "integer", "minimum": 1},
            "id": {"type": "string"},
            "title": {"type": "string"},
            "url": {"type": "string"},
            "section": nullable,
            "summary": nullable,
            "image": nullable,
            "published_at": nullable,
            "views": {
                "type": "number",
                "description": "decayed views (a float) for `hot`, exact views otherwise",
            },
        },
    }
    item: Doc = {
        "type": "object",
        "description": "a stored catalog entry; unset text fields are empty strings",
        "required": ["id", *CATALOG_FIELDS],
        "properties": {"id": {"type": "string"}, **text_fields, "hidden": {"type": "boolean"}},
        "additionalProperties": False,
    }
    rising_fields = [f.name for f in trends.Rising.__dataclass_fields__.values()]
    rising_types = {
        "id": "string",
        "title": "string",
        "url": "string",
        "section": "string",
        "views_short": "integer",
        "views_baseline": "integer",
        "rate_short": "number",
        "rate_baseline": "number",
        "ratio": "number",
        "networks": "integer",
    }
    by_held_reason = {
        "type": "object",
        "propertyNames": {"enum": list(HELD)},
        "additionalProperties": {"type": "integer", "minimum": 1},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "a stable code"},
                "message": {"type": "string", "description": "what was wrong, for people"},
            },
            "additionalProperties": False,
        },
        "Beacon": {
            "type": "object",
            "required": ["site", "id"],
            "properties": {
                "site": {"type": "string", "pattern": pattern(SITE_RE), "examples": ["demo"]},
                "id": {
                    "type": "string",
                    "pattern": pattern(ID_RE),
                    "description": "a catalogued story, or one the `token` vouches for",
                    "examples": ["tram-line-approved"],
                },
                "token": TOKEN_FIELD,
            },
        },
        "NotCounted": {
            "type": "object",
            "required": ["counted", "reason"],
            "properties": {"counted": {"const": False}, "reason": {"enum": list(HELD)}},
            "additionalProperties": False,
        },
        "BeaconDays": {
            "type": "object",
            "required": ["site", "reasons", "days"],
            "properties": {
                "site": {"type": "string"},
                "reasons": {"type": "array", "items": {"enum": list(REASONS)}},
                "days": {
                    "type": "array",
                    "description": "newest day first",
                    "items": {
                        "type": "object",
                        "required": ["day", "counted", "not_counted", "total", "released"],
                        "properties": {
                            "day": {"type": "string", "format": "date"},
                            "counted": count,
                            "not_counted": by_reason,
                            "total": count,
                            "released": {
                                **count,
                                "description": "held views released into the counts that day",
                            },
                        },
                    },
                },
            },
        },
        "ItemWrite": {
            "type": "object",
            "description": "a catalog entry; `title` and `url` are required",
            "required": ["title", "url"],
            "properties": {
                "id": {"type": "string", "description": "if given, the same as the path's"},
                **fields,
            },
            "additionalProperties": False,
            "examples": [
                {
                    "title": "Council approves new tram line",
                    "url": "https://example.com/tram",
                    "section": "politics",
                    "published_at": "2026-11-26T08:00:00Z",
                }
            ],
        },
        "ItemPatch": {
            "type": "object",
            "description": "some fields of a catalog entry, merged into the stored one",
            "properties": {
                "id": {"type": "string", "description": "if given, the same as the path's"},
                **fields,
            },
            "additionalProperties": False,
            "examples": [{"hidden": True}],
        },
        "ItemImport": {
            "type": "object",
            "description": "one line of an import: a catalog entry with its id",
            "required": ["id", "title", "url"],
            "properties": {"id": {"type": "string", "pattern": pattern(ID_RE)}, **fields},
            "additionalProperties": False,
        },
        "Item": item,
        "ItemDetail": {
            **item,
            "description": "a stored catalog entry with its views",
            "required": [*item["required"], "views_total", "ranks", "held"],
            "properties": {
                **item["properties"],
                "views_total": count,
                "held": {**by_held_reason, "description": "views held and not released"},
                "ranks": {
                    "type": "object",
                    "description": f"rank among visible stories; null past {query.RANK_DEPTH}",
                    "required": list(WINDOWS),
                    "properties": {w: {"type": ["integer", "null"], "minimum": 1} for w in WINDOWS},
                    "additionalProperties": False,
                },
            },
        },
        "TopList": {
            "type": "object",
            "required": ["site", "window", "section", "n", "computed_at", "items"],
            "properties": {
                "site": {"type": "string"},
                "window": {"enum": list(WINDOWS)},
                "section": nullable,
                "n": {"type": "integer", "minimum": 1, "maximum": query.MAX_N},
                "computed_at": {"type": "string", "format": "date-time"},
                "items": {"type": "array", "maxItems": query.MAX_N, "items": top_item},
            },
        },
        "Sections": {
            "type": "object",
            "required": ["sections"],
            "properties": {"sections": {"type": "array", "items": {"type": "string"}}},
        },
        "Rising": {
            "type": "object",
            "required": [
                "site",
                "section",
                "computed_at",
                "short_window",
                "baseline_window",
                "min_views",
                "min_networks",
                "items",
            ],
            "properties": {
                "site": {"type": "string"},
                "section": nullable,
                "computed_at": {"type": "string", "format": "date-time"},
                "short_window": {"type": "string", "examples": [f"{trends.SHORT_MINUTES}m"]},
                "baseline_window": {
                    "type": "string",
                    "examples": [f"{trends.BASELINE_MINUTES // 60}h"],
                },
                "min_views": {"type": "integer", "minimum": 1},
                "min_networks": {"type": "integer", "minimum": 1},
                "items": {
                    "type": "array",
                    "maxItems": RISING_MAX_N,
                    "items": {
                        "type": "object",
                        "required": ["rank", *rising_fields],
                        "properties": {
                            "rank": {"type": "integer", "minimum": 1},
                            **{name: {"type": rising_types[name]} for name in rising_fields},
                        },
                    },
                },
            },
        },
        "Held": {
            "type": "object",
            "required": ["site", "reasons", "release_default", "items"],
            "properties": {
                "site": {"type": "string"},
                "reasons": {"type": "array", "items": {"enum": list(HELD)}},
                "release_default": {"type": "array", "items": {"enum": list(HELD)}},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "title", "url", "section", "held", "flag"],
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "url": {"type": "string"},
                            "section": {"type": "string"},
                            "held": by_held_reason,
                            "flag": {
                                "description": "set while views are held as concentrated",
                                "oneOf": [
                                    {"type": "null"},
                                    {
                                        "type": "object",
                                        "required": ["network", "share", "at"],
                                        "properties": {
                                            "network": {"type": "string"},
                                            "share": {"type": "number"},
                                            "at": {"type": "string", "format": "date-time"},
                                        },
                                    },
                                ],
                            },
                        },
                    },
                },
            },
        },
        "Released": {
            "type": "object",
            "required": ["id", "released", "views"],
            "properties": {
                "id": {"type": "string"},
                "released": by_held_reason,
                "views": count,
            },
            "additionalProperties": False,
        },
        "Series": {
            "type": "object",
            "required": ["res", "step", "start", "series"],
            "properties": {
                "res": {"enum": list(BUCKET_SECONDS)},
                "step": {"enum": list(BUCKET_SECONDS.values())},
                "start": {"type": "integer", "description": "unix start of the oldest bucket"},
                "series": {
                    "type": "object",
                    "description": "views per bucket for each id, oldest first",
                    "additionalProperties": {"type": "array", "items": count},
                },
            },
        },
        "ItemSeries": {
            "type": "object",
            "required": ["id", "res", "step", "start", "points"],
            "properties": {
                "id": {"type": "string"},
                "res": {"enum": list(BUCKET_SECONDS)},
                "step": {"enum": list(BUCKET_SECONDS.values())},
                "start": {"type": "integer"},
                "points": {
                    "type": "array",
                    "description": "[unix bucket start, views], oldest first",
                    "items": {"type": "array", "items": count, "minItems": 2, "maxItems": 2},
                },
            },
        },
        "ItemPage": {
            "type": "object",
            "required": ["ids", "cursor"],
            "properties": {
                "ids": {"type": "array", "items": {"type": "string"}},
                "cursor": {
                    "type": ["string", "null"],
                    "description": "pass as `cursor` for the next page; null after the last",
                },
            },
            "additionalProperties": False,
        },
        "HiddenItems": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "title", "url", "section"],
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "url": {"type": "string"},
                            "section": nullable,
                        },
                    },
                }
            },
            "additionalProperties": False,
        },
        "ImportResult": {
            "type": "object",
            "required": ["imported", "created", "errors"],
            "properties": {
                "imported": count,
                "created": count,
                "errors": {
                    "type": "array",
                    "description": f"the first {handlers.MAX_IMPORT_ERRORS} refused lines",
                    "maxItems": handlers.MAX_IMPORT_ERRORS,
                    "items": {
                        "type": "object",
                        "required": ["line", "error"],
                        "properties": {
                            "line": {"type": "integer", "minimum": 1},
                            "error": {"type": "string"},
                        },
                    },
                },
            },
        },
        "Health": {
            "type": "object",
            "required": [
                "status",
                "pid",
                "accepted_views",
                "not_counted",
                "pending_views",
                "flushed_views",
                "dropped_views",
            ],
            "properties": {
                "status": {"enum": ["ok", "degraded"]},
                "pid": {"type": "integer", "description": "the process that answered"},
                "accepted_views": count,
                "not_counted": by_reason,
                "pending_views": count,
                "flushed_views": count,
                "dropped_views": count,
            },
        },
        "Ready": {
            "type": "object",
            "required": ["status", "redis", "redis_ping_ms", "flush_lag_s", "max_flush_lag_s"],
            "properties": {
                "status": {"enum": ["ready", "not_ready"]},
                "redis": {"type": "string", "description": "`ok`, or why not"},
                "redis_ping_ms": {"type": "number"},
                "flush_lag_s": {
                    "type": "number",
                    "description": "seconds since everything accepted was written",
                },
                "max_flush_lag_s": {"type": "number"},
            },
        },
    }


def _parameters() -> Doc:
    section = {
        "name": "section",
        "in": "query",
        "description": "only this section's stories; empty or absent: the whole site",
        "schema": {
            "type": "string",
            "pattern": pattern(SECTION_RE, optional=True),
            "not": {"const": "all"},
        },
        "examples": {"sport": {"value": "sport"}},
    }
    return {
        "site": {
            "name": "site",
            "in": "path",
            "required": True,
            "description": "a site configured as `[sites.NAME]`",
            "schema": {"type": "string", "pattern": pattern(SITE_RE)},
            "example": "demo",
        },
        "id": {
            "name": "id",
            "in": "path",
            "required": True,
            "description": "a story id",
            "schema": {"type": "string", "pattern": pattern(ID_RE)},
            "example": "tram-line-approved",
        },
        "section": section,
        "n": {
            "name": "n",
            "in": "query",
            "description": "how many stories",
            "schema": {"type": "integer", "minimum": 1, "maximum": query.MAX_N, "default": 10},
        },
        "window": {
            "name": "window",
            "in": "query",
            "description": "`hot`: time-decayed; `1h` … `30d`: exact counts; `all`: all-time",
            "schema": {"type": "string", "enum": list(WINDOWS), "default": "hot"},
        },
        "res": {
            "name": "res",
            "in": "query",
            "description": "bucket size",
            "schema": {"type": "string", "enum": list(BUCKET_SECONDS), "default": "minute"},
        },
        "buckets": {
            "name": "n",
            "in": "query",
            "description": (
                "how many buckets, ending with the current one (default 60, or all that are "
                f"kept if fewer): {_retention_limits()}"
            ),
            "schema": {"type": "integer", "minimum": 1, "default": SERIES_DEFAULT_N},
        },
        "ifNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "description": "an `ETag` from an earlier answer (or `*`): `304` if it still holds",
            "schema": {"type": "string"},
        },
    }


def _top(operation_id: str, summary: str, media_type: str, schema: Doc) -> Doc:
    return {
        "tags": ["lists"],
        "operationId": operation_id,
        "summary": summary,
        "parameters": [_ref(p, "parameters") for p in ("site", "n", "window", "section")]
        + [_ref("ifNoneMatch", "parameters")],
        "responses": {
            "200": {
                "description": "the list, cached in process for about a second",
                "headers": CACHE_HEADERS,
                "content": {media_type: {"schema": schema}},
            },
            "304": NOT_MODIFIED,
            "400": _error("a bad parameter", "bad_n", "bad_window", "bad_section"),
            "404": UNKNOWN_SITE,
        },
    }


def _beacon_paths() -> Doc:
    max_body = Settings().max_body
    refusals = {
        "403": _error("the `token` is not valid for this id, or expired", "bad_token"),
        "404": _error(
            "not a configured site, or an id neither catalogued nor with a token",
            "unknown_site",
            "unknown_item",
        ),
        "429": _error(
            "more beacons from this address than `collector.rate_limit` allows",
            "rate_limited",
            headers=RETRY_AFTER,
        ),
        "503": _error(
            "Redis has been unreachable so long that the write buffer is full",
            "overloaded",
            headers=RETRY_AFTER,
        ),
    }
    not_counted = (
        "received, not counted: a bot or a prefetch (answered before the id is checked), or "
        "the same visitor's repeat within `collector.dedupe_window`"
    )
    return {
        "/v1/hit": {
            "post": {
                "tags": ["beacons"],
                "operationId": "hit",
                "summary": "Count one view",
                "description": (
                    "What `beacon.js` sends with `navigator.sendBeacon` (as `text/plain`, so no "
                    f"preflight). At most `collector.max_body` bytes ({max_body} by default). "
                    "Every answer carries `Access-Control-Allow-Origin: *`."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": _ref("Beacon")},
                        "text/plain": {"schema": _ref("Beacon")},
                    },
                },
                "responses": {
                    "202": _ok(not_counted, _ref("NotCounted"), CORS_HEADER),
                    "204": {
                        "description": "counted; written to Redis within a flush interval",
                        "headers": CORS_HEADER,
                    },
                    "400": _error("not a beacon", "bad_json", "bad_beacon", "bad_id"),
                    **refusals,
                    "413": _error("longer than `collector.max_body` bytes", "payload_too_large"),
                    "415": _error("neither JSON nor text/plain", "unsupported_media_type"),
                },
            },
            "options": {
                "tags": ["beacons"],
                "operationId": "hitPreflight",
                "summary": "CORS preflight for JSON beacons",
                "responses": {
                    "204": {
                        "description": "any origin may POST JSON",
                        "headers": {
                            **CORS_HEADER,
                            "Access-Control-Allow-Methods": _header("`POST`"),
                            "Access-Control-Allow-Headers": _header("`Content-Type`"),
                            "Access-Control-Max-Age": _header("seconds"),
                        },
                    }
                },
            },
        },
        "/v1/hit.gif": {
            "get": {
                "tags": ["beacons"],
                "operationId": "hitPixel",
                "summary": "Count one view with a 1×1 GIF, for pages without JavaScript and AMP",
                "parameters": [
                    {
                        "name": "site",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "pattern": pattern(SITE_RE)},
                        "example": "demo",
                    },
                    {
                        "name": "id",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "pattern": pattern(ID_RE)},
                        "example": "tram-line-approved",
                    },
                    {"name": "token", "in": "query", "schema": TOKEN_FIELD},
                ],
                "responses": {
                    "200": _pixel("counted"),
                    "202": _pixel(not_counted),
                    "400": _error("missing site or id", "bad_beacon", "bad_id"),
                    **refusals,
                },
            }
        },
    }


def _pixel(description: str) -> Doc:
    return {
        "description": description,
        "headers": {**CORS_HEADER, "Cache-Control": _header("`no-store, max-age=0`")},
        "content": {"image/gif": {"schema": BINARY}},
    }


def _list_paths() -> Doc:
    return {
        "/v1/sites/{site}/top": {"get": _top("top", "Most viewed stories", JSON, _ref("TopList"))},
        "/v1/sites/{site}/top.html": {
            "get": _top(
                "topHtml",
                "The same list as an escaped HTML fragment, for server-side includes",
                "text/html",
                {"type": "string"},
            )
        },
        "/v1/sites/{site}/sections": {
            "get": {
                "tags": ["lists"],
                "operationId": "sections",
                "summary": "Sections that have rankings",
                "parameters": [_ref("site", "parameters")],
                "responses": {
                    "200": _ok("the sections, sorted", _ref("Sections"), CORS_HEADER),
                    "404": UNKNOWN_SITE,
                },
            }
        },
    }


def _trend_paths() -> Doc:
    buckets = [_ref(p, "parameters") for p in ("res", "buckets")]
    bad_buckets = ("bad_res", "bad_n")
    return {
        "/v1/sites/{site}/beacons": {
            "get": {
                "tags": ["trends"],
                "operationId": "beacons",
                "summary": "Per UTC day: views counted, and beacons not counted by reason",
                "security": SITE_TOKEN,
                "parameters": [
                    _ref("site", "parameters"),
                    {
                        "name": "days",
                        "in": "query",
                        "description": (
                            "how many days, ending today: at most `retention.day` in days "
                            f"({int(Settings().day_retention // BUCKET_SECONDS['day'])} by default)"
                        ),
                        "schema": {"type": "integer", "minimum": 1, "default": 7},
                    },
                ],
                "responses": {
                    "200": _ok("the tallies", _ref("BeaconDays")),
                    "400": _error("a bad parameter", "bad_days"),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                },
            }
        },
        "/v1/sites/{site}/rising": {
            "get": {
                "tags": ["trends"],
                "operationId": "rising",
                "summary": "Stories whose views per hour outpace their recent rate",
                "security": SITE_TOKEN,
                "parameters": [
                    _ref("site", "parameters"),
                    {
                        "name": "n",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": RISING_MAX_N,
                            "default": 10,
                        },
                    },
                    _ref("section", "parameters"),
                ],
                "responses": {
                    "200": _ok("the rising list", _ref("Rising")),
                    "400": _error("a bad parameter", "bad_n", "bad_section"),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                },
            }
        },
        "/v1/sites/{site}/series": {
            "get": {
                "tags": ["trends"],
                "operationId": "series",
                "summary": "Views per bucket for several stories, for sparklines",
                "security": SITE_TOKEN,
                "parameters": [
                    _ref("site", "parameters"),
                    {
                        "name": "ids",
                        "in": "query",
                        "required": True,
                        "description": "comma-separated story ids",
                        "style": "form",
                        "explode": False,
                        "schema": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": editors.MAX_SERIES_IDS,
                            "items": {"type": "string", "pattern": pattern(ID_RE)},
                        },
                    },
                    *buckets,
                ],
                "responses": {
                    "200": _ok("the series", _ref("Series")),
                    "400": _error("a bad parameter", "bad_ids", *bad_buckets),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                },
            }
        },
        "/v1/sites/{site}/held": {
            "get": {
                "tags": ["trends"],
                "operationId": "held",
                "summary": "Stories with views held and not released, by reason, flags first",
                "security": SITE_TOKEN,
                "parameters": [
                    _ref("site", "parameters"),
                    {
                        "name": "n",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                ],
                "responses": {
                    "200": _ok("the stories", _ref("Held")),
                    "400": _error("a bad parameter", "bad_n"),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                },
            }
        },
        "/v1/sites/{site}/items/{id}/release": {
            "post": {
                "tags": ["trends"],
                "operationId": "release",
                "summary": "Release a story's held views into its counts",
                "description": (
                    "Moves the views held for the given reasons (default: "
                    + ", ".join(RELEASED_BY_DEFAULT)
                    + ") into the story's counts, each into the buckets of its own time."
                ),
                "security": SITE_TOKEN,
                "parameters": [_ref("site", "parameters"), _ref("id", "parameters")],
                "requestBody": {
                    "required": False,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "reasons": {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"enum": list(HELD)},
                                    }
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _ok("the views released, by reason", _ref("Released")),
                    "400": _error("a bad id or body", "bad_id", "bad_json"),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                    "413": TOO_LARGE,
                    "415": _error("not application/json", "unsupported_media_type"),
                    "422": _error("not a list of held reasons", "bad_release"),
                },
            }
        },
        "/v1/sites/{site}/items/{id}/series": {
            "get": {
                "tags": ["trends"],
                "operationId": "itemSeries",
                "summary": "Views per bucket for one story",
                "security": SITE_TOKEN,
                "parameters": [_ref("site", "parameters"), _ref("id", "parameters"), *buckets],
                "responses": {
                    "200": _ok("the series", _ref("ItemSeries")),
                    "400": _error("a bad parameter", "bad_id", *bad_buckets),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                },
            }
        },
    }


def _catalog_paths() -> Doc:
    site, item_id = _ref("site", "parameters"), _ref("id", "parameters")
    body_errors = {
        "413": TOO_LARGE,
        "415": _error("not application/json", "unsupported_media_type"),
        "422": _error("not a valid entry; the message names the field", "invalid_item"),
    }
    bad_body = ("bad_id", "bad_json", "id_mismatch")
    return {
        "/v1/sites/{site}/items": {
            "get": {
                "tags": ["catalog"],
                "operationId": "listItems",
                "summary": "Catalogued ids a page at a time, or the hidden stories",
                "security": SITE_TOKEN,
                "parameters": [
                    site,
                    {
                        "name": "cursor",
                        "in": "query",
                        "description": "`0` or the `cursor` of the previous page",
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": 2**64 - 1,
                            "default": 0,
                        },
                    },
                    {
                        "name": "count",
                        "in": "query",
                        "description": "about how many ids a page holds",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": PAGE_MAX_COUNT,
                            "default": PAGE_DEFAULT_COUNT,
                        },
                    },
                    {
                        "name": "hidden",
                        "in": "query",
                        "description": "`true`: the hidden stories instead (any other value: ids)",
                        "schema": {"type": "string"},
                        "example": "true",
                    },
                ],
                "responses": {
                    "200": _ok(
                        "a page of ids, or with `hidden=true` the hidden stories",
                        {"anyOf": [_ref("ItemPage"), _ref("HiddenItems")]},
                    ),
                    "400": _error("a bad cursor or count", "bad_page"),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                },
            },
            "post": {
                "tags": ["catalog"],
                "operationId": "importItems",
                "summary": "Import entries as JSON lines, one entry with its id per line",
                "description": (
                    "The body is JSON lines; its schema describes the sequence of lines. Valid "
                    "lines are stored, invalid ones reported by line number and skipped. Up to "
                    f"{handlers.MAX_IMPORT_BYTES // 2**20} MiB."
                ),
                "security": SITE_TOKEN,
                "parameters": [site],
                "requestBody": {
                    "required": True,
                    "content": {
                        media_type: {"schema": {"type": "array", "items": _ref("ItemImport")}}
                        for media_type in JSON_LINES
                    },
                },
                "responses": {
                    "200": _ok("what was stored and what was refused", _ref("ImportResult")),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                    "413": TOO_LARGE,
                    "415": _error("not JSON lines", "unsupported_media_type"),
                },
            },
        },
        "/v1/sites/{site}/items/{id}": {
            "parameters": [site, item_id],
            "put": {
                "tags": ["catalog"],
                "operationId": "putItem",
                "summary": "Create or replace a catalog entry",
                "security": SITE_TOKEN,
                "requestBody": {"required": True, "content": _json(_ref("ItemWrite"))},
                "responses": {
                    "200": _ok("replaced; the stored entry", _ref("Item")),
                    "201": _ok("created; the stored entry", _ref("Item")),
                    "400": _error("a bad id or body", *bad_body),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_SITE,
                    **body_errors,
                },
            },
            "patch": {
                "tags": ["catalog"],
                "operationId": "patchItem",
                "summary": 'Change some fields, e.g. `{"hidden": true}` to take a story down',
                "security": SITE_TOKEN,
                "requestBody": {"required": True, "content": _json(_ref("ItemPatch"))},
                "responses": {
                    "200": _ok("the stored entry", _ref("Item")),
                    "400": _error("a bad id or body", *bad_body),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_ITEM,
                    **body_errors,
                },
            },
            "get": {
                "tags": ["catalog"],
                "operationId": "getItem",
                "summary": "A catalog entry with its total views and rank per window",
                "security": SITE_TOKEN,
                "responses": {
                    "200": _ok("the entry", _ref("ItemDetail")),
                    "400": _error("a bad id", "bad_id"),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_ITEM,
                },
            },
            "delete": {
                "tags": ["catalog"],
                "operationId": "deleteItem",
                "summary": "Delete a story with all its counts",
                "security": SITE_TOKEN,
                "responses": {
                    "204": {"description": "deleted"},
                    "400": _error("a bad id", "bad_id"),
                    **AUTH_RESPONSES,
                    "404": UNKNOWN_ITEM,
                },
            },
        },
    }


def _service_paths() -> Doc:
    html = {"text/html": {"schema": {"type": "string"}}}
    paths: Doc = {
        "/healthz": {
            "get": {
                "tags": ["service"],
                "operationId": "health",
                "summary": "Alive: this process's views accepted, pending and written",
                "description": "200 even while Redis is away (`status: degraded`): the "
                "collector keeps buffering then, and restarting it would lose what it holds.",
                "responses": {"200": _ok("alive", _ref("Health"))},
            }
        },
        "/readyz": {
            "get": {
                "tags": ["service"],
                "operationId": "ready",
                "summary": "Ready: Redis answers and accepted views reach it in time",
                "responses": {
                    "200": _ok("ready", _ref("Ready")),
                    "503": _ok("Redis unreachable, or views wait too long", _ref("Ready")),
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["service"],
                "operationId": "metrics",
                "summary": "Prometheus metrics: beacons by outcome, flushes, Redis, cache",
                "description": (
                    "Needs `server.metrics_token` as a bearer token when one is set; with "
                    "neither a token nor `server.metrics_port`, open only on a loopback "
                    "listener; with `server.metrics_port`, served there and not here"
                ),
                "security": [{}, {"metricsToken": []}],
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": AUTH_RESPONSES["401"],
                    "403": _error(
                        "not the metrics token, or a non-loopback listener without one",
                        "forbidden",
                    ),
                    "404": _error("served on `server.metrics_port` instead", "not_found"),
                },
            }
        },
        "/dashboard": {
            "get": {
                "tags": ["service"],
                "operationId": "dashboard",
                "summary": "The editors' dashboard page; its data comes from the token APIs",
                "parameters": [
                    {
                        "name": "site",
                        "in": "query",
                        "description": "the site to show; unknown: the first configured one",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": {"description": "the page", "content": html}},
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["service"],
                "operationId": "openapi",
                "summary": "This description",
                "responses": {
                    "200": _ok("OpenAPI 3.1", {"type": "object"}, CORS_HEADER),
                },
            }
        },
    }
    for path, (name, content_type) in assets.ASSETS.items():
        paths[path] = {
            "get": {
                "tags": ["assets"],
                "operationId": "asset_" + re.sub(r"\W", "_", name),
                "summary": f"`{name}`, for pages to load",
                "parameters": [_ref("ifNoneMatch", "parameters")],
                "responses": {
                    "200": {
                        "description": f"cached for {assets.MAX_AGE} s",
                        "headers": CACHE_HEADERS,
                        "content": {content_type: {"schema": {"type": "string"}}},
                    },
                    "304": NOT_MODIFIED,
                },
            }
        }
    return paths


def build() -> Doc:
    """The whole description, as a JSON-ready dict."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ranker",
            "version": __version__,
            "summary": "Self-hosted Most Viewed rankings: view beacons in, top-N lists out",
            "description": (
                "Public: beacons, lists, health, assets. The catalog and the trends need the "
                'site\'s token. Every error is JSON, `{"error": code, "message": text}`.'
            ),
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "beacons", "description": "counting views (public)"},
            {"name": "lists", "description": "most viewed lists (public)"},
            {
                "name": "trends",
                "description": "rising stories, views over time, beacon tallies (token)",
            },
            {"name": "catalog", "description": "the stories that may be counted (token)"},
            {"name": "service", "description": "health, the dashboard page, this description"},
            {"name": "assets", "description": "scripts and styles pages load"},
        ],
        "paths": {
            **_beacon_paths(),
            **_list_paths(),
            **_trend_paths(),
            **_catalog_paths(),
            **_service_paths(),
        },
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "securitySchemes": {
                "siteToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the site's `token` from `[sites.NAME]`",
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`server.metrics_token`, when set",
                },
            },
        },
    }


DOCUMENT: Final = build()
_BODY: Final = orjson.dumps(DOCUMENT)
_HEADERS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": f"public, max-age={MAX_AGE}",
}


async def openapi(request: web.Request) -> web.Response:
    """GET /openapi.json"""
    return web.Response(body=_BODY, content_type=JSON, headers=_HEADERS)
