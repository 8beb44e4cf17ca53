"""Account security: password change and reset, officer-assisted reset, signing out
everywhere else."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import (
    IdInt,
    OfficerResetIn,
    OfficerResetOut,
    PasswordChangeIn,
    PasswordChangeOut,
    ResetConfirmIn,
    ResetRequestIn,
    RevokedOut,
)
from qunzu.services import accounts, passwords

router = APIRouter(
    prefix="/v1", tags=["accounts"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


def client_of(request: Request) -> accounts.Client:
    """The caller's address (as uvicorn gives it, behind trusted proxies their
    X-Forwarded-For) and user agent."""
    host = request.client.host if request.client else ""
    return accounts.Client(host, request.headers.get("user-agent", ""))


@router.post("/me/password", response_model=PasswordChangeOut)
async def change_password(
    body: PasswordChangeIn, ctx: Ctx, actor: CurrentActor
) -> PasswordChangeOut:
    """Change your password, given the current one; optionally sign out every other session."""
    revoked = await passwords.do_change_password(
        ctx, actor, body.current_password, body.new_password, body.revoke_other_sessions
    )
    return PasswordChangeOut(revoked_sessions=revoked)


@router.post(
    "/password-resets", status_code=status.HTTP_202_ACCEPTED, response_model=dict[str, str]
)
async def request_reset(body: ResetRequestIn, ctx: Ctx, request: Request) -> dict[str, str]:
    """Send a reset code to the account's verified mobile number. The answer is the same
    whether or not the account exists or has one: ``{"status": "accepted"}``."""
    await passwords.do_request_reset(ctx, body.handle, client_of(request).address)
    return {"status": "accepted"}


@router.post("/password-resets/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm_reset(body: ResetConfirmIn, ctx: Ctx) -> Response:
    """Set a new password with the code; every session of the account ends."""
    await passwords.do_reset_password(ctx, body.handle, body.code, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/platform/accounts/{account_id}/password-reset",
    status_code=status.HTTP_201_CREATED,
    response_model=OfficerResetOut,
)
async def officer_reset(
    account_id: IdInt, body: OfficerResetIn, ctx: Ctx, actor: CurrentActor
) -> OfficerResetOut:
    """An admin resets a password, with a reason (audited): a one-time password to hand
    over, and every session of the account ends."""
    temporary = await passwords.do_officer_reset_password(ctx, actor, account_id, body.reason)
    return OfficerResetOut(temporary_password=temporary)


@router.post("/me/tokens/revoke-others", response_model=RevokedOut)
async def revoke_other_tokens(ctx: Ctx, actor: CurrentActor) -> RevokedOut:
    """Sign out everywhere else: revoke every token of yours but the one of this request."""
    return RevokedOut(revoked=await accounts.do_revoke_other_tokens(ctx, actor))
