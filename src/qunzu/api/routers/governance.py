"""The public rulebook, credit as its holder sees it, and platform credit locks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from qunzu.api.deps import Ctx, CurrentActor, context_of
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas_governance import CreditLockIn, CreditOut, CreditStateOut, RulebookVersionOut
from qunzu.domain.errors import InvalidInput
from qunzu.services import agreement, credit, rulebook

router = APIRouter(
    prefix="/v1", tags=["governance"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


@router.get("/rulebook", response_model=dict[str, Any])
async def get_rulebook(
    request: Request,
    at: Annotated[datetime | None, Query(description="A moment; default now.")] = None,
) -> dict[str, Any]:
    """The rulebook in force (now, or at a moment): articles, tiers, credit levels and what
    each allows, report categories and deadlines, the sanction catalogue, retention.
    Public: users may read the rules that govern them (Art. 5)."""
    ctx = context_of(request)
    if at is not None and at.tzinfo is None:
        raise InvalidInput("invalid_moment", "Give the moment with a UTC offset.")
    return rulebook.rulebook_document(rulebook.rulebook_in_force(ctx, at))


@router.get("/agreement", response_model=dict[str, Any])
async def get_agreement(request: Request) -> dict[str, Any]:
    """The service agreement and user convention in force (用户服务协议与用户公约), in both
    languages. Public; accept it with ``POST /v1/me/consents {version}``."""
    current = agreement.agreement_in_force(context_of(request))
    return {
        "version": current.version,
        "effective_from": current.effective_from.isoformat(),
        "title": {"zh": current.title.zh, "en": current.title.en},
        "text": {"zh": current.text.zh, "en": current.text.en},
    }


@router.get("/rulebook/versions", response_model=list[RulebookVersionOut])
async def rulebook_versions(request: Request) -> list[RulebookVersionOut]:
    return [RulebookVersionOut(**v) for v in rulebook.list_versions(context_of(request))]


@router.get("/me/credit", response_model=CreditOut)
async def my_credit(ctx: Ctx, actor: CurrentActor) -> CreditOut:
    """Your score, your level, what each level allows, and why your score moved."""
    return CreditOut.of(await credit.get_my_credit(ctx, actor))


@router.post("/platform/credit-locks", response_model=CreditStateOut)
async def lock_level(body: CreditLockIn, ctx: Ctx, actor: CurrentActor) -> CreditStateOut:
    """Fix an account's level by hand, or release it (level null). Senior reviewers; audited."""
    state = await credit.do_lock_level(ctx, actor, body.account_id, body.level, body.reason)
    return CreditStateOut.of(state)
