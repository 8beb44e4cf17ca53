"""Console pages for senior reviewers, auditors and administrators: lifting a sanction,
credit-level locks, a full identity read with its stated reason (and the audit entry it
made, shown back), regulator exports, and creating platform staff.

Each form is one audited service call (``services.audit.privileged``); the roles are those
the services check, so the page and the service refuse alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from qunzu.domain.errors import DomainError, InvalidInput
from qunzu.domain.models import PlatformRole
from qunzu.domain.text import TextKind, check_text
from qunzu.services import accounts, credit, identity, records, review
from qunzu.services.actor import SENIORS
from qunzu.web.page import act, form_int, redirect
from qunzu.web.pages_console import AUDITORS, show, staff_form, staff_page

router = APIRouter(include_in_schema=False)

ADMINS = (PlatformRole.admin,)
RECORDS = (PlatformRole.auditor, PlatformRole.admin, PlatformRole.senior_reviewer)
MAX_REASON = 500
MAX_EXPORT_DAYS = 366


def _reason(raw: str) -> str:
    reason = " ".join(raw.split())
    if len(reason) < 5:
        raise InvalidInput("reason_required", "State why (at least five characters).")
    if len(reason) > MAX_REASON:
        raise InvalidInput("too_long", f"The reason is at most {MAX_REASON} characters.")
    return check_text(reason, "reason", TextKind.line)


@router.get("/console/officer")
async def officer(request: Request) -> Response:
    page = await staff_page(request, SENIORS)
    return show(page, "console_officer.html", title=page.tr("console.officer.title"))


@router.post("/console/sanctions/lift")
async def lift(request: Request) -> Response:
    page = await staff_form(request, SENIORS)
    sanction_id = form_int(page, "sanction_id", 0) or 0

    async def work() -> object:
        return await review.do_lift_sanction(
            page.ctx, page.me, sanction_id, _reason(page.form.get("reason", ""))
        )

    return await act(page, work, "/console/officer", page.tr("console.officer.lifted"))


@router.post("/console/credit/lock")
async def lock(request: Request) -> Response:
    page = await staff_form(request, SENIORS)
    raw_level = page.form.get("level", "").strip()

    async def work() -> object:
        account = await accounts.find_account(page.ctx, page.form.get("handle", "").strip())
        level = None if raw_level == "" else form_int(page, "level", -1)
        if level is not None and not 0 <= level <= 9:
            raise InvalidInput("invalid_level", "The level is a whole number 0 to 9.")
        reason = _reason(page.form.get("reason", ""))
        return await credit.do_lock_level(page.ctx, page.me, account.id, level, reason)

    return await act(page, work, "/console/officer", page.tr("console.officer.locked"))


@router.post("/console/identity/read")
async def read_identity(request: Request) -> Response:
    """The full identity, shown once on this answer (never cached), with the audit entry
    the read made: who, what, about whom, why."""
    page = await staff_form(request, SENIORS)
    try:
        account = await accounts.find_account(page.ctx, page.form.get("handle", "").strip())
        reason = _reason(page.form.get("reason", ""))
        full = await identity.do_read_identity(page.ctx, page.me, account.id, reason)
    except DomainError as exc:
        return redirect(page, "/console/officer", ("error", page.tr.error(exc)))
    return show(
        page,
        "console_identity.html",
        title=page.tr("console.identity.title"),
        full=full,
        handle=account.handle,
        reason=reason,
        at=page.now(),
    )


# ---- exports (auditors, seniors, admins) --------------------------------------------------


def _day(raw: str) -> datetime:
    try:
        return datetime.combine(datetime.fromisoformat(raw).date(), time(), UTC)
    except ValueError:
        raise InvalidInput("invalid_period", "Give the period as two dates.") from None


@router.get("/console/exports")
async def exports(request: Request) -> Response:
    page = await staff_page(request, RECORDS)
    today = page.now().date()
    return show(
        page,
        "console_exports.html",
        title=page.tr("console.exports.title"),
        start=(today - timedelta(days=30)).isoformat(),
        end=today.isoformat(),
    )


@router.get("/console/exports/regulator")
async def export_regulator(request: Request) -> Response:
    """The regulator export as a download (CSV or JSON lines); the export is audited."""
    page = await staff_page(request, RECORDS)
    q = request.query_params
    fmt = q.get("format", "csv")
    try:
        if fmt not in ("csv", "jsonl"):
            raise InvalidInput("invalid_format", "format is jsonl or csv.")
        start, end = _day(q.get("start", "")), _day(q.get("end", "")) + timedelta(days=1)
        if end - start > timedelta(days=MAX_EXPORT_DAYS):
            raise InvalidInput("invalid_period", f"At most {MAX_EXPORT_DAYS} days at a time.")
        rows = await records.regulator_rows(page.ctx, start, end, page.me)
    except DomainError as exc:
        return redirect(page, "/console/exports", ("error", page.tr.error(exc)))
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    name = f"regulator-{start.date()}-{(end - timedelta(days=1)).date()}.{fmt}"
    return Response(
        records.render(rows, fmt),
        media_type=f"{media}; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


# ---- platform staff (administrators) ------------------------------------------------------


@router.get("/console/staff")
async def staff(request: Request) -> Response:
    page = await staff_page(request, ADMINS)
    return show(
        page, "console_staff.html", title=page.tr("console.staff.title"), roles=list(PlatformRole)
    )


@router.post("/console/staff")
async def create_staff(request: Request) -> Response:
    page = await staff_form(request, ADMINS)
    f = page.form

    async def work() -> object:
        try:
            role = PlatformRole(f.get("role", ""))
        except ValueError:
            raise InvalidInput("invalid_role", "Choose a platform role.") from None
        return await accounts.do_create_platform_user(
            page.ctx, page.me, f.get("handle", ""), f.get("password", ""), role,
            f.get("display_name") or None,
        )  # fmt: skip

    return await act(page, work, "/console/staff", page.tr("console.staff.created"))


__all__ = ["AUDITORS", "router"]
