"""Editors' pins (the site's token): a story placed at a position in a list, the site's or
a section's, in chosen windows, until a time. Lists show it there, marked `pinned`; a
hidden story is not shown, pinned or not, and a deleted story's pin goes with it."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from aiohttp import web

from ranker.core.config import Site
from ranker.core.validate import SECTION_RULE, InvalidInput, is_section, unix_time
from ranker.core.windows import WINDOWS, utc_iso
from ranker.http.appkeys import CLOCK, PURGER, SETTINGS, STORE, TOP_CACHE
from ranker.http.common import authorize, json_body, json_response, path_item_id
from ranker.http.errors import ApiError
from ranker.http.purge import changed
from ranker.http.schemas import MAX_PIN_DAYS, PIN_RULE, PinWrite
from ranker.store.redis import Pin


def _view(item_id: str, pin: Pin, entry: dict[str, str], site: Site) -> dict[str, Any]:
    return {
        "id": item_id,
        "title": entry.get("title", ""),
        "url": site.link(entry.get("url", "")),
        "position": pin.position,
        "until": utc_iso(pin.until),
        "section": pin.section,
        "windows": list(pin.windows),
    }


def _explain(error: str, doc: Any) -> str:
    """msgspec's complaint about a pin as the rule words it."""
    if not isinstance(doc, dict):
        return "expected a JSON object"
    if (unknown := re.search(r"unknown field `(\w+)`", error)) is not None:
        return f"unknown field: {unknown[1]}"
    # "… - at `$.position`", "Object missing required field `until`"
    field = re.search(r"`(?:\$\.)?(\w+)[^`]*`$", error)
    return f"{field[1]}: {PIN_RULE}" if field else PIN_RULE


def read_pin(doc: Any, now: float) -> Pin:
    """A PUT's body as a Pin, or ApiError 422."""
    try:
        given = msgspec.convert(doc, PinWrite)
        until = unix_time(given.until, "until")
    except msgspec.ValidationError as e:
        raise ApiError(422, "invalid_pin", _explain(str(e), doc)) from None
    except InvalidInput as e:
        raise ApiError(422, "invalid_pin", str(e)) from None
    if given.section not in (None, "") and not is_section(given.section):
        raise ApiError(422, "invalid_pin", SECTION_RULE)
    if not now < until <= now + MAX_PIN_DAYS * 86400:
        raise ApiError(422, "invalid_pin", f"until: in the future, within {MAX_PIN_DAYS} days")
    if not set(given.windows) <= set(WINDOWS):
        raise ApiError(422, "invalid_pin", f"windows: some of {', '.join(WINDOWS)}")
    windows = tuple(w for w in WINDOWS if w in given.windows)
    return Pin(given.position, until, given.section or None, windows)


async def put_pin(request: web.Request) -> web.Response:
    """PUT /v1/sites/{site}/pins/{id} {"until", "position"?, "section"?, "windows"?}"""
    site = authorize(request)
    item_id = path_item_id(request)
    app = request.app
    pin = read_pin(await json_body(request), app[CLOCK]())
    store = app[STORE]
    if not await store.pin(site, item_id, pin):
        raise ApiError(404, "unknown_item", "no catalogued item with this id")
    app[TOP_CACHE].forget(site)
    changed(app[PURGER], site, lists=True, reason="pin")
    entry = await store.get_item(site, item_id) or {}
    return json_response(_view(item_id, pin, entry, app[SETTINGS].sites[site]))


async def delete_pin(request: web.Request) -> web.Response:
    """DELETE /v1/sites/{site}/pins/{id}"""
    site = authorize(request)
    item_id = path_item_id(request)
    if not await request.app[STORE].unpin(site, item_id):
        raise ApiError(404, "unknown_pin", "this story is not pinned")
    request.app[TOP_CACHE].forget(site)
    changed(request.app[PURGER], site, lists=True, reason="unpin")
    return web.Response(status=204)


async def list_pins(request: web.Request) -> web.Response:
    """GET /v1/sites/{site}/pins: the pins in force."""
    site = authorize(request)
    store = request.app[STORE]
    pins = await store.pins(site, request.app[CLOCK]())
    entries = await store.get_items(site, list(pins))
    shown = sorted(pins.items(), key=lambda ip: (ip[1].section or "", ip[1].position, ip[0]))
    return json_response(
        {
            "pins": [
                _view(item_id, pin, entries.get(item_id, {}), request.app[SETTINGS].sites[site])
                for item_id, pin in shown
            ]
        }
    )
