"""Credit and quotas through the services, over the fakes: the ledger, derived inputs,
the bulk recompute, quotas from an edited rulebook, and audited level locks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qunzu.domain.audit import SYSTEM_ACTOR_ID
from qunzu.domain.credit import CreditEntry, CreditReason, CreditState
from qunzu.domain.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded
from qunzu.domain.models import GroupCategory, JoinPolicy, PlatformRole
from qunzu.domain.rulebook import RulebookSet
from qunzu.policy import parse_rulebook
from qunzu.services.accounts import authenticate, do_login
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.credit import do_lock_level, get_my_credit, recompute_all
from qunzu.services.groups import do_create_group, do_dissolve_group
from qunzu.services.ledgers import recompute_account, record_credit
from qunzu.services.membership import do_invite, do_join
from qunzu.services.messaging import do_send_message
from tests.fakes import fake_uow, frozen_clock, make_ctx
from tests.rulebooks import default_with_quotas
from tests.unit.world import PASSWORD, refusal, register

BASE, VERIFIED = 100, 300  # the default rulebook's credit inputs
TINY_LEVEL_1 = (
    "quotas = { groups_owned = 2, groups_joined = 2, new_groups_per_day = 5, "
    "messages_per_minute = 2, invitations_per_day = 2, reports_per_day = 10, "
    "members_per_group = { family = 2, friends = 3, work = 3, interest = 3, community = 3, "
    "public-affairs = 3, commercial = 3 } }"
)


def tiny_rulebooks() -> RulebookSet:
    """The default rulebook with level 1 cut down to a few of everything."""
    return RulebookSet([parse_rulebook(default_with_quotas({1: TINY_LEVEL_1}), "tiny.toml")])


def ledger(ctx: ServiceContext, account_id: int) -> list[CreditEntry]:
    return [e for _, e in fake_uow(ctx).state.credit_ledger if e.account_id == account_id]


def stored(ctx: ServiceContext, account_id: int) -> CreditState:
    return fake_uow(ctx).state.credit_states[account_id]


async def record(
    ctx: ServiceContext, actor: Actor, delta: int, reason: CreditReason = CreditReason.sanction
) -> CreditState:
    async with transaction(ctx) as uow:
        return await record_credit(
            ctx, uow, actor.id, delta, reason, article="art-10", source="sanction:1", note="n"
        )


async def recompute(ctx: ServiceContext, actor: Actor) -> CreditState:
    async with transaction(ctx) as uow:
        return await recompute_account(ctx, uow, actor.id)


async def mark_active(ctx: ServiceContext, actor: Actor, days_ago: int) -> None:
    day = (ctx.clock.now() - timedelta(days=days_ago)).date().isoformat()
    async with transaction(ctx) as uow:
        await uow.credit.mark_active_day(actor.id, day)


async def fresh_actor(ctx: ServiceContext, actor: Actor) -> Actor:
    """The actor as a new request would see it (level as stored now)."""
    issued = await do_login(ctx, actor.account.handle, PASSWORD)
    return await authenticate(ctx, issued.token)


# ---- the ledger ---------------------------------------------------------------------------


async def test_record_credit_writes_one_ledger_entry_and_recomputes() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    before = len(ledger(ctx, alice.id))
    state = await record(ctx, alice, -50)
    entries = ledger(ctx, alice.id)
    assert len(entries) == before + 1
    newest = entries[-1]
    assert (newest.delta, newest.reason, newest.article, newest.source, newest.note) == (
        -50,
        CreditReason.sanction,
        "art-10",
        "sanction:1",
        "n",
    )
    assert newest.at == ctx.clock.now()
    assert (state.score, state.level) == (BASE + VERIFIED - 50, 1)
    assert stored(ctx, alice.id) == state


async def test_verification_is_one_ledger_entry_citing_article_6() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    [entry] = ledger(ctx, alice.id)
    assert (entry.delta, entry.reason, entry.article) == (
        VERIFIED,
        CreditReason.identity_verified,
        "art-6",
    )
    assert (stored(ctx, alice.id).score, stored(ctx, alice.id).level) == (BASE + VERIFIED, 1)


async def test_recompute_turns_age_and_active_days_into_entries_for_the_change_only() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    frozen_clock(ctx).advance(timedelta(days=65))
    for days_ago in (0, 1, 5, 30):
        await mark_active(ctx, alice, days_ago)
    state = await recompute(ctx, alice)
    derived = [(e.reason, e.delta) for e in ledger(ctx, alice.id)[1:]]
    assert derived == [(CreditReason.account_age, 20), (CreditReason.activity, 8)]
    assert (state.age_points, state.activity_points) == (20, 8)
    assert state.score == BASE + VERIFIED + 20 + 8
    # Nothing changed: no new entries, the same state.
    again = await recompute(ctx, alice)
    assert len(ledger(ctx, alice.id)) == 3
    assert (again.score, again.age_points, again.activity_points) == (state.score, 20, 8)
    # Thirty days on: age grows by one step; only that change is written.
    frozen_clock(ctx).advance(timedelta(days=30))
    later = await recompute(ctx, alice)
    assert [(e.reason, e.delta) for e in ledger(ctx, alice.id)[3:]] == [
        (CreditReason.account_age, 10)
    ]
    assert later.score == BASE + VERIFIED + 30 + 8


async def test_active_days_leaving_the_window_lower_the_score_for_good() -> None:
    """A fall in activity is a change of a derived input, not a penalty: it does not fade."""
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    for days_ago in range(10):
        await mark_active(ctx, alice, days_ago)
    assert (await recompute(ctx, alice)).activity_points == 20
    frozen_clock(ctx).advance(timedelta(days=100))  # all ten days are out of the 90-day window
    quiet = await recompute(ctx, alice)
    assert quiet.activity_points == 0
    assert ledger(ctx, alice.id)[-1].reason is CreditReason.activity
    assert ledger(ctx, alice.id)[-1].delta == -20
    assert quiet.score == BASE + VERIFIED + quiet.age_points
    # Past the forgiveness window the score still holds no activity points it no longer has.
    frozen_clock(ctx).advance(timedelta(days=200))
    much_later = await recompute(ctx, alice)
    assert much_later.activity_points == 0
    assert much_later.score == BASE + VERIFIED + much_later.age_points


async def test_a_penalty_fades_and_my_credit_explains_every_entry() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    await record(ctx, alice, -100, CreditReason.owner_liable)
    frozen_clock(ctx).advance(timedelta(days=45))  # a quarter of 180 days: 75% remains
    view = await get_my_credit(ctx, alice)
    assert view.state.score == BASE + VERIFIED + 10 - 75
    assert view.current.level == 1 and view.rulebook.version == "2017.1"
    texts = {e.entry.reason: (e.text_zh, e.text_en) for e in view.entries}
    assert texts[CreditReason.owner_liable] == (
        "群主怠于管理",
        "As owner, you were found liable for inaction.",
    )
    assert texts[CreditReason.account_age][1] == "Your account has been with us longer."
    assert view.entries[0].entry.reason is CreditReason.account_age  # newest first


async def test_recompute_all_agrees_with_recompute_account() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    bob = await register(ctx, "bob", verified=False)
    carol = await register(ctx, "carol")
    dave = await register(ctx, "dave")
    await record(ctx, carol, 250, CreditReason.manual_adjustment)  # 650: level 2
    await record(ctx, carol, -180)  # 470: within 90% of level 2's floor, holds
    await record(ctx, dave, -150)  # 250: level 0 for a verified account
    frozen_clock(ctx).advance(timedelta(days=95, hours=7))
    for actor, days in ((alice, (1, 2, 3, 40, 89, 91)), (bob, (0,)), (carol, (5, 6))):
        for days_ago in days:
            await mark_active(ctx, actor, days_ago)
    await record(ctx, alice, -20, CreditReason.report_unfounded)
    frozen_clock(ctx).advance(timedelta(days=3))
    assert await recompute_all(ctx) == 4
    bulk = dict(fake_uow(ctx).state.credit_states)
    entries = {a.id: ledger(ctx, a.id) for a in (alice, bob, carol, dave)}
    for actor in (alice, bob, carol, dave):
        one = await recompute(ctx, actor)
        assert one == bulk[actor.id]
        assert ledger(ctx, actor.id) == entries[actor.id]  # nothing left to correct
    assert bulk[bob.id].level == 0
    assert bulk[carol.id].level == 2
    assert bulk[alice.id].activity_points == 8  # three days on, four of six are in the window


# ---- quotas through the services ----------------------------------------------------------


async def test_creating_a_group_past_groups_owned_is_refused_with_what_raises_it() -> None:
    ctx = make_ctx(rulebooks=tiny_rulebooks())
    alice = await register(ctx, "alice")
    for name in ("one", "two"):
        await do_create_group(ctx, alice, name, GroupCategory.friends)
    with pytest.raises(QuotaExceeded) as info:
        await do_create_group(ctx, alice, "three", GroupCategory.friends)
    err = info.value
    assert err.code == "quota_exceeded"
    assert err.extra == {
        "quota": "groups_owned",
        "limit": 2,
        "level": 1,
        "raised_by": "Credit level 2 (score 500+) allows 10.",
    }
    assert len(fake_uow(ctx).state.groups) == 2  # nothing was written


async def test_a_dissolved_group_no_longer_counts_against_groups_owned() -> None:
    ctx = make_ctx(rulebooks=tiny_rulebooks())
    alice = await register(ctx, "alice")
    first = await do_create_group(ctx, alice, "one", GroupCategory.friends)
    await do_create_group(ctx, alice, "two", GroupCategory.friends)
    await do_dissolve_group(ctx, alice, first.id)
    await do_create_group(ctx, alice, "three", GroupCategory.friends)


async def test_joining_past_groups_joined_is_refused() -> None:
    ctx = make_ctx(rulebooks=tiny_rulebooks())
    owner, joiner = await register(ctx, "owner"), await register(ctx, "joiner")
    groups = [
        await do_create_group(ctx, owner, n, GroupCategory.interest, join_policy=JoinPolicy.open)
        for n in ("a", "b")
    ]
    await do_create_group(ctx, joiner, "mine", GroupCategory.interest)  # owning counts too
    await do_join(ctx, joiner, groups[0].id)
    with pytest.raises(QuotaExceeded) as info:
        await do_join(ctx, joiner, groups[1].id)
    assert (info.value.extra["quota"], info.value.extra["limit"]) == ("groups_joined", 2)


async def test_the_member_cap_is_the_owners_for_the_groups_category() -> None:
    ctx = make_ctx(rulebooks=tiny_rulebooks())
    owner = await register(ctx, "owner")
    family = await do_create_group(
        ctx, owner, "家", GroupCategory.family, join_policy=JoinPolicy.open
    )
    await do_join(ctx, await register(ctx, "kin"), family.id)
    with pytest.raises(QuotaExceeded) as info:
        await do_join(ctx, await register(ctx, "cousin"), family.id)
    assert info.value.extra["quota"] == "members_per_group"
    assert info.value.extra["limit"] == 2
    assert info.value.extra["category"] == "family"
    assert info.value.extra["raised_by"] == "Credit level 2 (score 500+) allows 100."


async def test_inviting_past_invitations_per_day_is_refused_until_a_day_later() -> None:
    ctx = make_ctx(rulebooks=tiny_rulebooks())
    owner = await register(ctx, "owner")
    group = await do_create_group(ctx, owner, "g", GroupCategory.work)
    for handle in ("invitee1", "invitee2"):
        await register(ctx, handle, verified=False)
        await do_invite(ctx, owner, group.id, handle)
    await register(ctx, "invitee3", verified=False)
    with pytest.raises(QuotaExceeded) as info:
        await do_invite(ctx, owner, group.id, "invitee3")
    assert (info.value.extra["quota"], info.value.extra["limit"]) == ("invitations_per_day", 2)
    frozen_clock(ctx).advance(timedelta(days=1, seconds=1))
    await do_invite(ctx, owner, group.id, "invitee3")


async def test_posting_past_messages_per_minute_is_refused_until_the_minute_passes() -> None:
    ctx = make_ctx(rulebooks=tiny_rulebooks())
    alice = await register(ctx, "alice")
    group = await do_create_group(ctx, alice, "g", GroupCategory.friends)
    for i in range(2):
        await do_send_message(ctx, alice, group.id, f"m{i}", f"t{i}")
    with pytest.raises(QuotaExceeded) as info:
        await do_send_message(ctx, alice, group.id, "m2", "t2")
    assert (info.value.extra["quota"], info.value.extra["limit"]) == ("messages_per_minute", 2)
    frozen_clock(ctx).advance(timedelta(seconds=61))
    await do_send_message(ctx, alice, group.id, "m2", "t2")


# ---- level locks --------------------------------------------------------------------------


@pytest.mark.parametrize("role", [PlatformRole.senior_reviewer, PlatformRole.admin])
async def test_a_lock_fixes_the_level_and_is_audited(role: PlatformRole) -> None:
    ctx = make_ctx()
    officer = await register(ctx, "officer", verified=False, role=role)
    alice = await register(ctx, "alice")
    audit_before = len(fake_uow(ctx).state.audit)
    state = await do_lock_level(ctx, officer, alice.id, 4, "  exemplary   moderator ")
    assert (state.level, state.locked_level, state.locked_by) == (4, 4, officer.id)
    audit = fake_uow(ctx).state.audit
    assert len(audit) == audit_before + 1
    last = audit[-1]
    assert (last.actor_id, last.action, last.subject) == (
        officer.id,
        "credit.lock",
        f"account:{alice.id}",
    )
    assert last.detail == {"level": 4, "previous": 1, "reason": "exemplary moderator"}
    # The lock holds against any score, and a new request sees the locked level.
    assert (await record(ctx, alice, -400)).level == 4
    assert (await fresh_actor(ctx, alice)).level == 4


@pytest.mark.parametrize("role", [None, PlatformRole.reviewer, PlatformRole.auditor])
async def test_a_lock_by_anyone_below_senior_reviewer_is_refused(
    role: PlatformRole | None,
) -> None:
    ctx = make_ctx()
    someone = await register(ctx, "someone", verified=False, role=role)
    alice = await register(ctx, "alice")
    audit_before = len(fake_uow(ctx).state.audit)
    assert (
        await refusal(do_lock_level(ctx, someone, alice.id, 4, "I would like to help"), Forbidden)
        == "platform_role_required"
    )
    assert len(fake_uow(ctx).state.audit) == audit_before
    assert stored(ctx, alice.id).locked_level is None


@pytest.mark.parametrize(
    ("level", "reason", "code"),
    [
        (2, "why", "reason_required"),
        (2, "  \t ", "reason_required"),
        (5, "no such level", "unknown_level"),
    ],
)
async def test_a_lock_with_bad_input_is_refused_and_not_audited(
    level: int, reason: str, code: str
) -> None:
    ctx = make_ctx()
    senior = await register(ctx, "senior", verified=False, role=PlatformRole.senior_reviewer)
    alice = await register(ctx, "alice")
    audit_before = len(fake_uow(ctx).state.audit)
    with pytest.raises(InvalidInput) as info:
        await do_lock_level(ctx, senior, alice.id, level, reason)
    assert info.value.code == code
    assert len(fake_uow(ctx).state.audit) == audit_before


async def test_a_lock_on_an_unknown_account_is_not_found_and_not_audited() -> None:
    ctx = make_ctx()
    senior = await register(ctx, "senior", verified=False, role=PlatformRole.senior_reviewer)
    audit_before = len(fake_uow(ctx).state.audit)
    with pytest.raises(NotFound):
        await do_lock_level(ctx, senior, 999, 2, "nobody has this account")
    assert len(fake_uow(ctx).state.audit) == audit_before


async def locked(ctx: ServiceContext, delta: int, level: int, reason: str) -> tuple[Actor, Actor]:
    """A senior reviewer, and alice: her score moved by ``delta``, then her level locked."""
    senior = await register(ctx, "senior", verified=False, role=PlatformRole.senior_reviewer)
    alice = await register(ctx, "alice")
    await record(ctx, alice, delta, CreditReason.manual_adjustment)
    await do_lock_level(ctx, senior, alice.id, level, reason)
    return senior, alice


async def test_a_released_lock_leaves_the_band_of_the_score_not_the_locked_level() -> None:
    ctx = make_ctx()
    senior, alice = await locked(ctx, 60, 2, "a trial of level two")  # 460: band 1
    released = await do_lock_level(ctx, senior, alice.id, None, "trial over")
    assert (released.level, released.locked_level, released.locked_by) == (1, None, None)
    assert fake_uow(ctx).state.audit[-1].action == "credit.unlock"


async def test_a_released_lock_keeps_a_level_the_score_earned() -> None:
    ctx = make_ctx()
    senior, alice = await locked(ctx, 300, 0, "suspended pending review")  # 700: level 3
    assert (await fresh_actor(ctx, alice)).level == 0
    released = await do_lock_level(ctx, senior, alice.id, None, "review found nothing")
    assert released.level == 3


async def test_a_senior_reviewer_cannot_lock_their_own_level() -> None:
    ctx = make_ctx()
    senior = await register(ctx, "senior", verified=False, role=PlatformRole.senior_reviewer)
    audit_before = len(fake_uow(ctx).state.audit)
    with pytest.raises(Forbidden) as info:
        await do_lock_level(ctx, senior, senior.id, 4, "I deserve the top level")
    assert info.value.code == "officer_self_action"
    assert len(fake_uow(ctx).state.audit) == audit_before
    assert stored(ctx, senior.id).locked_level is None


async def test_the_periodic_recompute_is_audited_as_the_system() -> None:
    ctx = make_ctx()
    await register(ctx, "alice")
    count = await recompute_all(ctx)
    last = fake_uow(ctx).state.audit[-1]
    assert (last.actor_id, last.action, last.subject) == (
        SYSTEM_ACTOR_ID,
        "credit.recompute",
        "accounts",
    )
    assert last.detail == {"count": count}
