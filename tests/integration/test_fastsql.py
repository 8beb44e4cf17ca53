"""The SQLite fast path for prebuilt statements (storage/fastsql.py) answers exactly as
SQLAlchemy's own execution does: same rows, same Python types, same errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.domain.credit import CreditState
from qunzu.domain.errors import Conflict
from qunzu.domain.models import EntryKind, GroupRole, Membership, MembershipState, TimelineEntry
from qunzu.domain.owner_tools import GroupControls
from qunzu.storage import fastsql
from qunzu.storage import tables as t
from qunzu.storage.engine import make_engine
from qunzu.storage.fastsql import FastResult
from qunzu.storage.inloop import InLoopConnection
from qunzu.storage.migrate import migrate
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.integration.test_storage import T0, accounts_and_group, unique

NOW = T0 + timedelta(hours=1)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'fast.db'}")
    await migrate(eng)
    yield eng
    await eng.dispose()


async def _world(factory: SqlUnitOfWorkFactory) -> dict[str, Any]:
    """Rows for every prebuilt statement to find, with the values that name them."""
    async with factory() as u:
        [owner, member], group = await accounts_and_group(u, 2)
        await u.memberships.put(
            Membership(group.id, member.id, GroupRole.member, MembershipState.active, T0, 1)
        )
        token = await u.tokens.add(member.id, unique("hash"), "phone", T0, NOW)
        await u.credit.put_state(CreditState(member.id, 640, 2, T0, locked_level=None))
        await u.owner.put_controls(GroupControls(group.id, slow_mode_seconds=30))
        await u.owner.put_mute(group.id, member.id, NOW, "刷屏", owner.id, T0)
        await u.activity.init_group(group.id, owner.id, "public")
        await u.activity.touch(group.id, member.id, T0)
        assert await u.groups.next_seq(group.id) == 1
        await u.timeline.append(
            TimelineEntry(
                group.id, 1, EntryKind.message, member.id, T0, "你好", "txn-1", {"k": [1, None]}
            )
        )
        await u.commit()
    return {
        "group_id": group.id,
        "b_group_id": group.id,
        "account_id": member.id,
        "b_account_id": member.id,
        "sender_id": member.id,
        "client_txn_id": "txn-1",
        "token_hash": token.token_hash,
        "now": NOW,
        "b_at": NOW,
        "v_group_id": group.id,
        "v_seq": 2,
        "v_kind": "message",
        "v_sender_id": member.id,
        "v_client_txn_id": "txn-2",
        "v_body": "second",
        "v_data": None,
        "v_created_at": NOW,
        # the search index's statements (storage/search_repo.py)
        "seq": 2,
        "id": 1,
        "doc": "你好",
        "upto": 0,
    }


def _normal(conn: InLoopConnection, statement: Any, params: dict[str, Any]) -> Any:
    return conn.sync_connection.execute(statement, params)


async def test_every_prebuilt_statement_answers_as_sqlalchemy_does(
    sqlite_engine: AsyncEngine,
) -> None:
    values = await _world(SqlUnitOfWorkFactory(sqlite_engine))
    statements = [entry[0] for entry in fastsql._PREBUILT.values()]
    assert len(statements) >= 10  # the message path's statements are all registered
    for statement in statements:
        plan = fastsql.plan_for(statement, sqlite_engine.dialect)
        assert plan is not None
        params = {name: values[name] for name, _, _ in plan.params if name in values}
        answers = []
        for fast in (True, False):
            async with sqlite_engine.connect() as conn:
                await conn.begin()
                if fast:
                    result = await conn.execute(statement, params)
                    assert isinstance(result, FastResult)
                else:
                    result = _normal(conn, statement, params)  # type: ignore[arg-type]
                # rowcount only where callers read it: before its rows are fetched,
                # sqlite3 says 0 for a RETURNING statement (SQLAlchemy passes that on).
                if plan.returns_rows:
                    answers.append(([r._asdict() for r in result], None))
                else:
                    answers.append(([], result.rowcount))
                await conn.rollback()
        fast_answer, normal_answer = answers
        assert fast_answer == normal_answer, plan.sql
        for fast_row, normal_row in zip(fast_answer[0], normal_answer[0], strict=True):
            assert {k: type(v) for k, v in fast_row.items()} == {
                k: type(v) for k, v in normal_row.items()
            }, plan.sql


async def test_a_prebuilt_select_finds_the_rows_the_world_holds(sqlite_engine: AsyncEngine) -> None:
    factory = SqlUnitOfWorkFactory(sqlite_engine)
    values = await _world(factory)
    async with factory(write=False) as u:
        found = await u.tokens.get_for_auth(values["token_hash"])
        assert found is not None and found[2] == 2
        entry = await u.timeline.get_by_txn(values["account_id"], "txn-1")
        assert entry is not None and entry.data == {"k": [1, None]}
        assert entry.created_at == T0 and entry.created_at.tzinfo is not None


async def test_a_duplicate_through_the_fast_path_is_sqlalchemys_integrity_error(
    sqlite_engine: AsyncEngine,
) -> None:
    factory = SqlUnitOfWorkFactory(sqlite_engine)
    values = await _world(factory)
    entry = TimelineEntry(
        values["group_id"], 1, EntryKind.message, values["account_id"], NOW, "again", "txn-x"
    )
    async with sqlite_engine.connect() as conn:
        await conn.begin()
        with pytest.raises(IntegrityError):
            await conn.execute(
                next(
                    s for s, _ in fastsql._PREBUILT.values() if s.is_dml and s.table is t.timeline
                ),
                {f"v_{k}": v for k, v in _entry_values(entry).items()},
            )
        await conn.rollback()
    with pytest.raises(Conflict) as refused:
        async with factory() as u:
            await u.timeline.append(entry)  # (group, seq) 1 is taken
            await u.commit()
    assert refused.value.code == "duplicate"


def _entry_values(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "group_id": entry.group_id,
        "seq": entry.seq,
        "kind": entry.kind.value,
        "sender_id": entry.sender_id,
        "client_txn_id": entry.client_txn_id,
        "body": entry.body,
        "data": entry.data or None,
        "created_at": entry.created_at,
    }


async def test_outside_a_transaction_a_prebuilt_statement_takes_sqlalchemys_path(
    sqlite_engine: AsyncEngine,
) -> None:
    values = await _world(SqlUnitOfWorkFactory(sqlite_engine))
    statement = next(s for s, _ in fastsql._PREBUILT.values() if not s.is_dml)
    plan = fastsql.plan_for(statement, sqlite_engine.dialect)
    assert plan is not None
    async with sqlite_engine.connect() as conn:
        result = await conn.execute(
            statement, {n: values[n] for n, _, _ in plan.params if n in values}
        )
        assert isinstance(result, CursorResult)  # SQLAlchemy autobegins as it always does
        await conn.rollback()
