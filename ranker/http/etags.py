"""Entity tags: one way to make them, one way to read `If-None-Match`."""

from __future__ import annotations

import hashlib

from aiohttp import web


def etag(body: bytes) -> str:
    """A strong ETag for `body`: a hash of it, so any process makes the same one."""
    return f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def client_has(request: web.Request, tag: str) -> bool:
    """Whether the request's `If-None-Match` names `tag` (weakly, as RFC 9110 compares for
    GET) or is `*`: then the answer is `304 Not Modified`."""
    given = request.headers.get("If-None-Match")
    if given is None:
        return False
    return given.strip() == "*" or tag in (t.strip().removeprefix("W/") for t in given.split(","))
