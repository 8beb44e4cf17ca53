"""The SQL storage on SQLite and PostgreSQL: migrations, repositories, unit of work, audit chain.

SQLite runs on a temporary file. PostgreSQL runs when QUNZU_TEST_POSTGRES_URL names a
server: this module gets a fresh database of its own (and a few tests that need an
empty one get their own), dropped at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, bindparam, inspect, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.bootstrap import Argon2Hasher
from qunzu.bus.memory import MemoryBus
from qunzu.crypto.audit_chain import GENESIS
from qunzu.crypto.fields import FieldCipher
from qunzu.domain.clock import FrozenClock
from qunzu.domain.credit import CreditEntry, CreditReason, CreditState, age_points
from qunzu.domain.errors import Conflict
from qunzu.domain.models import (
    Account,
    EntryKind,
    Group,
    GroupCategory,
    GroupKind,
    GroupRole,
    GroupRules,
    GroupState,
    JoinPolicy,
    Membership,
    MembershipState,
    PlatformRole,
    RequestState,
    TimelineEntry,
)
from qunzu.services.actor import SYSTEM
from qunzu.services.audit import head_sealer, verify_audit_chain
from qunzu.services.context import ServiceContext
from qunzu.services.ledgers import recompute_account
from qunzu.services.ports import GroupActivity, IdentityRecord
from qunzu.storage import tables as t
from qunzu.storage.engine import make_engine
from qunzu.storage.migrate import alembic_config, current_revision, migrate
from qunzu.storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from qunzu.verification import FormatCheckVerifier
from tests.integration.databases import engine_for, fresh_postgres_database, require_postgres

BACKENDS = ["sqlite", "sqlite-thread", "postgresql"]
T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
_seq = itertools.count(1)


# ---------------------------------------------------------------- fixtures
# database_url, engine and uow (one database per backend) come from conftest.py.


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody has touched, for tests about the whole schema or the whole chain."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if request.param == "sqlite-thread":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    with fresh_postgres_database(require_postgres()) as url:
        yield url


@pytest.fixture
async def empty_engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = engine_for(empty_database_url)
    yield eng
    await eng.dispose()


CIPHER = FieldCipher(os.urandom(32))
SEAL = head_sealer(CIPHER)  # as services.audit.record seals, for appends made here directly


def context_for(factory: SqlUnitOfWorkFactory) -> ServiceContext:
    return ServiceContext(
        uow=factory,
        bus=MemoryBus(),
        clock=FrozenClock(T0),
        cipher=CIPHER,
        hasher=Argon2Hasher(1, 64, 1),
        verifier=FormatCheckVerifier(),
    )


# ---------------------------------------------------------------- small factories


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}_{random.randrange(10**6)}"


async def new_account(u: SqlUnitOfWork, prefix: str = "u") -> Account:
    return await u.accounts.add(unique(prefix), prefix.title(), "argon2-hash", T0)


def draft_group(owner_id: int | None, **kw: object) -> Group:
    values: dict[str, object] = {
        "id": 0,
        "number": random.randrange(10**8, 10**9),
        "kind": GroupKind.group,
        "name": unique("group "),
        "category": GroupCategory.friends,
        "join_policy": JoinPolicy.invite_only,
        "discoverable": False,
        "owner_id": owner_id,
        "state": GroupState.active,
        "created_at": T0,
    }
    values.update(kw)
    return Group(**values)  # type: ignore[arg-type]


async def new_group(u: SqlUnitOfWork, owner: Account, **kw: object) -> Group:
    return await u.groups.add(draft_group(owner.id, **kw))


async def accounts_and_group(u: SqlUnitOfWork, n: int = 1) -> tuple[list[Account], Group]:
    """``n`` new accounts and a new group the first owns (no membership rows)."""
    accounts = [await new_account(u) for _ in range(n)]
    return accounts, await new_group(u, accounts[0])


async def count(engine: AsyncEngine, sql: str, **params: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


# ---------------------------------------------------------------- migrations


async def test_migrations_apply_from_empty_and_are_idempotent(empty_engine: AsyncEngine) -> None:
    assert await current_revision(empty_engine) is None

    await migrate(empty_engine)
    await migrate(empty_engine)  # a second start finds nothing to do

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert await current_revision(empty_engine) == head

    def schema_drift(sync_conn: object) -> tuple[set[str], list[object]]:
        names = set(inspect(sync_conn).get_table_names())  # type: ignore[arg-type]
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        drift = compare_metadata(context, t.metadata)
        # The search index is per database and kept outside tables.py (storage/search_repo.py).
        return names, [d for d in drift if not _is_search_index(d)]

    async with empty_engine.connect() as conn:
        names, drift = await conn.run_sync(schema_drift)
    assert set(t.metadata.tables) <= names
    assert drift == [], f"the migrations and tables.py disagree: {drift}"


def _is_search_index(diff: object) -> bool:
    item = diff[1] if isinstance(diff, tuple) and len(diff) > 1 else None
    table = getattr(item, "table", item)  # an index names its table; a table is itself
    return str(getattr(table, "name", "")).startswith("message_search")


async def test_current_revision_is_head(engine: AsyncEngine) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    assert await current_revision(engine) == head


# ---------------------------------------------------------------- round trips


async def test_accounts_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        alice = await new_account(u, "alice")
        staff = await u.accounts.add(
            unique("staff"), "Staff", "h2", T0, platform_role=PlatformRole.senior_reviewer
        )
        await u.commit()
    async with uow(write=False) as u:
        assert await u.accounts.get(alice.id) == alice
        assert await u.accounts.get_by_handle(alice.handle) == alice
        assert await u.accounts.get(staff.id) == staff
        assert (await u.accounts.get(staff.id)).platform_role is PlatformRole.senior_reviewer  # type: ignore[union-attr]
        assert await u.accounts.get_many([alice.id, staff.id, alice.id]) == {
            alice.id: alice,
            staff.id: staff,
        }
        assert await u.accounts.get_many([]) == {}
        assert await u.accounts.get(10**12) is None
        assert await u.accounts.password_hash(alice.id) == "argon2-hash"
    async with uow() as u:
        await u.accounts.set_password_hash(alice.id, "new-hash")
        await u.accounts.update(
            alice.id,
            identity_verified=True,
            display_name="Alice Z",
            platform_role=PlatformRole.admin,
        )
        await u.commit()
    async with uow(write=False) as u:
        assert await u.accounts.password_hash(alice.id) == "new-hash"
        assert await u.accounts.get(alice.id) == replace(
            alice, identity_verified=True, display_name="Alice Z", platform_role=PlatformRole.admin
        )


async def test_identities_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        one, two = await new_account(u), await new_account(u)
        record = IdentityRecord(
            account_id=one.id,
            blind_index=unique("bi"),
            legal_name_enc="v1:name",
            resident_id_enc="v1:rid",
            phone_enc="v1:phone",
            masked_name="张*",
            masked_resident_id="1101**********1234",
            masked_phone="138****8000",
            verified=True,
            verifier="format-check",
            verification_note="",
            submitted_at=T0,
        )
        await u.identities.put(record)
        await u.identities.put(replace(record, account_id=two.id))
        await u.commit()
    async with uow(write=False) as u:
        assert await u.identities.get(one.id) == record
        assert await u.identities.get(10**12) is None
        assert await u.identities.count_accounts_with([record.blind_index], excluding=one.id) == 1
        assert await u.identities.count_accounts_with([record.blind_index], excluding=0) == 2
    replaced = replace(record, verified=False, verification_note="rejected", masked_name="李*")
    async with uow() as u:
        await u.identities.put(replaced)  # put replaces the account's record
        await u.commit()
    async with uow(write=False) as u:
        assert await u.identities.get(one.id) == replaced


async def test_tokens_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        owner = await new_account(u)
        first = await u.tokens.add(owner.id, unique("hash"), "laptop", T0, T0 + timedelta(days=30))
        second = await u.tokens.add(owner.id, unique("hash"), "", T0, T0 + timedelta(hours=1))
        await u.commit()
    async with uow(write=False) as u:
        assert await u.tokens.get(first.id) == first
        assert await u.tokens.list_for(owner.id) == [first, second]
        assert await u.tokens.get_for_auth(first.token_hash) == (first, owner, 0)
        assert await u.tokens.get_for_auth("no-such-hash") is None
    async with uow() as u:
        await u.tokens.revoke(first.id, T0 + timedelta(minutes=5))
        await u.commit()
    async with uow(write=False) as u:
        revoked = await u.tokens.get(first.id)
        assert revoked == replace(first, revoked_at=T0 + timedelta(minutes=5))
        assert revoked is not None and not revoked.is_valid(T0 + timedelta(minutes=6))


async def test_token_kind_use_and_revoke_all_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        owner = await new_account(u)
        later = T0 + timedelta(days=30)
        web = await u.tokens.add(
            owner.id, unique("hash"), "", T0, later, "web", "203.0.113.5", "Firefox/1"
        )
        api = await u.tokens.add(owner.id, unique("hash"), "", T0, later)
        await u.commit()
    async with uow() as u:
        await u.tokens.touch(web.id, T0 + timedelta(hours=1), "203.0.113.6")
        assert await u.tokens.revoke_all(owner.id, T0 + timedelta(hours=2), keep=web.id) == [api.id]
        await u.commit()
    async with uow(write=False) as u:
        found = await u.tokens.get_for_auth(web.token_hash)
        assert found is not None
        assert (found[0].kind, found[0].address, found[0].user_agent) == (
            "web",
            "203.0.113.6",
            "Firefox/1",
        )
        assert found[0].last_used_at == T0 + timedelta(hours=1)
        assert (await u.tokens.get(api.id)).revoked_at == T0 + timedelta(hours=2)  # type: ignore[union-attr]
        assert (await u.tokens.get(web.id)).revoked_at is None  # type: ignore[union-attr]


async def test_reset_codes_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        owner = await new_account(u)
        await u.reset_codes.add(owner.id, "h1", T0, T0 + timedelta(minutes=10))
        second = await u.reset_codes.add(owner.id, "h2", T0, T0 + timedelta(minutes=10))
        await u.reset_codes.count_attempt(second.id)
        await u.reset_codes.mark_used(second.id, T0 + timedelta(minutes=1))
        await u.commit()
    async with uow(write=False) as u:
        assert await u.reset_codes.latest(owner.id) == replace(
            second, attempts=1, used_at=T0 + timedelta(minutes=1)
        )


async def test_groups_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    marker = unique("Zq_%")  # LIKE metacharacters must be matched literally
    async with uow() as u:
        owner = await new_account(u)
        plain = await new_group(u, owner)
        found = await new_group(u, owner, name=f"{marker} club", discoverable=True, member_count=5)
        decoy = await new_group(
            u, owner, name=marker.replace("_%", "xy") + " club", discoverable=True
        )
        hidden = await new_group(u, owner, name=f"{marker} hidden", discoverable=False)
        direct = await u.groups.add(
            draft_group(None, kind=GroupKind.direct, category=None, name=""),
            direct_key=f"{owner.id}:{owner.id + 1}",
        )
        await u.commit()
    assert plain.id and found.id and decoy.id and hidden.id and direct.id
    async with uow(write=False) as u:
        assert await u.groups.get(plain.id) == plain
        assert await u.groups.get_by_number(plain.number) == plain
        assert await u.groups.get_direct(f"{owner.id}:{owner.id + 1}") == direct
        assert await u.groups.get_direct("0:0") is None
        assert await u.groups.number_taken(plain.number)
        assert not await u.groups.number_taken(1)
        assert await u.groups.search_discoverable(marker, 10, 0) == [found]
        assert await u.groups.search_discoverable(marker.lower(), 10, 0) == [found]  # ILIKE
    async with uow() as u:
        await u.groups.update(
            plain.id,
            name="renamed",
            state=GroupState.dissolved,
            join_policy=JoinPolicy.approval,
            category=GroupCategory.work,
            rules_version=2,
        )
        await u.groups.add_member_count(plain.id, 3)
        await u.groups.add_member_count(plain.id, -1)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.groups.get(plain.id) == replace(
            plain,
            name="renamed",
            state=GroupState.dissolved,
            join_policy=JoinPolicy.approval,
            category=GroupCategory.work,
            rules_version=2,
            member_count=2,
        )


async def test_memberships_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        [owner, member], group = await accounts_and_group(u, 2)
        other = await new_group(u, member)
        mine = Membership(group.id, owner.id, GroupRole.owner, MembershipState.active, T0, 1)
        theirs = Membership(
            group.id, member.id, GroupRole.member, MembershipState.active, T0, 2, None, 1
        )
        elsewhere = Membership(other.id, member.id, GroupRole.owner, MembershipState.active, T0, 1)
        for m in (mine, theirs, elsewhere):
            await u.memberships.put(m)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.memberships.get(group.id, member.id) == theirs
        assert await u.memberships.get(group.id, 10**12) is None
        assert await u.memberships.list_active(group.id, 10, 0) == [mine, theirs]
        assert await u.memberships.list_active(group.id, 1, 1) == [theirs]
        assert sorted(await u.memberships.active_account_ids(group.id)) == sorted(
            [owner.id, member.id]
        )
        assert await u.memberships.for_account(member.id) == [(theirs, group), (elsewhere, other)]
    left = replace(theirs, state=MembershipState.left, left_seq=7)
    async with uow() as u:
        await u.memberships.put(left)  # put updates an existing membership
        await u.commit()
    async with uow(write=False) as u:
        assert await u.memberships.get(group.id, member.id) == left
        assert await u.memberships.active_account_ids(group.id) == [owner.id]
        assert await u.memberships.for_account(member.id) == [(elsewhere, other)]
        assert await u.memberships.for_account(member.id, active_only=False) == [
            (left, group),
            (elsewhere, other),
        ]
    rejoined = replace(theirs, joined_seq=9, earlier=((2, 7),))
    async with uow() as u:
        await u.memberships.put(rejoined)  # earlier periods are kept as they were written
        await u.commit()
    async with uow(write=False) as u:
        back = await u.memberships.get(group.id, member.id)
        assert back == rejoined and back is not None and back.periods == ((2, 7), (9, None))


async def test_bars_are_listed_newest_first_per_group_and_go_when_lifted(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        [owner, a, b], group = await accounts_and_group(u, 3)
        other = await new_group(u, owner)
        await u.owner.put_bar(group.id, a.id, "spam", owner.id, T0)
        await u.owner.put_bar(group.id, b.id, "abuse", owner.id, T0 + timedelta(minutes=1))
        await u.owner.put_bar(other.id, a.id, "elsewhere", owner.id, T0)
        await u.commit()
    async with uow(write=False) as u:
        listed = await u.owner.list_bars(group.id, 10)
        assert [(x.account_id, x.reason, x.by, x.at) for x in listed] == [
            (b.id, "abuse", owner.id, T0 + timedelta(minutes=1)),
            (a.id, "spam", owner.id, T0),
        ]
        assert [x.account_id for x in await u.owner.list_bars(group.id, 1)] == [b.id]
    async with uow() as u:
        assert await u.owner.delete_bar(group.id, b.id)
        await u.commit()
    async with uow(write=False) as u:
        assert [x.account_id for x in await u.owner.list_bars(group.id, 10)] == [a.id]


async def test_rules_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        [owner], group = await accounts_and_group(u)
        v1 = GroupRules(group.id, 1, "不发广告。\nNo ads.", owner.id, T0)
        v2 = GroupRules(group.id, 2, "Be kind.", owner.id, T0 + timedelta(days=1))
        await u.rules.add(v1)
        await u.rules.add(v2)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.rules.get(group.id, 1) == v1
        assert await u.rules.get(group.id, 2) == v2
        assert await u.rules.get(group.id, 3) is None


async def test_timeline_round_trip_with_json_data(uow: SqlUnitOfWorkFactory) -> None:
    data = {"removed": [1, 2], "reason": "spam 广告", "nested": {"ok": True, "n": None}}
    async with uow() as u:
        [owner], group = await accounts_and_group(u)
        entries = [
            TimelineEntry(group.id, 1, EntryKind.group_created, owner.id, T0, data={"name": "x"}),
            TimelineEntry(group.id, 2, EntryKind.message, owner.id, T0, "hello 你好", "txn-1"),
            TimelineEntry(group.id, 3, EntryKind.member_removed, None, T0, data=data),
            TimelineEntry(group.id, 4, EntryKind.message, owner.id, T0, "bye", "txn-2"),
        ]
        for entry in entries:
            assert await u.groups.next_seq(group.id) == entry.seq
            await u.timeline.append(entry)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.timeline.get(group.id, 3) == entries[2]
        assert (await u.timeline.get(group.id, 3)).data == data  # type: ignore[union-attr]
        assert await u.timeline.get(group.id, 9) is None
        assert await u.timeline.get_by_txn(owner.id, "txn-1") == entries[1]
        assert await u.timeline.get_by_txn(owner.id, "txn-9") is None
        assert await u.timeline.after(group.id, 0, 10) == entries
        assert await u.timeline.after(group.id, 1, 2) == entries[1:3]
        assert await u.timeline.after(group.id, 0, 10, upto=2) == entries[:2]
        assert await u.timeline.before(group.id, 4, 2) == entries[1:3]
        assert await u.timeline.before(group.id, 5, 10, floor=3) == entries[2:]
        assert (await u.groups.get(group.id)).last_seq == 4  # type: ignore[union-attr]


async def test_invitations_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        [owner, invitee], group = await accounts_and_group(u, 2)
        inv = await u.invitations.add(group.id, owner.id, invitee.id, T0, T0 + timedelta(days=7))
        await u.commit()
    assert inv.state is RequestState.pending
    async with uow(write=False) as u:
        assert await u.invitations.get(inv.id) == inv
        assert await u.invitations.pending_for(group.id, invitee.id) == inv
        assert await u.invitations.list_for_invitee(invitee.id) == [inv]
    async with uow() as u:
        await u.invitations.set_state(inv.id, RequestState.accepted)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.invitations.get(inv.id) == replace(inv, state=RequestState.accepted)
        assert await u.invitations.pending_for(group.id, invitee.id) is None
        assert await u.invitations.list_for_invitee(invitee.id) == []


async def test_join_requests_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        owner, asker = await new_account(u), await new_account(u)
        group = await new_group(u, owner, join_policy=JoinPolicy.approval)
        req = await u.join_requests.add(group.id, asker.id, "请让我加入", 1, T0)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.join_requests.get(req.id) == req
        assert await u.join_requests.pending_for(group.id, asker.id) == req
        assert await u.join_requests.list_pending(group.id) == [req]
    async with uow() as u:
        await u.join_requests.decide(req.id, RequestState.declined, owner.id)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.join_requests.get(req.id) == replace(
            req, state=RequestState.declined, decided_by=owner.id
        )
        assert await u.join_requests.pending_for(group.id, asker.id) is None
        assert await u.join_requests.list_pending(group.id) == []


async def test_ownership_offers_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        [owner, heir], group = await accounts_and_group(u, 2)
        offer = await u.ownership_offers.add(group.id, owner.id, heir.id, T0)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.ownership_offers.get(offer.id) == offer
        assert await u.ownership_offers.pending_for_group(group.id) == offer
    async with uow() as u:
        await u.ownership_offers.set_state(offer.id, RequestState.cancelled)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.ownership_offers.get(offer.id) == replace(
            offer, state=RequestState.cancelled
        )
        assert await u.ownership_offers.pending_for_group(group.id) is None


# ---------------------------------------------------------------- time


async def test_timestamps_come_back_timezone_aware_utc(uow: SqlUnitOfWorkFactory) -> None:
    beijing = timezone(timedelta(hours=8))
    local = datetime(2026, 5, 4, 20, 0, 1, 654321, tzinfo=beijing)
    async with uow() as u:
        acc = await u.accounts.add(unique("tz"), "Tz", "h", local)
        tok = await u.tokens.add(acc.id, unique("hash"), "", local, local + timedelta(days=1))
        await u.commit()
    async with uow(write=False) as u:
        stored = await u.accounts.get(acc.id)
        token = await u.tokens.get(tok.id)
    assert stored is not None and token is not None
    for moment in (stored.created_at, token.created_at, token.expires_at):
        assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)
    assert stored.created_at == local
    assert stored.created_at == datetime(2026, 5, 4, 12, 0, 1, 654321, tzinfo=UTC)

    with pytest.raises(StatementError, match="naive datetime"):
        async with uow() as u:
            await u.accounts.add(unique("naive"), "N", "h", datetime(2026, 1, 1))


# ---------------------------------------------------------------- sequences


async def test_next_seq_is_gap_free_even_after_a_rollback(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        group = await new_group(u, await new_account(u))
        assert [await u.groups.next_seq(group.id) for _ in range(3)] == [1, 2, 3]
        await u.commit()
    async with uow() as u:
        assert await u.groups.next_seq(group.id) == 4
        await u.rollback()  # the number taken here goes back with the transaction
    async with uow() as u:
        assert await u.groups.next_seq(group.id) == 4
        await u.commit()


async def test_concurrent_next_seq_from_10_transactions_yields_1_to_10(
    uow: SqlUnitOfWorkFactory,
) -> None:
    """On PostgreSQL the ten transactions really overlap: the row lock orders them."""
    async with uow() as u:
        [owner], group = await accounts_and_group(u)
        await u.commit()

    async def send(i: int) -> int:
        async with uow() as u:
            seq = await u.groups.next_seq(group.id)
            await asyncio.sleep(0.01)  # keep the transaction open while the others queue
            await u.timeline.append(
                TimelineEntry(group.id, seq, EntryKind.message, owner.id, T0, f"m{i}", f"c{i}")
            )
            await u.commit()
            return seq

    seqs = await asyncio.gather(*(send(i) for i in range(10)))
    assert sorted(seqs) == list(range(1, 11))
    async with uow(write=False) as u:
        stored = await u.timeline.after(group.id, 0, 100)
        assert [e.seq for e in stored] == list(range(1, 11))
        assert (await u.groups.get(group.id)).last_seq == 10  # type: ignore[union-attr]


# ---------------------------------------------------------------- unit of work


async def test_duplicate_client_txn_id_raises_conflict_duplicate(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        [owner], group = await accounts_and_group(u)
        await u.timeline.append(
            TimelineEntry(group.id, 1, EntryKind.message, owner.id, T0, "first", "same-txn")
        )
        await u.commit()

    with pytest.raises(Conflict) as caught:
        async with uow() as u:
            await u.timeline.append(
                TimelineEntry(group.id, 2, EntryKind.message, owner.id, T0, "again", "same-txn")
            )
            await u.commit()
    assert caught.value.code == "duplicate"

    async with uow(write=False) as u:
        assert [e.body for e in await u.timeline.after(group.id, 0, 10)] == ["first"]
    async with uow() as u:  # the connection went back to the pool in a usable state
        assert await u.timeline.get_by_txn(owner.id, "same-txn") is not None


async def test_rollback_on_exception_leaves_nothing(
    uow: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    handle = unique("ghost")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with uow() as u:
            acc = await u.accounts.add(handle, "Ghost", "h", T0)
            group = await new_group(u, acc)
            await u.groups.next_seq(group.id)
            await u.audit.append(T0, acc.id, "ghost.created", f"account:{acc.id}", {}, SEAL)
            raise Boom
    assert await count(engine, "SELECT count(*) FROM accounts WHERE handle = :h", h=handle) == 0
    assert await count(engine, "SELECT count(*) FROM groups WHERE number = :n", n=group.number) == 0
    assert await count(engine, "SELECT count(*) FROM audit_log WHERE action = 'ghost.created'") == 0


# ---------------------------------------------------------------- audit chain


async def test_audit_chain_links_entries_and_detects_a_tampered_row(
    empty_engine: AsyncEngine,
) -> None:
    await migrate(empty_engine)
    factory = SqlUnitOfWorkFactory(empty_engine)
    records = []
    for i in range(3):
        async with factory() as u:
            records.append(
                await u.audit.append(
                    T0 + timedelta(seconds=i),
                    1,
                    f"action.{i}",
                    f"subject:{i}",
                    {"n": i, "名": "值"},
                    SEAL,
                )
            )
            await u.commit()
    async with factory() as u:  # two entries in one transaction chain as well
        records.append(await u.audit.append(T0, 0, "action.3", "s", {}, SEAL))
        records.append(await u.audit.append(T0, 0, "action.4", "s", {"list": [1, 2]}, SEAL))
        await u.commit()

    assert records[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash
        assert after.id > before.id
    async with factory(write=False) as u:
        assert await u.audit.scan(0, 100) == records
        assert await u.audit.scan(records[1].id, 2) == records[2:4]

    ctx = context_for(factory)
    report = await verify_audit_chain(ctx, SYSTEM, page=2)
    assert report.ok and report.checked == 5

    tampered = records[2]
    async with empty_engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_log SET detail = :detail WHERE id = :id").bindparams(
                bindparam("detail", type_=JSON)
            ),
            {"detail": {"n": 999, "名": "值"}, "id": tampered.id},
        )
    report = await verify_audit_chain(ctx, SYSTEM, page=2)
    assert not report.ok
    assert report.first_broken_id == tampered.id
    assert report.checked == 2


async def test_audit_entries_stamped_in_another_timezone_still_verify(
    empty_engine: AsyncEngine,
) -> None:
    """The hash covers the time as the database gives it back (UTC), whatever zone the
    clock handed in; otherwise an honest entry would read as tampered."""
    await migrate(empty_engine)
    factory = SqlUnitOfWorkFactory(empty_engine)
    beijing = timezone(timedelta(hours=8))
    async with factory() as u:
        rec = await u.audit.append(T0.astimezone(beijing), 7, "tz.check", "s", {"k": "v"}, SEAL)
        await u.commit()
    assert rec.at == T0 and rec.at.utcoffset() == timedelta(0)
    async with factory(write=False) as u:
        assert await u.audit.scan(0, 10) == [rec]
    report = await verify_audit_chain(context_for(factory), SYSTEM)
    assert report.ok and report.checked == 1


async def test_concurrent_audit_appends_keep_one_unbroken_chain(
    empty_engine: AsyncEngine,
) -> None:
    await migrate(empty_engine)
    factory = SqlUnitOfWorkFactory(empty_engine)

    async def append(i: int) -> None:
        async with factory() as u:
            await u.audit.append(T0, i, "concurrent", f"n:{i}", {"i": i}, SEAL)
            await asyncio.sleep(0.01)
            await u.commit()

    await asyncio.gather(*(append(i) for i in range(10)))
    report = await verify_audit_chain(context_for(factory), SYSTEM)
    assert report.ok and report.checked == 10


# ---------------------------------------------------------------- credit and activity


async def test_credit_and_activity_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        [acc], group = await accounts_and_group(u)
        first = CreditEntry(acc.id, 5, CreditReason.identity_verified, T0)
        second = CreditEntry(
            acc.id, -20, CreditReason.sanction, T0 + timedelta(hours=1), "art-7", "sanction:1", "x"
        )
        assert await u.credit.add_entry(first) < await u.credit.add_entry(second)
        state = CreditState(acc.id, 85, 2, T0, locked_level=None, age_points=4)
        await u.credit.put_state(state)
        await u.credit.put_state(replace(state, score=90))  # put updates
        for day in ("2026-02-27", "2026-02-28", "2026-02-28", "2026-03-01"):
            await u.credit.mark_active_day(acc.id, day)
        await u.activity.init_group(group.id, acc.id, "small")
        await u.activity.set_tier(group.id, "large")
        await u.activity.touch(group.id, acc.id, T0 + timedelta(minutes=3))
        await u.activity.touch(group.id, acc.id, T0 + timedelta(minutes=9))
        await u.commit()
    async with uow(write=False) as u:
        assert await u.credit.entries(acc.id) == [second, first]  # newest first
        assert await u.credit.entries(acc.id, limit=1) == [second]
        assert await u.credit.get_state(acc.id) == replace(state, score=90)
        assert await u.credit.get_state(10**12) is None
        assert await u.credit.active_days_since(acc.id, "2026-02-28") == 2
        assert await u.activity.get_group(group.id) == GroupActivity(
            group.id, acc.id, "large", T0 + timedelta(minutes=9)
        )
        assert await u.activity.member_last_active(group.id, acc.id) == T0 + timedelta(minutes=9)
        assert await u.activity.groups_created_since(acc.id, T0) == 1
        assert await u.activity.groups_owned(acc.id) == 1


async def test_bulk_credit_recompute_agrees_with_the_per_account_rules(
    empty_engine: AsyncEngine,
) -> None:
    """The set-based recompute is dialect-specific SQL; on each backend, recomputing one
    account by the Python rules at the same moment must find nothing left to change,
    whichever batch the account was recomputed in."""
    await migrate(empty_engine)
    factory = SqlUnitOfWorkFactory(empty_engine)
    ctx = context_for(factory)
    now = T0 + timedelta(days=400)
    policy = ctx.rulebooks.in_force(now).credit
    async with factory() as u:
        old = await u.accounts.add(unique("old"), "Old", "h", now - timedelta(days=400.3))
        young = await u.accounts.add(unique("young"), "Young", "h", now - timedelta(days=20.2))
        mid = await u.accounts.add(unique("mid"), "Mid", "h", now - timedelta(days=95.4))
        for acc in (old, mid):
            await u.accounts.update(acc.id, identity_verified=True)
        for entry in (
            CreditEntry(old.id, 20, CreditReason.manual_adjustment, now - timedelta(days=10.1)),
            CreditEntry(old.id, -30, CreditReason.sanction, now - timedelta(days=5.3)),
            CreditEntry(mid.id, -50, CreditReason.sanction, now - timedelta(days=1000)),
            CreditEntry(mid.id, -10, CreditReason.sanction, now - timedelta(hours=11)),
            CreditEntry(mid.id, 7, CreditReason.report_upheld, now + timedelta(days=1)),  # future
        ):
            await u.credit.add_entry(entry)
        for back in (1, 2, 3, 40, 89, 91, 200):
            await u.credit.mark_active_day(old.id, (now - timedelta(days=back)).date().isoformat())
        await u.commit()

    # In batches of two, one transaction each, as the job runs it.
    for after, expected in ((0, (2, young.id)), (young.id, (1, mid.id)), (mid.id, (0, mid.id))):
        async with factory() as u:
            assert await u.credit.recompute_batch(now, policy, after, 2) == expected
            await u.commit()
    async with factory(write=False) as u:
        bulk = {a.id: await u.credit.get_state(a.id) for a in (old, young, mid)}
        ledgers = {a.id: await u.credit.entries(a.id) for a in (old, young, mid)}
    for acc, days in ((old, 400.3), (young, 20.2), (mid, 95.4)):
        assert bulk[acc.id] is not None
        assert bulk[acc.id].age_points == age_points(days, policy)  # type: ignore[union-attr]

    for acc in (old, young, mid):
        async with factory() as u:
            one = await recompute_account(ctx, u, acc.id, now)
            await u.commit()
        assert one == bulk[acc.id]
        async with factory(write=False) as u:
            assert await u.credit.entries(acc.id) == ledgers[acc.id]  # nothing left to correct


# ---------------------------------------------------------------- several nodes, one database


async def test_nodes_migrating_one_database_at_once_apply_the_schema_once(
    empty_database_url: str,
) -> None:
    engines = [engine_for(empty_database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(e) for e in engines))
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        for e in engines:
            assert await current_revision(e) == head
    finally:
        for e in engines:
            await e.dispose()


def test_migrations_in_several_threads_at_once_each_complete(tmp_path: Path) -> None:
    """Alembic's ``context`` and ``op`` are process-wide: servers started in several threads
    (as the test suites do) must not run their migrations through each other's."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    failures: list[BaseException] = []

    def start_node(path: Path) -> None:
        async def run() -> None:
            eng = make_engine(f"sqlite:///{path}")
            try:
                await migrate(eng)
                assert await current_revision(eng) == head
            finally:
                await eng.dispose()

        try:
            asyncio.run(run())
        except BaseException as exc:
            failures.append(exc)

    for round_ in range(5):
        threads = [
            threading.Thread(target=start_node, args=(tmp_path / f"node{round_}_{i}.db",))
            for i in range(4)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
    assert failures == []


async def test_two_processes_writing_one_sqlite_file_wait_for_each_other(tmp_path: Path) -> None:
    """Two threads, each with its own event loop and engine, stand for two processes (say
    the server and a `qunzu admin` command): neither shares the other's in-process write
    lock, so SQLite's own lock must order them, and every write must succeed."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    await migrate(engine)

    def process(first: int, count: int) -> None:
        async def run() -> None:
            own = make_engine(url)
            try:
                factory = SqlUnitOfWorkFactory(own)
                for i in range(first, first + count):
                    async with factory() as u:  # reads the chain's end, then writes
                        await u.audit.append(T0, i, "two.processes", f"n:{i}", {"i": i}, SEAL)
                        await asyncio.sleep(0.002)
                        await u.commit()
            finally:
                await own.dispose()

        asyncio.run(run())

    try:
        await asyncio.gather(asyncio.to_thread(process, 0, 20), asyncio.to_thread(process, 100, 20))
        report = await verify_audit_chain(context_for(SqlUnitOfWorkFactory(engine)), SYSTEM)
        assert report.ok and report.checked == 40
    finally:
        await engine.dispose()
