"""Pages of one's own account: sign up, log in and out, the service agreement, devices,
identity, credit, sanctions and appeals, reports filed, language and time zone."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from qunzu.domain.errors import DomainError, InvalidInput
from qunzu.services import (
    accounts,
    agreement,
    appeals,
    credit,
    identity,
    reports,
    review,
    rulebook,
)
from qunzu.services.signin import IssuedToken, OpenChallenge
from qunzu.web.i18n import COMMON_TZS, LANGS, zone
from qunzu.web.page import (
    IdPath,
    Page,
    act,
    load,
    load_form,
    redirect,
    refused,
    render,
    safe_next,
)
from qunzu.web.security import (
    LANG_COOKIE,
    SESSION_COOKIE,
    TZ_COOKIE,
    clear_cookie,
    set_cookie,
)

router = APIRouter(include_in_schema=False)


def second_step_page(
    page: Page, challenge: str, methods: tuple[str, ...], target: str, error: str | None = None
) -> Response:
    """The log-in's second step: a code from the app, a recovery code, or a passkey."""
    return render(
        page,
        "login_second.html",
        status=401 if error else 200,
        title=page.tr("second_factor.title"),
        challenge=challenge,
        passkey="passkey" in methods,
        totp="totp" in methods,
        next=target,
        error=error,
    )


def _device_label(request: Request) -> str:
    agent = request.headers.get("user-agent", "")
    for name in ("Edg", "Firefox", "Chrome", "Safari"):
        if name in agent:
            browser = {"Edg": "Edge"}.get(name, name)
            break
    else:
        browser = "browser"
    return f"web · {browser}"


def _start_session(page: Page, response: Response, token: str, ttl: timedelta) -> Response:
    set_cookie(response, page.request, SESSION_COOKIE, token, max_age=int(ttl.total_seconds()))
    return response


# ---- sign up, log in, log out ---------------------------------------------------------


@router.get("/login")
async def login_form(request: Request) -> Response:
    page = await load(request, login=False)
    if page.actor is not None:
        return redirect(page, safe_next(request.query_params.get("next")))
    return render(
        page, "login.html", title=page.tr("login.title"), next=request.query_params.get("next")
    )


_LOGIN_STATUS = {"unauthenticated": 401, "quota": 429, "unavailable": 503}


def _client(request: Request) -> accounts.Client:
    host = request.client.host if request.client else ""
    return accounts.Client(host, request.headers.get("user-agent", ""))


@router.post("/login")
async def login(request: Request) -> Response:
    page = await load_form(request, login=False)
    target = safe_next(page.form.get("next"))
    try:
        issued = await accounts.do_login(
            page.ctx,
            page.form.get("handle", ""),
            page.form.get("password", ""),
            _device_label(request),
            accounts.TokenKind.web,
            _client(request),
        )
    except DomainError as exc:
        return render(
            page,
            "login.html",
            status=_LOGIN_STATUS.get(exc.kind, 403),
            title=page.tr("login.title"),
            next=target,
            error=page.tr.error(exc),
            handle=page.form.get("handle", ""),
        )
    if isinstance(issued, OpenChallenge):
        return second_step_page(page, issued.challenge, issued.methods, target)
    response = redirect(page, target)
    return _start_session(page, response, issued.token, issued.expires_at - page.now())


@router.get("/signup")
async def signup_form(request: Request) -> Response:
    page = await load(request, login=False)
    return render(
        page,
        "signup.html",
        title=page.tr("signup.title"),
        doc=agreement.agreement_in_force(page.ctx),
        values={},
    )


@router.post("/signup")
async def signup(request: Request) -> Response:
    page = await load_form(request, login=False)
    f = page.form
    doc = agreement.agreement_in_force(page.ctx)
    try:
        if f.get("agree") != "yes":
            raise InvalidInput("agreement_required", "Accept the agreement to sign up.")
        if f.get("password", "") != f.get("password2", ""):
            raise InvalidInput("password_mismatch", "The two passwords differ.")
        agreement.check_offered(page.ctx, int(f.get("agreement_version") or 0))
        account = await accounts.do_register(
            page.ctx,
            f.get("handle", ""),
            f.get("password", ""),
            f.get("display_name") or None,
            _client(request),
        )
        await agreement.do_accept_agreement(page.ctx, account.id, doc.version)
        issued = await accounts.start_session(
            page.ctx, account, _device_label(request), accounts.TokenKind.web, _client(request)
        )
    except DomainError as exc:
        return render(
            page,
            "signup.html",
            status={"conflict": 409, "quota": 429}.get(exc.kind, 400),
            title=page.tr("signup.title"),
            doc=doc,
            error=page.tr.error(exc),
            values={k: f.get(k, "") for k in ("handle", "display_name")},
        )
    assert isinstance(issued, IssuedToken)  # a new account has no second factor yet
    response = redirect(page, "/me/identity", ("ok", page.tr("signup.done")))
    return _start_session(page, response, issued.token, issued.expires_at - page.now())


@router.post("/logout")
async def logout(request: Request) -> Response:
    page = await load_form(request, login=False)
    if page.actor is not None:
        await accounts.do_logout(page.ctx, page.actor)
    response = redirect(page, "/login", ("ok", page.tr("logout.done")))
    clear_cookie(response, request, SESSION_COOKIE)
    return response


# ---- the service agreement --------------------------------------------------------------


@router.get("/agreement")
async def agreement_page(request: Request) -> Response:
    page = await load(request, agreement_needed=False)
    accepted = await agreement.accepted_version(page.ctx, page.me.id)
    return render(
        page,
        "agreement.html",
        title=page.tr("agreement.title"),
        doc=agreement.agreement_in_force(page.ctx),
        accepted=accepted,
        next=safe_next(request.query_params.get("next")),
    )


@router.get("/agreement/text")
async def agreement_text(request: Request) -> Response:
    page = await load(request, login=False)
    return render(
        page,
        "agreement.html",
        title=page.tr("agreement.title"),
        doc=agreement.agreement_in_force(page.ctx),
        accepted=None,
        read_only=True,
    )


@router.post("/agreement")
async def accept_agreement(request: Request) -> Response:
    page = await load_form(request, agreement_needed=False)
    target = safe_next(page.form.get("next"))
    version = int(page.form.get("version") or 0) if page.form.get("version", "").isdigit() else 0
    return await act(
        page,
        lambda: agreement.do_accept_agreement(page.ctx, page.me.id, version),
        target,
        back="/agreement?next=" + target,
    )


@router.get("/rulebook")
async def rulebook_page(request: Request) -> Response:
    page = await load(request, login=False)
    return render(
        page,
        "rulebook.html",
        title=page.tr("rulebook.title"),
        book=rulebook.rulebook_in_force(page.ctx),
    )


# ---- me ---------------------------------------------------------------------------------


@router.get("/me")
async def me_page(request: Request) -> Response:
    page = await load(request)
    return render(page, "me.html", title=page.tr("me.title"), section="me")


@router.post("/me/profile")
async def update_profile(request: Request) -> Response:
    page = await load_form(request)
    name = page.form.get("display_name", "")
    return await act(
        page,
        lambda: accounts.do_update_profile(page.ctx, page.me, name),
        "/me",
        page.tr("me.profile.saved"),
    )


@router.get("/me/devices")
async def devices(request: Request) -> Response:
    page = await load(request)
    tokens = await accounts.list_tokens(page.ctx, page.me)
    return render(
        page,
        "devices.html",
        title=page.tr("devices.title"),
        section="me",
        tokens=sorted(tokens, key=lambda t: t.created_at, reverse=True),
        current=page.me.token_id,
        now=page.now(),
    )


@router.post("/me/devices/{token_id}/revoke")
async def revoke_device(request: Request, token_id: IdPath) -> Response:
    page = await load_form(request)
    current = token_id == page.me.token_id
    response = await act(
        page,
        lambda: accounts.do_revoke_token(page.ctx, page.me, token_id),
        "/login" if current else "/me/devices",
        page.tr("devices.revoked"),
        back="/me/devices",
    )
    if current and response.status_code in (200, 303):
        clear_cookie(response, request, SESSION_COOKIE)
    return response


@router.get("/me/identity")
async def identity_page(request: Request) -> Response:
    page = await load(request)
    try:
        masked = await identity.get_masked_identity(page.ctx, page.me)
    except DomainError:
        masked = None
    return render(
        page, "identity.html", title=page.tr("identity.title"), section="me", masked=masked
    )


@router.post("/me/identity")
async def submit_identity(request: Request) -> Response:
    page = await load_form(request)
    f = page.form
    return await act(
        page,
        lambda: identity.do_submit_identity(
            page.ctx, page.me, f.get("legal_name", ""), f.get("resident_id", ""), f.get("phone", "")
        ),
        "/me/identity",
        page.tr("identity.saved"),
    )


@router.get("/me/credit")
async def credit_page(request: Request) -> Response:
    page = await load(request)
    view = await credit.get_my_credit(page.ctx, page.me, limit=50)
    return render(page, "credit.html", title=page.tr("credit.title"), section="me", view=view)


@router.get("/me/sanctions")
async def sanctions_page(request: Request) -> Response:
    page = await load(request)
    items = await appeals.list_my_sanctions(page.ctx, page.me)
    return render(
        page,
        "sanctions.html",
        title=page.tr("sanctions.title"),
        section="me",
        sanctions=items,
        now=page.now(),
    )


@router.get("/me/sanctions/{sanction_id}")
async def sanction_page(request: Request, sanction_id: IdPath) -> Response:
    page = await load(request)
    try:
        sor = await appeals.statement_of_reasons(page.ctx, page.me, sanction_id)
    except DomainError as exc:
        return render(
            page, "error.html", 404, title=page.tr("error.title"), message=page.tr.error(exc)
        )
    return render(
        page,
        "sanction.html",
        title=page.tr("sanction.title"),
        section="me",
        sor=sor,
        now=page.now(),
    )


@router.post("/me/sanctions/{sanction_id}/appeal")
async def appeal(request: Request, sanction_id: IdPath) -> Response:
    page = await load_form(request)
    statement = page.form.get("statement", "")
    return await act(
        page,
        lambda: appeals.do_appeal_sanction(page.ctx, page.me, sanction_id, statement),
        f"/me/sanctions/{sanction_id}",
        page.tr("sanction.appealed"),
    )


@router.post("/me/sanctions/{sanction_id}/acknowledge")
async def acknowledge(request: Request, sanction_id: IdPath) -> Response:
    """As owner, acknowledge a warning and undertake to rectify (警示整改)."""
    page = await load_form(request)
    return await act(
        page,
        lambda: review.do_acknowledge_warning(page.ctx, page.me, sanction_id),
        f"/me/sanctions/{sanction_id}",
        page.tr("sanction.acknowledged"),
    )


@router.get("/me/reports")
async def my_reports(request: Request) -> Response:
    page = await load(request)
    receipts = await reports.list_my_reports(page.ctx, page.me)
    book = rulebook.rulebook_in_force(page.ctx)
    return render(
        page,
        "my_reports.html",
        title=page.tr("reports.title"),
        section="me",
        receipts=receipts,
        categories=book.report_categories,
        now=page.now(),
    )


@router.post("/me/reports/{case_id}/review")
async def request_review(request: Request, case_id: IdPath) -> Response:
    page = await load_form(request)
    statement = page.form.get("statement", "")
    return await act(
        page,
        lambda: appeals.do_request_review(page.ctx, page.me, case_id, statement),
        "/me/reports",
        page.tr("reports.review_requested"),
    )


# ---- language and time zone ---------------------------------------------------------------


@router.post("/lang")
async def switch_language(request: Request) -> Response:
    page = await load_form(request, login=False)
    lang = page.form.get("lang", "")
    if lang not in LANGS:
        return refused(page, InvalidInput("unknown_language", "Unknown language."), "/")
    response = redirect(page, safe_next(page.form.get("back")))
    set_cookie(response, request, LANG_COOKIE, lang)
    return response


@router.get("/settings")
async def settings_page(request: Request) -> Response:
    page = await load(request, login=False)
    return render(
        page,
        "settings.html",
        title=page.tr("settings.title"),
        section="me",
        zones=COMMON_TZS,
        current=str(page.tr.tz),
    )


@router.post("/settings")
async def save_settings(request: Request) -> Response:
    page = await load_form(request, login=False)
    tz = page.form.get("tz", "")
    lang = page.form.get("lang", "")
    if str(zone(tz)) != tz:
        return refused(page, InvalidInput("unknown_time_zone", "Unknown time zone."), "/settings")
    response = redirect(page, "/settings", ("ok", page.tr("settings.saved")))
    set_cookie(response, request, TZ_COOKIE, tz)
    if lang in LANGS:
        set_cookie(response, request, LANG_COOKIE, lang)
    return response
