"""Platform staff endpoints. Every one of them is audited."""

from __future__ import annotations

from fastapi import APIRouter

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import AuditVerifyOut, FullIdentityOut, IdentityReadIn
from qunzu.domain.models import PlatformRole
from qunzu.services import audit, identity
from qunzu.services.actor import require_platform_role

router = APIRouter(
    prefix="/v1/platform", tags=["platform"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


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
