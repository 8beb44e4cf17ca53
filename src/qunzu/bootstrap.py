"""Wire the parts together from settings. Nothing here runs at import time."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.bus import EventBus, make_bus
from qunzu.config import Settings
from qunzu.crypto.fields import FieldCipher, load_or_create_key
from qunzu.domain.clock import Clock, SystemClock
from qunzu.policy import load_rulebooks
from qunzu.services.context import Limits, Observer, ServiceContext
from qunzu.storage import health
from qunzu.storage.engine import make_engine
from qunzu.storage.health import SchemaState
from qunzu.storage.migrate import migrate
from qunzu.storage.uow import SqlUnitOfWorkFactory


class Argon2Hasher:
    """argon2id password hashing (argon2-cffi)."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._ph = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._ph.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._ph.check_needs_rehash(password_hash)


def load_object(path: str) -> Any:
    module, _, attr = path.partition(":")
    if not attr:
        raise ValueError(f"{path!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module), attr)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    bus: EventBus
    ctx: ServiceContext

    async def start(self) -> None:
        if self.settings.run_migrations:
            await migrate_database(self.settings)
        await self.bus.start()

    async def close(self) -> None:
        await self.bus.close()
        await self.engine.dispose()

    async def ping_database(self) -> None:
        """Raise unless the database answers (for the readiness probe)."""
        await health.ping(self.engine)

    async def schema_state(self) -> SchemaState:
        """The database's migration revision against this code's newest."""
        return await health.schema_state(self.engine)


async def migrate_database(settings: Settings) -> str | None:
    """Apply migrations to the configured database; return the revision now in place."""
    from qunzu.storage.migrate import current_revision

    # An engine of its own: the serving engine bounds each statement, a migration may not.
    engine = make_engine(settings.resolved_database_url, command_timeout=None)
    try:
        await migrate(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


def build(settings: Settings, clock: Clock | None = None, observer: Observer | None = None) -> App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    bus = make_bus(settings.bus_url, settings.bus_namespace)
    key = load_or_create_key(settings.identity_key, settings.resolved_identity_key_file)
    verifier = load_object(settings.identity_verifier)()
    rulebooks = load_rulebooks(settings.rulebook_files or None)
    ctx = ServiceContext(
        uow=SqlUnitOfWorkFactory(engine),
        bus=bus,
        clock=clock or SystemClock(),
        cipher=FieldCipher(key),
        hasher=Argon2Hasher(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        ),
        verifier=verifier,
        rulebooks=rulebooks,
        limits=Limits(
            max_message_chars=settings.max_message_chars,
            history_page_max=settings.history_page_max,
            token_ttl_hours=settings.token_ttl_hours,
            invitation_ttl_days=settings.invitation_ttl_days,
            max_accounts_per_identity=settings.max_accounts_per_identity,
            ws_catchup_page=settings.ws_catchup_page,
        ),
    )
    if observer is not None:
        ctx.observer = observer
    return App(settings, engine, bus, ctx)
