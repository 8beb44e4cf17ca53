"""The message path's folded reads, on SQLite and PostgreSQL: each answer must equal what
the separate repositories say (``posting.load``, ``tokens.get_for_auth``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from qunzu.domain.cases import Case
from qunzu.domain.credit import CreditState
from qunzu.domain.models import EntryKind, GroupRole, Membership, MembershipState, TimelineEntry
from qunzu.domain.owner_tools import GroupControls
from qunzu.domain.reports import CaseStatus, Route, Target, TargetKind
from qunzu.domain.rulebook import SanctionTarget
from qunzu.domain.sanctions import Sanction, SanctionState
from qunzu.storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.integration.test_storage import T0, accounts_and_group, new_account, new_group, unique
from tests.unit.test_report_rules import sanction

NOW = T0 + timedelta(hours=1)


async def _case(u: SqlUnitOfWork, group_id: int) -> Case:
    return await u.reports.save_case(
        Case(
            id=0,
            target=Target(TargetKind.group, group_id),
            category="spam",
            severity="low",
            tier="public",
            route=Route.platform,
            status=CaseStatus.decided,
            created_at=T0,
            deadline_at=T0,
            platform_visible_at=T0,
            conduct_at=T0,
            priority=0.0,
            reporters=1,
        )
    )


def _sanction(case: Case, **kw: object) -> Sanction:
    """A posting suspension under ``case``, in force from T0 until a day after NOW."""
    values: dict[str, object] = {
        "id": 0,
        "case_id": case.id,
        "kind": "posting_suspension",
        "account_id": None,
        "article": "art-6",
        "decided_by": 1,
        "starts_at": T0,
        "ends_at": NOW + timedelta(days=1),
        "appeal_until": NOW + timedelta(days=7),
    }
    return sanction(**{**values, **kw})


async def test_posting_load_of_a_plain_member_equals_the_separate_reads(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        [_owner, member], group = await accounts_and_group(u, 2)
        m = Membership(group.id, member.id, GroupRole.member, MembershipState.active, T0, 3)
        await u.memberships.put(m)
        await u.commit()
    async with uow(write=False) as u:
        state = await u.posting.load(group.id, member.id, "txn-a", NOW)
        assert state is not None
        assert state.group == await u.groups.get(group.id)
        assert state.membership == await u.memberships.get(group.id, member.id) == m
        assert state.controls == GroupControls(group.id)
        assert state.mute_until is None
        assert state.last_active_at is None
        assert state.sanctions_in_force is False
        assert state.previous is None


async def test_posting_load_of_a_stranger_has_no_membership_and_of_no_group_is_none(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        [_owner, stranger], group = await accounts_and_group(u, 2)
        await u.commit()
    async with uow(write=False) as u:
        state = await u.posting.load(group.id, stranger.id, "txn-a", NOW)
        assert state is not None and state.membership is None
        assert await u.posting.load(group.id + 10_000, stranger.id, "txn-a", NOW) is None


async def test_posting_load_carries_controls_and_the_senders_mute_and_last_post(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        [owner, member, other], group = await accounts_and_group(u, 3)
        controls = GroupControls(
            group.id, mute_all=True, slow_mode_seconds=30, notice_text="公告", notice_by=owner.id
        )
        controls = replace(controls, notice_at=T0, read_only_since=T0 + timedelta(minutes=1))
        await u.owner.put_controls(controls)
        await u.owner.put_mute(group.id, member.id, NOW + timedelta(hours=2), "刷屏", owner.id, T0)
        await u.owner.put_mute(group.id, other.id, NOW + timedelta(hours=9), "other", owner.id, T0)
        await u.activity.touch(group.id, member.id, T0 + timedelta(minutes=5))
        await u.activity.touch(group.id, other.id, T0 + timedelta(minutes=7))
        await u.commit()
    async with uow(write=False) as u:
        state = await u.posting.load(group.id, member.id, "txn-a", NOW)
        assert state is not None
        assert state.controls == await u.owner.get_controls(group.id) == controls
        assert state.mute_until == NOW + timedelta(hours=2)
        assert state.last_active_at == await u.activity.member_last_active(group.id, member.id)
        assert state.last_active_at == T0 + timedelta(minutes=5)


async def test_posting_load_carries_the_senders_entry_for_the_txn_id_in_any_group(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        owner, member = await new_account(u), await new_account(u)
        first, second = await new_group(u, owner), await new_group(u, owner)
        assert await u.groups.next_seq(first.id) == 1
        sent = TimelineEntry(
            first.id, 1, EntryKind.message, owner.id, T0, "hi", "txn-used", {"k": [1]}
        )
        await u.timeline.append(sent)
        await u.commit()
    async with uow(write=False) as u:
        state = await u.posting.load(second.id, owner.id, "txn-used", NOW)
        assert state is not None and state.previous == sent  # same sender, other group
        assert state.previous == await u.timeline.get_by_txn(owner.id, "txn-used")
        other = await u.posting.load(first.id, member.id, "txn-used", NOW)
        assert other is not None and other.previous is None  # another sender's id


async def test_posting_load_flags_exactly_the_sanctions_in_force_now(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        owner, member, bystander = (
            await new_account(u),
            await new_account(u),
            await new_account(u),
        )
        group, elsewhere = await new_group(u, owner), await new_group(u, owner)
        case = await _case(u, group.id)
        # Not in force for this sender here: over, not yet started, lifted, on another
        # account, on another group.
        for s in (
            _sanction(case, account_id=member.id, ends_at=NOW),
            _sanction(case, account_id=member.id, starts_at=NOW + timedelta(seconds=1)),
            _sanction(case, account_id=member.id, state=SanctionState.lifted),
            _sanction(case, account_id=bystander.id),
            _sanction(case, target=SanctionTarget.group, group_id=elsewhere.id),
        ):
            await u.reports.add_sanction(s)
        await u.commit()
    async with uow(write=False) as u:
        state = await u.posting.load(group.id, member.id, unique("t"), NOW)
        assert state is not None and state.sanctions_in_force is False
        assert await u.reports.active_sanctions(NOW, group.id, member.id) == []

    async with uow() as u:
        await u.reports.add_sanction(_sanction(case, account_id=member.id, ends_at=None))
        await u.commit()
    async with uow(write=False) as u:
        state = await u.posting.load(group.id, member.id, unique("t"), NOW)
        assert state is not None and state.sanctions_in_force is True
        clean = await u.posting.load(group.id, owner.id, unique("t"), NOW)
        assert clean is not None and clean.sanctions_in_force is False

    async with uow() as u:
        await u.reports.add_sanction(
            _sanction(case, target=SanctionTarget.group, group_id=group.id)
        )
        await u.commit()
    async with uow(write=False) as u:
        for account in (owner, bystander):
            state = await u.posting.load(group.id, account.id, unique("t"), NOW)
            assert state is not None and state.sanctions_in_force is True  # the group's own
            assert await u.reports.active_sanctions(NOW, group.id, account.id) != []


async def test_get_for_auth_adds_the_credit_level_or_zero(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        rated, fresh = await new_account(u), await new_account(u)
        rated_token = await u.tokens.add(rated.id, unique("hash"), "", T0, NOW)
        fresh_token = await u.tokens.add(fresh.id, unique("hash"), "", T0, NOW)
        await u.credit.put_state(CreditState(rated.id, 720, 3, T0))
        await u.commit()
    async with uow(write=False) as u:
        assert await u.tokens.get_for_auth(rated_token.token_hash) == (rated_token, rated, 3)
        assert await u.tokens.get_for_auth(fresh_token.token_hash) == (fresh_token, fresh, 0)
        assert await u.tokens.get_for_auth("no-such-hash") is None
