"""Throw-away PostgreSQL databases for integration tests.

``QUNZU_TEST_POSTGRES_URL`` names a server (its database part is ignored): each
caller gets a database of its own, ``qunzu_t_<random>``, created through the
server's ``postgres`` database and dropped, with any leftover sessions, after.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from qunzu.storage.engine import make_engine

POSTGRES_ENV = "QUNZU_TEST_POSTGRES_URL"


def engine_for(url: str) -> AsyncEngine:
    """The engine for a test database URL: ``sqlite+aiosqlite://`` stands for SQLite's
    thread mode (the plain path), ``sqlite://`` for on-loop (the fast path)."""
    return make_engine(url, "thread" if url.startswith("sqlite+aiosqlite") else "on-loop")


def postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def require_postgres() -> str:
    url = postgres_server_url()
    if url is None:
        pytest.skip(f"PostgreSQL not tested: set {POSTGRES_ENV} to run it")
    return url


async def _admin(server_url: str, statement: str) -> None:
    admin_url = make_url(server_url).set(database="postgres")
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    # Fixtures that create databases are synchronous and may outlive one test's event
    # loop, so they run their few statements on a loop of their own.
    asyncio.run(coro)


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database, yield its async URL, drop it afterwards."""
    name = f"qunzu_t_{uuid.uuid4().hex[:12]}"
    _run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
