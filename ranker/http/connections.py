"""Connections, below the routes: how long a client may take, how many connections one
address may hold, what a request too broken to route gets, and how they end at shutdown.

- A connection has `server.read_timeout` for its request's headers, and when idle for the
  next request (aiohttp's keep-alive timer: it closes a connection still waiting for a
  whole request). A body gets the same time without a byte, and that time plus its
  length at 64 KiB/s in all, before the request is answered `408`.
- One address holds at most `server.max_connections_per_address` connections; more are
  answered `503` and closed. Trusted proxies carry everyone's connections and are exempt.
- A request the HTTP parser refuses (a NUL in a header, a bad request line, a header too
  long) gets the JSON error every other request gets, echoing nothing of what was sent:
  a header may hold a token. The log gets one line per kind per minute, never a traceback.
- At shutdown the listener closes first; requests already received are answered (with
  `Connection: close`) before idle connections are closed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from typing import Any, cast

import orjson
from aiohttp import web
from aiohttp.helpers import set_exception
from aiohttp.web_protocol import RequestHandler
from prometheus_client import Counter as PromCounter

from ranker.core.networks import NetworkSet
from ranker.http import logs
from ranker.http.appkeys import SETTINGS
from ranker.http.errors import ApiError, BodyTimeout, Handler, answer

log = logging.getLogger("ranker")

MALFORMED = PromCounter(
    "ranker_malformed_requests",
    "Requests refused by the HTTP parser, by kind (BadHttpMessage, LineTooLong, ...)",
    ["kind"],
)
REFUSED_CONNECTIONS = PromCounter(
    "ranker_refused_connections",
    "Connections closed at once: their address already held max_connections_per_address",
)

# After the listener closes, the server waits for this long without a new request (at
# most DRAIN_GRACE in all) before it closes idle connections: what a client sent just
# before is answered, not dropped.
QUIET = 0.1
DRAIN_GRACE = 1.0
LINGER = 2.0  # how long an unread body is read and discarded after the answer
# A body may take read_timeout plus its length at this rate: an import of 16 MB gets 4 min
# 30 s, a beacon 10 s, however it trickles.
MIN_BODY_RATE = 64 * 1024


def guard(handler: Handler) -> Handler:
    """`handler` with what every route needs, instead of middlewares (whose chain every
    request would pay for): its errors answered as JSON (errors.answer), and a deadline on a
    body still arriving (body_deadline). A request whose body is whole (every GET, and
    nearly every beacon) goes straight to the handler."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        logs.bind(request)
        try:
            if request.content.is_eof():
                return await handler(request)
            return await body_deadline(request, handler)
        except Exception as e:
            return answer(request, e)

    return functools.update_wrapper(guarded, handler)  # guarded.__wrapped__ is `handler`


async def unmatched(request: web.Request) -> web.StreamResponse:
    """What no route answers (the last route, for every path and method): 405 with `Allow`
    when another route has the path, else 404; JSON, as every error."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        match, methods = await resource.resolve(request)
        if match is None:
            allowed |= methods
    if allowed:
        raise ApiError(
            405, "method_not_allowed", "Method Not Allowed", {"Allow": ",".join(sorted(allowed))}
        )
    raise ApiError(404, "not_found", "Not Found")


async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A body that stalls for `read_timeout`, or arrives slower than MIN_BODY_RATE on the
    whole, fails the read that waits for it with BodyTimeout. A body already whole (every
    beacon, as a rule) costs nothing here."""
    content = request.content
    if content.is_eof():
        return await handler(request)
    timeout = request.app[SETTINGS].read_timeout
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout + (request.content_length or 0) / MIN_BODY_RATE
    seen = content.total_bytes
    timer: list[asyncio.TimerHandle] = []

    def check() -> None:
        nonlocal seen
        if content.is_eof():
            return
        now = loop.time()
        # Bytes received but not yet read: the handler is the slow one (aiohttp stops
        # reading the socket while they wait), not the client.
        waiting_for_client = not content._size  # aiohttp has no public accessor
        if (content.total_bytes == seen and waiting_for_client) or now >= deadline:
            set_exception(content, BodyTimeout(f"the body did not arrive in time ({timeout:g} s)"))
            return
        seen = content.total_bytes
        timer[0] = loop.call_at(min(now + timeout, deadline), check)

    timer.append(loop.call_later(timeout, check))
    try:
        return await handler(request)
    finally:
        timer[0].cancel()


class MalformedLog:
    """Requests the parser refused, logged as one line per kind per minute: the first of
    each minute as it comes, and the count of the minute once the next one begins."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._minute = -1
        self._counts: Counter[str] = Counter()

    def add(self, kind: str, peer: str) -> None:
        MALFORMED.labels(kind).inc()
        minute = int(self._clock() // 60)
        if minute != self._minute:
            self.report()
            self._minute = minute
        if not self._counts[kind]:
            log.warning("malformed request (%s) from %s; more this minute are counted", kind, peer)
        self._counts[kind] += 1

    def report(self) -> None:
        for kind, count in sorted(self._counts.items()):
            if count > 1:
                log.warning("malformed requests (%s) in the last minute: %d", kind, count)
        self._counts.clear()


class _Connection(RequestHandler):
    """aiohttp's connection protocol with Ranker's answers to broken requests, the cap per
    address and the drain's `Connection: close`."""

    __slots__ = ("_address", "_draining")

    _manager: Server | None

    def __init__(self, manager: Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._address: str | None = None
        self._draining = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert self._manager is not None
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else ""
        if not self._manager.admit(address):
            REFUSED_CONNECTIONS.inc()
            self._manager = None  # never served: connection_lost has nothing to undo
            writer = cast(asyncio.WriteTransport, transport)
            writer.write(_TOO_MANY)
            writer.close()
            return
        self._address = address
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._manager is not None and self._address is not None:
            self._manager.release(self._address)
            self._address = None
        super().connection_lost(exc)

    def drain(self) -> None:
        """Answer what comes from now on with `Connection: close`."""
        self._draining = True

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        if self._draining and not resp.prepared:
            resp.force_close()
        return await super().finish_response(request, resp, start_time)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The answer to a request the parser refused (or, never expected, an error that
        escaped the handlers): JSON, naming the kind of error and nothing that was sent."""
        if request.writer.output_size > 0:
            raise ConnectionError("an answer was under way; the connection is closed")
        if status >= 500:
            log.error("error outside the handlers (%d)", status, exc_info=exc)
            code, text = "internal", "internal error"
        else:
            kind = type(exc).__name__ if exc is not None else str(status)
            assert self._manager is not None
            self._manager.malformed.add(kind, request.remote or "")
            code, text = "bad_request", f"malformed HTTP request ({kind})"
        resp = web.Response(
            status=status,
            body=orjson.dumps({"error": code, "message": text}),
            content_type="application/json",
        )
        resp.force_close()
        return resp


_TOO_MANY_BODY = orjson.dumps(
    {"error": "too_many_connections", "message": "too many connections from this address"}
)
_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 5\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_TOO_MANY_BODY), _TOO_MANY_BODY)
)


class Server(web.Server):
    """aiohttp's server, making `_Connection`s and counting them per address."""

    def __init__(self, *args: Any, max_per_address: int, exempt: NetworkSet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_per_address = max_per_address
        self._exempt = exempt
        self._open: Counter[str] = Counter()
        self.malformed = MalformedLog()

    def __call__(self) -> RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)

    def admit(self, address: str) -> bool:
        if not self._max_per_address or address in self._exempt:
            return True
        if self._open[address] >= self._max_per_address:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        if address in self._open:
            self._open[address] -= 1
            if not self._open[address]:
                del self._open[address]

    async def drain(self) -> None:
        """Answer what was already received: every answer from now on closes its
        connection, and this returns once no new request has started for QUIET seconds
        (or after DRAIN_GRACE)."""
        for connection in self.connections:
            if isinstance(connection, _Connection):
                connection.drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_GRACE
        while loop.time() < deadline:
            started = self.requests_count
            await asyncio.sleep(QUIET)
            if self.requests_count == started:
                break
        self.malformed.report()


class Runner(web.AppRunner):
    """An AppRunner whose server is `Server`, with Ranker's timeouts and limits."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        settings = app[SETTINGS]
        super().__init__(
            app,
            handle_signals=False,
            access_log=None,
            # Idle and header time: aiohttp closes a connection that has not sent a whole
            # request this long after it opened or after its last answer.
            keepalive_timeout=settings.read_timeout,
            lingering_time=LINGER,
            # Header limits: a longer request line or header field gets 400 before any
            # handler.
            max_line_size=settings.max_field_size,
            max_field_size=settings.max_field_size,
            **kwargs,
        )
        self._exempt = NetworkSet.parse(settings.trusted_proxies, "collector.trusted_proxies")
        self._max_per_address = settings.max_connections_per_address

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return Server(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            max_per_address=self._max_per_address,
            exempt=self._exempt,
            **self._kwargs,
        )

    async def stop(self) -> None:
        """Stop listening, answer what was received, then close everything."""
        for site in list(self.sites):
            await site.stop()
        if isinstance(self.server, Server):
            await self.server.drain()
        await self.cleanup()
