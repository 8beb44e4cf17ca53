"""The live timeline's WebSocket for pages: ``/web/events``, the same stream as
``/v1/events`` (resume with ``since``, no loss, no duplicates) authenticated by the session
cookie, which scripts cannot read (HttpOnly) and so cannot send as a bearer token.

A cookie travels with any request to this site, so a page on another origin could try
to open the socket with it (cross-site WebSocket hijacking): the handshake is refused
unless its ``Origin`` is this site. Then the cookie becomes the bearer header the API's
own endpoint reads, and that endpoint does the rest.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from qunzu.web.security import SESSION_COOKIE


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def same_origin(scope: Scope) -> bool:
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def session_token(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel else None


class WebEvents:
    """An ASGI app (not a function, which Starlette would call with a WebSocket)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _serve(scope, receive, send)


web_events = WebEvents()


async def _serve(scope: Scope, receive: Receive, send: Send) -> None:
    from qunzu.api.realtime import events  # see qunzu/web/__init__.py

    token = session_token(scope) if same_origin(scope) else None
    headers = [
        (k, v) for k, v in scope.get("headers", ()) if k not in (b"authorization", b"cookie")
    ]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode("latin-1")))
    # Without a token the API endpoint refuses with its usual error frame and close 4401.
    query = scope.get("query_string", b"")
    kept = b"&".join(p for p in query.split(b"&") if p and not p.startswith(b"access_token="))
    # The cookie's token is a web session token: the API endpoint must look it up as one.
    scope = {**scope, "headers": headers, "query_string": kept, "qunzu.token_kind": "web"}
    await events(WebSocket(scope, receive, send))
