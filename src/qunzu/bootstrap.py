"""Wire the parts together from settings. Nothing here runs at import time."""

from __future__ import annotations

import importlib
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.bus import EventBus, make_bus
from qunzu.config import Settings
from qunzu.crypto.fields import FieldCipher, load_or_create_key
from qunzu.domain.clock import Clock, SystemClock
from qunzu.policy import load_rulebooks
from qunzu.services import attendance, conversation, credit
from qunzu.services.context import Limits, Observer, ServiceContext
from qunzu.services.jobs import Job, JobRunner, LocalJobLocks
from qunzu.services.ports import JobLocks
from qunzu.storage import health
from qunzu.storage.engine import describe_storage, is_sqlite, make_engine
from qunzu.storage.health import SchemaState
from qunzu.storage.jobs_repo import PgJobLocks
from qunzu.storage.migrate import migrate
from qunzu.storage.uow import SqlUnitOfWorkFactory

CREDIT_RECOMPUTE = "credit_recompute"
UNATTENDED_SWEEP = "unattended_sweep"
RECALLED_PURGE = "recalled_purge"


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


async def _credit_recompute(ctx: ServiceContext) -> dict[str, int]:
    return {"accounts": await credit.recompute_all(ctx)}


async def _unattended_sweep(ctx: ServiceContext) -> dict[str, int]:
    return await attendance.sweep_unattended(ctx)


async def _recalled_purge(ctx: ServiceContext) -> dict[str, int]:
    return {"purged": await conversation.purge_recalled(ctx)}


def standard_jobs(settings: Settings) -> list[Job]:
    """The periodic jobs; one with an interval of 0 hours runs only when asked (CLI)."""

    def every(hours: float) -> timedelta | None:
        return timedelta(hours=hours) if hours > 0 else None

    return [
        Job(CREDIT_RECOMPUTE, every(settings.job_credit_recompute_hours), _credit_recompute),
        Job(UNATTENDED_SWEEP, every(settings.job_unattended_sweep_hours), _unattended_sweep),
        # Recalled texts past the rulebook's retention; daily is precise enough for days.
        Job(RECALLED_PURGE, timedelta(hours=24), _recalled_purge),
    ]


def public_url(url: str) -> str:
    """A service URL fit for logs: scheme, host, port and path; no credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    bus: EventBus
    ctx: ServiceContext
    jobs: JobRunner
    storage: str  # what runs, in words (describe_storage)
    node: str

    async def start(self) -> None:
        if self.settings.run_migrations:
            await migrate_database(self.settings)
        await self.bus.start()

    async def close(self) -> None:
        await self.jobs.stop()
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
    engine = make_engine(
        settings.resolved_database_url,
        settings.sqlite_mode,
        settings.sqlite_busy_wait_seconds,
        command_timeout=None,
    )
    try:
        await migrate(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


def build(settings: Settings, clock: Clock | None = None, observer: Observer | None = None) -> App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    engine = make_engine(
        settings.resolved_database_url, settings.sqlite_mode, settings.sqlite_busy_wait_seconds
    )
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
            history_page_max=settings.history_page_max,
            token_ttl_hours=settings.token_ttl_hours,
            invitation_ttl_days=settings.invitation_ttl_days,
            max_accounts_per_identity=settings.max_accounts_per_identity,
            ws_catchup_page=settings.ws_catchup_page,
        ),
    )
    if observer is not None:
        ctx.observer = observer
    node = f"{socket.gethostname()}:{os.getpid()}"
    # PostgreSQL: one node runs each job. SQLite: one server process is assumed.
    locks: JobLocks = LocalJobLocks() if is_sqlite(url) else PgJobLocks(engine)
    jobs = JobRunner(ctx, standard_jobs(settings), locks, node, settings.jobs_check_seconds)
    storage = describe_storage(url, settings.sqlite_mode)
    return App(settings, engine, bus, ctx, jobs, storage, node)
