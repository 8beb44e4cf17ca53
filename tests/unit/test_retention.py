"""The purge engine with a moved clock: each data class goes after its period, each legal
hold keeps what it covers, a dry run deletes nothing, and the audit chain stays
verifiable (and tamper-evident) after its oldest entries are dropped."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from qunzu.domain.errors import Conflict
from qunzu.domain.lawful_access import AccessScope, AuthorityKind, DataClass
from qunzu.domain.models import GroupCategory, JoinPolicy, PlatformRole
from qunzu.domain.reports import Decision, TargetKind
from qunzu.domain.rulebook import RulebookSet
from qunzu.domain.sanctions import SanctionRequest
from qunzu.policy import parse_rulebook
from qunzu.services import (
    account_deletion,
    appeals,
    audit,
    lawful_access,
    reports,
    retention,
    review,
)
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.groups import do_create_group
from qunzu.services.messaging import do_send_message
from qunzu.services.ports import AuditCheckpoint
from tests.fakes import fake_uow, frozen_clock, make_ctx
from tests.rulebooks import generous_rulebook_text
from tests.unit.world import PASSWORD, add_member, register

DAY = timedelta(days=1)
_n = iter(range(1, 10_000))


def tag(prefix: str) -> str:
    return f"{prefix}{next(_n)}"


async def reported(ctx: ServiceContext) -> tuple[Actor, int, int]:
    """An insult reported in a public group: the offender, the group and the case."""
    owner, offender, reporter = [await register(ctx, tag(p)) for p in ("own", "off", "rep")]
    group = await do_create_group(
        ctx, owner, "朋友群", GroupCategory.friends, join_policy=JoinPolicy.open, discoverable=True
    )
    for member in (offender, reporter):
        await add_member(ctx, owner, group.id, member)
    sent = await do_send_message(ctx, offender, group.id, "you are an idiot", tag("txn"))
    receipt = await reports.do_file_report(
        ctx, reporter, group.id, TargetKind.message, "insult-defamation", "rude", seq=sent.entry.seq
    )
    return offender, group.id, receipt.case.id


async def decide(ctx: ServiceContext, case_id: int, *measures: SanctionRequest) -> list[int]:
    reviewer = await register(ctx, tag("reviewer"), verified=False, role=PlatformRole.reviewer)
    decision = Decision.violation if measures else Decision.no_violation
    _, imposed = await review.do_decide_case(ctx, reviewer, case_id, decision, list(measures))
    return [s.id for s in imposed]


def evidence_of(ctx: ServiceContext, case_id: int) -> list[int]:
    kept = fake_uow(ctx).state.reports_tables.evidence
    return sorted(seq for (cid, seq) in kept if cid == case_id)


def window(ctx: ServiceContext) -> timedelta:
    book = ctx.rulebooks.latest
    return max(book.retention.evidence_days, book.appeal_window_days) * DAY


async def test_evidence_of_a_closed_case_goes_after_its_period_and_not_before() -> None:
    ctx = make_ctx()
    _, _, case_id = await reported(ctx)
    await decide(ctx, case_id)
    clock = frozen_clock(ctx)
    clock.advance(window(ctx) - DAY)
    report = await retention.purge(ctx)
    assert evidence_of(ctx, case_id) != [] and report.purged["evidence"] == 0
    clock.advance(2 * DAY)
    report = await retention.purge(ctx)
    assert evidence_of(ctx, case_id) == []
    assert report.purged["evidence"] > 0 and report.held == {}


async def test_the_window_to_contest_a_decision_holds_the_evidence_past_its_period() -> None:
    text = generous_rulebook_text().replace("appeal_window_days = 180", "appeal_window_days = 240")
    ctx = make_ctx(rulebooks=RulebookSet([parse_rulebook(text)]))
    _, _, case_id = await reported(ctx)
    await decide(ctx, case_id)
    clock = frozen_clock(ctx)
    clock.advance((ctx.rulebooks.latest.retention.evidence_days + 1) * DAY)
    report = await retention.purge(ctx)
    assert report.held == {"evidence.appeal_window": 1} and evidence_of(ctx, case_id) != []
    clock.advance(60 * DAY)
    await retention.purge(ctx)
    assert evidence_of(ctx, case_id) == []


async def test_a_dry_run_counts_what_would_go_and_deletes_nothing() -> None:
    ctx = make_ctx()
    _, _, case_id = await reported(ctx)
    await decide(ctx, case_id)
    frozen_clock(ctx).advance(window(ctx) + DAY)
    kept = evidence_of(ctx, case_id)
    report = await retention.purge(ctx, dry_run=True)
    assert report.dry_run and report.purged["evidence"] == len(kept)
    assert evidence_of(ctx, case_id) == kept


async def test_an_open_case_keeps_its_evidence_however_old() -> None:
    ctx = make_ctx()
    _, _, case_id = await reported(ctx)
    frozen_clock(ctx).advance(10 * window(ctx))
    await retention.purge(ctx)
    assert evidence_of(ctx, case_id) != []


async def test_a_sanction_in_force_holds_the_evidence_until_it_ends() -> None:
    ctx = make_ctx()
    _, _, case_id = await reported(ctx)
    await decide(
        ctx,
        case_id,
        SanctionRequest("blacklist", "art-11", "Insulted members repeatedly.", days=365),
    )
    clock = frozen_clock(ctx)
    clock.advance(window(ctx) + DAY)
    report = await retention.purge(ctx)
    assert report.held == {"evidence.sanction_in_force": 1} and evidence_of(ctx, case_id) != []
    clock.advance(365 * DAY)
    await retention.purge(ctx)
    assert evidence_of(ctx, case_id) == []


async def test_an_appeal_waiting_for_a_decision_holds_the_evidence() -> None:
    ctx = make_ctx()
    offender, _, case_id = await reported(ctx)
    [sanction_id] = await decide(
        ctx,
        case_id,
        SanctionRequest("revoke_group_creation", "art-11", "Insulted members repeatedly.", days=30),
    )
    await appeals.do_appeal_sanction(ctx, offender, sanction_id, "it was a joke")
    frozen_clock(ctx).advance(window(ctx) + DAY)
    report = await retention.purge(ctx)
    assert report.held == {"evidence.appeal_pending": 1} and evidence_of(ctx, case_id) != []


async def test_an_approved_request_from_the_authorities_holds_until_it_is_closed() -> None:
    ctx = make_ctx()
    _, group_id, case_id = await reported(ctx)
    await decide(ctx, case_id)
    clock = frozen_clock(ctx)
    start = clock.now() - DAY
    registrar = await register(ctx, tag("admin"), verified=False, role=PlatformRole.admin)
    second = await register(ctx, tag("senior"), verified=False, role=PlatformRole.senior_reviewer)
    scope = AccessScope((), (group_id,), start, clock.now() + DAY, (DataClass.messages,))
    new = lawful_access.NewRequest(
        "Haidian PSB", AuthorityKind.public_security, "a stated legal basis", "HD-9", scope
    )
    request = await lawful_access.do_register_request(ctx, registrar, new)
    await lawful_access.do_decide_request(ctx, second, request.id, True, "document checked")
    clock.advance(window(ctx) + DAY)
    report = await retention.purge(ctx)
    assert report.held == {"evidence.authority_request": 1} and evidence_of(ctx, case_id) != []
    await lawful_access.do_close_request(ctx, registrar, request.id, "handed over")
    await retention.purge(ctx)
    assert evidence_of(ctx, case_id) == []


# ---- the audit log -----------------------------------------------------------------------


async def verified(ctx: ServiceContext) -> tuple[bool, str]:
    auditor = await register(ctx, tag("auditor"), verified=False, role=PlatformRole.auditor)
    report = await audit.verify_audit_chain(ctx, auditor)
    return report.ok, report.reason


async def aged_log(ctx: ServiceContext) -> int:
    """Audited acts, then a move past the audit period, then one fresh act: the number of
    entries old enough to go."""
    for _ in range(3):
        _, _, case_id = await reported(ctx)
        await decide(ctx, case_id)
    old = len(fake_uow(ctx).state.audit)
    frozen_clock(ctx).advance((ctx.rulebooks.latest.retention.audit_days + 1) * DAY)
    await verified(ctx)  # one fresh entry, which stays
    return old


async def test_old_audit_entries_go_and_the_chain_still_verifies() -> None:
    ctx = make_ctx()
    old = await aged_log(ctx)
    report = await retention.purge(ctx, batch=2)  # several batches
    assert report.purged["audit"] == old
    remaining = fake_uow(ctx).state.audit
    assert remaining and remaining[0].at >= frozen_clock(ctx).now() - DAY
    assert await verified(ctx) == (True, "")


async def test_a_dry_run_counts_audit_entries_without_dropping_them() -> None:
    ctx = make_ctx()
    old = await aged_log(ctx)
    before = len(fake_uow(ctx).state.audit)
    assert (await retention.purge(ctx, dry_run=True)).purged["audit"] == old
    assert len(fake_uow(ctx).state.audit) == before


async def test_dropping_more_entries_than_the_checkpoint_says_is_caught() -> None:
    ctx = make_ctx()
    await aged_log(ctx)
    await retention.purge(ctx)
    await verified(ctx)
    state = fake_uow(ctx).state
    del state.audit[0]  # cut the front of what remains
    ok, reason = await verified(ctx)
    assert not ok and "previous hash" in reason


async def test_a_checkpoint_moved_without_the_key_is_caught() -> None:
    ctx = make_ctx()
    await aged_log(ctx)
    await retention.purge(ctx)
    state = fake_uow(ctx).state
    cp = state.audit_checkpoint
    assert isinstance(cp, AuditCheckpoint)
    state.audit_checkpoint = replace(cp, dropped=cp.dropped - 1)
    ok, reason = await verified(ctx)
    assert not ok and reason == "the purge checkpoint does not match its seal"


async def test_a_broken_chain_is_not_purged() -> None:
    ctx = make_ctx()
    await aged_log(ctx)
    state = fake_uow(ctx).state
    state.audit[1] = replace(state.audit[1], subject="case:999999")  # tampered with
    before = list(state.audit)
    with pytest.raises(Conflict) as caught:
        await retention.purge(ctx)
    assert caught.value.code == "audit_chain_broken"
    assert fake_uow(ctx).state.audit == before


async def test_the_last_entry_is_never_purged_so_the_chain_goes_on() -> None:
    ctx = make_ctx()
    await aged_log(ctx)
    frozen_clock(ctx).advance((ctx.rulebooks.latest.retention.audit_days + 1) * DAY)
    await retention.purge(ctx)
    assert len(fake_uow(ctx).state.audit) == 1
    assert await verified(ctx) == (True, "")


# ---- identities of deleted accounts --------------------------------------------------------


async def test_a_deleted_accounts_identity_goes_after_the_access_log_period() -> None:
    ctx = make_ctx()
    member = await register(ctx, tag("member"))
    await account_deletion.do_delete_account(ctx, member, PASSWORD, remove_messages=False)
    clock = frozen_clock(ctx)
    days = ctx.rulebooks.latest.retention.access_log_days
    clock.advance((days - 1) * DAY)
    await retention.purge(ctx)
    assert member.id in fake_uow(ctx).state.identities
    clock.advance(2 * DAY)
    report = await retention.purge(ctx)
    assert report.purged["identity"] == 1 and member.id not in fake_uow(ctx).state.identities


async def test_deleting_does_not_escape_a_sanction_in_force() -> None:
    ctx = make_ctx()
    offender, _, case_id = await reported(ctx)
    await decide(
        ctx, case_id, SanctionRequest("blacklist", "art-11", "Insulted members.", days=365)
    )
    await account_deletion.do_delete_account(ctx, offender, PASSWORD, remove_messages=False)
    clock = frozen_clock(ctx)
    clock.advance((ctx.rulebooks.latest.retention.access_log_days + 1) * DAY)
    report = await retention.purge(ctx)
    assert report.held.get("identity.sanction_in_force") == 1
    assert offender.id in fake_uow(ctx).state.identities  # its blind index still binds
    clock.advance(365 * DAY)
    await retention.purge(ctx)
    assert offender.id not in fake_uow(ctx).state.identities
