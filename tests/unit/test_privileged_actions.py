"""Every service entry point that needs a platform role is a privileged action: it writes
exactly one audit entry, naming the officer, when it succeeds, and none when it is refused.
Officers never act on themselves, and periodic jobs act as the system.

The entry points are found by reading the services' source (a public ``async def`` that
calls ``require_platform_role`` or ``privileged``, itself or through a helper of its
module), so a new one fails ``test_every_privileged_entry_point_has_a_row`` until a row
below says how to call it, and then must pass the audit checks like the rest.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest

import qunzu.services
from qunzu.domain.audit import SYSTEM_ACTOR_ID, AuditAction
from qunzu.domain.errors import Forbidden
from qunzu.domain.lawful_access import AccessScope, AuthorityKind, DataClass
from qunzu.domain.models import GroupCategory, JoinPolicy, PlatformRole
from qunzu.domain.reports import Decision, QueueFilter, TargetKind
from qunzu.domain.sanctions import SanctionRequest
from qunzu.services import (
    accounts,
    appeals,
    attendance,
    audit,
    credit,
    identity,
    jobs,
    lawful_access,
    passwords,
    records,
    reports,
    review,
    status,
)
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.groups import do_create_group
from qunzu.services.messaging import do_send_message
from qunzu.services.ports import AuditRecord
from tests.fakes import fake_uow, frozen_clock, make_ctx
from tests.unit.world import PASSWORD, add_member, register

ROLE_CHECKS = {"require_platform_role", "privileged"}
MECHANISM = {"qunzu.services.audit.privileged"}  # the helper itself, not an action

Call = Callable[[Actor], Awaitable[object]]
_n = itertools.count(1)


# ---- finding the entry points ---------------------------------------------------------------


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Name):
                names.add(sub.func.id)
            elif isinstance(sub.func, ast.Attribute):
                names.add(sub.func.attr)
    return names


def privileged_entry_points() -> set[str]:
    found: set[str] = set()
    for info in pkgutil.iter_modules(qunzu.services.__path__):
        module = importlib.import_module(f"qunzu.services.{info.name}")
        tree = ast.parse(inspect.getsource(module))
        functions = {
            node.name: node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        calls = {name: _called_names(node) for name, node in functions.items()}
        checking = {name for name, names in calls.items() if names & ROLE_CHECKS}
        while True:  # and whatever reaches a role check through another function here
            more = {name for name, names in calls.items() if names & checking} - checking
            if not more:
                break
            checking |= more
        found |= {
            f"{module.__name__}.{name}"
            for name in checking
            if not name.startswith("_") and isinstance(functions[name], ast.AsyncFunctionDef)
        }
    return found - MECHANISM


# ---- a small world for each entry point -----------------------------------------------------


def handle(prefix: str) -> str:
    return f"{prefix}{next(_n)}"


async def staff(ctx: ServiceContext, role: PlatformRole) -> Actor:
    return await register(ctx, handle("staff"), verified=False, role=role)


async def reported_case(ctx: ServiceContext) -> tuple[Actor, int]:
    """An insult reported in a public group (so the platform sees the case at once):
    the offender and the case id."""
    owner, offender, reporter = [await register(ctx, handle(p)) for p in ("own", "off", "rep")]
    group = await do_create_group(
        ctx,
        owner,
        "朋友群",
        GroupCategory.friends,
        join_policy=JoinPolicy.open,
        discoverable=True,
    )
    for member in (offender, reporter):
        await add_member(ctx, owner, group.id, member)
    sent = await do_send_message(ctx, offender, group.id, "you are an idiot", handle("txn"))
    receipt = await reports.do_file_report(
        ctx,
        reporter,
        group.id,
        TargetKind.message,
        "insult-defamation",
        "insulting",
        seq=sent.entry.seq,
    )
    return offender, receipt.case.id


async def sanctioned(ctx: ServiceContext) -> tuple[Actor, int]:
    """A case decided by a reviewer with a blacklisting: the offender and the sanction id."""
    offender, case_id = await reported_case(ctx)
    reviewer = await staff(ctx, PlatformRole.reviewer)
    blacklist = SanctionRequest("blacklist", "art-11", "Insulted a member repeatedly.", days=30)
    _, (imposed,) = await review.do_decide_case(
        ctx, reviewer, case_id, Decision.violation, [blacklist]
    )
    return offender, imposed.id


def period(ctx: ServiceContext) -> tuple[datetime, datetime]:
    now = frozen_clock(ctx).now()
    return now - timedelta(days=1), now + timedelta(days=1)


async def create_platform_user(ctx: ServiceContext) -> Call:
    return lambda actor: accounts.do_create_platform_user(
        ctx, actor, handle("newstaff"), PASSWORD, PlatformRole.reviewer
    )


async def assign_owner(ctx: ServiceContext) -> Call:
    owner, member = await register(ctx, handle("owner")), await register(ctx, handle("heir"))
    group = await do_create_group(ctx, owner, "家人群", GroupCategory.family)
    await add_member(ctx, owner, group.id, member)
    async with ctx.uow() as uow:  # the sweep found it unattended
        controls = await uow.owner.get_controls(group.id)
        await uow.owner.put_controls(replace(controls, unattended_since=ctx.clock.now()))
        await uow.commit()
    return lambda actor: attendance.do_assign_owner(
        ctx, actor, group.id, member.id, "the owner has been gone for months"
    )


async def verify_audit(ctx: ServiceContext) -> Call:
    return lambda actor: audit.verify_audit_chain(ctx, actor)


async def read_audit(ctx: ServiceContext) -> Call:
    return lambda actor: audit.list_audit(ctx, actor, 0, 10)


async def seal_audit(ctx: ServiceContext) -> Call:
    return lambda actor: audit.do_seal_audit_head(ctx, actor)


async def lock_level(ctx: ServiceContext) -> Call:
    alice = await register(ctx, handle("alice"))
    return lambda actor: credit.do_lock_level(ctx, actor, alice.id, 2, "a trial of level two")


async def read_identity(ctx: ServiceContext) -> Call:
    alice = await register(ctx, handle("alice"))
    return lambda actor: identity.do_read_identity(ctx, actor, alice.id, "police request 17")


async def officer_reset_password(ctx: ServiceContext) -> Call:
    alice = await register(ctx, handle("alice"))
    return lambda actor: passwords.do_officer_reset_password(
        ctx, actor, alice.id, "lost phone, identity checked in person"
    )


async def export_regulator(ctx: ServiceContext) -> Call:
    return lambda actor: records.regulator_rows(ctx, *period(ctx), actor)


async def transparency(ctx: ServiceContext) -> Call:
    return lambda actor: records.transparency(ctx, *period(ctx), actor)


async def list_queue(ctx: ServiceContext) -> Call:
    return lambda actor: review.list_queue(ctx, actor, QueueFilter())


async def open_case_file(ctx: ServiceContext) -> Call:
    _, case_id = await reported_case(ctx)
    return lambda actor: review.open_case_file(ctx, actor, case_id)


async def claim_case(ctx: ServiceContext) -> Call:
    _, case_id = await reported_case(ctx)
    return lambda actor: review.do_claim_case(ctx, actor, case_id)


async def release_case(ctx: ServiceContext) -> Call:
    """A case another reviewer claimed: a senior may give it back to the queue."""
    _, case_id = await reported_case(ctx)
    other = await staff(ctx, PlatformRole.reviewer)
    await review.do_claim_case(ctx, other, case_id)
    return lambda actor: review.do_release_case(ctx, actor, case_id)


async def escalate_case(ctx: ServiceContext) -> Call:
    _, case_id = await reported_case(ctx)
    return lambda actor: review.do_escalate_case(ctx, actor, case_id, "needs a senior look")


async def decide_case(ctx: ServiceContext) -> Call:
    _, case_id = await reported_case(ctx)
    return lambda actor: review.do_decide_case(ctx, actor, case_id, Decision.no_violation, [])


async def lift_sanction(ctx: ServiceContext) -> Call:
    _, sanction_id = await sanctioned(ctx)
    return lambda actor: review.do_lift_sanction(ctx, actor, sanction_id, "imposed in error")


async def list_appeals(ctx: ServiceContext) -> Call:
    return lambda actor: appeals.list_pending_appeals(ctx, actor)


async def decide_appeal(ctx: ServiceContext) -> Call:
    offender, sanction_id = await sanctioned(ctx)
    appeal = await appeals.do_appeal_sanction(ctx, offender, sanction_id, "it was a joke")
    return lambda actor: appeals.do_decide_appeal(ctx, actor, appeal.id, overturn=False)


async def read_status(ctx: ServiceContext) -> Call:
    facts = status.RuntimeFacts(
        "0", "node-a", "sqlite on-loop", "websockets-sansio", True, "memory://", False, "off"
    )
    runner = jobs.JobRunner(ctx, [], jobs.LocalJobLocks(), "node-a")
    return lambda actor: status.do_read_status(ctx, actor, facts, runner)


async def lawful_request(ctx: ServiceContext, approve: bool = False) -> int:
    """A request registered (and, with ``approve``, approved) by two other officers."""
    subject = await register(ctx, handle("subject"))
    registrar = await staff(ctx, PlatformRole.admin)
    start, _ = period(ctx)
    scope = AccessScope((subject.id,), (), start, frozen_clock(ctx).now(), (DataClass.accounts,))
    new = lawful_access.NewRequest(
        "Haidian PSB", AuthorityKind.public_security, "a stated legal basis", "HD-1", scope
    )
    request = await lawful_access.do_register_request(ctx, registrar, new)
    if approve:
        second = await staff(ctx, PlatformRole.senior_reviewer)
        await lawful_access.do_decide_request(ctx, second, request.id, True, "document checked")
    return request.id


async def register_request(ctx: ServiceContext) -> Call:
    subject = await register(ctx, handle("subject"))
    start, _ = period(ctx)
    scope = AccessScope((subject.id,), (), start, frozen_clock(ctx).now(), (DataClass.accounts,))
    new = lawful_access.NewRequest(
        "Haidian PSB", AuthorityKind.public_security, "a stated legal basis", "HD-1", scope
    )
    return lambda actor: lawful_access.do_register_request(ctx, actor, new)


async def decide_request(ctx: ServiceContext) -> Call:
    request_id = await lawful_request(ctx)
    return lambda actor: lawful_access.do_decide_request(
        ctx, actor, request_id, False, "the document is unsigned"
    )


async def close_request(ctx: ServiceContext) -> Call:
    request_id = await lawful_request(ctx, approve=True)
    return lambda actor: lawful_access.do_close_request(ctx, actor, request_id, "handed over")


async def export_request(ctx: ServiceContext) -> Call:
    request_id = await lawful_request(ctx, approve=True)
    return lambda actor: lawful_access.do_export_request(ctx, actor, request_id)


async def list_requests(ctx: ServiceContext) -> Call:
    return lambda actor: lawful_access.list_requests(ctx, actor, None, 0, 10)


async def get_request(ctx: ServiceContext) -> Call:
    request_id = await lawful_request(ctx)
    return lambda actor: lawful_access.get_request(ctx, actor, request_id)


async def list_referrals(ctx: ServiceContext) -> Call:
    return lambda actor: lawful_access.list_referrals(ctx, actor, None, 0, 10)


async def close_referral(ctx: ServiceContext) -> Call:
    _, case_id = await reported_case(ctx)
    reviewer = await staff(ctx, PlatformRole.reviewer)
    refer = SanctionRequest("refer_to_authority", "art-13", "Threatened a member's life.")
    await review.do_decide_case(ctx, reviewer, case_id, Decision.violation, [refer])
    async with ctx.uow(write=False) as uow:
        (referral,) = await uow.lawful.list_referrals(None, 0, 10)
    return lambda actor: lawful_access.do_close_referral(ctx, actor, referral.id, "sent to PSB")


@dataclass(frozen=True)
class Row:
    role: PlatformRole  # a role that may do it
    action: AuditAction
    setup: Callable[[ServiceContext], Awaitable[Call]]


S = "qunzu.services."
ROWS: dict[str, Row] = {
    S + "accounts.do_create_platform_user": Row(
        PlatformRole.admin, AuditAction.platform_user_create, create_platform_user
    ),
    S + "attendance.do_assign_owner": Row(
        PlatformRole.senior_reviewer, AuditAction.group_assign_owner, assign_owner
    ),
    S + "audit.verify_audit_chain": Row(
        PlatformRole.auditor, AuditAction.audit_verify, verify_audit
    ),
    S + "audit.list_audit": Row(PlatformRole.auditor, AuditAction.audit_read, read_audit),
    S + "audit.do_seal_audit_head": Row(PlatformRole.admin, AuditAction.audit_seal, seal_audit),
    S + "credit.do_lock_level": Row(
        PlatformRole.senior_reviewer, AuditAction.credit_lock, lock_level
    ),
    S + "identity.do_read_identity": Row(
        PlatformRole.senior_reviewer, AuditAction.identity_read, read_identity
    ),
    S + "passwords.do_officer_reset_password": Row(
        PlatformRole.admin, AuditAction.password_reset_by_officer, officer_reset_password
    ),
    S + "records.regulator_rows": Row(
        PlatformRole.auditor, AuditAction.records_export, export_regulator
    ),
    S + "records.transparency": Row(
        PlatformRole.auditor, AuditAction.records_transparency, transparency
    ),
    S + "status.do_read_status": Row(
        PlatformRole.auditor, AuditAction.platform_status, read_status
    ),
    S + "review.list_queue": Row(PlatformRole.reviewer, AuditAction.case_queue, list_queue),
    S + "review.open_case_file": Row(PlatformRole.reviewer, AuditAction.case_view, open_case_file),
    S + "review.do_claim_case": Row(PlatformRole.reviewer, AuditAction.case_claim, claim_case),
    S + "review.do_release_case": Row(
        PlatformRole.senior_reviewer, AuditAction.case_release, release_case
    ),
    S + "review.do_escalate_case": Row(
        PlatformRole.reviewer, AuditAction.case_escalate, escalate_case
    ),
    S + "review.do_decide_case": Row(PlatformRole.reviewer, AuditAction.case_decide, decide_case),
    S + "review.do_lift_sanction": Row(
        PlatformRole.senior_reviewer, AuditAction.sanction_lift, lift_sanction
    ),
    S + "appeals.list_pending_appeals": Row(
        PlatformRole.senior_reviewer, AuditAction.appeal_queue, list_appeals
    ),
    S + "appeals.do_decide_appeal": Row(
        PlatformRole.senior_reviewer, AuditAction.appeal_decide, decide_appeal
    ),
    S + "lawful_access.do_register_request": Row(
        PlatformRole.admin, AuditAction.lawful_register, register_request
    ),
    S + "lawful_access.do_decide_request": Row(
        PlatformRole.admin, AuditAction.lawful_refuse, decide_request
    ),
    S + "lawful_access.do_close_request": Row(
        PlatformRole.senior_reviewer, AuditAction.lawful_close, close_request
    ),
    S + "lawful_access.do_export_request": Row(
        PlatformRole.senior_reviewer, AuditAction.lawful_export, export_request
    ),
    S + "lawful_access.list_requests": Row(
        PlatformRole.auditor, AuditAction.lawful_list, list_requests
    ),
    S + "lawful_access.get_request": Row(
        PlatformRole.auditor, AuditAction.lawful_list, get_request
    ),
    S + "lawful_access.list_referrals": Row(
        PlatformRole.admin, AuditAction.referral_list, list_referrals
    ),
    S + "lawful_access.do_close_referral": Row(
        PlatformRole.admin, AuditAction.referral_close, close_referral
    ),
}


def log(ctx: ServiceContext) -> list[AuditRecord]:
    return list(fake_uow(ctx).state.audit)


# ---- the checks ---------------------------------------------------------------------------


def test_every_privileged_entry_point_has_a_row() -> None:
    found = privileged_entry_points()
    assert found - ROWS.keys() == set(), "a new privileged action: add its row to ROWS"
    assert ROWS.keys() - found == set(), "a row for an entry point that no longer exists"


@pytest.mark.parametrize("name", sorted(ROWS))
async def test_a_privileged_action_writes_one_entry_naming_its_officer(name: str) -> None:
    row = ROWS[name]
    ctx = make_ctx()
    call = await row.setup(ctx)
    officer = await staff(ctx, row.role)
    before = len(log(ctx))
    await call(officer)
    assert [(e.action, e.actor_id) for e in log(ctx)[before:]] == [(row.action, officer.id)]


@pytest.mark.parametrize("name", sorted(ROWS))
async def test_a_refused_privileged_action_writes_nothing(name: str) -> None:
    ctx = make_ctx()
    call = await ROWS[name].setup(ctx)
    member = await register(ctx, handle("member"))
    before = len(log(ctx))
    with pytest.raises(Forbidden) as caught:
        await call(member)
    assert caught.value.code == "platform_role_required"
    assert log(ctx)[before:] == []


async def test_a_senior_reviewer_cannot_give_an_unattended_group_to_themselves() -> None:
    ctx = make_ctx()
    owner = await register(ctx, handle("owner"))
    senior = await register(ctx, handle("senior"), role=PlatformRole.senior_reviewer)
    group = await do_create_group(ctx, owner, "家人群", GroupCategory.family)
    await add_member(ctx, owner, group.id, senior)
    async with ctx.uow() as uow:
        controls = await uow.owner.get_controls(group.id)
        await uow.owner.put_controls(replace(controls, unattended_since=ctx.clock.now()))
        await uow.commit()
    before = len(log(ctx))
    with pytest.raises(Forbidden) as caught:
        await attendance.do_assign_owner(ctx, senior, group.id, senior.id, "nobody else is here")
    assert caught.value.code == "officer_self_action"
    assert log(ctx)[before:] == []


async def test_the_unattended_sweep_acts_as_the_system_and_audits_each_move() -> None:
    ctx = make_ctx()
    owner, member = await register(ctx, handle("owner")), await register(ctx, handle("member"))
    group = await do_create_group(ctx, owner, "家人群", GroupCategory.family)
    await add_member(ctx, owner, group.id, member)
    frozen_clock(ctx).advance(timedelta(days=ctx.rulebooks.latest.attendance.inactive_days + 1))
    await do_send_message(ctx, member, group.id, "anyone?", handle("txn"))
    before = len(log(ctx))
    assert (await attendance.sweep_unattended(ctx))["unattended"] == 1
    [entry] = log(ctx)[before:]
    assert (entry.actor_id, entry.action, entry.subject, entry.detail) == (
        SYSTEM_ACTOR_ID,
        "group.attendance",
        f"group:{group.id}",
        {"state": "unattended"},
    )
