"""Owner and admin pages (Art. 9; P7): the dashboard of managed groups and owner notices,
a group's settings, controls, rules, members and join requests, reporting up, and the
duty-of-care ledger explained in plain words. Each form is one service call; the
services check the rights, so a page never grants more than the account holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from qunzu.domain.errors import DomainError, Forbidden, InvalidInput
from qunzu.domain.models import GroupRole, JoinPolicy
from qunzu.domain.owner_tools import SLOW_MODE_SECONDS, AdminRight
from qunzu.domain.reports import TargetKind
from qunzu.services import (
    attendance,
    groups,
    membership,
    overview,
    owner_tools,
    reports,
    rulebook,
)
from qunzu.web.page import IdPath, Page, act, form_int, load, load_form, render

router = APIRouter(include_in_schema=False)
MUTE_CHOICES = (10, 60, 24 * 60, 7 * 24 * 60, 30 * 24 * 60)


def _error(page: Page, exc: DomainError, status: int = 403) -> Response:
    return render(
        page, "error.html", status, title=page.tr("error.title"), message=page.tr.error(exc)
    )


async def _managed(page: Page, group_id: int) -> overview.PostingView:
    pv = await overview.get_posting_view(page.ctx, page.me, group_id)
    if not pv.is_manager:
        raise Forbidden("not_permitted", "These pages are for the group's owner and admins.")
    return pv


@router.get("/manage")
async def dashboard(request: Request) -> Response:
    page = await load(request)
    owned = await owner_tools.list_owned_groups(page.ctx, page.me)
    inbox = await overview.list_inbox(page.ctx, page.me)
    admin_of = [i for i in inbox if i.membership.role is GroupRole.admin]
    notices = await reports.list_owner_notices(page.ctx, page.me)
    names = await overview.accounts_by_id(
        page.ctx,
        [n.case.target.account_id for n in notices if n.case.target.account_id is not None],
    )
    group_names = {i.group.id: i.group.name for i in inbox}
    return render(
        page,
        "dashboard.html",
        title=page.tr("dashboard.title"),
        section="manage",
        owned=owned,
        admin_of=admin_of,
        notices=notices,
        names=names,
        group_names=group_names,
        categories=rulebook.rulebook_in_force(page.ctx).report_categories,
        now=page.now(),
    )


@router.get("/g/{group_id}/manage")
async def manage(request: Request, group_id: IdPath) -> Response:
    page = await load(request)
    try:
        pv = await _managed(page, group_id)
        requests = []
        if AdminRight.approve_joins in pv.rights:
            requests = await membership.list_join_requests(page.ctx, page.me, group_id)
        versions = await overview.list_rules_versions(page.ctx, page.me, group_id)
    except DomainError as exc:
        return _error(page, exc)
    names = await overview.accounts_by_id(page.ctx, [r.account_id for r in requests])
    return render(
        page,
        "manage.html",
        title=pv.group.name,
        section="manage",
        pv=pv,
        requests=requests,
        names=names,
        versions=versions,
        slow_modes=SLOW_MODE_SECONDS,
        policies=[p.value for p in JoinPolicy],
        is_owner=pv.membership.role is GroupRole.owner,
    )


@router.get("/g/{group_id}/manage/members")
async def members_page(request: Request, group_id: IdPath) -> Response:
    page = await load(request)
    try:
        pv = await _managed(page, group_id)
        members = await membership.list_members(page.ctx, page.me, group_id, 500, 0)
        standing = await overview.member_standing(page.ctx, page.me, group_id)
    except DomainError as exc:
        return _error(page, exc)
    return render(
        page,
        "members.html",
        title=pv.group.name,
        section="manage",
        pv=pv,
        members=members,
        standing=standing,
        all_rights=[r.value for r in AdminRight],
        mute_choices=MUTE_CHOICES,
        is_owner=pv.membership.role is GroupRole.owner,
        now=page.now(),
    )


@router.get("/g/{group_id}/manage/ledger")
async def ledger_page(request: Request, group_id: IdPath) -> Response:
    page = await load(request)
    try:
        pv = await _managed(page, group_id)
        events = await owner_tools.read_duty_ledger(page.ctx, page.me, group_id)
    except DomainError as exc:
        return _error(page, exc)
    names = await overview.accounts_by_id(
        page.ctx, [e.account_id for e in events] + [e.subject_id for e in events if e.subject_id]
    )
    book = rulebook.rulebook_in_force(page.ctx)
    return render(
        page,
        "ledger.html",
        title=pv.group.name,
        section="manage",
        pv=pv,
        events=sorted(events, key=lambda e: e.at, reverse=True),
        names=names,
        hours=book.owner_response_hours,
    )


@router.get("/g/{group_id}/manage/bars")
async def bars_page(request: Request, group_id: IdPath) -> Response:
    """Accounts barred from rejoining (拉黑), each with a button to lift the bar."""
    page = await load(request)
    try:
        pv = await _managed(page, group_id)
        bars = await membership.list_bars(page.ctx, page.me, group_id)
    except DomainError as exc:
        return _error(page, exc)
    names = await overview.accounts_by_id(page.ctx, [b.by for b, _h, _n in bars])
    return render(
        page,
        "bars.html",
        title=pv.group.name,
        section="manage",
        pv=pv,
        bars=bars,
        names=names,
        now=page.now(),
    )


@router.post("/g/{group_id}/manage/bars/{account_id}/lift")
async def lift_bar(request: Request, group_id: IdPath, account_id: IdPath) -> Response:
    async def work(page: Page) -> object:
        await membership.do_lift_bar(page.ctx, page.me, group_id, account_id)
        return None

    return await _do(request, group_id, work, "bars.lifted", to=f"/g/{group_id}/manage/bars")


@router.get("/g/{group_id}/manage/report-up")
async def report_up_form(request: Request, group_id: IdPath) -> Response:
    page = await load(request)
    try:
        pv = await _managed(page, group_id)
    except DomainError as exc:
        return _error(page, exc)
    return render(
        page,
        "report_up.html",
        title=page.tr("reportup.title"),
        section="manage",
        pv=pv,
        seq=request.query_params.get("seq", ""),
        account=request.query_params.get("account", ""),
        categories=rulebook.rulebook_in_force(page.ctx).report_categories.values(),
    )


# ---- forms --------------------------------------------------------------------------------


async def _do(
    request: Request,
    group_id: int,
    work: Callable[[Page], Awaitable[Any]],
    ok_key: str,
    to: str = "",
) -> Response:
    page = await load_form(request)
    back = to or f"/g/{group_id}/manage"
    return await act(page, lambda: work(page), back, page.tr(ok_key), back=back)


@router.post("/g/{group_id}/manage/settings")
async def save_settings(request: Request, group_id: IdPath) -> Response:
    async def work(page: Page) -> object:
        f = page.form
        try:
            policy = JoinPolicy(f.get("join_policy", ""))
        except ValueError:
            raise InvalidInput("invalid_join_policy", "Choose how people join.") from None
        return await groups.do_update_group(
            page.ctx, page.me, group_id, f.get("name"), policy, f.get("discoverable") == "yes"
        )

    return await _do(request, group_id, work, "manage.saved")


@router.post("/g/{group_id}/manage/rules")
async def save_rules(request: Request, group_id: IdPath) -> Response:
    return await _do(
        request,
        group_id,
        lambda p: groups.do_set_rules(p.ctx, p.me, group_id, p.form.get("text", "")),
        "manage.rules_published",
    )


@router.post("/g/{group_id}/manage/mute-all")
async def mute_all(request: Request, group_id: IdPath) -> Response:
    return await _do(
        request,
        group_id,
        lambda p: owner_tools.do_set_mute_all(p.ctx, p.me, group_id, p.form.get("on") == "yes"),
        "manage.saved",
    )


@router.post("/g/{group_id}/manage/slow-mode")
async def slow_mode(request: Request, group_id: IdPath) -> Response:
    return await _do(
        request,
        group_id,
        lambda p: owner_tools.do_set_slow_mode(
            p.ctx, p.me, group_id, form_int(p, "seconds", 0) or 0
        ),
        "manage.saved",
    )


@router.post("/g/{group_id}/manage/notice")
async def notice(request: Request, group_id: IdPath) -> Response:
    return await _do(
        request,
        group_id,
        lambda p: owner_tools.do_pin_notice(p.ctx, p.me, group_id, p.form.get("text", "")),
        "manage.saved",
    )


@router.post("/g/{group_id}/manage/invite")
async def invite(request: Request, group_id: IdPath) -> Response:
    return await _do(
        request,
        group_id,
        lambda p: membership.do_invite(p.ctx, p.me, group_id, p.form.get("handle", "").strip()),
        "manage.invited",
    )


@router.post("/g/{group_id}/manage/requests/{request_id}/{answer}")
async def decide_request(
    request: Request, group_id: IdPath, request_id: IdPath, answer: str
) -> Response:
    approve = answer == "approve"
    return await _do(
        request,
        group_id,
        lambda p: membership.do_decide_join_request(p.ctx, p.me, request_id, approve),
        "manage.request_approved" if approve else "manage.request_denied",
    )


@router.post("/g/{group_id}/manage/claim")
async def claim(request: Request, group_id: IdPath) -> Response:
    """An admin takes over an unattended group."""
    return await _do(
        request,
        group_id,
        lambda p: attendance.do_claim_ownership(p.ctx, p.me, group_id),
        "manage.claimed",
    )


@router.post("/g/{group_id}/manage/dissolve")
async def dissolve(request: Request, group_id: IdPath) -> Response:
    async def work(page: Page) -> object:
        if page.form.get("confirm") != "yes":
            raise InvalidInput("confirm_required", "Tick the box to confirm.")
        return await groups.do_dissolve_group(page.ctx, page.me, group_id)

    return await _do(request, group_id, work, "manage.dissolved", to=f"/g/{group_id}/info")


@router.post("/g/{group_id}/manage/members/{account_id}/{action}")
async def member_action(
    request: Request, group_id: IdPath, account_id: IdPath, action: str
) -> Response:
    to = f"/g/{group_id}/manage/members"

    async def work(page: Page) -> object:
        f = page.form
        reason = f.get("reason", "")
        if action == "admin":
            rights = [r for r in AdminRight if f.get(f"right_{r.value}") == "yes"]
            return await owner_tools.do_appoint_admin(
                page.ctx, page.me, group_id, account_id, [r.value for r in rights]
            )
        if action == "demote":
            return await membership.do_set_role(
                page.ctx, page.me, group_id, account_id, GroupRole.member
            )
        if action == "mute":
            minutes = form_int(page, "minutes", 0) or 0
            return await owner_tools.do_mute_member(
                page.ctx, page.me, group_id, account_id, minutes, reason
            )
        if action == "unmute":
            await owner_tools.do_unmute_member(page.ctx, page.me, group_id, account_id)
            return None
        if action == "remove":
            return await membership.do_remove_member(
                page.ctx, page.me, group_id, account_id, reason, bar=f.get("bar") == "yes"
            )
        if action == "transfer":
            return await membership.do_offer_ownership(page.ctx, page.me, group_id, account_id)
        raise InvalidInput("unknown_action", "Unknown action.")

    return await _do(request, group_id, work, f"manage.member.{action}", to=to)


@router.post("/g/{group_id}/manage/report-up")
async def report_up(request: Request, group_id: IdPath) -> Response:
    async def work(page: Page) -> object:
        f = page.form
        try:
            kind = TargetKind(f.get("kind", "group"))
        except ValueError:
            raise InvalidInput("invalid_target", "Choose what you report.") from None
        to = "authorities" if f.get("to") == "authorities" else "platform"
        return await reports.do_file_report(
            page.ctx,
            page.me,
            group_id,
            kind,
            f.get("category", ""),
            f.get("statement", ""),
            form_int(page, "seq") if kind is TargetKind.message else None,
            form_int(page, "account_id") if kind is TargetKind.member else None,
            (),
            escalate_to=to,
        )

    return await _do(request, group_id, work, "reportup.done", to="/manage")
