"""What every page handler shares: who is asking, in which language and time zone, the
form they posted (CSRF-checked), and how answers are rendered.

A page handler calls ``load(request)`` for a ``Page``, then services, then ``render``
(or ``done`` after a form). Refusals from the services (``DomainError``) become a
message in the viewer's language on the page they came from, never a bare error.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, quote

from fastapi import Path as PathParam
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from qunzu.domain.errors import DomainError, Unauthenticated
from qunzu.services import accounts, agreement
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.web.i18n import Translator, negotiate, zone
from qunzu.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    FLASH_COOKIE,
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    TZ_COOKIE,
    clear_cookie,
    csrf_for,
    csrf_ok,
    new_pre_session,
    set_cookie,
)

T = TypeVar("T")
HERE = Path(__file__).parent
MAX_FORM_BYTES = 64 * 1024

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    # Templates are package files: no stat() of each one on every render.
    auto_reload=False,
)

# Ids the pages take and hand to app.js stay within JavaScript's safe integers.
MAX_PAGE_ID = 2**53
IdPath = Annotated[int, PathParam(ge=1, le=MAX_PAGE_ID)]


class Redirect(Exception):  # a control-flow signal, handled in web/app.py
    """Stop here and send the browser elsewhere (to log in, or to accept the agreement)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class CsrfRefused(Exception):
    """A form without the right CSRF token: 403, nothing done."""


@dataclass
class Page:
    request: Request
    ctx: ServiceContext
    tr: Translator
    actor: Actor | None
    seed: str  # what the CSRF token binds to: the session token, or the pre-session cookie
    new_pre: str | None = None  # a pre-session cookie to set on the response
    form: dict[str, str] = field(default_factory=dict)
    flash: tuple[str, str] | None = None

    @property
    def me(self) -> Actor:
        assert self.actor is not None
        return self.actor

    @property
    def csrf(self) -> str:
        return csrf_for(self.seed)

    @property
    def is_fetch(self) -> bool:
        """A request from app.js (which wants JSON or a fragment back, not a redirect)."""
        return self.request.headers.get("x-qunzu-fetch") == "1"

    def now(self) -> Any:
        return self.ctx.clock.now()


def context_of(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.qunzu.ctx
    return ctx


def safe_next(raw: str | None, default: str = "/") -> str:
    """Only paths on this site: no scheme, no host, no backslash tricks."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return default
    if any(ord(c) < 0x20 for c in raw):
        return default
    return raw


async def load(request: Request, *, login: bool = True, agreement_needed: bool = True) -> Page:
    """The page context. ``login``: send anonymous visitors to the login page.
    ``agreement_needed``: send members who have not accepted the agreement in force to it."""
    ctx = context_of(request)
    tr = Translator(
        negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")),
        zone(request.cookies.get(TZ_COOKIE)),
    )
    token = request.cookies.get(SESSION_COOKIE)
    actor: Actor | None = None
    if token:
        try:
            host = request.client.host if request.client else ""
            actor = await accounts.authenticate(ctx, token, accounts.TokenKind.web, host)
        except DomainError:
            actor = None
    new_pre = None
    if actor is not None and token:
        seed = token
    else:
        seed = request.cookies.get(PRE_COOKIE) or ""
        if len(seed) < 20:
            seed = new_pre = new_pre_session()
    page = Page(request, ctx, tr, actor, seed, new_pre, flash=_read_flash(request))
    if login and actor is None:
        raise Redirect("/login?next=" + quote(request.url.path, safe="/"))
    if (
        login
        and agreement_needed
        and actor is not None
        and await agreement.needs_agreement(ctx, actor)
    ):
        raise Redirect("/agreement?next=" + quote(request.url.path, safe="/"))
    return page


async def load_form(request: Request, **kw: bool) -> Page:
    """``load`` for a POST: read the url-encoded form and refuse a missing or wrong CSRF token."""
    page = await load(request, **kw)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfRefused
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    page.form = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=200))
    offered = page.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not csrf_ok(page.seed, offered):
        raise CsrfRefused
    return page


def _read_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        kind, text = json.loads(base64.urlsafe_b64decode(raw.encode()).decode())
    except (ValueError, TypeError):
        return None
    return (str(kind), str(text)) if kind in ("ok", "error") else None


def _finish(page: Page, response: Response) -> Response:
    if page.new_pre:
        set_cookie(response, page.request, PRE_COOKIE, page.new_pre)
    if page.flash is not None and page.request.cookies.get(FLASH_COOKIE):
        clear_cookie(response, page.request, FLASH_COOKIE)
    response.headers["cache-control"] = "no-store"
    return response


def render(page: Page, template: str, status: int = 200, **values: Any) -> Response:
    values.setdefault("now", page.now())
    html = env.get_template(template).render(
        page=page, _=page.tr, tr=page.tr, csrf=page.csrf, me=page.actor, **values
    )
    return _finish(page, HTMLResponse(html, status_code=status))


def redirect(page: Page, url: str, flash: tuple[str, str] | None = None) -> Response:
    """After a form: 303 to ``url`` (or, for app.js, JSON naming it)."""
    if page.is_fetch:
        body: dict[str, Any] = {"ok": True, "redirect": url}
        if flash:
            body["message"] = flash[1]
        response: Response = JSONResponse(body)
    else:
        response = RedirectResponse(url, status_code=303)
        if flash is not None:
            raw = base64.urlsafe_b64encode(json.dumps(list(flash)).encode()).decode()
            set_cookie(response, page.request, FLASH_COOKIE, raw, max_age=60)
    page.flash = None
    if page.new_pre:
        set_cookie(response, page.request, PRE_COOKIE, page.new_pre)
    response.headers["cache-control"] = "no-store"
    return response


def refused(page: Page, exc: DomainError, back: str) -> Response:
    """A refusal: its detail in the viewer's language, on the page the form came from."""
    from qunzu.api.errors import status_for  # see qunzu/web/__init__.py

    text = page.tr.error(exc)
    if page.is_fetch:
        body = {"ok": False, "status": status_for(exc), "code": exc.code, "detail": text}
        for k, v in exc.extra.items():
            if isinstance(v, str | int | float | bool):
                body.setdefault(k, v)
        return JSONResponse(body, status_code=status_for(exc))
    return redirect(page, back, ("error", text))


async def act(
    page: Page,
    work: Callable[[], Awaitable[T]],
    ok_url: str | Callable[[T], str],
    ok_text: str | None = None,
    back: str | None = None,
) -> Response:
    """Run a service call for a form: on success go to ``ok_url`` with ``ok_text``; on a
    refusal go ``back`` (default: the form's ``back`` field, else ``ok_url``) and say why."""
    fallback = ok_url if isinstance(ok_url, str) else "/"
    try:
        result = await work()
    except Unauthenticated as exc:
        if page.is_fetch:
            return refused(page, exc, "/login")
        raise Redirect("/login") from exc
    except DomainError as exc:
        return refused(page, exc, back or safe_next(page.form.get("back"), fallback))
    url = ok_url(result) if callable(ok_url) else ok_url
    return redirect(page, url, ("ok", ok_text) if ok_text else None)


def form_int(page: Page, name: str, default: int | None = None) -> int | None:
    raw = page.form.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if 0 <= value <= MAX_PAGE_ID else default
