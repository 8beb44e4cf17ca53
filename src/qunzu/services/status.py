"""What runs: the facts the server states at start-up and shows platform officers.

The storage mode, the WebSocket implementation and whether live events are written
straight to sockets, the bus, the rulebook version in force and the periodic jobs'
schedule. An operator reads them here instead of inferring them from configuration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from qunzu.domain.audit import AuditAction
from qunzu.domain.errors import NotFound
from qunzu.domain.models import PlatformRole
from qunzu.domain.rulebook import RulebookSet
from qunzu.services import audit
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.jobs import JobRunner, JobStatus


@dataclass(frozen=True, slots=True)
class RuntimeFacts:
    version: str
    node: str
    storage: str  # "sqlite on-loop", "sqlite thread", "postgresql (asyncpg)"
    websocket_protocol: str  # uvicorn's implementation, e.g. "websockets-sansio"
    direct_writes: bool  # live events written straight to sockets (api/ws_fastpath.py)
    bus: str  # the bus URL without credentials
    jobs_enabled: bool  # the schedule runs in this server
    websocket_deflate: str  # "per-message", "context-takeover" or "off" (api/ws_protocol.py)


@dataclass(frozen=True, slots=True)
class PlatformStatus:
    runtime: RuntimeFacts
    rulebook_version: str
    jobs: list[JobStatus]


def rulebook_in_force(rulebooks: RulebookSet, at: datetime) -> str:
    try:
        return rulebooks.in_force(at).version
    except NotFound:
        first = rulebooks.versions[0]
        return f"none yet ({first.version} from {first.effective_from.isoformat()})"


def startup_fields(facts: RuntimeFacts, rulebooks: RulebookSet, at: datetime) -> dict[str, Any]:
    """The start-up log line's fields: the same facts as the status endpoint's."""
    return {**asdict(facts), "rulebook": rulebook_in_force(rulebooks, at)}


async def do_read_status(
    ctx: ServiceContext, actor: Actor, facts: RuntimeFacts, runner: JobRunner
) -> PlatformStatus:
    """For platform admins and auditors; audited like every platform read."""
    roles = (PlatformRole.admin, PlatformRole.auditor)
    async with audit.privileged(ctx, actor, roles, AuditAction.platform_status, "platform"):
        pass
    return PlatformStatus(
        facts, rulebook_in_force(ctx.rulebooks, ctx.clock.now()), await runner.schedule()
    )
