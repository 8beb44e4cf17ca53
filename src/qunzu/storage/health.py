"""What a readiness probe asks of the database: does it answer, and is its schema ours."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.storage.migrate import alembic_config, current_revision


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


@dataclass(frozen=True, slots=True)
class SchemaState:
    current: str | None  # the revision the database is at (None: never migrated)
    head: str | None  # the newest revision this code knows
    known: bool  # this code knows ``current`` (False: a newer node migrated past us)

    @property
    def pending(self) -> bool:
        """Migrations this code needs are not applied yet."""
        return self.known and self.current != self.head


@functools.cache
def _script() -> tuple[str | None, frozenset[str]]:
    script = ScriptDirectory.from_config(alembic_config())
    return script.get_current_head(), frozenset(r.revision for r in script.walk_revisions())


async def schema_state(engine: AsyncEngine) -> SchemaState:
    head, revisions = _script()
    current = await current_revision(engine)
    return SchemaState(current, head, current is None or current in revisions)
