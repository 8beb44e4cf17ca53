"""Accounts, sessions, tokens and identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import JSONResponse

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.routers.security import client_of
from qunzu.api.schemas import (
    AccountOut,
    IdentityIn,
    IdInt,
    Line,
    LoginIn,
    MaskedIdentityOut,
    MeOut,
    ProfileIn,
    RegisterIn,
    TokenIn,
    TokenInfoOut,
    TokenOut,
)
from qunzu.api.schemas_security import ChallengeOut
from qunzu.services import accounts, identity
from qunzu.services.signin import OpenChallenge

router = APIRouter(
    prefix="/v1", tags=["accounts"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
async def register(body: RegisterIn, ctx: Ctx, request: Request) -> AccountOut:
    """Create an account with a handle and password. The display name is yours to choose.
    Sign-ups are limited per address (429 ``signup_throttled``)."""
    account = await accounts.do_register(
        ctx, body.handle, body.password, body.display_name, client_of(request)
    )
    return AccountOut.of(account)


@router.get("/accounts/{handle}", response_model=AccountOut)
async def public_profile(
    handle: Annotated[Line, Path(max_length=64)], ctx: Ctx, actor: CurrentActor
) -> AccountOut:
    """Another account's public face: handle, display name, and whether it is verified."""
    return AccountOut.of(await accounts.find_account(ctx, handle))


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenOut,
    responses={202: {"model": ChallengeOut, "description": "A second factor is needed"}},
)
async def login(body: LoginIn, ctx: Ctx, request: Request) -> TokenOut | JSONResponse:
    """Log in with handle and password: a token, or (202) a challenge for the second step
    when the account has a second factor. Repeated failures for the account or from the
    address are answered 429 ``login_throttled`` with ``Retry-After``."""
    issued = await accounts.do_login(
        ctx, body.handle, body.password, body.label, client=client_of(request)
    )
    if isinstance(issued, OpenChallenge):
        out = ChallengeOut(
            challenge=issued.challenge, expires_at=issued.expires_at, methods=list(issued.methods)
        )
        return JSONResponse(out.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    account = await accounts.find_account(ctx, body.handle)
    return TokenOut(
        token=issued.token,
        token_id=issued.token_id,
        expires_at=issued.expires_at,
        account=AccountOut.of(account),
    )


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
async def logout(ctx: Ctx, actor: CurrentActor) -> Response:
    """Revoke the token used for this request."""
    await accounts.do_logout(ctx, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut)
async def me(actor: CurrentActor) -> MeOut:
    return MeOut.of(actor.account)


@router.patch("/me", response_model=MeOut)
async def update_me(body: ProfileIn, ctx: Ctx, actor: CurrentActor) -> MeOut:
    return MeOut.of(await accounts.do_update_profile(ctx, actor, body.display_name))


@router.get("/me/tokens", response_model=list[TokenInfoOut])
async def my_tokens(ctx: Ctx, actor: CurrentActor) -> list[TokenInfoOut]:
    return [TokenInfoOut.of(t) for t in await accounts.list_tokens(ctx, actor)]


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
async def new_token(body: TokenIn, ctx: Ctx, actor: CurrentActor) -> TokenOut:
    issued = await accounts.do_issue_token(ctx, actor, body.label)
    return TokenOut(token=issued.token, token_id=issued.token_id, expires_at=issued.expires_at)


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    await accounts.do_revoke_token(ctx, actor, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/me/identity", status_code=status.HTTP_201_CREATED, response_model=MaskedIdentityOut)
async def submit_identity(body: IdentityIn, ctx: Ctx, actor: CurrentActor) -> MaskedIdentityOut:
    """Submit your real identity (Art. 6). It is stored encrypted and only ever shown masked."""
    masked = await identity.do_submit_identity(
        ctx, actor, body.legal_name, body.resident_id, body.phone
    )
    return MaskedIdentityOut.model_validate(masked, from_attributes=True)


@router.get("/me/identity", response_model=MaskedIdentityOut)
async def my_identity(ctx: Ctx, actor: CurrentActor) -> MaskedIdentityOut:
    masked = await identity.get_masked_identity(ctx, actor)
    return MaskedIdentityOut.model_validate(masked, from_attributes=True)
