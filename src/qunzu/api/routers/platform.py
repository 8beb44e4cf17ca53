"""Platform staff endpoints. Every one of them is audited."""

from __future__ import annotations

from fastapi import APIRouter, Request

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.schemas import (
    AuditVerifyOut,
    FullIdentityOut,
    IdentityReadIn,
    JobOut,
    PlatformStatusOut,
)
from qunzu.domain.models import PlatformRole
from qunzu.services import audit, identity, status
from qunzu.services.accounts import require_platform_role

router = APIRouter(prefix="/v1/platform", tags=["platform"], responses=ERROR_RESPONSES)


@router.post("/identity-reads", response_model=FullIdentityOut)
async def read_identity(body: IdentityReadIn, ctx: Ctx, actor: CurrentActor) -> FullIdentityOut:
    """Read an account's identity in full. Admins and senior reviewers only; audited."""
    full = await identity.do_read_identity(ctx, actor, body.account_id, body.reason)
    return FullIdentityOut.model_validate(full, from_attributes=True)


@router.get("/audit/verify", response_model=AuditVerifyOut)
async def verify_audit(ctx: Ctx, actor: CurrentActor) -> AuditVerifyOut:
    """Walk the audit hash chain and name the first broken entry, if any."""
    require_platform_role(actor, PlatformRole.auditor, PlatformRole.admin)
    report = await audit.verify_audit_chain(ctx)
    return AuditVerifyOut(
        ok=report.ok,
        checked=report.checked,
        first_broken_id=report.first_broken_id,
        reason=report.reason,
    )


@router.get("/status", response_model=PlatformStatusOut)
async def platform_status(request: Request, ctx: Ctx, actor: CurrentActor) -> PlatformStatusOut:
    """What runs on this node: storage mode, WebSocket implementation and direct writes,
    bus, rulebook in force, and the periodic jobs' schedule. Admins and auditors; audited."""
    state = request.app.state
    seen = await status.do_read_status(ctx, actor, state.runtime, state.qunzu.jobs)
    facts = seen.runtime
    return PlatformStatusOut(
        version=facts.version,
        node=facts.node,
        storage=facts.storage,
        websocket_protocol=facts.websocket_protocol,
        direct_writes=facts.direct_writes,
        streams_direct=state.hub.streams_direct,
        streams_asgi=state.hub.streams_asgi,
        bus=facts.bus,
        rulebook_version=seen.rulebook_version,
        jobs_enabled=facts.jobs_enabled,
        jobs=[
            JobOut(
                name=job.name,
                every_hours=job.every.total_seconds() / 3600 if job.every else None,
                next_due_at=job.next_due,
                last_started_at=job.last.started_at if job.last else None,
                last_finished_at=job.last.finished_at if job.last else None,
                last_outcome=job.last.outcome if job.last else None,  # type: ignore[arg-type]
                last_via=job.last.via if job.last else None,
                last_node=job.last.node if job.last else None,
                last_detail=job.last.detail if job.last else {},
            )
            for job in seen.jobs
        ],
    )
