"""Owner and admin tools, the duty-of-care ledger, and unattended groups (Art. 9; P7)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import IdInt
from qunzu.api.schemas_owner import (
    AssignOwnerIn,
    ControlsOut,
    DutyEventOut,
    MuteAllIn,
    MuteIn,
    MuteOut,
    NoticeIn,
    OwnedGroupOut,
    ReadIn,
    ReadOut,
    RemoveMessageIn,
    ReportUpIn,
    RightsIn,
    RightsOut,
    SlowModeIn,
)
from qunzu.api.schemas_reports import ReceiptOut
from qunzu.domain.reports import TargetKind
from qunzu.services import attendance, owner_tools, reports

router = APIRouter(
    prefix="/v1", tags=["owner tools"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


@router.put("/groups/{group_id}/admins/{account_id}", response_model=RightsOut)
async def appoint_admin(
    group_id: IdInt, account_id: IdInt, body: RightsIn, ctx: Ctx, actor: CurrentActor
) -> RightsOut:
    """Appoint an admin with granular rights, or change them. You grant only rights you hold."""
    rights = await owner_tools.do_appoint_admin(ctx, actor, group_id, account_id, body.rights)
    return RightsOut(
        group_id=group_id, account_id=account_id, rights=sorted(r.value for r in rights)
    )


@router.post("/groups/{group_id}/messages/{seq}/remove", status_code=status.HTTP_204_NO_CONTENT)
async def remove_message(
    group_id: IdInt, seq: IdInt, body: RemoveMessageIn, ctx: Ctx, actor: CurrentActor
) -> Response:
    """Remove a message; its sender is told the reason."""
    await owner_tools.do_remove_message(ctx, actor, group_id, seq, body.reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/groups/{group_id}/members/{account_id}/mute", response_model=MuteOut)
async def mute(
    group_id: IdInt, account_id: IdInt, body: MuteIn, ctx: Ctx, actor: CurrentActor
) -> MuteOut:
    until = await owner_tools.do_mute_member(
        ctx, actor, group_id, account_id, body.minutes, body.reason
    )
    return MuteOut(account_id=account_id, until=until)


@router.delete(
    "/groups/{group_id}/members/{account_id}/mute", status_code=status.HTTP_204_NO_CONTENT
)
async def unmute(group_id: IdInt, account_id: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    await owner_tools.do_unmute_member(ctx, actor, group_id, account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/groups/{group_id}/mute-all", response_model=ControlsOut)
async def mute_all(group_id: IdInt, body: MuteAllIn, ctx: Ctx, actor: CurrentActor) -> ControlsOut:
    """Mute all (全员禁言): only the owner and admins may post while it is on."""
    return ControlsOut.of(await owner_tools.do_set_mute_all(ctx, actor, group_id, body.on))


@router.put("/groups/{group_id}/slow-mode", response_model=ControlsOut)
async def slow_mode(
    group_id: IdInt, body: SlowModeIn, ctx: Ctx, actor: CurrentActor
) -> ControlsOut:
    """Slow mode: 0, 10, 30, 60, 300, 900 or 3600 seconds between a member's messages."""
    return ControlsOut.of(await owner_tools.do_set_slow_mode(ctx, actor, group_id, body.seconds))


@router.put("/groups/{group_id}/notice", response_model=ControlsOut)
async def pin_notice(group_id: IdInt, body: NoticeIn, ctx: Ctx, actor: CurrentActor) -> ControlsOut:
    """Pin the group notice (群公告); an empty text unpins it."""
    return ControlsOut.of(await owner_tools.do_pin_notice(ctx, actor, group_id, body.text))


@router.get("/groups/{group_id}/controls", response_model=ControlsOut)
async def controls(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> ControlsOut:
    return ControlsOut.of(await owner_tools.get_controls(ctx, actor, group_id))


@router.post("/groups/{group_id}/read", response_model=ReadOut)
async def mark_read(group_id: IdInt, body: ReadIn, ctx: Ctx, actor: CurrentActor) -> ReadOut:
    """Move your read cursor (a manager's cursor past a message is notice of it)."""
    seq = await owner_tools.do_mark_read(ctx, actor, group_id, body.seq)
    return ReadOut(group_id=group_id, seq=seq)


@router.post(
    "/groups/{group_id}/report-up", status_code=status.HTTP_201_CREATED, response_model=ReceiptOut
)
async def report_up(group_id: IdInt, body: ReportUpIn, ctx: Ctx, actor: CurrentActor) -> ReceiptOut:
    """As owner or admin, report to the platform, or to the authorities through the platform."""
    receipt = await reports.do_file_report(
        ctx,
        actor,
        group_id,
        TargetKind(body.target.kind),
        body.category,
        body.statement,
        body.target.seq,
        body.target.account_id,
        (),
        escalate_to=body.to,
    )
    return ReceiptOut.of(receipt.report, receipt.case)


@router.get("/groups/{group_id}/duty-ledger", response_model=list[DutyEventOut])
async def duty_ledger(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> list[DutyEventOut]:
    """The group's duty-of-care ledger (owner and admins only)."""
    events = await owner_tools.read_duty_ledger(ctx, actor, group_id)
    return [
        DutyEventOut(
            at=e.at,
            kind=e.kind.value,
            account_id=e.account_id,
            seq=e.seq,
            subject_id=e.subject_id,
            case_id=e.case_id,
            note=e.note,
        )
        for e in events
    ]


@router.get("/me/owned-groups", response_model=list[OwnedGroupOut])
async def owned_groups(ctx: Ctx, actor: CurrentActor) -> list[OwnedGroupOut]:
    """What an owner needs to stay exempt: notices with time left, warnings in force,
    whether rules are published, and unattended status."""
    now = ctx.clock.now()
    out = []
    for o in await owner_tools.list_owned_groups(ctx, actor):
        state = (
            "read_only"
            if o.controls.read_only_since
            else "unattended"
            if o.controls.unattended_since
            else "attended"
        )
        out.append(
            OwnedGroupOut(
                group_id=o.group.id,
                name=o.group.name,
                number=o.group.number,
                tier=o.tier,
                rules_published=o.rules_published,
                open_notices=[
                    {
                        "case_id": cid,
                        "respond_by": by.isoformat(),
                        "seconds_left": max(0, int((by - now).total_seconds())),
                    }
                    for cid, by in o.open_notices
                ],
                warnings_in_force=o.warnings_in_force,
                attendance=state,
                controls=ControlsOut.of(o.controls),
            )
        )
    return out


@router.post("/groups/{group_id}/claim", status_code=status.HTTP_204_NO_CONTENT)
async def claim(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    """An admin takes over an unattended group."""
    await attendance.do_claim_ownership(ctx, actor, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/platform/ownership-decisions", status_code=status.HTTP_204_NO_CONTENT)
async def assign_owner(body: AssignOwnerIn, ctx: Ctx, actor: CurrentActor) -> Response:
    """A platform decision: a new owner for an unattended group with no admins. Audited."""
    await attendance.do_assign_owner(ctx, actor, body.group_id, body.account_id, body.reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
