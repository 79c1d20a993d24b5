"""Every error leaves Ranker as JSON: `{"error": code, "message": text}` with a 4xx/5xx status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web

from ranker.http import logs
from ranker.store.redis import StoreUnavailable

log = logging.getLogger("ranker")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """Raised by handlers and turned into a JSON response by `answer`."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class BodyTimeout(TimeoutError):
    """A request body stalled for `server.read_timeout` (see ranker.http.connections). A
    TimeoutError, so that aiohttp reading the rest of an unread body after the answer
    gives up quietly too."""


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"error": code, "message": message}),
        content_type="application/json",
        headers=headers,
    )


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`answer` as a middleware, for an application of a few routes (the metrics port)."""
    logs.bind(request)
    try:
        return await handler(request)
    except Exception as e:
        return answer(request, e)


def answer(request: web.Request, error: Exception) -> web.StreamResponse:
    """The JSON answer to an error a handler raised, with the request's id (`X-Request-ID`)
    as its log lines have; an exception that is no error (a redirect) is raised again."""
    try:
        raise error
    except ApiError as e:
        e.headers["X-Request-ID"] = logs.request_id(request)
        return error_response(e.status, e.code, e.message, e.headers)
    except web.HTTPException as e:
        # aiohttp's own answers (no route, wrong method, body too large): same JSON shape.
        if e.status < 400:
            raise
        headers = {k: v for k, v in e.headers.items() if k in ("Allow", "Retry-After")}
        headers["X-Request-ID"] = logs.request_id(request)
        return error_response(e.status, _CODES.get(e.status, "error"), e.reason or "error", headers)
    except BodyTimeout as e:
        return error_response(
            408,
            "request_timeout",
            str(e),
            {"Connection": "close", "X-Request-ID": logs.request_id(request)},
        )
    except web.RequestPayloadError:
        # A body that cannot be read: bad chunked framing, bad compression.
        return error_response(
            400,
            "bad_body",
            "the body could not be read",
            {"X-Request-ID": logs.request_id(request)},
        )
    except StoreUnavailable as e:
        # Reads and catalog writes need Redis; beacons do not (they are buffered).
        log.warning("store unavailable for %s %s: %s", request.method, request.path, e)
        return error_response(
            503,
            "store_unavailable",
            "the store is unreachable; try later",
            {"Retry-After": "5", "X-Request-ID": logs.request_id(request)},
        )
    except ConnectionError:
        # The client went away while its body was read (the store's errors are
        # StoreUnavailable); nobody reads this answer.
        log.info("client went away during %s %s", request.method, request.path)
        return error_response(400, "client_gone", "the connection closed mid-request")
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(
            500, "internal", "internal error", {"X-Request-ID": logs.request_id(request)}
        )
