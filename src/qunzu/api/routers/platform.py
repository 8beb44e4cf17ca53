"""Platform staff endpoints. Every one of them is audited (services.audit.privileged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import (
    MAX_ID,
    AuditEntryOut,
    AuditVerifyOut,
    FullIdentityOut,
    IdentityReadIn,
    JobOut,
    PlatformStatusOut,
)
from qunzu.services import audit, identity, status

router = APIRouter(
    prefix="/v1/platform", tags=["platform"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


@router.post("/identity-reads", response_model=FullIdentityOut)
async def read_identity(body: IdentityReadIn, ctx: Ctx, actor: CurrentActor) -> FullIdentityOut:
    """Read another account's identity in full. Admins and senior reviewers only; audited."""
    full = await identity.do_read_identity(ctx, actor, body.account_id, body.reason)
    return FullIdentityOut.model_validate(full, from_attributes=True)


@router.get("/audit/verify", response_model=AuditVerifyOut)
async def verify_audit(ctx: Ctx, actor: CurrentActor) -> AuditVerifyOut:
    """Walk the audit hash chain, hold its end against the sealed head, and name the first
    broken entry, if any. Auditors and admins; the check and its outcome are audited."""
    report = await audit.verify_audit_chain(ctx, actor)
    return AuditVerifyOut(
        ok=report.ok,
        checked=report.checked,
        expected=report.expected,
        first_broken_id=report.first_broken_id,
        reason=report.reason,
    )


@router.get("/audit", response_model=list[AuditEntryOut])
async def read_audit(
    ctx: Ctx,
    actor: CurrentActor,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    """Audit entries after id ``after``, oldest first. Auditors and admins; audited."""
    entries = await audit.list_audit(ctx, actor, after, limit)
    return [AuditEntryOut.model_validate(e, from_attributes=True) for e in entries]


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
        websocket_deflate=facts.websocket_deflate,
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
