"""The fakes keep the promises the SQL unit of work keeps, or the service tests prove nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.credit import CreditEntry, CreditReason
from qunzu.domain.errors import Conflict
from qunzu.domain.models import EntryKind, TimelineEntry
from qunzu.services.context import transaction
from tests.fakes import FakePasswordHasher, ReadOnlyViolation, fake_uow, make_ctx

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_committed_changes_are_visible_to_later_units() -> None:
    ctx = make_ctx()
    async with ctx.uow() as uow:
        account = await uow.accounts.add("alice", "Alice", "h", NOW)
        await uow.commit()
    async with ctx.uow(write=False) as uow:
        assert await uow.accounts.get(account.id) == account


async def test_changes_of_a_unit_left_without_commit_are_not_visible() -> None:
    ctx = make_ctx()
    async with ctx.uow() as uow:
        await uow.accounts.add("alice", "Alice", "h", NOW)
    async with ctx.uow(write=False) as uow:
        assert await uow.accounts.get_by_handle("alice") is None


async def test_changes_before_an_explicit_rollback_are_not_visible() -> None:
    ctx = make_ctx()
    async with ctx.uow() as uow:
        await uow.accounts.add("alice", "Alice", "h", NOW)
        await uow.rollback()
        assert await uow.accounts.get_by_handle("alice") is None
        await uow.accounts.add("bob", "Bob", "h", NOW)
        await uow.commit()
    async with ctx.uow(write=False) as uow:
        assert await uow.accounts.get_by_handle("alice") is None
        assert await uow.accounts.get_by_handle("bob") is not None


async def test_a_raising_transaction_keeps_nothing() -> None:
    ctx = make_ctx()
    with pytest.raises(RuntimeError):
        async with transaction(ctx) as uow:
            await uow.accounts.add("alice", "Alice", "h", NOW)
            raise RuntimeError("boom")
    assert fake_uow(ctx).state.accounts == {}


async def test_uncommitted_changes_are_invisible_to_a_concurrent_unit() -> None:
    ctx = make_ctx()
    async with ctx.uow() as writer, ctx.uow(write=False) as reader:
        await writer.accounts.add("alice", "Alice", "h", NOW)
        assert await reader.accounts.get_by_handle("alice") is None


async def test_a_unit_committing_after_a_concurrent_commit_is_refused() -> None:
    ctx = make_ctx()
    with pytest.raises(Conflict):
        async with ctx.uow() as first, ctx.uow() as second:
            await first.accounts.add("alice", "Alice", "h", NOW)
            await second.accounts.add("bob", "Bob", "h", NOW)
            await first.commit()
            await second.commit()
    assert [a.handle for a in fake_uow(ctx).state.accounts.values()] == ["alice"]


async def test_an_injected_commit_failure_keeps_nothing() -> None:
    ctx = make_ctx()
    fake_uow(ctx).fail_next_commit(Conflict("duplicate", "injected"))
    with pytest.raises(Conflict):
        async with transaction(ctx) as uow:
            await uow.accounts.add("alice", "Alice", "h", NOW)
    assert fake_uow(ctx).state.accounts == {}


async def test_writes_through_a_read_only_unit_are_refused() -> None:
    ctx = make_ctx()
    async with ctx.uow(write=False) as uow:
        with pytest.raises(ReadOnlyViolation):
            await uow.accounts.add("alice", "Alice", "h", NOW)


async def test_duplicate_handle_is_a_conflict() -> None:
    ctx = make_ctx()
    async with ctx.uow() as uow:
        await uow.accounts.add("alice", "Alice", "h", NOW)
        with pytest.raises(Conflict) as caught:
            await uow.accounts.add("alice", "Other", "h", NOW)
    assert caught.value.code == "duplicate"


async def test_duplicate_sender_and_client_txn_id_is_a_conflict() -> None:
    ctx = make_ctx()

    def message(group_id: int, seq: int) -> TimelineEntry:
        return TimelineEntry(group_id, seq, EntryKind.message, 5, NOW, "hi", "txn-1")

    async with ctx.uow() as uow:
        await uow.timeline.append(message(1, 1))
        with pytest.raises(Conflict) as caught:
            await uow.timeline.append(message(2, 1))
    assert caught.value.code == "duplicate"


async def test_duplicate_group_and_seq_is_a_conflict() -> None:
    ctx = make_ctx()
    async with ctx.uow() as uow:
        await uow.timeline.append(TimelineEntry(1, 1, EntryKind.message, 5, NOW, "a", "t1"))
        with pytest.raises(Conflict):
            await uow.timeline.append(TimelineEntry(1, 1, EntryKind.message, 6, NOW, "b", "t2"))


async def test_timeline_data_must_be_json() -> None:
    ctx = make_ctx()
    async with ctx.uow() as uow:
        with pytest.raises(TypeError):
            await uow.timeline.append(
                TimelineEntry(1, 1, EntryKind.group_updated, 5, NOW, data={"at": NOW})
            )


async def test_timeline_before_returns_the_newest_page_in_order() -> None:
    ctx = make_ctx()
    async with ctx.uow() as uow:
        for seq in range(1, 8):
            await uow.timeline.append(TimelineEntry(1, seq, EntryKind.message, 5, NOW, "m"))
        page = await uow.timeline.before(1, 7, limit=3, floor=2)
        floor = await uow.timeline.before(1, 4, limit=10, floor=2)
        after = await uow.timeline.after(1, 2, limit=2, upto=3)
    assert [e.seq for e in page] == [4, 5, 6]
    assert [e.seq for e in floor] == [2, 3]
    assert [e.seq for e in after] == [3]


def test_fake_hasher_verifies_only_the_right_password() -> None:
    hasher = FakePasswordHasher()
    stored = hasher.hash("correct horse battery")
    assert hasher.verify(stored, "correct horse battery")
    assert not hasher.verify(stored, "wrong horse battery")
    assert not hasher.needs_rehash(stored)
    assert FakePasswordHasher(version=2).needs_rehash(stored)


async def test_credit_entries_come_newest_first_and_roll_back_with_their_unit() -> None:
    ctx = make_ctx()
    older = CreditEntry(1, 5, CreditReason.identity_verified, NOW)
    newer = CreditEntry(1, -3, CreditReason.sanction, NOW + timedelta(days=1))
    async with fake_uow(ctx)() as uow:
        await uow.credit.add_entry(older)
        await uow.credit.add_entry(newer)
        await uow.credit.add_entry(CreditEntry(2, 1, CreditReason.activity, NOW))
        await uow.commit()
    async with fake_uow(ctx)() as uow:
        await uow.credit.add_entry(CreditEntry(1, 9, CreditReason.manual_adjustment, NOW))
    async with fake_uow(ctx)(write=False) as uow:
        assert await uow.credit.entries(1) == [newer, older]
        assert await uow.credit.entries(1, limit=1) == [newer]


async def test_active_days_count_once_per_day() -> None:
    ctx = make_ctx()
    async with fake_uow(ctx)() as uow:
        for day in ("2026-01-01", "2026-01-01", "2026-01-02", "2025-12-31"):
            await uow.credit.mark_active_day(7, day)
        assert await uow.credit.active_days_since(7, "2026-01-01") == 2
