"""Security of the pages: response headers, session cookies and CSRF tokens.

- Every page, fragment, static file and ``/docs`` goes out with a strict
  Content-Security-Policy (scripts and styles only from this origin, nothing inline,
  ``frame-ancestors 'none'``), ``X-Content-Type-Options: nosniff``, no framing and no
  referrer to other sites. The API under ``/v1`` is left as it is (JSON, not pages).
- The session cookie holds a real API token (``accounts.do_login``), so a browser
  session is listed, and can be revoked, with the account's other tokens. It is
  HttpOnly, SameSite=Lax, and Secure when the request came over HTTPS.
- CSRF: each form carries a token bound to the session: an HMAC of the session token
  (or, before login, of a random pre-session cookie). Pages never put the session
  token itself in the HTML, and a token taken from one session is useless in another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "qz_session"
PRE_COOKIE = "qz_pre"  # before login: what CSRF tokens of the login and sign-up forms bind to
LANG_COOKIE = "qz_lang"
TZ_COOKIE = "qz_tz"
FLASH_COOKIE = "qz_flash"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
YEAR = 365 * 24 * 3600

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; manifest-src 'self'"
)
# Swagger UI sets style attributes from its own script (React); scripts stay 'self' only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_API_PREFIXES = ("/v1/", "/metrics", "/healthz", "/openapi.json")


def _headers(path: str) -> list[tuple[bytes, bytes]]:
    csp = DOCS_CSP if path.startswith("/docs") else PAGE_CSP
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]


class SecurityHeadersMiddleware:
    """Adds the page headers to every HTTP response outside the API."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_API_PREFIXES):
            await self.app(scope, receive, send)
            return
        extra = _headers(path)

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, _send)


# ---- CSRF -------------------------------------------------------------------------------


def csrf_for(seed: str) -> str:
    """The form token for a session (or pre-session) secret."""
    return hmac.new(b"qunzu-web-csrf-v1", seed.encode(), hashlib.sha256).hexdigest()[:40]


def csrf_ok(seed: str | None, offered: str | None) -> bool:
    if not seed or not offered:
        return False
    return hmac.compare_digest(csrf_for(seed), offered)


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


# ---- cookies ----------------------------------------------------------------------------


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    max_age: int | None = YEAR,
    http_only: bool = True,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=http_only,
        samesite="lax",
        secure=is_https(request),
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", samesite="lax", secure=is_https(request))
