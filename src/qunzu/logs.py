"""Structured logs: one JSON object a line (structlog), with a request id on every line
logged while a request is served.

qunzu's own lines go through structlog, the libraries' (uvicorn, SQLAlchemy) through
the standard ``logging`` module; both end in the same handler and the same renderer.
The request id is one context variable, set once per request by the API's middleware
(``api/metrics.py``) and read only when a line is actually written, so a request that
logs nothing pays for one ``ContextVar.set``.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import sys
from contextvars import ContextVar
from typing import Any, Literal, TextIO

import structlog

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("qunzu_request_id", default=None)
# An incoming id is kept when it is this plain (a proxy's or a client's correlation id);
# anything else is replaced, so logs never carry injected text.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# Ids made here: this process's random prefix and a counter (unique across processes,
# and much cheaper per request than a UUID).
_PREFIX = secrets.token_hex(6)
_counter = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}-{next(_counter)}"


def request_id_from(header: bytes | None) -> str:
    """The request's id: the client's ``X-Request-ID`` if sane, else a new one."""
    if header is not None and _SANE_ID.fullmatch(header):
        return header.decode("ascii")
    return new_request_id()


def bind_request_id(request_id: str) -> None:
    """Every line logged from here on in this task (the request's) carries the id."""
    _request_id.set(request_id)


def current_request_id() -> str | None:
    return _request_id.get()


def _add_request_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = _request_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def _drop_color_message(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    # uvicorn passes a second, ANSI-coloured copy of its message as an "extra".
    event.pop("color_message", None)
    return event


def configure_logging(
    level: str = "info",
    fmt: Literal["json", "console"] = "json",
    stream: TextIO | None = None,
) -> None:
    """Route structlog and the standard library's loggers to one handler on ``stream``
    (stderr by default), rendered as JSON lines (or for people, ``console``)."""
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _add_request_id,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    final: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        final.append(structlog.processors.format_exc_info)
    final.append(renderer)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final)
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's loggers keep no handlers of their own: they propagate to ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # loggers made before this call follow it too
    )
