"""SQLite on the loop (storage/inloop.py): connections kept between units of work must
carry nothing from one unit to the next."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from qunzu.storage.engine import SQLITE_BEGIN_OPTION, make_engine
from qunzu.storage.inloop import MAX_IDLE_CONNECTIONS, InLoopEngine
from qunzu.storage.migrate import migrate
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.integration.test_storage import new_account


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[InLoopEngine, Path]]:
    path = tmp_path / "inloop.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    assert isinstance(engine, InLoopEngine)
    yield engine, path
    await engine.dispose()


def _other_process_can_take_the_write_lock(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


async def test_a_read_after_a_write_on_a_reused_connection_does_not_hold_the_write_lock(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, path = db
    factory = SqlUnitOfWorkFactory(engine)  # type: ignore[arg-type]
    async with factory() as u:
        account = await new_account(u)
        assert not _other_process_can_take_the_write_lock(path)  # a writer begins IMMEDIATE
        await u.commit()
    assert len(engine._idle) == 1  # the writer's connection, kept
    async with factory(write=False) as u:
        assert len(engine._idle) == 0  # ... and reused here
        assert await u.accounts.get(account.id) == account
        assert _other_process_can_take_the_write_lock(path)


async def test_a_unit_that_failed_leaves_no_transaction_on_the_connection_it_returns(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, _ = db
    factory = SqlUnitOfWorkFactory(engine)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        async with factory() as u:
            await new_account(u, prefix="ghost")
            raise RuntimeError("boom")
    assert engine._idle and not any(c.in_transaction() for c in engine._idle)
    async with engine.connect() as conn:
        ghosts = await conn.execute(
            text("SELECT count(*) FROM accounts WHERE handle LIKE 'ghost%'")
        )
        assert ghosts.scalar() == 0


async def test_a_connection_lent_to_run_sync_or_given_other_options_is_not_kept(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, _ = db
    await engine.dispose()  # start with no idle connections
    async with engine.connect() as conn:
        await conn.run_sync(lambda c: c.exec_driver_sql("SELECT 1"))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
    assert engine._idle == []
    async with engine.connect() as conn:
        await conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    assert len(engine._idle) == 1
    assert engine._idle[0].get_execution_options().get(SQLITE_BEGIN_OPTION) == ""


async def test_idle_connections_are_bounded_and_closed_on_dispose(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, _ = db
    held = [await engine.connect() for _ in range(MAX_IDLE_CONNECTIONS + 3)]
    for conn in held:
        await conn.close()
    kept = list(engine._idle)
    assert len(kept) == MAX_IDLE_CONNECTIONS
    await engine.dispose()
    assert engine._idle == [] and all(c.closed for c in kept)
