"""Pages of account security: change the password, reset a forgotten one by a code sent
to the verified mobile number, sign out every other device."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from qunzu.domain.errors import DomainError, InvalidInput
from qunzu.services import accounts, passwords
from qunzu.web.page import act, load, load_form, redirect, render

router = APIRouter(include_in_schema=False)


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/me/password")
async def password_form(request: Request) -> Response:
    page = await load(request)
    return render(page, "password.html", title=page.tr("password.title"), section="me")


@router.post("/me/password")
async def change_password(request: Request) -> Response:
    page = await load_form(request)
    f = page.form

    async def change() -> int:
        if f.get("new_password", "") != f.get("new_password2", ""):
            raise InvalidInput("password_mismatch", "The two passwords differ.")
        return await passwords.do_change_password(
            page.ctx,
            page.me,
            f.get("current_password", ""),
            f.get("new_password", ""),
            f.get("revoke_others") == "yes",
        )

    return await act(page, change, "/me", page.tr("password.changed"), back="/me/password")


@router.get("/password/forgot")
async def forgot_form(request: Request) -> Response:
    page = await load(request, login=False, agreement_needed=False)
    return render(page, "password_forgot.html", title=page.tr("password.forgot.title"))


@router.post("/password/forgot")
async def forgot(request: Request) -> Response:
    page = await load_form(request, login=False, agreement_needed=False)
    handle = page.form.get("handle", "").strip()[:64]
    try:
        await passwords.do_request_reset(page.ctx, handle, _address(request))
    except DomainError as exc:
        return render(
            page,
            "password_forgot.html",
            status=429 if exc.kind == "quota" else 400,
            title=page.tr("password.forgot.title"),
            error=page.tr.error(exc),
            handle=handle,
        )
    target = f"/password/reset?handle={quote(handle)}"
    return redirect(page, target, ("ok", page.tr("password.forgot.sent")))


@router.get("/password/reset")
async def reset_form(request: Request) -> Response:
    page = await load(request, login=False, agreement_needed=False)
    handle = request.query_params.get("handle", "")[:64]
    return render(page, "password_reset.html", title=page.tr("password.reset.title"), handle=handle)


@router.post("/password/reset")
async def reset(request: Request) -> Response:
    page = await load_form(request, login=False, agreement_needed=False)
    f = page.form
    handle = f.get("handle", "").strip()[:64]
    try:
        if f.get("new_password", "") != f.get("new_password2", ""):
            raise InvalidInput("password_mismatch", "The two passwords differ.")
        await passwords.do_reset_password(
            page.ctx, handle, f.get("code", ""), f.get("new_password", "")
        )
    except DomainError as exc:
        return render(
            page,
            "password_reset.html",
            status={"gone": 410, "quota": 429}.get(exc.kind, 400),
            title=page.tr("password.reset.title"),
            error=page.tr.error(exc),
            handle=handle,
        )
    return redirect(page, "/login", ("ok", page.tr("password.reset.done")))


@router.post("/me/devices/revoke-others")
async def revoke_other_devices(request: Request) -> Response:
    page = await load_form(request)
    return await act(
        page,
        lambda: accounts.do_revoke_other_tokens(page.ctx, page.me),
        "/me/devices",
        page.tr("devices.others_revoked"),
    )
