"""Fixtures shared by the storage tests: each test runs on SQLite, both on the loop (the
fast path) and on aiosqlite's thread (the plain path), and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.storage.migrate import migrate
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.integration.databases import engine_for, fresh_postgres_database, require_postgres

BACKENDS = ["sqlite", "sqlite-thread", "postgresql"]


@pytest.fixture(scope="module")
def postgres_module_db() -> Iterator[str]:
    with fresh_postgres_database(require_postgres()) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database for this test to write in (on PostgreSQL, shared with this module)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qunzu.db'}"
    if request.param == "sqlite-thread":
        return f"sqlite+aiosqlite:///{tmp_path / 'qunzu.db'}"
    return str(request.getfixturevalue("postgres_module_db"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = engine_for(database_url)
    await migrate(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)
