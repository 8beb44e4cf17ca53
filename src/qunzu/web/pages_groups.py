"""Finding and joining groups: my groups, discover, a group's information page, join or
ask to join, invitations, direct chats, new groups, ownership offers, and reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qunzu.domain.errors import DomainError, InvalidInput
from qunzu.domain.models import GroupCategory, JoinPolicy
from qunzu.domain.reports import TargetKind
from qunzu.services import (
    agreement,
    groups,
    membership,
    messaging,
    overview,
    reports,
    rulebook,
)
from qunzu.web.page import MAX_PAGE_ID, IdPath, act, form_int, load, load_form, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request) -> Response:
    page = await load(request, login=False)
    if page.actor is None:
        return render(page, "landing.html", title=page.tr("landing.title"))
    if await agreement.needs_agreement(page.ctx, page.actor):
        return redirect(page, "/agreement?next=/")
    inbox = await overview.list_inbox(page.ctx, page.me)
    invitations = await membership.list_my_invitations(page.ctx, page.me)
    offers = await overview.list_offers_to_me(page.ctx, page.me)
    invited_to: dict[int, str] = {}
    for i in invitations:
        try:
            invited_to[i.group_id] = (
                await groups.get_group_view(page.ctx, page.me, i.group_id)
            ).group.name
        except DomainError:
            continue
    return render(
        page,
        "home.html",
        title=page.tr("home.title"),
        section="groups",
        inbox=inbox,
        invitations=[i for i in invitations if i.group_id in invited_to],
        invited_to=invited_to,
        offers=offers,
        cursors=",".join(f"{i.group.id}:{i.group.last_seq}" for i in inbox),
        now=page.now(),
    )


@router.get("/discover")
async def discover(
    request: Request,
    q: Annotated[str, Query(max_length=64)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    page = await load(request)
    found = await groups.search_groups(page.ctx, q, 21, offset)
    return render(
        page,
        "discover.html",
        title=page.tr("discover.title"),
        section="discover",
        q=q,
        found=found[:20],
        more=len(found) > 20,
        offset=offset,
    )


@router.get("/groups/new")
async def new_group_form(request: Request) -> Response:
    page = await load(request)
    return render(
        page,
        "new_group.html",
        title=page.tr("newgroup.title"),
        section="groups",
        categories=[c.value for c in GroupCategory],
        policies=[p.value for p in JoinPolicy],
    )


@router.post("/groups/new")
async def create_group(request: Request) -> Response:
    page = await load_form(request)
    f = page.form

    async def work() -> int:
        try:
            category = GroupCategory(f.get("category", ""))
            policy = JoinPolicy(f.get("join_policy", JoinPolicy.invite_only.value))
        except ValueError:
            raise InvalidInput("invalid_category", "Choose a category from the list.") from None
        rules = f.get("rules", "").strip() or None
        group = await groups.do_create_group(
            page.ctx,
            page.me,
            f.get("name", ""),
            category,
            policy,
            f.get("discoverable") == "yes",
            rules,
        )
        return group.id

    return await act(
        page, work, lambda gid: f"/g/{gid}", page.tr("newgroup.done"), back="/groups/new"
    )


@router.get("/g/{group_id}/info")
async def group_info(request: Request, group_id: IdPath) -> Response:
    page = await load(request)
    try:
        info = await groups.get_group_view(page.ctx, page.me, group_id)
    except DomainError as exc:
        return render(
            page, "error.html", 404, title=page.tr("error.title"), message=page.tr.error(exc)
        )
    member = info.my_membership is not None and info.my_membership.is_active
    members = []
    if member:
        members = await membership.list_members(page.ctx, page.me, group_id, 100, 0)
    invitation = None
    if not member:
        invitation = next(
            (
                i
                for i in await membership.list_my_invitations(page.ctx, page.me)
                if i.group_id == group_id
            ),
            None,
        )
    return render(
        page,
        "group_info.html",
        title=info.group.name or page.tr("direct.title"),
        section="groups",
        info=info,
        member=member,
        members=members,
        invitation=invitation,
    )


@router.post("/g/{group_id}/join")
async def join(request: Request, group_id: IdPath) -> Response:
    page = await load_form(request)
    version = form_int(page, "rules_version")
    return await act(
        page,
        lambda: membership.do_join(page.ctx, page.me, group_id, version or None),
        f"/g/{group_id}",
        page.tr("join.done"),
        back=f"/g/{group_id}/info",
    )


@router.post("/g/{group_id}/ask")
async def ask_to_join(request: Request, group_id: IdPath) -> Response:
    page = await load_form(request)
    version = form_int(page, "rules_version")
    note = page.form.get("note", "")
    return await act(
        page,
        lambda: membership.do_request_join(page.ctx, page.me, group_id, note, version or None),
        f"/g/{group_id}/info",
        page.tr("join.asked"),
    )


@router.post("/g/{group_id}/leave")
async def leave(request: Request, group_id: IdPath) -> Response:
    page = await load_form(request)
    return await act(
        page,
        lambda: membership.do_leave(page.ctx, page.me, group_id),
        "/",
        page.tr("leave.done"),
        back=f"/g/{group_id}/info",
    )


@router.post("/invitations/{invitation_id}/accept")
async def accept_invitation(request: Request, invitation_id: IdPath) -> Response:
    page = await load_form(request)
    version = form_int(page, "rules_version")
    return await act(
        page,
        lambda: membership.do_accept_invitation(page.ctx, page.me, invitation_id, version or None),
        lambda m: f"/g/{m.group_id}",
        page.tr("join.done"),
        back="/",
    )


@router.post("/invitations/{invitation_id}/decline")
async def decline_invitation(request: Request, invitation_id: IdPath) -> Response:
    page = await load_form(request)
    return await act(
        page,
        lambda: membership.do_decline_invitation(page.ctx, page.me, invitation_id),
        "/",
        page.tr("invitation.declined"),
    )


@router.post("/offers/{offer_id}/{answer}")
async def answer_offer(request: Request, offer_id: IdPath, answer: str) -> Response:
    page = await load_form(request)
    accept = answer == "accept"
    return await act(
        page,
        lambda: membership.do_respond_ownership(page.ctx, page.me, offer_id, accept),
        lambda o: f"/g/{o.group_id}/info",
        page.tr("offer.accepted" if accept else "offer.declined"),
        back="/",
    )


@router.post("/direct")
async def open_direct(request: Request) -> Response:
    page = await load_form(request)
    handle = page.form.get("handle", "")
    return await act(
        page,
        lambda: messaging.do_open_direct(page.ctx, page.me, handle),
        lambda g: f"/g/{g.id}",
        back="/",
    )


# ---- reports ------------------------------------------------------------------------------


@router.get("/g/{group_id}/report")
async def report_form(
    request: Request,
    group_id: IdPath,
    seq: Annotated[int | None, Query(ge=1, le=MAX_PAGE_ID)] = None,
    account: Annotated[int | None, Query(ge=1, le=MAX_PAGE_ID)] = None,
) -> Response:
    page = await load(request)
    try:
        info = await groups.get_group_view(page.ctx, page.me, group_id)
    except DomainError as exc:
        return render(
            page, "error.html", 404, title=page.tr("error.title"), message=page.tr.error(exc)
        )
    kind = "message" if seq else "member" if account else "group"
    subject = None
    if account:
        subject = (await overview.accounts_by_id(page.ctx, [account])).get(account)
    return render(
        page,
        "report.html",
        title=page.tr("report.title"),
        section="groups",
        info=info,
        kind=kind,
        seq=seq,
        account=account,
        subject=subject,
        categories=rulebook.rulebook_in_force(page.ctx).report_categories.values(),
    )


@router.post("/g/{group_id}/report")
async def file_report(request: Request, group_id: IdPath) -> Response:
    page = await load_form(request)
    f = page.form

    async def work() -> int:
        try:
            kind = TargetKind(f.get("kind", ""))
        except ValueError:
            raise InvalidInput("invalid_target", "Choose what you report.") from None
        receipt = await reports.do_file_report(
            page.ctx,
            page.me,
            group_id,
            kind,
            f.get("category", ""),
            f.get("statement", ""),
            form_int(page, "seq") if kind is TargetKind.message else None,
            form_int(page, "account_id") if kind is TargetKind.member else None,
            (),
        )
        return receipt.report.id

    return await act(
        page,
        work,
        lambda report_id: f"/me/reports#r-{report_id}",
        page.tr("report.filed"),
        back=f"/g/{group_id}/report",
    )
