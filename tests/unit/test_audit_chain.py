"""The audit hash chain: a sound chain verifies; every kind of tampering is named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from qunzu.crypto.audit_chain import (
    GENESIS,
    ChainLink,
    ChainVerifier,
    audit_content,
    entry_hash,
    verify_chain,
)
from qunzu.domain.models import PlatformRole
from qunzu.services import audit
from qunzu.services.accounts import do_register
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


# ---- through the service and the fake audit repository -----------------------------------


async def audited_ctx(entries: int) -> ServiceContext:
    """A context whose audit log holds ``entries`` entries (one per staff account created)."""
    ctx = make_ctx()
    for i in range(entries):
        await do_register(
            ctx, f"staff{i}", "correct horse battery", platform_role=PlatformRole.reviewer
        )
    assert len(fake_uow(ctx).state.audit) == entries
    return ctx


async def test_verify_audit_chain_walks_every_page_of_a_sound_chain() -> None:
    ctx = await audited_ctx(7)
    report = await audit.verify_audit_chain(ctx, page=3)
    assert report.ok
    assert report.checked == 7


async def test_verify_audit_chain_names_an_entry_tampered_in_storage() -> None:
    ctx = await audited_ctx(5)
    log = fake_uow(ctx).state.audit
    log[3] = replace(log[3], detail={"role": "admin"})
    report = await audit.verify_audit_chain(ctx, page=2)
    assert not report.ok
    assert report.first_broken_id == log[3].id
    assert report.checked == 3


async def test_verify_audit_chain_names_the_successor_of_a_deleted_entry() -> None:
    ctx = await audited_ctx(4)
    log = fake_uow(ctx).state.audit
    successor = log[2].id
    del log[1]
    report = await audit.verify_audit_chain(ctx)
    assert report.first_broken_id == successor
