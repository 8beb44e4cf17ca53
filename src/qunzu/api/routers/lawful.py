"""Requests from the authorities and the referral outbox (services.lawful_access).

Every route is for platform officers and is audited; registering and deciding a request
are two officers' acts (four eyes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import MAX_ID, IdInt
from qunzu.api.schemas_lawful import (
    AccessRequestIn,
    AccessRequestOut,
    DecisionIn,
    NoteIn,
    OutcomeIn,
    ReferralOut,
    SigningKeyOut,
)
from qunzu.domain.lawful_access import AccessScope, ReferralState, RequestState
from qunzu.services import lawful_access

router = APIRouter(
    prefix="/v1/platform",
    tags=["lawful access"],
    responses=ERROR_RESPONSES,
    route_class=StrictJSONRoute,
)

After = Annotated[int, Query(ge=0, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.post(
    "/access-requests", response_model=AccessRequestOut, status_code=status.HTTP_201_CREATED
)
async def register_request(
    body: AccessRequestIn, ctx: Ctx, actor: CurrentActor
) -> AccessRequestOut:
    """Register a request from an authority (admins, senior reviewers). A second officer
    decides it."""
    scope = body.scope
    new = lawful_access.NewRequest(
        authority=body.authority,
        authority_kind=body.authority_kind,
        legal_basis=body.legal_basis,
        document_ref=body.document_ref,
        private_tier_basis=body.private_tier_basis,
        scope=AccessScope(
            account_ids=tuple(scope.account_ids),
            group_ids=tuple(scope.group_ids),
            start=scope.start,
            end=scope.end,
            data_classes=tuple(scope.data_classes),
        ),
    )
    return AccessRequestOut.of(await lawful_access.do_register_request(ctx, actor, new))


@router.get("/access-requests", response_model=list[AccessRequestOut])
async def list_requests(
    ctx: Ctx,
    actor: CurrentActor,
    state: RequestState | None = None,
    after: After = 0,
    limit: Limit = 100,
) -> list[AccessRequestOut]:
    """The register of requests, oldest first (officers and auditors)."""
    found = await lawful_access.list_requests(ctx, actor, state, after, limit)
    return [AccessRequestOut.of(r) for r in found]


@router.get("/access-requests/{request_id}", response_model=AccessRequestOut)
async def get_request(request_id: IdInt, ctx: Ctx, actor: CurrentActor) -> AccessRequestOut:
    return AccessRequestOut.of(await lawful_access.get_request(ctx, actor, request_id))


@router.post("/access-requests/{request_id}/decision", response_model=AccessRequestOut)
async def decide_request(
    request_id: IdInt, body: DecisionIn, ctx: Ctx, actor: CurrentActor
) -> AccessRequestOut:
    """Approve (legal hold on the scope) or refuse, by an officer other than the one who
    registered the request."""
    decided = await lawful_access.do_decide_request(ctx, actor, request_id, body.approve, body.note)
    return AccessRequestOut.of(decided)


@router.post("/access-requests/{request_id}/close", response_model=AccessRequestOut)
async def close_request(
    request_id: IdInt, body: NoteIn, ctx: Ctx, actor: CurrentActor
) -> AccessRequestOut:
    """Close a request; its legal hold ends."""
    return AccessRequestOut.of(
        await lawful_access.do_close_request(ctx, actor, request_id, body.note)
    )


@router.post("/access-requests/{request_id}/export")
async def export_request(request_id: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    """The scoped export of an approved request: a zip of JSON-lines files with a manifest
    of their SHA-256 hashes, signed with the platform's Ed25519 key. Audited."""
    export = await lawful_access.do_export_request(ctx, actor, request_id)
    name = f"qunzu-access-request-{export.request_id}.zip"
    return Response(
        export.archive,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Qunzu-Signature": export.signature_b64,
            "Cache-Control": "no-store",
        },
    )


@router.get("/signing-key", response_model=SigningKeyOut)
async def signing_key(ctx: Ctx) -> SigningKeyOut:
    """The public key that checks the signature of every export (no secret)."""
    return SigningKeyOut(public_key_b64=lawful_access.public_key_b64(ctx))


@router.get("/referrals", response_model=list[ReferralOut])
async def list_referrals(
    ctx: Ctx,
    actor: CurrentActor,
    state: ReferralState | None = ReferralState.open,
    after: After = 0,
    limit: Limit = 100,
) -> list[ReferralOut]:
    """The outbox of matters referred to the authorities (open ones by default)."""
    found = await lawful_access.list_referrals(ctx, actor, state, after, limit)
    return [ReferralOut.of(r) for r in found]


@router.post("/referrals/{referral_id}/close", response_model=ReferralOut)
async def close_referral(
    referral_id: IdInt, body: OutcomeIn, ctx: Ctx, actor: CurrentActor
) -> ReferralOut:
    """Record how the matter was passed on (authority, reference) and close it."""
    return ReferralOut.of(
        await lawful_access.do_close_referral(ctx, actor, referral_id, body.outcome)
    )
