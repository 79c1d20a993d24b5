"""The OpenAPI 3.1 description of Ranker's HTTP interface, generated from the route table
(ranker.http.routes) and the models it names: what a route is, its parameters, bodies and answers
are written once, there. This module holds the entry types and what no model says."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from ranker import __version__
from ranker.http import assets
from ranker.http.errors import Handler
from ranker.http.schemas import Conditional, Error, Path

JSON: Final = "application/json"
MAX_AGE: Final = 300  # the description changes only with a new release

Doc = dict[str, Any]
_REF: Final = "#/components/schemas/{name}"


@dataclass(frozen=True)
class Header:
    """A response header, always sent."""

    description: str
    pattern: str | None = None


@dataclass(frozen=True)
class Reply:
    """An answer: `body` is a model, models of which it is one, or a schema as written."""

    description: str
    body: type | tuple[type, ...] | Doc | None = None
    media_type: str = JSON
    headers: Mapping[str, Header] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """An error answer (schemas.Error) whose `error` is one of `codes`."""

    description: str
    codes: tuple[str, ...]
    headers: Mapping[str, Header] = field(default_factory=dict)


@dataclass(frozen=True)
class Body:
    """A request body of `model`, as each of `media_types`; `lines`: JSON lines, one
    `model` a line."""

    model: type
    media_types: tuple[str, ...] = (JSON,)
    required: bool = True
    lines: bool = False
    examples: tuple[Any, ...] = ()  # of the model, for people and for fuzzers


@dataclass(frozen=True, kw_only=True)
class Route:
    """One operation: what the router registers and the description describes."""

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    responses: Mapping[int, Reply | Refusal]
    description: str = ""
    security: tuple[str | None, ...] = ()  # scheme names; None: also without one
    query: type | None = None
    headers: type | None = None
    body: Body | None = None


TAGS: Final = {
    "beacons": "counting views (public)",
    "lists": "most viewed lists (public)",
    "trends": "rising stories, views over time, beacon tallies (token)",
    "catalog": "the stories that may be counted (token)",
    "service": "health, the dashboard page, this description",
    "assets": "scripts and styles pages load",
}
SECURITY_SCHEMES: Final = {
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
}


def _parameters(model: type, where: str, only: Iterable[str] | None = None) -> list[Doc]:
    """A model's fields as parameters `in` path, query or header; their descriptions and
    `Meta(extra=...)` (style, explode) go to the parameter, the rest is its schema."""
    own = msgspec.json.schema(model)["$defs"][model.__name__]
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)
    extras = {
        f.encode_name: f.type.extra or {}
        for f in info.fields
        if isinstance(f.type, msgspec.inspect.Metadata)
    }
    out = []
    for name, prop in own["properties"].items():
        if only is not None and name not in only:
            continue
        schema = dict(prop)
        assert "$ref" not in str(schema), f"{model.__name__}.{name}: a parameter is inline"
        parameter: Doc = {"name": name, "in": where}
        if where == "path" or name in own.get("required", ()):
            parameter["required"] = True
        if "description" in schema:
            parameter["description"] = schema.pop("description")
        if "examples" in schema:  # the parameter's own, which every tool reads
            parameter["example"] = schema.pop("examples")[0]
        out.append({**parameter, **extras.get(name, {}), "schema": schema})
    return out


def _headers(headers: Mapping[str, Header]) -> Doc:
    return {
        name: {
            "description": h.description,
            "required": True,
            "schema": {"type": "string", **({"pattern": h.pattern} if h.pattern else {})},
        }
        for name, h in headers.items()
    }


class _Builder:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)
        models: list[type] = [Error]
        for route in self.routes:
            if route.body is not None:
                models.append(route.body.model)
            for reply in route.responses.values():
                if isinstance(reply, Reply) and isinstance(reply.body, type):
                    models.append(reply.body)
                elif isinstance(reply, Reply) and isinstance(reply.body, tuple):
                    models.extend(reply.body)
        models = list(dict.fromkeys(models))
        refs, self.components = msgspec.json.schema_components(models, ref_template=_REF)
        self.refs: dict[type, Doc] = dict(zip(models, refs, strict=True))
        for route in self.routes:
            if route.body is not None and route.body.examples:
                self.components[route.body.model.__name__]["examples"] = [*route.body.examples]

    def schema(self, body: type | tuple[type, ...] | Doc) -> Doc:
        if isinstance(body, type):
            return self.refs[body]
        if isinstance(body, tuple):
            return {"anyOf": [self.refs[model] for model in body]}
        return body

    def response(self, reply: Reply | Refusal) -> Doc:
        if isinstance(reply, Refusal):
            codes = list(reply.codes)
            schema = {"allOf": [self.refs[Error], {"properties": {"error": {"enum": codes}}}]}
            out: Doc = {
                "description": f"{reply.description} (`{'`, `'.join(codes)}`)",
                "content": {JSON: {"schema": schema}},
            }
        else:
            out = {"description": reply.description}
            if reply.body is not None:
                out["content"] = {reply.media_type: {"schema": self.schema(reply.body)}}
        if reply.headers:
            out["headers"] = _headers(reply.headers)
        return out

    def operation(self, route: Route) -> Doc:
        op: Doc = {"tags": [route.tag], "operationId": route.operation_id}
        op["summary"] = route.summary
        if route.description:
            op["description"] = route.description
        if route.security:
            op["security"] = [{} if s is None else {s: []} for s in route.security]
        parameters = _parameters(Path, "path", re.findall(r"\{(\w+)\}", route.path))
        if route.query is not None:
            parameters += _parameters(route.query, "query")
        if route.headers is not None:
            parameters += _parameters(route.headers, "header")
        if parameters:
            op["parameters"] = parameters
        if (body := route.body) is not None:
            schema = self.refs[body.model]
            if body.lines:
                schema = {"type": "array", "items": schema}
            content = {media_type: {"schema": schema} for media_type in body.media_types}
            op["requestBody"] = {"required": body.required, "content": content}
        op["responses"] = {str(s): self.response(r) for s, r in sorted(route.responses.items())}
        return op

    def paths(self) -> Doc:
        paths: Doc = {}
        for route in self.routes:
            paths.setdefault(route.path, {})[route.method.lower()] = self.operation(route)
        for path, (name, content_type) in assets.ASSETS.items():
            paths[path] = {"get": self.asset(name, content_type)}
        return paths

    def asset(self, name: str, content_type: str) -> Doc:
        cache = {
            "Access-Control-Allow-Origin": Header("`*`: readable from any page"),
            "ETag": Header("the representation's tag, for `If-None-Match`"),
            "Cache-Control": Header(f"`public, max-age={assets.MAX_AGE}`"),
        }
        return {
            "tags": ["assets"],
            "operationId": "asset_" + re.sub(r"\W", "_", name),
            "summary": f"`{name}`, for pages to load",
            "parameters": _parameters(Conditional, "header"),
            "responses": {
                "200": {
                    "description": f"cached for {assets.MAX_AGE} s",
                    "headers": _headers(cache),
                    "content": {content_type: {"schema": {"type": "string"}}},
                },
                "304": {"description": "the client's copy is current", "headers": _headers(cache)},
            },
        }


def build(routes: Iterable[Route]) -> Doc:
    """The description of `routes` and the static assets, as a JSON-ready dict."""
    builder = _Builder(routes)
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
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": builder.paths(),
        "components": {
            "schemas": builder.components,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
