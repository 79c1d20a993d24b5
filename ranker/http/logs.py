"""Logs: one JSON object per line (or plain text), each carrying the id of the request it
was logged for, the one echoed in `X-Request-ID`."""

from __future__ import annotations

import logging
import re
import secrets
from contextvars import ContextVar

from aiohttp import web
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID = web.RequestKey("REQUEST_ID", str)
# A caller's own id is kept if it looks like one; anything else is replaced.
_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_current: ContextVar[web.Request | None] = ContextVar("ranker_request", default=None)


def bind(request: web.Request) -> None:
    """Make `request` the one the current task's log lines belong to."""
    _current.set(request)


def request_id(request: web.Request) -> str:
    """The request's id: its `X-Request-ID` if well-formed, else a new one. Made on first
    use, so a request that logs nothing and fails nothing pays nothing for it."""
    rid = request.get(REQUEST_ID)
    if rid is None:
        given = request.headers.get("X-Request-ID", "")
        rid = request[REQUEST_ID] = given if _ID_RE.fullmatch(given) else secrets.token_hex(8)
    return rid


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request = _current.get()
        if request is not None:
            record.request_id = request_id(request)
        return True


def setup(fmt: str = "json", level: int = logging.INFO) -> None:
    """Send every log line to stderr as JSON (`fmt="json"`) or as text."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}{process}",
                style="{",
                rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
                timestamp=True,
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
