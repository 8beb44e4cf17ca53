"""The audit chain's sealed head on SQLite and PostgreSQL: entries cut from the end, all
entries gone, or a value changed in place are reported; a log from before the head is
sealed once and then verifies."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.bus.memory import MemoryBus
from qunzu.crypto.audit_chain import GENESIS, audit_content, entry_hash
from qunzu.crypto.fields import FieldCipher
from qunzu.domain.clock import FrozenClock
from qunzu.domain.models import PlatformRole
from qunzu.services.accounts import do_create_platform_user
from qunzu.services.actor import SYSTEM
from qunzu.services.audit import do_seal_audit_head, verify_audit_chain
from qunzu.services.context import ServiceContext
from qunzu.storage.engine import make_engine
from qunzu.storage.migrate import alembic_config, migrate
from qunzu.storage.uow import SqlUnitOfWorkFactory
from qunzu.verification import FormatCheckVerifier
from tests.fakes import FakePasswordHasher
from tests.integration.databases import fresh_postgres_database, require_postgres

T0 = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: each test is about the whole chain."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    with fresh_postgres_database(require_postgres()) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


def context(engine: AsyncEngine, key: bytes) -> ServiceContext:
    return ServiceContext(
        uow=SqlUnitOfWorkFactory(engine),
        bus=MemoryBus(),
        clock=FrozenClock(T0),
        cipher=FieldCipher(key),
        hasher=FakePasswordHasher(),
        verifier=FormatCheckVerifier(),
    )


async def audited(engine: AsyncEngine, entries: int) -> ServiceContext:
    """A migrated database whose log holds ``entries`` entries (staff accounts created)."""
    await migrate(engine)
    ctx = context(engine, os.urandom(32))
    for i in range(entries):
        await do_create_platform_user(
            ctx, SYSTEM, f"staff{i}", "correct horse battery", PlatformRole.reviewer
        )
    return ctx


async def execute(engine: AsyncEngine, sql: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql))


async def test_an_intact_chain_verifies_and_reports_the_expected_length(
    engine: AsyncEngine,
) -> None:
    ctx = await audited(engine, 3)
    report = await verify_audit_chain(ctx, SYSTEM)
    assert report.ok and (report.checked, report.expected) == (3, 3)
    again = await verify_audit_chain(ctx, SYSTEM)  # the first check is an entry now
    assert again.ok and (again.checked, again.expected) == (4, 4)


async def test_deleting_the_last_entry_breaks_the_chain(engine: AsyncEngine) -> None:
    ctx = await audited(engine, 3)
    await execute(engine, "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    report = await verify_audit_chain(ctx, SYSTEM)
    assert not report.ok
    assert (report.checked, report.expected) == (2, 3)
    assert report.reason.startswith("entries missing at the end")


async def test_deleting_every_entry_breaks_the_chain(engine: AsyncEngine) -> None:
    ctx = await audited(engine, 3)
    await execute(engine, "DELETE FROM audit_log")
    report = await verify_audit_chain(ctx, SYSTEM)
    assert not report.ok and (report.checked, report.expected) == (0, 3)


async def test_a_cut_stays_visible_after_later_appends(engine: AsyncEngine) -> None:
    ctx = await audited(engine, 3)
    await execute(engine, "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    await do_create_platform_user(ctx, SYSTEM, "later", "correct horse battery", PlatformRole.admin)
    report = await verify_audit_chain(ctx, SYSTEM)
    assert not report.ok
    assert (report.checked, report.expected) == (3, 4)
    assert report.reason == "the chain holds 3 entries, its head 4"


async def test_a_whitespace_change_inside_a_stored_value_breaks_the_chain(
    engine: AsyncEngine,
) -> None:
    ctx = await audited(engine, 2)
    # The stored JSON text itself is rewritten, with a space added inside the value.
    await execute(
        engine,
        'UPDATE audit_log SET detail = \'{"role": "reviewer "}\' '
        "WHERE id = (SELECT min(id) FROM audit_log)",
    )
    report = await verify_audit_chain(ctx, SYSTEM)
    assert not report.ok
    assert (report.checked, report.reason) == (0, "content does not match its hash")


async def test_a_head_moved_back_without_the_key_does_not_match_its_seal(
    engine: AsyncEngine,
) -> None:
    ctx = await audited(engine, 3)
    await execute(engine, "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    await execute(
        engine,
        "UPDATE audit_head SET entries = 2, "
        "last_id = (SELECT max(id) FROM audit_log), "
        "last_hash = (SELECT hash FROM audit_log WHERE id = (SELECT max(id) FROM audit_log))",
    )
    report = await verify_audit_chain(ctx, SYSTEM)
    assert not report.ok and report.reason == "the chain's head does not match its seal"


async def test_a_log_from_before_the_head_is_sealed_once_and_then_verifies(
    engine: AsyncEngine,
) -> None:
    def to_0006(conn: Connection) -> None:
        command.upgrade(alembic_config(conn), "0006")

    async with engine.begin() as conn:
        await conn.run_sync(to_0006)
        prev = GENESIS
        for i in range(1, 4):  # entries as the chain held them before the head was kept
            content = audit_content(T0, i, "identity.read", f"account:{i}", {"reason": "r"})
            digest = entry_hash(prev, content)
            await conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor_id, action, subject, detail, prev_hash, "
                    "hash) VALUES (:at, :actor, 'identity.read', :subject, :detail, :prev, :hash)"
                ),
                {
                    "at": T0.replace(tzinfo=None) if conn.dialect.name == "sqlite" else T0,
                    "actor": i,
                    "subject": f"account:{i}",
                    "detail": '{"reason": "r"}',
                    "prev": prev,
                    "hash": digest,
                },
            )
            prev = digest
    await migrate(engine)
    ctx = context(engine, os.urandom(32))
    unsealed = await verify_audit_chain(ctx, SYSTEM)
    assert not unsealed.ok and "not sealed" in unsealed.reason
    assert unsealed.checked == 3
    sealed = await do_seal_audit_head(ctx, SYSTEM)
    assert sealed.ok and sealed.checked == 4  # the three, and the failed check's entry
    report = await verify_audit_chain(ctx, SYSTEM)
    assert report.ok and report.checked == 5  # and the seal's own entry
