"""The static files pages load from Ranker: beacon.js, widget.js and their stylesheet,
and the dashboard's script and styles. Read once, served with ETag and a short max-age."""

from __future__ import annotations

import hashlib
from importlib.resources import files

from aiohttp import web

from ranker.errors import Handler

ASSETS = {
    "/beacon.js": ("beacon.js", "application/javascript"),
    "/widget.js": ("widget.js", "application/javascript"),
    "/widget.css": ("widget.css", "text/css"),
    "/dashboard.js": ("dashboard.js", "application/javascript"),
    "/dashboard.css": ("dashboard.css", "text/css"),
}
MAX_AGE = 300  # publishers embed these by URL: changes reach pages within minutes


def _handler(name: str, content_type: str) -> Handler:
    body = files("ranker").joinpath("static", name).read_bytes()
    etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={MAX_AGE}",
        "Access-Control-Allow-Origin": "*",
    }

    async def serve(request: web.Request) -> web.Response:
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

    return serve


def add_routes(router: web.UrlDispatcher) -> None:
    for path, (name, content_type) in ASSETS.items():
        router.add_get(path, _handler(name, content_type))
