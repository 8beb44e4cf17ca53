"""Second factors: the second step of a log-in, passkey log-in, and enrolment."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import AccountOut, IdInt, TokenOut
from qunzu.api.schemas_security import (
    CodeIn,
    EnrolledOut,
    FactorOut,
    PasskeyLoginIn,
    PasskeyOptionsIn,
    PasskeyOptionsOut,
    PasskeyRegisterIn,
    ProofIn,
    RecoveryCodesOut,
    SecondStepIn,
    SecurityOut,
    TotpStartIn,
    TotpStartOut,
)
from qunzu.services import accounts, second_factor
from qunzu.services.signin import IssuedToken

router = APIRouter(
    prefix="/v1", tags=["security"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


async def _token_out(ctx: Ctx, issued: IssuedToken) -> TokenOut:
    actor = await accounts.authenticate(ctx, issued.token)
    return TokenOut(
        token=issued.token,
        token_id=issued.token_id,
        expires_at=issued.expires_at,
        account=AccountOut.of(actor.account),
    )


@router.post("/sessions/second-factor", status_code=status.HTTP_201_CREATED)
async def second_step(body: SecondStepIn, ctx: Ctx) -> TokenOut:
    """Close a log-in challenge with an authenticator code or a recovery code."""
    issued = await second_factor.do_complete_login(
        ctx, body.challenge, body.code, body.recovery_code
    )
    return await _token_out(ctx, issued)


@router.post("/sessions/passkey/options")
async def passkey_options(body: PasskeyOptionsIn, ctx: Ctx) -> PasskeyOptionsOut:
    """Options for ``navigator.credentials.get``: for a log-in challenge, or (without
    one) for a passwordless log-in by a discoverable passkey."""
    challenge, options = await second_factor.passkey_login(ctx, body.challenge)
    return PasskeyOptionsOut(challenge=challenge, options=options)


@router.post("/sessions/passkey", status_code=status.HTTP_201_CREATED)
async def passkey_login(body: PasskeyLoginIn, ctx: Ctx) -> TokenOut:
    """Log in with a passkey assertion (second step, or instead of the password)."""
    issued = await second_factor.do_complete_passkey_login(ctx, body.challenge, body.credential)
    return await _token_out(ctx, issued)


@router.get("/me/security")
async def my_security(ctx: Ctx, actor: CurrentActor) -> SecurityOut:
    found = await second_factor.security_of(ctx, actor)
    return SecurityOut(
        second_factor=actor.account.second_factor,
        factors=[FactorOut.of(f) for f in found.factors],
        recovery_codes_left=found.recovery_codes_left,
    )


@router.post("/me/second-factors/totp", status_code=status.HTTP_201_CREATED)
async def start_totp(body: TotpStartIn, ctx: Ctx, actor: CurrentActor) -> TotpStartOut:
    """Start enrolling an authenticator app: the secret and its QR code, shown once."""
    started = await second_factor.do_start_totp(ctx, actor, body.label)
    return TotpStartOut(
        factor_id=started.factor_id,
        secret=started.secret,
        otpauth_uri=started.uri,
        qr_svg=started.qr_svg,
    )


@router.post("/me/second-factors/totp/{factor_id}/confirm")
async def confirm_totp(
    factor_id: IdInt, body: CodeIn, ctx: Ctx, actor: CurrentActor
) -> EnrolledOut:
    """Confirm with a code from the app; the first factor comes with ten recovery codes."""
    done = await second_factor.do_confirm_totp(ctx, actor, factor_id, body.code)
    return EnrolledOut(factor=FactorOut.of(done.factor), recovery_codes=done.recovery_codes)


@router.post("/me/second-factors/{factor_id}/remove", status_code=status.HTTP_204_NO_CONTENT)
async def remove_factor(factor_id: IdInt, body: ProofIn, ctx: Ctx, actor: CurrentActor) -> Response:
    """Remove a factor, proven by a current code or the password."""
    await second_factor.do_remove_factor(ctx, actor, factor_id, body.code, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/me/recovery-codes", status_code=status.HTTP_201_CREATED)
async def regenerate_recovery_codes(
    body: ProofIn, ctx: Ctx, actor: CurrentActor
) -> RecoveryCodesOut:
    """Ten new recovery codes, shown once; the old ones stop working."""
    codes = await second_factor.do_regenerate_recovery_codes(ctx, actor, body.code, body.password)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/me/passkeys/options")
async def passkey_registration_options(ctx: Ctx, actor: CurrentActor) -> PasskeyOptionsOut:
    """Options for ``navigator.credentials.create``."""
    challenge, options = await second_factor.passkey_registration(ctx, actor)
    return PasskeyOptionsOut(challenge=challenge, options=options)


@router.post("/me/passkeys", status_code=status.HTTP_201_CREATED)
async def register_passkey(body: PasskeyRegisterIn, ctx: Ctx, actor: CurrentActor) -> EnrolledOut:
    done = await second_factor.do_register_passkey(
        ctx, actor, body.challenge, body.credential, body.label
    )
    return EnrolledOut(factor=FactorOut.of(done.factor), recovery_codes=done.recovery_codes)
