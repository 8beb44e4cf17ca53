"""Pages of account security: the log-in's second step (a code, a recovery code or a
passkey), and the security page to enrol an authenticator app (QR code shown), see the
recovery codes once, register or remove a passkey. Passkey ceremonies run in
static/passkey.js, which posts here with the CSRF header and gets JSON back."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from qunzu.domain.errors import DomainError, InvalidInput
from qunzu.services import second_factor
from qunzu.services.signin import Client, IssuedToken, TokenKind
from qunzu.web.page import IdPath, Page, act, load, load_form, redirect, refused, render, safe_next
from qunzu.web.pages_account import second_step_page
from qunzu.web.security import SESSION_COOKIE, set_cookie

router = APIRouter(include_in_schema=False)


def _client(request: Request) -> Client:
    host = request.client.host if request.client else ""
    return Client(host, request.headers.get("user-agent", ""))


def _signed_in(page: Page, issued: IssuedToken, target: str) -> Response:
    response = redirect(page, target)
    ttl = int((issued.expires_at - page.now()).total_seconds())
    set_cookie(response, page.request, SESSION_COOKIE, issued.token, max_age=ttl)
    return response


def _credential(page: Page) -> dict[str, Any]:
    try:
        value = json.loads(page.form.get("credential", ""))
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidInput("passkey_refused", "The passkey's answer is not readable.")
    return value


# ---- the second step of a log-in --------------------------------------------------------


@router.post("/login/second-factor")
async def second_step(request: Request) -> Response:
    page = await load_form(request, login=False)
    f = page.form
    target = safe_next(f.get("next"))
    code = f.get("code", "").strip() or None
    recovery = f.get("recovery_code", "").strip() or None
    try:
        issued = await second_factor.do_complete_login(
            page.ctx,
            f.get("challenge", ""),
            code,
            recovery if code is None else None,
            TokenKind.web,
            _client(request),
        )
    except DomainError as exc:
        methods = ("totp", "passkey") if f.get("passkey") == "1" else ("totp",)
        return second_step_page(page, f.get("challenge", ""), methods, target, page.tr.error(exc))
    return _signed_in(page, issued, target)


@router.post("/login/passkey/options")
async def passkey_login_options(request: Request) -> Response:
    """For a log-in challenge, or (without one) a passwordless log-in."""
    page = await load_form(request, login=False)
    try:
        challenge, options = await second_factor.passkey_login(
            page.ctx, page.form.get("challenge") or None
        )
    except DomainError as exc:
        return refused(page, exc, "/login")
    return JSONResponse({"challenge": challenge, "options": options})


@router.post("/login/passkey")
async def passkey_login(request: Request) -> Response:
    page = await load_form(request, login=False)
    try:
        issued = await second_factor.do_complete_passkey_login(
            page.ctx,
            page.form.get("challenge", ""),
            _credential(page),
            TokenKind.web,
            _client(request),
        )
    except DomainError as exc:
        return refused(page, exc, "/login")
    return _signed_in(page, issued, safe_next(page.form.get("next")))


# ---- the security page -------------------------------------------------------------------


async def _security_page(page: Page, **values: Any) -> Response:
    found = await second_factor.security_of(page.ctx, page.me)
    return render(
        page,
        "security.html",
        title=page.tr("security.title"),
        section="me",
        factors=found.factors,
        codes_left=found.recovery_codes_left,
        **values,
    )


@router.get("/me/security")
async def security(request: Request) -> Response:
    return await _security_page(await load(request, agreement_needed=False))


@router.post("/me/security/totp")
async def start_totp(request: Request) -> Response:
    page = await load_form(request, agreement_needed=False)
    try:
        started = await second_factor.do_start_totp(page.ctx, page.me, page.form.get("label", ""))
    except DomainError as exc:
        return refused(page, exc, "/me/security")
    return await _security_page(page, enrolling=started)


@router.post("/me/security/totp/{factor_id}/confirm")
async def confirm_totp(request: Request, factor_id: IdPath) -> Response:
    page = await load_form(request, agreement_needed=False)
    try:
        done = await second_factor.do_confirm_totp(
            page.ctx, page.me, factor_id, page.form.get("code", "")
        )
    except DomainError as exc:
        return refused(page, exc, "/me/security")
    return await _security_page(page, new_codes=done.recovery_codes, confirmed=True)


@router.post("/me/security/recovery-codes")
async def regenerate_codes(request: Request) -> Response:
    page = await load_form(request, agreement_needed=False)
    try:
        codes = await second_factor.do_regenerate_recovery_codes(
            page.ctx, page.me, password=page.form.get("password", "")
        )
    except DomainError as exc:
        return refused(page, exc, "/me/security")
    return await _security_page(page, new_codes=codes)


@router.post("/me/security/{factor_id}/remove")
async def remove_factor(request: Request, factor_id: IdPath) -> Response:
    page = await load_form(request, agreement_needed=False)
    return await act(
        page,
        lambda: second_factor.do_remove_factor(
            page.ctx, page.me, factor_id, password=page.form.get("password", "")
        ),
        "/me/security",
        page.tr("security.removed"),
    )


@router.post("/me/security/passkey/options")
async def passkey_registration_options(request: Request) -> Response:
    page = await load_form(request, agreement_needed=False)
    challenge, options = await second_factor.passkey_registration(page.ctx, page.me)
    return JSONResponse({"challenge": challenge, "options": options})


@router.post("/me/security/passkey")
async def register_passkey(request: Request) -> Response:
    page = await load_form(request, agreement_needed=False)
    try:
        done = await second_factor.do_register_passkey(
            page.ctx,
            page.me,
            page.form.get("challenge", ""),
            _credential(page),
            page.form.get("label", ""),
        )
    except DomainError as exc:
        return refused(page, exc, "/me/security")
    # A first factor brings recovery codes: passkey.js shows them once, in place.
    if done.recovery_codes:
        return JSONResponse({"ok": True, "recovery_codes": done.recovery_codes})
    return redirect(page, "/me/security", ("ok", page.tr("security.passkey_added")))
