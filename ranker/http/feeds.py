"""The feeds API (the site's token): how each configured feed is doing, and entries a feed
brought written as feed sync writes them (what `ranker catalog sync` sends)."""

from __future__ import annotations

import contextlib
from typing import Any, Final

import orjson
from aiohttp import web

from ranker.core.feeds import Feed
from ranker.core.validate import ID_RULE, InvalidInput, catalog_entry, is_item_id
from ranker.core.windows import utc_iso
from ranker.http.appkeys import CATALOG, PURGER, SETTINGS, STORE, TOP_CACHE
from ranker.http.catalog import IMPORT_TYPES, body_lines
from ranker.http.common import authorize, json_response
from ranker.http.errors import ApiError
from ranker.http.feedfetch import MAX_ITEMS
from ranker.http.feedsync import apply
from ranker.http.schemas import MAX_IMPORT_ERRORS

MAX_SYNC_ENTRIES: Final = MAX_ITEMS  # what one feed pass brings at most
ITEM_COUNTS: Final = ("seen", "added", "updated", "unchanged", "deleted", "errors")


def status(feed: Feed, state: dict[str, str]) -> dict[str, Any]:
    """A feed's status as editors read it, from its hash (Store.feed_states)."""

    def when(name: str) -> str | None:
        return utc_iso(float(state[name])) if state.get(name) else None

    def count(name: str) -> int:
        return int(state.get(name) or 0)

    return {
        "name": feed.name,
        "url": feed.shown_url,
        "every": int(feed.every),
        "kind": state.get("kind") or None,
        "outcome": state.get("outcome") or None,
        "last_attempt": when("attempt_at"),
        "last_success": when("success_at"),
        "last_read": when("read_at"),
        "next_due": when("due"),
        "failures": count("failures"),
        "last_error": state.get("error") or None,
        "last_error_at": when("error_at"),
        "items": {name: count(name) for name in ITEM_COUNTS},
        "totals": {name: count(f"total_{name}") for name in ("added", "updated", "errors")},
        "item_errors": orjson.loads(state.get("reasons") or "[]"),
    }


async def feeds(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/feeds: each configured feed's status."""
    site = authorize(request)
    configured = request.app[SETTINGS].sites[site].feeds
    states = await request.app[STORE].feed_states(site, [f.name for f in configured])
    return json_response(
        {"feeds": [status(f, state) for f, state in zip(configured, states, strict=True)]}
    )


async def sync(request: web.Request) -> web.Response:
    """POST /v1/sites/{site}/feeds/sync: JSON lines of entries (each with its "id"), written
    as a feed pass writes them: deleted stories left out, takedowns kept, unchanged entries
    not written. An id on several lines: the first wins, as in a feed."""
    site = authorize(request)
    if request.content_type not in IMPORT_TYPES:
        raise ApiError(415, "unsupported_media_type", "send JSON lines (application/x-ndjson)")
    entries: dict[str, dict[str, str]] = {}
    errors: list[dict[str, Any]] = []
    line = 0
    async with contextlib.aclosing(body_lines(request)) as reads:
        async for lines in reads:
            for raw in lines:
                line += 1
                if not raw.strip():
                    continue
                try:
                    doc = orjson.loads(raw)
                    item_id = doc.get("id") if isinstance(doc, dict) else None
                    if not isinstance(item_id, str) or not is_item_id(item_id):
                        raise InvalidInput(ID_RULE)
                    fields = catalog_entry(doc)
                except (orjson.JSONDecodeError, InvalidInput) as e:
                    if len(errors) < MAX_IMPORT_ERRORS:
                        errors.append({"line": line, "error": str(e)})
                    continue
                entries.setdefault(item_id, fields)
                if len(entries) > MAX_SYNC_ENTRIES:
                    raise ApiError(
                        413, "payload_too_large", f"at most {MAX_SYNC_ENTRIES} entries a sync"
                    )
    app = request.app
    done = await apply(app[STORE], app[CATALOG], app[TOP_CACHE], app[PURGER], site, entries.items())
    return json_response(
        {
            "added": done.added,
            "updated": done.updated,
            "unchanged": done.unchanged,
            "deleted": done.deleted,
            "errors": errors,
        }
    )
