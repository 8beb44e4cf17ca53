"""The audit hash chain: a sound chain verifies; every kind of tampering is named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from qunzu.crypto.audit_chain import (
    GENESIS,
    ChainLink,
    ChainReport,
    ChainVerifier,
    audit_content,
    entry_hash,
    verify_chain,
)
from qunzu.domain.audit import SYSTEM_ACTOR_ID
from qunzu.domain.errors import Conflict
from qunzu.domain.models import PlatformRole
from qunzu.services import audit
from qunzu.services.accounts import do_create_platform_user
from qunzu.services.actor import SYSTEM
from qunzu.services.context import ServiceContext
from tests.fakes import fake_uow, make_ctx

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def build_chain(n: int) -> list[ChainLink]:
    links: list[ChainLink] = []
    prev = GENESIS
    for i in range(1, n + 1):
        content = audit_content(
            T0 + timedelta(minutes=i), 7, "identity.read", f"account:{i}", {"reason": f"case {i}"}
        )
        digest = entry_hash(prev, content)
        links.append(ChainLink(i, prev, digest, content))
        prev = digest
    return links


def test_a_sound_chain_verifies_and_counts_every_link() -> None:
    report = verify_chain(build_chain(5))
    assert report.ok
    assert report.checked == 5
    assert report.first_broken_id is None


def test_an_empty_chain_verifies() -> None:
    report = verify_chain([])
    assert report.ok and report.checked == 0


def test_the_first_link_must_start_from_genesis() -> None:
    links = build_chain(3)
    report = verify_chain(links[1:])
    assert not report.ok
    assert report.first_broken_id == 2
    assert report.reason == "previous hash does not match"


def test_changed_content_is_detected_at_that_entry() -> None:
    links = build_chain(5)
    links[2] = replace(links[2], content={**links[2].content, "subject": "account:999"})
    report = verify_chain(links)
    assert not report.ok
    assert report.first_broken_id == 3
    assert report.checked == 2
    assert report.reason == "content does not match its hash"


def test_changed_content_with_a_recomputed_hash_breaks_the_next_entry() -> None:
    links = build_chain(5)
    forged = {**links[2].content, "actor_id": 1}
    links[2] = replace(links[2], content=forged, hash=entry_hash(links[2].prev_hash, forged))
    report = verify_chain(links)
    assert report.first_broken_id == 4
    assert report.reason == "previous hash does not match"


def test_changed_previous_hash_is_detected_at_that_entry() -> None:
    links = build_chain(5)
    links[3] = replace(links[3], prev_hash="f" * 64)
    report = verify_chain(links)
    assert report.first_broken_id == 4
    assert report.reason == "previous hash does not match"


def test_reordered_entries_are_detected_at_the_first_out_of_place() -> None:
    links = build_chain(5)
    links[1], links[2] = links[2], links[1]
    report = verify_chain(links)
    assert report.first_broken_id == 3
    assert report.checked == 1


def test_a_deleted_entry_is_detected_at_its_successor() -> None:
    links = build_chain(5)
    del links[2]
    report = verify_chain(links)
    assert report.first_broken_id == 4
    assert report.checked == 2


def test_the_verifier_stops_at_the_first_break() -> None:
    links = build_chain(4)
    links[1] = replace(links[1], hash="0" * 64)
    verifier = ChainVerifier()
    results = [verifier.feed(link) for link in links]
    assert results == [True, False, False, False]
    assert verifier.report().first_broken_id == 2


def test_audit_content_drops_microseconds() -> None:
    at = T0.replace(microsecond=123456)
    assert audit_content(at, 1, "a", "s", {}) == audit_content(T0, 1, "a", "s", {})


def test_entry_hash_does_not_depend_on_key_order() -> None:
    assert entry_hash(GENESIS, {"a": 1, "b": {"x": 1, "y": 2}}) == entry_hash(
        GENESIS, {"b": {"y": 2, "x": 1}, "a": 1}
    )


# ---- the chain held against its head ---------------------------------------------------


def test_a_chain_that_ends_where_its_head_says_verifies() -> None:
    links = build_chain(3)
    verifier = ChainVerifier()
    assert all(verifier.feed(link) for link in links)
    report = verifier.against_head(3, 3, links[-1].hash)
    assert report.ok and (report.checked, report.expected) == (3, 3)


def test_a_chain_cut_short_of_its_head_is_broken_at_the_missing_entry() -> None:
    links = build_chain(4)
    verifier = ChainVerifier()
    assert all(verifier.feed(link) for link in links[:3])
    report = verifier.against_head(4, 4, links[-1].hash)
    assert not report.ok
    assert (report.checked, report.expected, report.first_broken_id) == (3, 4, 4)
    assert report.reason.startswith("entries missing at the end")


def test_an_empty_chain_under_a_head_that_counts_entries_is_broken() -> None:
    report = ChainVerifier().against_head(2, 2, build_chain(2)[-1].hash)
    assert not report.ok and (report.checked, report.expected) == (0, 2)


def test_a_chain_longer_than_its_head_is_broken() -> None:
    links = build_chain(3)
    verifier = ChainVerifier()
    assert all(verifier.feed(link) for link in links)
    report = verifier.against_head(2, 2, links[1].hash)
    assert not report.ok and report.reason == "entries after the head's last entry 2"


def test_a_last_entry_whose_hash_is_not_the_heads_is_broken() -> None:
    links = build_chain(2)
    verifier = ChainVerifier()
    assert all(verifier.feed(link) for link in links)
    report = verifier.against_head(2, 2, "e" * 64)
    assert not report.ok and report.first_broken_id == 2


def test_whitespace_inside_a_value_changes_the_hash() -> None:
    content = audit_content(T0, 7, "identity.read", "account:1", {"reason": "case 1"})
    spaced = audit_content(T0, 7, "identity.read", "account:1", {"reason": "case  1"})
    assert entry_hash(GENESIS, content) != entry_hash(GENESIS, spaced)


# ---- through the service and the fake audit repository -----------------------------------


async def audited_ctx(entries: int) -> ServiceContext:
    """A context whose audit log holds ``entries`` entries (one per staff account created)."""
    ctx = make_ctx()
    for i in range(entries):
        await do_create_platform_user(
            ctx, SYSTEM, f"staff{i}", "correct horse battery", PlatformRole.reviewer
        )
    assert len(fake_uow(ctx).state.audit) == entries
    return ctx


async def verify(ctx: ServiceContext, page: int = 5000) -> ChainReport:
    return await audit.verify_audit_chain(ctx, SYSTEM, page=page)


async def test_verify_audit_chain_walks_every_page_of_a_sound_chain() -> None:
    ctx = await audited_ctx(7)
    report = await verify(ctx, page=3)
    assert report.ok
    assert (report.checked, report.expected) == (7, 7)


async def test_verify_audit_chain_names_an_entry_tampered_in_storage() -> None:
    ctx = await audited_ctx(5)
    log = fake_uow(ctx).state.audit
    log[3] = replace(log[3], detail={"role": "admin"})
    report = await verify(ctx, page=2)
    assert not report.ok
    assert report.first_broken_id == log[3].id
    assert report.checked == 3


async def test_verify_audit_chain_names_the_successor_of_a_deleted_entry() -> None:
    ctx = await audited_ctx(4)
    log = fake_uow(ctx).state.audit
    successor = log[2].id
    del log[1]
    report = await verify(ctx)
    assert report.first_broken_id == successor


async def test_deleting_the_last_entry_is_detected() -> None:
    ctx = await audited_ctx(3)
    log = fake_uow(ctx).state.audit
    last = log.pop()
    report = await verify(ctx)
    assert not report.ok
    assert (report.checked, report.expected, report.first_broken_id) == (2, 3, last.id)


async def test_deleting_every_entry_is_detected() -> None:
    ctx = await audited_ctx(3)
    fake_uow(ctx).state.audit.clear()
    report = await verify(ctx)
    assert not report.ok
    assert (report.checked, report.expected) == (0, 3)


async def test_a_whitespace_change_inside_a_stored_value_is_detected() -> None:
    ctx = await audited_ctx(2)
    log = fake_uow(ctx).state.audit
    log[0] = replace(log[0], subject=log[0].subject + " ")
    report = await verify(ctx)
    assert not report.ok and report.first_broken_id == log[0].id


async def test_a_head_rewritten_to_hide_a_cut_does_not_match_its_seal() -> None:
    ctx = await audited_ctx(3)
    state = fake_uow(ctx).state
    state.audit.pop()
    kept = state.audit[-1]
    assert state.audit_head is not None
    state.audit_head = replace(state.audit_head, count=2, last_id=kept.id, last_hash=kept.hash)
    report = await verify(ctx)
    assert not report.ok and report.reason == "the chain's head does not match its seal"


async def test_an_unsealed_head_over_entries_is_not_trusted() -> None:
    ctx = await audited_ctx(2)
    state = fake_uow(ctx).state
    assert state.audit_head is not None
    state.audit_head = replace(state.audit_head, seal=None)
    report = await verify(ctx)
    assert not report.ok and "not sealed" in report.reason


async def test_appends_after_a_tampered_head_leave_it_unsealed() -> None:
    ctx = await audited_ctx(2)
    state = fake_uow(ctx).state
    assert state.audit_head is not None
    state.audit_head = replace(state.audit_head, seal="f" * 64)
    await do_create_platform_user(
        ctx, SYSTEM, "later", "correct horse battery", PlatformRole.auditor
    )
    head = fake_uow(ctx).state.audit_head
    assert head is not None and head.seal is None
    assert not (await verify(ctx)).ok


async def test_sealing_accepts_the_chain_as_it_stands_and_records_what_it_replaced() -> None:
    ctx = await audited_ctx(3)
    state = fake_uow(ctx).state
    state.audit.pop()
    report = await audit.do_seal_audit_head(ctx, SYSTEM)
    assert report.ok and report.checked == 2
    entry = fake_uow(ctx).state.audit[-1]
    assert (entry.action, entry.actor_id) == ("audit.seal", SYSTEM_ACTOR_ID)
    assert entry.detail["replaced"]["entries"] == 3
    assert (await verify(ctx)).ok


async def test_sealing_is_refused_while_a_link_is_broken() -> None:
    ctx = await audited_ctx(3)
    log = fake_uow(ctx).state.audit
    del log[1]
    with pytest.raises(Conflict) as caught:
        await audit.do_seal_audit_head(ctx, SYSTEM)
    assert caught.value.code == "audit_chain_broken"
    assert len(fake_uow(ctx).state.audit) == 2


async def test_each_verification_is_audited_with_its_outcome() -> None:
    ctx = await audited_ctx(2)
    await verify(ctx)
    entry = fake_uow(ctx).state.audit[-1]
    assert (entry.action, entry.subject, entry.actor_id) == (
        "audit.verify",
        "audit_log",
        SYSTEM_ACTOR_ID,
    )
    assert entry.detail["ok"] is True and entry.detail["expected"] == 2
    assert (await verify(ctx)).checked == 3  # the first check is now on the chain


async def test_reading_the_log_is_audited() -> None:
    ctx = await audited_ctx(2)
    entries = await audit.list_audit(ctx, SYSTEM, 0, 10)
    assert [e.action for e in entries] == ["platform_user.create"] * 2
    last = fake_uow(ctx).state.audit[-1]
    assert (last.action, last.detail) == ("audit.read", {"after_id": 0, "entries": 2})


async def test_an_action_outside_the_enumeration_is_refused_before_writing() -> None:
    ctx = make_ctx()
    async with ctx.uow() as uow:
        with pytest.raises(ValueError):
            await audit.record(ctx, uow, SYSTEM, "case.delete_everything", "case:1")
    assert fake_uow(ctx).state.audit == []
