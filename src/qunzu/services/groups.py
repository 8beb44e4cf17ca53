"""Groups (群组): creation, profile, settings, rules (群规) and dissolution."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from qunzu.domain import permissions as perm
from qunzu.domain.duty import DutyEvent, DutyEventKind
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import (
    Account,
    EntryKind,
    Group,
    GroupCategory,
    GroupKind,
    GroupRole,
    GroupRules,
    GroupState,
    JoinPolicy,
    Membership,
    MembershipState,
)
from qunzu.domain.owner_tools import AdminRight
from qunzu.domain.text import TextKind, text_problem
from qunzu.domain.tiers import activity_class
from qunzu.services import enforcement, governance
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.group_access import load_group, new_group_number
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import append_entry, notify

MAX_RULES_CHARS = 10_000


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group's profile as one viewer sees it (Art. 8 information page fields included)."""

    group: Group
    owner_display_name: str | None
    my_membership: Membership | None
    rules: GroupRules | None = None
    tier: str | None = None
    activity: str | None = None
    shows_info_page: bool = False  # Art. 8: larger groups show name, size, category, owner
    messages_last_day: int = 0
    last_activity_at: datetime | None = None


def normalize_group_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 64:
        raise InvalidInput("invalid_group_name", "A group name is 1 to 64 characters.")
    problem = text_problem(name, TextKind.line)
    if problem is not None:
        raise InvalidInput("invalid_group_name", f"A group name cannot contain {problem}.")
    return name


def normalize_rules_text(raw: str) -> str:
    text = raw.strip()
    if not 1 <= len(text) <= MAX_RULES_CHARS:
        raise InvalidInput("invalid_rules", f"Group rules are 1 to {MAX_RULES_CHARS} characters.")
    problem = text_problem(text, TextKind.prose)
    if problem is not None:
        raise InvalidInput("invalid_rules", f"Group rules cannot contain {problem}.")
    return text


async def do_create_group(
    ctx: ServiceContext,
    actor: Actor,
    name: str,
    category: GroupCategory,
    join_policy: JoinPolicy = JoinPolicy.invite_only,
    discoverable: bool = False,
    rules_text: str | None = None,
) -> Group:
    """Create a group; the creator becomes its owner (群主) and answers for it (P7)."""
    perm.check_can_create_group(actor.account)
    name = normalize_group_name(name)
    rules = normalize_rules_text(rules_text) if rules_text is not None else None
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        await enforcement.check_may_create(ctx, uow, actor.id)
        await governance.check_can_create_more(ctx, uow, actor.id)
        draft = Group(
            id=0,
            number=await new_group_number(uow),
            kind=GroupKind.group,
            name=name,
            category=category,
            join_policy=join_policy,
            discoverable=discoverable,
            owner_id=actor.id,
            state=GroupState.active,
            created_at=now,
            member_count=1,
        )
        group = await uow.groups.add(draft)
        await uow.activity.init_group(group.id, actor.id, governance.compute_tier(ctx, group).value)
        created = await append_entry(
            ctx,
            uow,
            group.id,
            EntryKind.group_created,
            actor.id,
            data={"name": name, "category": category.value, "account_id": actor.id},
        )
        version = (
            0 if rules is None else await _publish_first_rules(ctx, uow, group.id, actor, rules)
        )
        await uow.memberships.put(
            Membership(
                group_id=group.id,
                account_id=actor.id,
                role=GroupRole.owner,
                state=MembershipState.active,
                joined_at=now,
                joined_seq=created.seq,
                accepted_rules_version=version,
            )
        )
        notify(uow, actor.id, "membership_added", group_id=group.id, joined_seq=created.seq)
        fresh = await uow.groups.get(group.id)
    assert fresh is not None
    return fresh


async def get_group_view(ctx: ServiceContext, actor: Actor, group_id: int) -> GroupView:
    async with transaction(ctx, write=False) as uow:
        group = await uow.groups.get(group_id)
        membership = await uow.memberships.get(group_id, actor.id) if group else None
        pending = (
            await uow.invitations.pending_for(group_id, actor.id)
            if group is not None and membership is None and not group.discoverable
            else None
        )
        # An expired invitation no longer opens the door, not even to look.
        invited = pending is not None and pending.expires_at > ctx.clock.now()
        if invited:
            # An invitee may see what they are invited to.
            assert group is not None
            return await _view(ctx, uow, group, None)
        group = perm.check_visible(group, membership)
        return await _view(ctx, uow, group, membership)


async def get_group_view_by_number(ctx: ServiceContext, actor: Actor, number: int) -> GroupView:
    async with transaction(ctx, write=False) as uow:
        group = await uow.groups.get_by_number(number)
    if group is None:
        raise NotFound("group_not_found", "No such group.")
    return await get_group_view(ctx, actor, group.id)


async def _view(
    ctx: ServiceContext, uow: UnitOfWork, group: Group, membership: Membership | None
) -> GroupView:
    owner: Account | None = await uow.accounts.get(group.owner_id) if group.owner_id else None
    rules = await uow.rules.get(group.id, group.rules_version) if group.rules_version else None
    book = governance.book(ctx)
    now = ctx.clock.now()
    record = await uow.activity.get_group(group.id)
    tier = record.tier if record else governance.compute_tier(ctx, group).value
    recent = await uow.activity.messages_since(group.id, now - governance.DAY)
    # A new group is as active as its creation, not dormant from birth.
    last_active = (record.last_activity_at if record else None) or group.created_at
    activity = activity_class(last_active, recent, now, book.activity)
    return GroupView(
        group,
        owner.display_name if owner else None,
        membership,
        rules,
        tier,
        activity.value,
        group.member_count > book.info_page_min_members,
        recent,
        record.last_activity_at if record else None,
    )


async def list_my_groups(ctx: ServiceContext, actor: Actor) -> list[tuple[Membership, Group]]:
    async with transaction(ctx, write=False) as uow:
        return await uow.memberships.for_account(actor.id, active_only=True)


async def _publish_first_rules(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int, actor: Actor, rules: str
) -> int:
    """A new group's rules, given at creation: version 1, on the timeline and the duty ledger."""
    now = ctx.clock.now()
    await uow.rules.add(GroupRules(group_id, 1, rules, actor.id, now))
    await uow.groups.update(group_id, rules_version=1)
    await append_entry(ctx, uow, group_id, EntryKind.rules_changed, actor.id, data={"version": 1})
    await uow.owner.add_duty(
        group_id, DutyEvent(now, DutyEventKind.rules_published, actor.id, note="version 1")
    )
    return 1


async def search_groups(ctx: ServiceContext, query: str, limit: int, offset: int) -> list[Group]:
    if text_problem(query, TextKind.line) is not None:
        return []  # no group name holds one (and PostgreSQL refuses a NUL as a parameter)
    async with transaction(ctx, write=False) as uow:
        return await uow.groups.search_discoverable(query.strip()[:64], limit, offset)


async def do_update_group(
    ctx: ServiceContext,
    actor: Actor,
    group_id: int,
    name: str | None = None,
    join_policy: JoinPolicy | None = None,
    discoverable: bool | None = None,
) -> Group:
    """Rename or change how people join. Owner only; recorded in the timeline."""
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = normalize_group_name(name)
    if join_policy is not None:
        changes["join_policy"] = join_policy
    if discoverable is not None:
        changes["discoverable"] = discoverable
    if not changes:
        raise InvalidInput("nothing_to_change", "Name at least one setting to change.")
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_allowed(group, membership, perm.Action.dissolve)  # owner-only settings
        await enforcement.check_may_manage(ctx, uow, actor.id, group_id)
        perm.check_active(group)
        await uow.groups.update(group_id, **changes)
        await append_entry(
            ctx,
            uow,
            group_id,
            EntryKind.group_updated,
            actor.id,
            data={k: getattr(v, "value", v) for k, v in changes.items()},
        )
        await governance.refresh_tier(ctx, uow, group_id)
        fresh = await uow.groups.get(group_id)
    assert fresh is not None
    return fresh


async def do_dissolve_group(ctx: ServiceContext, actor: Actor, group_id: int) -> Group:
    """Dissolve (解散): the group becomes read-only history. Owner only."""
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        perm.check_allowed(group, membership, perm.Action.dissolve)
        await enforcement.check_may_manage(ctx, uow, actor.id, group_id)
        perm.check_active(group)
        await uow.groups.update(group_id, state=GroupState.dissolved)
        await append_entry(
            ctx,
            uow,
            group_id,
            EntryKind.group_state_changed,
            actor.id,
            data={"state": GroupState.dissolved.value},
        )
        fresh = await uow.groups.get(group_id)
    assert fresh is not None
    return fresh


async def do_set_rules(ctx: ServiceContext, actor: Actor, group_id: int, text: str) -> GroupRules:
    """Publish a new version of the group rules; every member accepts it again before posting."""
    body = normalize_rules_text(text)
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        member = perm.check_allowed(group, membership, perm.Action.edit_rules)
        await enforcement.check_may_manage(ctx, uow, actor.id, group_id)
        perm.check_active(group)
        if member.role is GroupRole.admin and AdminRight.edit_rules.value not in (
            await uow.owner.get_rights(group_id, actor.id)
        ):
            raise Forbidden(
                "right_required",
                "This needs the admin right 'edit_rules'.",
                right=AdminRight.edit_rules.value,
            )
        version = group.rules_version + 1
        rules = GroupRules(group_id, version, body, actor.id, ctx.clock.now())
        await uow.rules.add(rules)
        await uow.groups.update(group_id, rules_version=version)
        # The author has read what they wrote.
        await uow.memberships.put(_replace(member, accepted_rules_version=version))
        await append_entry(
            ctx, uow, group_id, EntryKind.rules_changed, actor.id, data={"version": version}
        )
        kind = DutyEventKind.rules_published if version == 1 else DutyEventKind.rules_changed
        await uow.owner.add_duty(
            group_id, DutyEvent(ctx.clock.now(), kind, actor.id, note=f"version {version}")
        )
    return rules


async def get_rules(ctx: ServiceContext, actor: Actor, group_id: int) -> GroupRules:
    view = await get_group_view(ctx, actor, group_id)
    if view.rules is None:
        raise NotFound("rules_not_set", "This group has no rules yet.")
    return view.rules


async def do_accept_rules(
    ctx: ServiceContext, actor: Actor, group_id: int, version: int
) -> Membership:
    async with transaction(ctx) as uow:
        group, membership = await load_group(uow, actor.id, group_id)
        member = perm.check_member(group, membership)
        if group.rules_version == 0:
            raise Conflict("rules_not_set", "This group has no rules to accept.")
        perm.check_rules_version(group, version)
        if member.accepted_rules_version == version:
            return member
        updated = _replace(member, accepted_rules_version=version)
        await uow.memberships.put(updated)
    return updated


def _replace(m: Membership, **changes: Any) -> Membership:

    return replace(m, **changes)
