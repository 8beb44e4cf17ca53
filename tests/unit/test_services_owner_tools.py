"""Owner and admin tools through the services, over the fakes: bars on rejoining, tools
suspended with a group's posting, granting rights, read cursors and taking ownership."""

from __future__ import annotations

from datetime import timedelta

from qunzu.domain.clock import FrozenClock
from qunzu.domain.duty import DutyEventKind
from qunzu.domain.errors import Forbidden, NotFound
from qunzu.domain.models import JoinPolicy
from qunzu.domain.rulebook import RulebookSet, SanctionTarget
from qunzu.domain.sanctions import Sanction, SanctionState
from qunzu.policy import parse_rulebook
from qunzu.services.attendance import do_claim_ownership, sweep_unattended
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.membership import (
    do_invite,
    do_join,
    do_lift_bar,
    do_remove_member,
    do_request_join,
    list_bars,
)
from qunzu.services.messaging import do_send_message
from qunzu.services.owner_tools import (
    do_appoint_admin,
    do_mark_read,
    do_mute_member,
    do_pin_notice,
    do_remove_message,
    do_set_mute_all,
    read_duty_ledger,
)
from tests.fakes import make_ctx
from tests.rulebooks import generous_rulebook_text
from tests.unit.world import (
    committed_membership,
    group_of,
    make_group,
    refresh,
    refusal,
    users,
)

# ---- bars on rejoining --------------------------------------------------------------------


async def test_a_barred_account_cannot_rejoin_an_open_group_until_the_bar_is_lifted() -> None:
    ctx = make_ctx()
    owner, member = await users(ctx, "owner", "member")
    group = await make_group(ctx, owner, join_policy=JoinPolicy.open, discoverable=True)
    await do_join(ctx, member, group.id)
    await do_remove_member(ctx, owner, group.id, member.id, "spam", bar=True)
    assert await refusal(do_join(ctx, member, group.id), Forbidden) == "barred"
    await do_lift_bar(ctx, owner, group.id, member.id)
    assert (await do_join(ctx, member, group.id)).is_active


async def test_a_barred_account_cannot_request_to_join_or_be_invited() -> None:
    ctx = make_ctx()
    [owner, member], group = await group_of(
        ctx, "owner", "member", join_policy=JoinPolicy.approval, discoverable=True
    )
    await do_remove_member(ctx, owner, group.id, member.id, bar=True)
    assert await refusal(do_request_join(ctx, member, group.id), Forbidden) == "barred"
    assert await refusal(do_invite(ctx, owner, group.id, member.id), Forbidden) == "barred"


async def test_removal_without_a_bar_leaves_no_bar_to_lift() -> None:
    ctx = make_ctx()
    [owner, member], group = await group_of(ctx, "owner", "member")
    await do_remove_member(ctx, owner, group.id, member.id, "cool off")
    assert await refusal(do_lift_bar(ctx, owner, group.id, member.id), NotFound) == "not_barred"


async def test_a_barred_removal_is_in_the_ledger_as_a_removal() -> None:
    ctx = make_ctx()
    [owner, member], group = await group_of(ctx, "owner", "member")
    await do_remove_member(ctx, owner, group.id, member.id, "abuse", bar=True)
    (event,) = [
        e for e in await read_duty_ledger(ctx, owner, group.id) if e.subject_id == member.id
    ]
    assert (event.kind, event.note) == (DutyEventKind.member_removed, "barred: abuse")


# ---- tools under a posting suspension -----------------------------------------------------


async def _suspend_posting(ctx: ServiceContext, group_id: int, days: int = 3) -> None:
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        await uow.reports.add_sanction(
            Sanction(
                id=0,
                case_id=1,
                kind="posting_suspension",
                target=SanctionTarget.group,
                group_id=group_id,
                account_id=None,
                article="art-10",
                rulebook_version="test",
                facts="test",
                decided_by=1,
                automated=False,
                starts_at=now,
                ends_at=now + timedelta(days=days),
                state=SanctionState.active,
                appeal_until=now + timedelta(days=180),
            )
        )


def _rulebooks(suspend: bool) -> RulebookSet:
    text = generous_rulebook_text().replace(
        "suspend_tools_under_posting_suspension = true",
        f"suspend_tools_under_posting_suspension = {str(suspend).lower()}",
    )
    return RulebookSet([parse_rulebook(text, "test.toml")])


async def test_tools_are_suspended_with_the_groups_posting_where_the_rulebook_says_so() -> None:
    ctx = make_ctx(clock=FrozenClock(), rulebooks=_rulebooks(True))
    [owner, member], group = await group_of(ctx, "owner", "member")
    await _suspend_posting(ctx, group.id, days=2)
    assert (
        await refusal(do_set_mute_all(ctx, owner, group.id, True), Forbidden) == "tools_suspended"
    )
    assert await refusal(do_pin_notice(ctx, owner, group.id, "x"), Forbidden) == "tools_suspended"
    assert (
        await refusal(do_remove_member(ctx, owner, group.id, member.id), Forbidden)
        == "tools_suspended"
    )
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(timedelta(days=2))
    owner = await refresh(ctx, owner)
    assert (await do_set_mute_all(ctx, owner, group.id, True)).mute_all


async def test_tools_stay_open_under_posting_suspension_when_the_rulebook_says_no() -> None:
    ctx = make_ctx(rulebooks=_rulebooks(False))
    [owner, _member], group = await group_of(ctx, "owner", "member")
    await _suspend_posting(ctx, group.id)
    assert (await do_set_mute_all(ctx, owner, group.id, True)).mute_all


def test_a_rulebook_without_an_owner_tools_section_keeps_tools_open() -> None:
    text = generous_rulebook_text()
    start = text.index("[owner_tools]")
    book = parse_rulebook(text[:start], "old.toml")
    assert book.suspend_tools_under_posting_suspension is False
    assert parse_rulebook(text, "new.toml").suspend_tools_under_posting_suspension is True


# ---- rights and read cursors --------------------------------------------------------------


async def test_an_admin_grants_only_rights_they_hold() -> None:
    ctx = make_ctx()
    [owner, admin, other], group = await group_of(ctx, "owner", "admin", "other")
    await do_appoint_admin(ctx, owner, group.id, admin.id, ["appoint_admins", "pin_notices"])
    call = do_appoint_admin(ctx, admin, group.id, other.id, ["pin_notices", "mute"])
    assert await refusal(call, Forbidden) == "cannot_grant"
    granted = await do_appoint_admin(ctx, admin, group.id, other.id, ["pin_notices"])
    assert {r.value for r in granted} == {"pin_notices"}


async def test_only_a_managers_read_cursor_enters_the_ledger() -> None:
    ctx = make_ctx()
    [owner, member], group = await group_of(ctx, "owner", "member")
    sent = await do_send_message(ctx, member, group.id, "hello", "t1")
    await do_mark_read(ctx, member, group.id, sent.entry.seq)
    await do_mark_read(ctx, owner, group.id, sent.entry.seq)
    reads = [
        e
        for e in await read_duty_ledger(ctx, owner, group.id)
        if e.kind is DutyEventKind.message_read
    ]
    assert [(e.account_id, e.seq) for e in reads] == [(owner.id, sent.entry.seq)]


# ---- taking ownership ---------------------------------------------------------------------


async def test_a_claimed_group_is_not_found_unattended_again_by_the_next_sweep() -> None:
    clock = FrozenClock()
    ctx = make_ctx(clock=clock)
    [owner, admin, member], group = await group_of(ctx, "owner", "admin", "member")
    await do_appoint_admin(ctx, owner, group.id, admin.id, ["mute"])
    policy = ctx.rulebooks.latest.attendance
    clock.advance(timedelta(days=policy.inactive_days + 1))
    await do_send_message(ctx, member, group.id, "anyone?", "t2")
    assert (await sweep_unattended(ctx))["unattended"] == 1
    await do_claim_ownership(ctx, admin, group.id)
    clock.advance(timedelta(days=1))
    assert await sweep_unattended(ctx) == {"unattended": 0, "read_only": 0, "attended": 0}


# ---- changing and taking away rights; the owner is the owner's alone ----------------------


async def _rights(ctx: ServiceContext, group_id: int, account_id: int) -> set[str]:
    async with ctx.uow(write=False) as uow:
        return set(await uow.owner.get_rights(group_id, account_id))


async def test_an_admin_with_fewer_rights_cannot_strip_a_fuller_admin() -> None:
    ctx = make_ctx()
    [owner, lesser, fuller], group = await group_of(ctx, "owner", "lesser", "fuller")
    await do_appoint_admin(ctx, owner, group.id, lesser.id, ["appoint_admins", "pin_notices"])
    full = ["appoint_admins", "pin_notices", "mute", "remove_members"]
    await do_appoint_admin(ctx, owner, group.id, fuller.id, full)
    call = do_appoint_admin(ctx, lesser, group.id, fuller.id, ["pin_notices"])
    assert await refusal(call, Forbidden) == "cannot_revoke"
    assert await _rights(ctx, group.id, fuller.id) == set(full)


async def test_an_admin_takes_away_only_rights_they_hold_themselves() -> None:
    ctx = make_ctx()
    [owner, senior, junior], group = await group_of(ctx, "owner", "senior", "junior")
    await do_appoint_admin(
        ctx, owner, group.id, senior.id, ["appoint_admins", "mute", "pin_notices"]
    )
    await do_appoint_admin(ctx, owner, group.id, junior.id, ["mute", "pin_notices"])
    await do_appoint_admin(ctx, senior, group.id, junior.id, ["mute"])
    assert await _rights(ctx, group.id, junior.id) == {"mute"}


async def test_the_owner_takes_away_any_admins_rights() -> None:
    ctx = make_ctx()
    [owner, admin], group = await group_of(ctx, "owner", "admin")
    await do_appoint_admin(ctx, owner, group.id, admin.id, ["appoint_admins", "mute"])
    assert await do_appoint_admin(ctx, owner, group.id, admin.id, []) == frozenset()
    assert await _rights(ctx, group.id, admin.id) == set()


async def test_no_admin_touches_the_owner() -> None:
    ctx = make_ctx()
    [owner, admin], group = await group_of(ctx, "owner", "admin")
    everything = ["appoint_admins", "mute", "remove_members", "remove_messages"]
    await do_appoint_admin(ctx, owner, group.id, admin.id, everything)
    calls = {
        "rights": do_appoint_admin(ctx, admin, group.id, owner.id, []),
        "mute": do_mute_member(ctx, admin, group.id, owner.id, 10, "quiet"),
        "remove": do_remove_member(ctx, admin, group.id, owner.id, "out"),
        "bar": do_remove_member(ctx, admin, group.id, owner.id, "out", bar=True),
    }
    for name, call in calls.items():
        assert await refusal(call, Forbidden) == "not_permitted", name
    assert (await committed_membership(ctx, group.id, owner.id)).is_active  # type: ignore[union-attr]


async def test_an_admin_may_not_remove_the_owners_message() -> None:
    ctx = make_ctx()
    [owner, admin], group = await group_of(ctx, "owner", "admin")
    await do_appoint_admin(ctx, owner, group.id, admin.id, ["remove_messages"])
    sent = await do_send_message(ctx, owner, group.id, "the owner speaks", "o1")
    call = do_remove_message(ctx, admin, group.id, sent.entry.seq, "no")
    assert await refusal(call, Forbidden) == "not_permitted"
    async with ctx.uow(write=False) as uow:
        kept = await uow.timeline.get(group.id, sent.entry.seq)
    assert kept is not None and kept.body == "the owner speaks"


async def test_only_the_owner_or_that_admin_removes_an_admins_message() -> None:
    ctx = make_ctx()
    [owner, first, second], group = await group_of(ctx, "owner", "first", "second")
    for admin in (first, second):
        await do_appoint_admin(ctx, owner, group.id, admin.id, ["remove_messages"])
    one = await do_send_message(ctx, first, group.id, "one", "a1")
    two = await do_send_message(ctx, first, group.id, "two", "a2")
    call = do_remove_message(ctx, second, group.id, one.entry.seq, "no")
    assert await refusal(call, Forbidden) == "not_permitted"
    await do_remove_message(ctx, first, group.id, one.entry.seq, "my own")
    await do_remove_message(ctx, owner, group.id, two.entry.seq, "owner's call")
    async with ctx.uow(write=False) as uow:
        bodies = [(await uow.timeline.get(group.id, s.entry.seq)) for s in (one, two)]
    assert [b.body if b else "?" for b in bodies] == [None, None]


# ---- listing bars ---------------------------------------------------------------------------


async def test_the_bar_list_names_each_barred_account_newest_first_until_lifted() -> None:
    clock = FrozenClock()
    ctx = make_ctx(clock=clock)
    [owner, first, second], group = await group_of(ctx, "owner", "first", "second")
    await do_remove_member(ctx, owner, group.id, first.id, "spam", bar=True)
    clock.advance(timedelta(minutes=1))
    await do_remove_member(ctx, owner, group.id, second.id, "abuse", bar=True)
    listed = await list_bars(ctx, owner, group.id)
    assert [(b.account_id, b.reason, b.by, h) for b, h, _n in listed] == [
        (second.id, "abuse", owner.id, "second"),
        (first.id, "spam", owner.id, "first"),
    ]
    await do_lift_bar(ctx, owner, group.id, second.id)
    assert [b.account_id for b, _h, _n in await list_bars(ctx, owner, group.id)] == [first.id]


async def test_the_bar_list_needs_the_right_to_remove_members() -> None:
    ctx = make_ctx()
    [owner, admin, member, barred], group = await group_of(
        ctx, "owner", "admin", "member", "barred"
    )
    await do_remove_member(ctx, owner, group.id, barred.id, "spam", bar=True)
    await do_appoint_admin(ctx, owner, group.id, admin.id, ["mute"])
    assert await refusal(list_bars(ctx, admin, group.id), Forbidden) == "right_required"
    assert await refusal(list_bars(ctx, member, group.id), Forbidden) == "right_required"
    assert await refusal(list_bars(ctx, barred, group.id), Forbidden) == "not_a_member"
    await do_appoint_admin(ctx, owner, group.id, admin.id, ["mute", "remove_members"])
    assert [b.account_id for b, _h, _n in await list_bars(ctx, admin, group.id)] == [barred.id]


async def test_the_bar_list_of_a_hidden_group_is_not_found_to_outsiders() -> None:
    ctx = make_ctx()
    [_owner], group = await group_of(ctx, "owner")
    [stranger] = await users(ctx, "stranger")
    assert await refusal(list_bars(ctx, stranger, group.id), NotFound) == "group_not_found"
