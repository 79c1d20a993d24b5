"""What every handler of the HTTP API needs: JSON answers, the site and item of the path,
bearer tokens and JSON bodies."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from aiohttp import web

from ranker.core.validate import (
    ID_RULE,
    is_item_id,
)
from ranker.http.appkeys import (
    SETTINGS,
)
from ranker.http.errors import ApiError


def json_response(doc: Any, status: int = 200) -> web.Response:
    # Keys may be Reasons: strings, but not of exactly type str, as orjson wants by default.
    body = orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)
    return web.Response(body=body, status=status, content_type="application/json")


def path_site(request: web.Request) -> str:
    """The configured `{site}` of the path, or ApiError."""
    site = request.match_info["site"]
    if site not in request.app[SETTINGS].sites:
        raise ApiError(404, "unknown_site", "no such site")
    return site


def authorize(request: web.Request) -> str:
    """The site named in the path, once the request's bearer token is that site's."""
    site = path_site(request)
    check_bearer(request, request.app[SETTINGS].sites[site].token, "site token")
    return site


def check_bearer(request: web.Request, expected: str, what: str) -> None:
    """ApiError 401 without `Authorization: Bearer`, 403 with a token other than `expected`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "unauthorized",
            f"send Authorization: Bearer <{what}>",
            {"WWW-Authenticate": 'Bearer realm="ranker"'},
        )
    # aiohttp keeps undecodable header bytes as surrogates; compare bytes, never fail.
    if not hmac.compare_digest(token.strip().encode("utf-8", "surrogateescape"), expected.encode()):
        raise ApiError(403, "forbidden", f"wrong {what}")


def path_item_id(request: web.Request) -> str:
    """The `{id}` of the path, or ApiError."""
    item_id = request.match_info["id"]
    if not is_item_id(item_id):
        raise ApiError(400, "bad_id", ID_RULE)
    return item_id


# The largest JSON body of one entry, pin or release: an entry's longest fields come to
# some 6 KB. (Only the bulk import takes more, a line at a time.)
MAX_JSON_BODY = 64 * 1024


async def json_body(request: web.Request) -> Any:
    """The request's JSON body, read up to MAX_JSON_BODY bytes, or ApiError."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send application/json")
    too_large = ApiError(
        413, "payload_too_large", f"the body is larger than {MAX_JSON_BODY // 1024} KiB"
    )
    if (request.content_length or 0) > MAX_JSON_BODY:
        raise too_large
    body = bytearray()  # read on to the end: a chunked body says no length
    while chunk := await request.content.read(MAX_JSON_BODY + 1 - len(body)):
        body += chunk
        if len(body) > MAX_JSON_BODY:
            raise too_large
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
