"""Wire the parts together from settings. Nothing here runs at import time."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
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
from qunzu.crypto.fields import FieldCipher, decode_field_keys, load_or_create_key
from qunzu.domain.clock import Clock, SystemClock
from qunzu.domain.second_factor import RelyingParty, SecondFactorPolicy
from qunzu.policy import load_rulebooks
from qunzu.services import attachments, attendance, conversation, credit, identity, retention
from qunzu.services.context import Limits, Observer, ServiceContext
from qunzu.services.credentials import HashGate
from qunzu.services.jobs import Job, JobRunner, LocalJobLocks
from qunzu.services.ports import AttachmentWiring, JobLocks
from qunzu.storage import health
from qunzu.storage.blobs import make_blob_store
from qunzu.storage.engine import describe_storage, is_sqlite, make_engine
from qunzu.storage.health import SchemaState
from qunzu.storage.jobs_repo import PgJobLocks
from qunzu.storage.migrate import migrate
from qunzu.storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger("qunzu.bootstrap")

CREDIT_RECOMPUTE = "credit_recompute"
UNATTENDED_SWEEP = "unattended_sweep"
RETENTION_PURGE = "retention_purge"
IDENTITY_REKEY = "identity_rekey"
UPLOADS_COLLECT = "uploads_collect"
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


async def _identity_rekey(ctx: ServiceContext) -> dict[str, int]:
    return await identity.rekey_identities(ctx)


async def _retention_purge(ctx: ServiceContext) -> dict[str, int]:
    return (await retention.purge(ctx)).counts()


async def _uploads_collect(ctx: ServiceContext) -> dict[str, int]:
    return await attachments.collect_unreferenced(ctx)


async def _recalled_purge(ctx: ServiceContext) -> dict[str, int]:
    return {"purged": await conversation.purge_recalled(ctx)}


def standard_jobs(settings: Settings) -> list[Job]:
    """The periodic jobs; one with an interval of 0 hours runs only when asked (CLI)."""

    def every(hours: float) -> timedelta | None:
        return timedelta(hours=hours) if hours > 0 else None

    return [
        Job(CREDIT_RECOMPUTE, every(settings.job_credit_recompute_hours), _credit_recompute),
        Job(UNATTENDED_SWEEP, every(settings.job_unattended_sweep_hours), _unattended_sweep),
        Job(RETENTION_PURGE, every(settings.job_retention_purge_hours), _retention_purge),
        Job(IDENTITY_REKEY, every(settings.job_identity_rekey_hours), _identity_rekey),
        Job(UPLOADS_COLLECT, every(settings.job_uploads_collect_hours), _uploads_collect),
        # Recalled texts past the rulebook's retention; daily is precise enough for days.
        Job(RECALLED_PURGE, timedelta(hours=24), _recalled_purge),
    ]


def attachment_wiring(settings: Settings, identity_key: bytes) -> AttachmentWiring:
    from qunzu.media import PillowMedia

    blobs = make_blob_store(
        settings.blob_url,
        settings.data_dir,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
    )
    if settings.url_signing_key:
        url_key = settings.url_signing_key.encode()
    else:
        # Its own key, derived: a signed link reveals nothing of the identity key.
        url_key = hmac.new(identity_key, b"qunzu attachment links", hashlib.sha256).digest()
    scratch = settings.data_dir / "scratch"
    attachments.scratch_cleanup(scratch)
    return AttachmentWiring(blobs, PillowMedia(), scratch, url_key)


def _wire_account_security(ctx: ServiceContext, settings: Settings) -> None:
    """Throttles (counted in Redis when the bus is Redis), the hashing bound, the SMS sender."""
    ctx.throttles = settings.throttles
    if urlsplit(settings.bus_url).scheme in ("redis", "rediss"):
        from qunzu.throttle_redis import RedisThrottleStore

        ctx.throttle_store = RedisThrottleStore(settings.bus_url, settings.bus_namespace)
    ctx.hash_gate = HashGate(
        settings.password_hash_slots, settings.password_hash_queue, threads=True
    )
    ctx.sms = load_object(settings.sms_sender)()
    ctx.reset_code_ttl = timedelta(minutes=settings.reset_code_minutes)
    if getattr(ctx.sms, "development_only", False):
        log.warning(
            "QUNZU_SMS_SENDER is %s: password reset codes are written to this log, not "
            "sent. For development only; production refuses it.",
            settings.sms_sender,
        )


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
        self.ctx.hash_gate.close()
        store_close = getattr(self.ctx.throttle_store, "close", None)
        if store_close is not None:
            await store_close()
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
        cipher=FieldCipher(key, decode_field_keys(settings.identity_field_keys)),
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
        second_factor=SecondFactorPolicy(
            challenge_seconds=settings.second_factor_challenge_seconds,
            free_failures=settings.second_factor_free_failures,
            backoff_base_seconds=settings.second_factor_backoff_seconds,
        ),
        relying_party=RelyingParty(
            settings.webauthn_rp_id, settings.webauthn_rp_name, settings.webauthn_origin
        ),
    )
    _wire_account_security(ctx, settings)
    if observer is not None:
        ctx.observer = observer
    ctx.attachments = attachment_wiring(settings, key)
    node = f"{socket.gethostname()}:{os.getpid()}"
    # PostgreSQL: one node runs each job. SQLite: one server process is assumed.
    locks: JobLocks = LocalJobLocks() if is_sqlite(url) else PgJobLocks(engine)
    jobs = JobRunner(ctx, standard_jobs(settings), locks, node, settings.jobs_check_seconds)
    storage = describe_storage(url, settings.sqlite_mode)
    return App(settings, engine, bus, ctx, jobs, storage, node)
