"""Officers never act on themselves (``officer_self_action``): no credit lock or release,
no lift, no appeal decision, no identity read, and no case worked where the subject is
the officer's own account or group. A refusal writes no audit entry and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from qunzu.domain.errors import Forbidden
from qunzu.domain.models import GroupCategory, JoinPolicy, PlatformRole
from qunzu.domain.reports import Decision, TargetKind
from qunzu.domain.sanctions import SanctionRequest
from qunzu.services import appeals, credit, identity, review
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.groups import do_create_group
from qunzu.services.messaging import do_send_message
from qunzu.services.reports import do_file_report
from tests.fakes import fake_uow, make_ctx
from tests.unit.world import add_member, register

FACTS = "Insulted a member repeatedly."


@dataclass
class World:
    ctx: ServiceContext
    senior: Actor  # a senior reviewer who is also a member, and reported
    reviewer: Actor  # a reviewer who is the reported member of another case
    other: Actor  # an uninvolved senior reviewer
    reporter: Actor
    group_id: int


async def world() -> World:
    ctx = make_ctx()
    senior = await register(ctx, "senior", role=PlatformRole.senior_reviewer)
    reviewer = await register(ctx, "reviewer", role=PlatformRole.reviewer)
    other = await register(ctx, "other", role=PlatformRole.senior_reviewer)
    owner, reporter = await register(ctx, "owner"), await register(ctx, "reporter")
    group = await do_create_group(
        ctx, owner, "朋友群", GroupCategory.friends, join_policy=JoinPolicy.open, discoverable=True
    )
    for member in (senior, reviewer, reporter):
        await add_member(ctx, owner, group.id, member)
    return World(ctx, senior, reviewer, other, reporter, group.id)


async def case_about(w: World, officer: Actor, body: str) -> int:
    sent = await do_send_message(w.ctx, officer, w.group_id, body, f"t{len(body)}{officer.id}")
    receipt = await do_file_report(
        w.ctx, w.reporter, w.group_id, TargetKind.message, "insult-defamation", "rude",
        seq=sent.entry.seq,
    )  # fmt: skip
    return receipt.case.id


async def sanction_on(w: World, officer: Actor) -> int:
    case_id = await case_about(w, officer, "an insult")
    blacklist = SanctionRequest("blacklist", "art-11", FACTS, days=30)
    _, (imposed,) = await review.do_decide_case(
        w.ctx, w.other, case_id, Decision.violation, [blacklist]
    )
    return imposed.id


async def refused_untouched(ctx: ServiceContext, call: Awaitable[object]) -> None:
    before = list(fake_uow(ctx).state.audit)
    with pytest.raises(Forbidden) as caught:
        await call
    assert caught.value.code == "officer_self_action"
    assert list(fake_uow(ctx).state.audit) == before


Path = Callable[[World], Awaitable[Awaitable[object]]]


async def lock_own_level(w: World) -> Awaitable[object]:
    return credit.do_lock_level(w.ctx, w.senior, w.senior.id, 4, "I deserve the top level")


async def release_own_level(w: World) -> Awaitable[object]:
    await credit.do_lock_level(w.ctx, w.other, w.senior.id, 1, "pending a review")
    return credit.do_lock_level(w.ctx, w.senior, w.senior.id, None, "review is over")


async def lift_own_sanction(w: World) -> Awaitable[object]:
    sanction_id = await sanction_on(w, w.senior)
    return review.do_lift_sanction(w.ctx, w.senior, sanction_id, "imposed in error")


async def decide_own_appeal(w: World) -> Awaitable[object]:
    sanction_id = await sanction_on(w, w.senior)
    appeal = await appeals.do_appeal_sanction(w.ctx, w.senior, sanction_id, "it was a joke")
    return appeals.do_decide_appeal(w.ctx, w.senior, appeal.id, overturn=True)


async def decide_review_of_own_case(w: World) -> Awaitable[object]:
    case_id = await case_about(w, w.senior, "a joke, surely")
    await review.do_decide_case(w.ctx, w.other, case_id, Decision.no_violation, [])
    appeal = await appeals.do_request_review(w.ctx, w.reporter, case_id, "it was an insult")
    return appeals.do_decide_appeal(w.ctx, w.senior, appeal.id, overturn=False)


async def read_own_identity(w: World) -> Awaitable[object]:
    return identity.do_read_identity(w.ctx, w.senior, w.senior.id, "curious about myself")


async def open_own_case(w: World) -> Awaitable[object]:
    return review.open_case_file(w.ctx, w.reviewer, await case_about(w, w.reviewer, "idiot"))


async def claim_own_case(w: World) -> Awaitable[object]:
    return review.do_claim_case(w.ctx, w.reviewer, await case_about(w, w.reviewer, "idiot"))


async def escalate_own_case(w: World) -> Awaitable[object]:
    case_id = await case_about(w, w.reviewer, "idiot")
    return review.do_escalate_case(w.ctx, w.reviewer, case_id, "a senior look")


async def decide_own_case(w: World) -> Awaitable[object]:
    case_id = await case_about(w, w.reviewer, "idiot")
    return review.do_decide_case(w.ctx, w.reviewer, case_id, Decision.no_violation, [])


PATHS: dict[str, Path] = {
    "lock": lock_own_level,
    "release": release_own_level,
    "lift": lift_own_sanction,
    "appeal": decide_own_appeal,
    "review request": decide_review_of_own_case,
    "identity read": read_own_identity,
    "case file": open_own_case,
    "claim": claim_own_case,
    "escalate": escalate_own_case,
    "decide": decide_own_case,
}


@pytest.mark.parametrize("path", sorted(PATHS))
async def test_an_officer_cannot_act_on_themselves(path: str) -> None:
    w = await world()
    await refused_untouched(w.ctx, await PATHS[path](w))


async def test_another_officer_may_do_what_the_officer_may_not_on_themselves() -> None:
    w = await world()
    sanction_id = await sanction_on(w, w.senior)
    lifted = await review.do_lift_sanction(w.ctx, w.other, sanction_id, "imposed in error")
    assert lifted.id == sanction_id
    locked = await credit.do_lock_level(w.ctx, w.other, w.senior.id, 1, "pending a review")
    assert locked.locked_level == 1


async def test_a_decision_may_not_sanction_a_group_the_deciding_officer_owns() -> None:
    w = await world()
    group = await do_create_group(
        w.ctx, w.reviewer, "读书会", GroupCategory.friends, join_policy=JoinPolicy.open,
        discoverable=True,
    )  # fmt: skip
    await add_member(w.ctx, w.reviewer, group.id, w.reporter)
    await add_member(w.ctx, w.reviewer, group.id, w.senior)
    sent = await do_send_message(w.ctx, w.senior, group.id, "you idiot", "g1")
    receipt = await do_file_report(
        w.ctx, w.reporter, group.id, TargetKind.message, "insult-defamation", "rude",
        seq=sent.entry.seq,
    )  # fmt: skip
    warning = SanctionRequest("warning", "art-10", FACTS, days=7)
    call = review.do_decide_case(w.ctx, w.reviewer, receipt.case.id, Decision.violation, [warning])
    await refused_untouched(w.ctx, call)
