"""Groups, rules, members, invitations, join requests and ownership transfer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import (
    MAX_ID,
    GroupIn,
    GroupOut,
    GroupPatchIn,
    IdInt,
    InvitationOut,
    InviteIn,
    JoinIn,
    JoinRequestIn,
    JoinRequestOut,
    Line,
    MemberOut,
    MembershipOut,
    OfferIn,
    OfferOut,
    RemoveIn,
    RoleIn,
    RulesAcceptIn,
    RulesIn,
    RulesOut,
    group_out_of_view,
)
from qunzu.domain.models import GroupRole
from qunzu.services import conversation, groups, membership

router = APIRouter(
    prefix="/v1", tags=["groups"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


@router.post("/groups", status_code=status.HTTP_201_CREATED, response_model=GroupOut)
async def create_group(body: GroupIn, ctx: Ctx, actor: CurrentActor) -> GroupOut:
    """Create a group; you become its owner (群主). Needs a verified identity."""
    group = await groups.do_create_group(
        ctx, actor, body.name, body.category, body.join_policy, body.discoverable, body.rules
    )
    view = await groups.get_group_view(ctx, actor, group.id)
    return group_out_of_view(view)


@router.get("/groups", response_model=list[GroupOut])
async def search_groups(
    ctx: Ctx,
    actor: CurrentActor,
    q: Annotated[Line, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> list[GroupOut]:
    """Discoverable groups, largest first."""
    return [GroupOut.of(g) for g in await groups.search_groups(ctx, q, limit, offset)]


@router.get("/me/groups", response_model=list[GroupOut])
async def my_groups(ctx: Ctx, actor: CurrentActor) -> list[GroupOut]:
    """Your groups, each with its unread and mention counts from your read cursor."""
    counts = await conversation.my_counts(ctx, actor)
    out = []
    for m, g in await groups.list_my_groups(ctx, actor):
        item = GroupOut.of(g, None, m)
        c = counts.get(g.id)
        if c is not None:
            item.unread, item.mentions = c.unread, c.mentions
        out.append(item)
    return out


@router.get("/groups/by-number/{number}", response_model=GroupOut)
async def group_by_number(
    number: Annotated[int, Path(ge=1, le=MAX_ID)], ctx: Ctx, actor: CurrentActor
) -> GroupOut:
    view = await groups.get_group_view_by_number(ctx, actor, number)
    return group_out_of_view(view)


@router.get("/groups/{group_id}", response_model=GroupOut)
async def group_profile(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> GroupOut:
    """The group profile: name, number, category, member count, owner's display name."""
    view = await groups.get_group_view(ctx, actor, group_id)
    return group_out_of_view(view)


@router.patch("/groups/{group_id}", response_model=GroupOut)
async def update_group(
    group_id: IdInt, body: GroupPatchIn, ctx: Ctx, actor: CurrentActor
) -> GroupOut:
    await groups.do_update_group(
        ctx, actor, group_id, body.name, body.join_policy, body.discoverable
    )
    view = await groups.get_group_view(ctx, actor, group_id)
    return group_out_of_view(view)


@router.post("/groups/{group_id}/dissolve", response_model=GroupOut)
async def dissolve_group(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> GroupOut:
    """Dissolve the group (owner only); its history stays readable to its members."""
    await groups.do_dissolve_group(ctx, actor, group_id)
    view = await groups.get_group_view(ctx, actor, group_id)
    return group_out_of_view(view)


@router.get("/groups/{group_id}/rules", response_model=RulesOut)
async def get_rules(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> RulesOut:
    r = await groups.get_rules(ctx, actor, group_id)
    return RulesOut(
        group_id=r.group_id, version=r.version, text=r.text, set_by=r.set_by, set_at=r.set_at
    )


@router.put("/groups/{group_id}/rules", response_model=RulesOut)
async def set_rules(group_id: IdInt, body: RulesIn, ctx: Ctx, actor: CurrentActor) -> RulesOut:
    """Publish a new version of the group rules (群规). Members accept it again before posting."""
    r = await groups.do_set_rules(ctx, actor, group_id, body.text)
    return RulesOut(
        group_id=r.group_id, version=r.version, text=r.text, set_by=r.set_by, set_at=r.set_at
    )


@router.post("/groups/{group_id}/rules/accept", response_model=MembershipOut)
async def accept_rules(
    group_id: IdInt, body: RulesAcceptIn, ctx: Ctx, actor: CurrentActor
) -> MembershipOut:
    return MembershipOut.of(await groups.do_accept_rules(ctx, actor, group_id, body.version))


@router.get("/groups/{group_id}/members", response_model=list[MemberOut])
async def list_members(
    group_id: IdInt,
    ctx: Ctx,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[MemberOut]:
    rows = await membership.list_members(ctx, actor, group_id, limit, offset)
    return [
        MemberOut(
            account_id=m.account_id, handle=h, display_name=d, role=m.role, joined_at=m.joined_at
        )
        for m, h, d in rows
    ]


@router.put("/groups/{group_id}/members/{account_id}/role", response_model=MembershipOut)
async def set_role(
    group_id: IdInt, account_id: IdInt, body: RoleIn, ctx: Ctx, actor: CurrentActor
) -> MembershipOut:
    m = await membership.do_set_role(ctx, actor, group_id, account_id, GroupRole(body.role))
    return MembershipOut.of(m)


@router.post("/groups/{group_id}/members/{account_id}/remove", response_model=MembershipOut)
async def remove_member(
    group_id: IdInt, account_id: IdInt, body: RemoveIn, ctx: Ctx, actor: CurrentActor
) -> MembershipOut:
    """Remove a member; with ``bar`` they cannot rejoin until the bar is lifted."""
    m = await membership.do_remove_member(
        ctx, actor, group_id, account_id, body.reason, bar=body.bar
    )
    return MembershipOut.of(m)


@router.delete("/groups/{group_id}/bars/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def lift_bar(group_id: IdInt, account_id: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    """Lift a bar on rejoining (owner, or an admin with the right to remove members)."""
    await membership.do_lift_bar(ctx, actor, group_id, account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/groups/{group_id}/leave", response_model=MembershipOut)
async def leave(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> MembershipOut:
    return MembershipOut.of(await membership.do_leave(ctx, actor, group_id))


@router.post(
    "/groups/{group_id}/join", status_code=status.HTTP_201_CREATED, response_model=MembershipOut
)
async def join(group_id: IdInt, body: JoinIn, ctx: Ctx, actor: CurrentActor) -> MembershipOut:
    """Join an open group, accepting the rules version you read."""
    return MembershipOut.of(await membership.do_join(ctx, actor, group_id, body.rules_version))


@router.post(
    "/groups/{group_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationOut,
)
async def invite(group_id: IdInt, body: InviteIn, ctx: Ctx, actor: CurrentActor) -> InvitationOut:
    return InvitationOut.of(await membership.do_invite(ctx, actor, group_id, body.handle))


@router.get("/me/invitations", response_model=list[InvitationOut])
async def my_invitations(ctx: Ctx, actor: CurrentActor) -> list[InvitationOut]:
    return [InvitationOut.of(i) for i in await membership.list_my_invitations(ctx, actor)]


@router.post(
    "/invitations/{invitation_id}/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=MembershipOut,
)
async def accept_invitation(
    invitation_id: IdInt, body: JoinIn, ctx: Ctx, actor: CurrentActor
) -> MembershipOut:
    m = await membership.do_accept_invitation(ctx, actor, invitation_id, body.rules_version)
    return MembershipOut.of(m)


@router.post("/invitations/{invitation_id}/decline", status_code=status.HTTP_204_NO_CONTENT)
async def decline_invitation(invitation_id: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    await membership.do_decline_invitation(ctx, actor, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/groups/{group_id}/join-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=JoinRequestOut,
)
async def request_join(
    group_id: IdInt, body: JoinRequestIn, ctx: Ctx, actor: CurrentActor
) -> JoinRequestOut:
    r = await membership.do_request_join(ctx, actor, group_id, body.note, body.rules_version)
    return JoinRequestOut.of(r)


@router.get("/groups/{group_id}/join-requests", response_model=list[JoinRequestOut])
async def join_requests(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> list[JoinRequestOut]:
    return [JoinRequestOut.of(r) for r in await membership.list_join_requests(ctx, actor, group_id)]


@router.post("/join-requests/{request_id}/approve", response_model=JoinRequestOut)
async def approve(request_id: IdInt, ctx: Ctx, actor: CurrentActor) -> JoinRequestOut:
    return JoinRequestOut.of(await membership.do_decide_join_request(ctx, actor, request_id, True))


@router.post("/join-requests/{request_id}/deny", response_model=JoinRequestOut)
async def deny(request_id: IdInt, ctx: Ctx, actor: CurrentActor) -> JoinRequestOut:
    return JoinRequestOut.of(await membership.do_decide_join_request(ctx, actor, request_id, False))


@router.post(
    "/groups/{group_id}/ownership-offers",
    status_code=status.HTTP_201_CREATED,
    response_model=OfferOut,
)
async def offer_ownership(
    group_id: IdInt, body: OfferIn, ctx: Ctx, actor: CurrentActor
) -> OfferOut:
    """Offer ownership to a member. It moves only when they accept."""
    return OfferOut.of(
        await membership.do_offer_ownership(ctx, actor, group_id, body.to_account_id)
    )


@router.post("/ownership-offers/{offer_id}/accept", response_model=OfferOut)
async def accept_offer(offer_id: IdInt, ctx: Ctx, actor: CurrentActor) -> OfferOut:
    return OfferOut.of(await membership.do_respond_ownership(ctx, actor, offer_id, True))


@router.post("/ownership-offers/{offer_id}/decline", response_model=OfferOut)
async def decline_offer(offer_id: IdInt, ctx: Ctx, actor: CurrentActor) -> OfferOut:
    """Decline (as the recipient) or cancel (as the owner who offered)."""
    return OfferOut.of(await membership.do_respond_ownership(ctx, actor, offer_id, False))
