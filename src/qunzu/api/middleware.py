"""ASGI middleware: the request id, and the body limit (413 before parsing)."""

from __future__ import annotations

import json

from qunzu.api.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from qunzu.api.metrics import ASGIApp, Message, Receive, Scope, Send
from qunzu.logs import bind_request_id, request_id_from

_ID_HEADER = b"x-request-id"


class RequestIdMiddleware:
    """Give each request an id (the client's ``X-Request-ID`` when sane), bind it to
    every log line of the request, and return it in the response's ``X-Request-ID``.
    A WebSocket's id is bound for the life of the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers", ()):
            if name == _ID_HEADER:
                given = value
                break
        request_id = request_id_from(given)
        bind_request_id(request_id)
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        header = (_ID_HEADER, request_id.encode("ascii"))

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, _send)


class _TooLarge(Exception):
    pass


def _problem_413(limit: int) -> bytes:
    return json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + "payload_too_large",
            "title": "Payload too large",
            "status": 413,
            "detail": f"The request body is larger than {limit} bytes.",
            "code": "payload_too_large",
            "limit": limit,
        }
    ).encode()


# Routes that stream their body and apply their own, larger cap (the uploads route takes
# the rulebook's cap for the uploader's credit level, services/attachments.py).
STREAMED_ROUTES = frozenset({("POST", "/v1/uploads")})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in STREAMED_ROUTES:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        seen = 0
        started = False
        exceeded = False
        replaced = False

        async def _receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def _send(message: Message) -> None:
            # The framework may turn our exception into its own error response; whatever
            # it answers, an oversized body gets the 413 it deserves.
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if exceeded:
                    replaced = True
                    started = True
                    await self._reject(send)
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, _receive, _send)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = _problem_413(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# The routes that hash a password before answering: shed first when hashing is full.
_HASHING_ROUTES = frozenset({"/v1/sessions", "/login", "/v1/accounts", "/signup"})
_BUSY_BODY = json.dumps(
    {
        "type": PROBLEM_TYPE_BASE + "hashing_busy",
        "title": "Service unavailable",
        "status": 503,
        "detail": "Too many log-ins at once; try again shortly.",
        "code": "hashing_busy",
        "retry_after": 1,
    }
).encode()


class HashingShedMiddleware:
    """Answers a log-in or sign-up 503 ``hashing_busy`` before any routing or parsing when
    the password-hash queue is full (``services/credentials.HashGate``): under a flood of
    log-ins each refused request then costs the event loop microseconds, not the
    milliseconds of the full route, and everything else stays fast."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in _HASHING_ROUTES
            and _gate_full(scope)
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                        (b"content-length", str(len(_BUSY_BODY)).encode()),
                        (b"retry-after", b"1"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BUSY_BODY})
            return
        await self.app(scope, receive, send)


def _gate_full(scope: Scope) -> bool:
    state = getattr(scope["app"].state, "qunzu", None)
    return state is not None and state.ctx.hash_gate.full()
