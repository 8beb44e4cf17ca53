"""Real-name identity through the services: submission, the per-identity limit, audited reads."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.exceptions import InvalidTag

from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.identity import make_resident_id
from qunzu.domain.models import PlatformRole
from qunzu.services import audit
from qunzu.services.actor import SYSTEM, Actor
from qunzu.services.context import Limits, ServiceContext
from qunzu.services.identity import (
    do_read_identity,
    do_submit_identity,
    get_masked_identity,
)
from qunzu.verification import RejectAllVerifier
from tests.fakes import fake_uow, make_ctx, restart_audit_log
from tests.unit.world import refresh, refusal, register

ID = "11010519491231002X"
PHONE = "13812345678"


async def test_submitting_an_identity_verifies_the_account_and_returns_it_masked() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    masked = await do_submit_identity(ctx, alice, "张三", ID.lower(), "+86 138 1234 5678")
    assert (masked.legal_name, masked.resident_id, masked.phone) == (
        "张*",
        "1101**********002X",
        "138****5678",
    )
    assert masked.verified and masked.verifier == "format-check"
    assert (await refresh(ctx, alice)).account.identity_verified


async def test_a_stored_identity_holds_no_plaintext() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    await do_submit_identity(ctx, alice, "张三", ID, PHONE)
    record = fake_uow(ctx).state.identities[alice.id]
    stored = repr(record)
    assert ID not in stored and PHONE not in stored and "张三" not in stored
    assert record.blind_index == ctx.cipher.blind_index(ID)


async def test_stored_fields_decrypt_only_for_their_own_account_and_field() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    await do_submit_identity(ctx, alice, "张三", ID, PHONE)
    record = fake_uow(ctx).state.identities[alice.id]
    assert ctx.cipher.decrypt(record.phone_enc, f"identity:{alice.id}:phone") == PHONE
    with pytest.raises(InvalidTag):
        ctx.cipher.decrypt(record.phone_enc, f"identity:{alice.id + 1}:phone")


async def test_an_invalid_identity_is_refused_and_nothing_is_stored() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    assert (
        await refusal(do_submit_identity(ctx, alice, "张三", ID[:17] + "0", PHONE), InvalidInput)
        == "invalid_id_number"
    )
    assert fake_uow(ctx).state.identities == {}
    assert not (await refresh(ctx, alice)).account.identity_verified


async def test_an_identity_the_verifier_rejects_is_refused() -> None:
    ctx = make_ctx()
    ctx.verifier = RejectAllVerifier()
    alice = await register(ctx, "alice", verified=False)
    assert (
        await refusal(do_submit_identity(ctx, alice, "张三", ID, PHONE), InvalidInput)
        == "identity_rejected"
    )
    assert fake_uow(ctx).state.identities == {}


async def test_a_verified_identity_cannot_be_submitted_again() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", resident_id=ID)
    assert (
        await refusal(do_submit_identity(ctx, alice, "张三", ID, PHONE), Conflict)
        == "identity_already_verified"
    )
    other = make_resident_id("310104", date(1990, 3, 7), 123)
    assert (
        await refusal(do_submit_identity(ctx, alice, "李四", other, PHONE), Conflict)
        == "identity_already_verified"
    )
    assert fake_uow(ctx).state.identities[alice.id].blind_index == ctx.cipher.blind_index(ID)


async def test_one_identity_may_hold_up_to_the_limit_of_accounts() -> None:
    ctx = make_ctx()
    for i in range(ctx.limits.max_accounts_per_identity):
        actor = await register(ctx, f"user{i}", resident_id=ID)
        assert actor.account.identity_verified


async def test_one_identity_is_refused_for_one_account_past_the_limit() -> None:
    ctx = make_ctx()
    for i in range(ctx.limits.max_accounts_per_identity):
        await register(ctx, f"user{i}", resident_id=ID)
    extra = await register(ctx, "oneTooMany", verified=False)
    with pytest.raises(Conflict) as caught:
        await do_submit_identity(ctx, extra, "张三", ID, PHONE)
    assert caught.value.code == "identity_account_limit"
    assert caught.value.extra == {"limit": 3}
    assert extra.id not in fake_uow(ctx).state.identities


async def test_full_width_digits_do_not_open_a_way_around_the_limit() -> None:
    ctx = make_ctx(limits=Limits(max_accounts_per_identity=1))
    await register(ctx, "first", resident_id=ID)
    second = await register(ctx, "second", verified=False)
    full_width = ID[:2] + "".join(chr(ord(c) + 0xFEE0) for c in ID[2:])
    assert (
        await refusal(do_submit_identity(ctx, second, "张三", full_width, PHONE), Conflict)
        == "identity_account_limit"
    )


async def test_the_accounts_per_identity_limit_comes_from_the_limits() -> None:
    ctx = make_ctx(limits=Limits(max_accounts_per_identity=1))
    await register(ctx, "first", resident_id=ID)
    second = await register(ctx, "second", verified=False)
    with pytest.raises(Conflict):
        await do_submit_identity(ctx, second, "张三", ID, PHONE)


async def test_masked_identity_for_its_owner_and_not_submitted() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", resident_id=ID)
    bob = await register(ctx, "bob", verified=False)
    assert (await get_masked_identity(ctx, alice)).resident_id == "1101**********002X"
    assert await refusal(get_masked_identity(ctx, bob), NotFound) == "identity_not_submitted"


# ---- the audited full read ---------------------------------------------------------------


async def _world() -> tuple[ServiceContext, Actor, Actor]:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    await do_submit_identity(ctx, alice, "欧阳娜娜", ID, PHONE)
    officer = await register(ctx, "officer", verified=False, role=PlatformRole.senior_reviewer)
    restart_audit_log(ctx)  # start the log at this test's action
    return ctx, alice, officer


async def test_an_officer_reads_an_identity_in_full() -> None:
    ctx, alice, officer = await _world()
    full = await do_read_identity(ctx, officer, alice.id, "police request 2026-17")
    assert (full.legal_name, full.resident_id, full.phone) == ("欧阳娜娜", ID, PHONE)
    assert full.account_id == alice.id


async def test_a_full_read_writes_one_audit_entry_naming_reader_subject_and_reason() -> None:
    ctx, alice, officer = await _world()
    await do_read_identity(ctx, officer, alice.id, "  police   request 2026-17 ")
    [entry] = fake_uow(ctx).state.audit
    assert entry.actor_id == officer.id
    assert entry.action == "identity.read"
    assert entry.subject == f"account:{alice.id}"
    assert entry.detail == {"reason": "police request 2026-17"}
    assert (await audit.verify_audit_chain(ctx, SYSTEM)).ok


async def test_a_full_read_and_its_audit_entry_share_one_unit_of_work() -> None:
    ctx, alice, officer = await _world()
    units = fake_uow(ctx).opened
    before = len(units)
    await do_read_identity(ctx, officer, alice.id, "police request 2026-17")
    [unit] = units[before:]
    assert unit.write and unit.committed


async def test_a_full_read_whose_commit_fails_returns_nothing_and_leaves_no_entry() -> None:
    ctx, alice, officer = await _world()
    fake_uow(ctx).fail_next_commit(Conflict("duplicate", "injected"))
    with pytest.raises(Conflict):
        await do_read_identity(ctx, officer, alice.id, "police request 2026-17")
    assert fake_uow(ctx).state.audit == []


@pytest.mark.parametrize("role", [None, PlatformRole.reviewer, PlatformRole.auditor])
async def test_without_the_role_nothing_is_read_and_no_entry_is_written(
    role: PlatformRole | None,
) -> None:
    ctx, alice, _ = await _world()
    outsider = await register(ctx, "curious", verified=False, role=role)
    restart_audit_log(ctx)
    units_before = len(fake_uow(ctx).opened)
    assert (
        await refusal(
            do_read_identity(ctx, outsider, alice.id, "just curious, honestly"), Forbidden
        )
        == "platform_role_required"
    )
    assert len(fake_uow(ctx).opened) == units_before
    assert fake_uow(ctx).state.audit == []


async def test_a_full_read_without_a_reason_is_refused_unaudited() -> None:
    ctx, alice, officer = await _world()
    assert (
        await refusal(do_read_identity(ctx, officer, alice.id, "  why "), InvalidInput)
        == "reason_required"
    )
    assert fake_uow(ctx).state.audit == []


async def test_a_full_read_of_an_account_without_identity_leaves_no_entry() -> None:
    ctx, _, officer = await _world()
    with pytest.raises(NotFound):
        await do_read_identity(ctx, officer, 9999, "police request 2026-17")
    assert fake_uow(ctx).state.audit == []


async def test_an_officer_cannot_read_their_own_identity() -> None:
    ctx, _, officer = await _world()
    await do_submit_identity(ctx, officer, "张三", "110101199001011237", PHONE)
    restart_audit_log(ctx)
    with pytest.raises(Forbidden) as caught:
        await do_read_identity(ctx, officer, officer.id, "checking my own record")
    assert caught.value.code == "officer_self_action"
    assert fake_uow(ctx).state.audit == []
