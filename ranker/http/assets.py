"""The static files pages load from Ranker: beacon.js, widget.js (both built from static/src/
by `npm run build`) and their stylesheet, and the dashboard's ES modules and styles. Read
once, served with ETag and a short max-age."""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web

from ranker.http.connections import guard
from ranker.http.errors import Handler
from ranker.http.etags import client_has, etag

STATIC = files("ranker").joinpath("static")
# The dashboard's modules, served as they are: main.js imports the others by relative URL,
# so every .js file in static/dashboard/ is served (and described in /openapi.json).
DASHBOARD_MODULES = sorted(
    m.name for m in STATIC.joinpath("dashboard").iterdir() if m.name.endswith(".js")
)
ASSETS = {
    "/beacon.js": ("beacon.js", "application/javascript"),
    "/widget.js": ("widget.js", "application/javascript"),
    "/widget.css": ("widget.css", "text/css"),
    "/dashboard.css": ("dashboard.css", "text/css"),
    **{f"/dashboard/{m}": (f"dashboard/{m}", "text/javascript") for m in DASHBOARD_MODULES},
}
MAX_AGE = 300  # publishers embed these by URL: changes reach pages within minutes


def _handler(name: str, content_type: str) -> Handler:
    body = STATIC.joinpath(*name.split("/")).read_bytes()
    tag = etag(body)
    headers = {
        "ETag": tag,
        "Cache-Control": f"public, max-age={MAX_AGE}",
        "Access-Control-Allow-Origin": "*",
    }

    async def serve(request: web.Request) -> web.Response:
        if client_has(request, tag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

    return serve


def add_routes(router: web.UrlDispatcher) -> None:
    for path, (name, content_type) in ASSETS.items():
        router.add_get(path, guard(_handler(name, content_type)))
