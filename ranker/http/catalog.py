"""The catalog API (the site's token): put, patch, read, delete and list stories, and import
them in bulk as JSON lines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from aiohttp import web

from ranker.core.outcomes import HELD
from ranker.core.validate import (
    ID_RULE,
    InvalidInput,
    catalog_entry,
    is_item_id,
    public_entry,
)
from ranker.http.appkeys import (
    CATALOG,
    CLOCK,
    PURGER,
    SETTINGS,
    STORE,
    TOP_CACHE,
)
from ranker.http.common import (
    authorize,
    json_body,
    json_response,
    path_item_id,
)
from ranker.http.errors import ApiError
from ranker.http.purge import changed
from ranker.http.query import item_ranks
from ranker.http.schemas import MAX_IMPORT_ERRORS, PageQuery, int_param

MAX_IMPORT_BYTES = 16 * 1024 * 1024
IMPORT_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain")
# An import is read IMPORT_READ bytes at a time and written IMPORT_BATCH entries at a time,
# in order, with the loop given back in between: in one go, a 16 MiB import (some 48,000
# entries) held up every other request for seconds, and its body and entries took 60 MB.
# A batch of 100 costs the process about 2 ms; from some 150 on, the entries alive across
# young collections set off full ones (30-40 ms each in a large process), for no speed.
IMPORT_READ = 64 * 1024
IMPORT_BATCH = 100
_CURSOR, _COUNT = int_param(PageQuery, "cursor"), int_param(PageQuery, "count")
_BAD_PAGE = (
    "bad_page",
    f"cursor: a number from a previous page; count: {_COUNT.low}-{_COUNT.high}",
)


async def put_item(request: web.Request) -> web.Response:
    """PUT /v1/sites/{site}/items/{id}: create or replace a catalog entry."""
    site = authorize(request)
    item_id = path_item_id(request)
    doc = await json_body(request)
    if isinstance(doc, dict) and doc.get("id", item_id) != item_id:
        raise ApiError(400, "id_mismatch", "the body's id differs from the path's")
    try:
        fields = catalog_entry(doc)
    except InvalidInput as e:
        raise ApiError(422, "invalid_item", str(e)) from None
    created = await request.app[STORE].put_items(site, [(item_id, fields)])
    request.app[CATALOG].note_added(site, item_id)
    request.app[TOP_CACHE].forget(site)
    if not created:  # lists showing it show the old entry
        changed(request.app[PURGER], site, [item_id], reason="catalog")
    return json_response(public_entry(item_id, fields), 201 if created else 200)


async def patch_item(request: web.Request) -> web.Response:
    """PATCH /v1/sites/{site}/items/{id}: change some fields, e.g. {"hidden": true}."""
    site = authorize(request)
    item_id = path_item_id(request)
    doc = await json_body(request)
    if not isinstance(doc, dict):
        raise ApiError(422, "invalid_item", "expected a JSON object")
    if doc.get("id", item_id) != item_id:
        raise ApiError(400, "id_mismatch", "the body's id differs from the path's")
    store = request.app[STORE]
    if set(doc) == {"hidden"} and isinstance(doc["hidden"], bool):
        found = await store.set_hidden(site, item_id, doc["hidden"])
        stored = await store.get_item(site, item_id) if found else None
    else:
        current = await store.get_item(site, item_id)
        stored = None
        if current is not None:
            # The fields the entry has; one it never had stays absent, not "".
            kept = {k: v for k, v in public_entry(item_id, current).items() if v != ""}
            merged = {**kept, **doc}
            try:
                stored = catalog_entry(merged)
            except InvalidInput as e:
                raise ApiError(422, "invalid_item", str(e)) from None
            await store.put_items(site, [(item_id, stored)])
    if stored is None:
        raise ApiError(404, "unknown_item", "no catalogued item with this id")
    request.app[TOP_CACHE].forget(site)
    changed(request.app[PURGER], site, [item_id], reason="catalog")
    return json_response(public_entry(item_id, stored))


async def get_item(request: web.Request) -> web.Response:
    site = authorize(request)
    item_id = path_item_id(request)
    store = request.app[STORE]
    stored = await store.get_item(site, item_id)
    if stored is None:
        raise ApiError(404, "unknown_item", "no catalogued item with this id")
    app = request.app
    ranks = await item_ranks(app[TOP_CACHE], store, app[SETTINGS], site, item_id, app[CLOCK]())
    return json_response(
        {
            **public_entry(item_id, stored),
            "views_total": int(await store.total(site, item_id)),
            "ranks": ranks,
            "held": (await store.held(site, [item_id], HELD))[item_id],
        }
    )


async def delete_item(request: web.Request) -> web.Response:
    site = authorize(request)
    item_id = path_item_id(request)
    if not await request.app[STORE].delete_item(site, item_id, request.app[CLOCK]()):
        raise ApiError(404, "unknown_item", "no catalogued item with this id")
    request.app[CATALOG].note_deleted(site, item_id)
    request.app[TOP_CACHE].forget(site)
    changed(request.app[PURGER], site, [item_id], reason="delete")
    return web.Response(status=204)


async def list_items(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/items?cursor=&count=: catalogued ids, a page at a time.

    With `hidden=true`: the hidden entries (id, title, url, section), so editors find them.
    """
    site = authorize(request)
    if request.query.get("hidden") == "true":
        hidden = await request.app[STORE].hidden_items(site)
        return json_response(
            {
                "items": [
                    {
                        "id": i,
                        "title": e.get("title", ""),
                        "url": request.app[SETTINGS].sites[site].link(e.get("url", "")),
                        "section": e.get("section") or None,
                    }
                    for i, e in hidden
                ]
            }
        )
    cursor = _CURSOR.read(request.query, error=_BAD_PAGE)
    count = _COUNT.read(request.query, error=_BAD_PAGE)
    next_cursor, ids = await request.app[STORE].list_items(site, cursor, count)
    return json_response({"ids": ids, "cursor": str(next_cursor) if next_cursor else None})


async def import_items(request: web.Request) -> web.Response:
    """POST /v1/sites/{site}/items: JSON lines, one entry (with its "id") per line.

    Valid lines are stored, invalid ones are reported by line number and skipped. The body
    is read, checked and written a batch at a time, in order, so neither memory nor other
    requests wait for the whole of it; an id on several lines: the last wins. Should the
    store fail midway (503), or a chunked body run past MAX_IMPORT_BYTES (413), the batches
    before stay written: sending the same import again is safe, as each entry is replaced
    whole.
    """
    site = authorize(request)
    if request.content_type not in IMPORT_TYPES:
        raise ApiError(415, "unsupported_media_type", "send JSON lines (application/x-ndjson)")
    batch = _Import(request.app, site)
    try:
        async with contextlib.aclosing(body_lines(request)) as reads:
            async for lines in reads:
                for line in lines:
                    batch.check(line)
                    if len(batch.entries) >= IMPORT_BATCH:
                        await batch.write()
                await asyncio.sleep(0)  # a read may not have waited: let others in
        await batch.write()
    finally:
        request.app[TOP_CACHE].forget(site)
        if batch.imported:  # one purge of the site's lists, not one per story
            changed(request.app[PURGER], site, lists=True, reason="import")
    return json_response(
        {"imported": batch.imported, "created": batch.created, "errors": batch.errors}
    )


async def body_lines(request: web.Request) -> AsyncGenerator[list[bytearray], None]:
    """The body's lines, as many as each read of IMPORT_READ bytes completes. A line ends
    as bytes.splitlines ends it (\\n, \\r\\n or \\r). ApiError 413 past MAX_IMPORT_BYTES."""
    too_large = ApiError(
        413, "payload_too_large", f"the body is larger than {MAX_IMPORT_BYTES // 2**20} MiB"
    )
    if (request.content_length or 0) > MAX_IMPORT_BYTES:
        raise too_large
    received, rest = 0, bytearray()
    while chunk := await request.content.read(IMPORT_READ):
        received += len(chunk)
        if received > MAX_IMPORT_BYTES:
            raise too_large
        # Split after the last "\n" only: a "\r" at the end of a read may be half a "\r\n".
        end = chunk.rfind(b"\n") + 1
        if not end:
            rest += chunk
            continue
        rest += memoryview(chunk)[:end]
        lines = rest.splitlines()
        rest = bytearray(chunk[end:])
        yield lines
    if rest:
        yield rest.splitlines()


class _Import:
    """An import under way: the entries checked but not yet written, and the answer so far."""

    def __init__(self, app: web.Application, site: str) -> None:
        self.store, self.catalog, self.site = app[STORE], app[CATALOG], site
        self.line = 0
        # An id on several lines of a batch is written once (the writes may run
        # concurrently on a cluster); a later batch replaces it in turn.
        self.entries: dict[str, dict[str, str]] = {}
        self.imported = self.created = 0
        self.errors: list[dict[str, Any]] = []

    def check(self, line: bytes | bytearray) -> None:
        """Take the next line: an entry to write, an error, or nothing (a blank line)."""
        self.line += 1
        if not line.strip():
            return
        try:
            doc = orjson.loads(line)
            item_id = doc.get("id") if isinstance(doc, dict) else None
            if not isinstance(item_id, str) or not is_item_id(item_id):
                raise InvalidInput(ID_RULE)
            self.entries[item_id] = catalog_entry(doc)
        except (orjson.JSONDecodeError, InvalidInput) as e:
            if len(self.errors) < MAX_IMPORT_ERRORS:
                self.errors.append({"line": self.line, "error": str(e)})
            return
        self.imported += 1

    async def write(self) -> None:
        """Store the checked entries. `created` counts each id once: a batch after the one
        that created it finds it there."""
        if not self.entries:
            return
        entries, self.entries = list(self.entries.items()), {}
        self.created += await self.store.put_items(self.site, entries)
        for item_id, _ in entries:
            self.catalog.note_added(self.site, item_id)
