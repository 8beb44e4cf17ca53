"""Second factors: enrolling an authenticator app (TOTP) or a passkey, recovery codes, and
the second step of a log-in (双重验证).

The password step (``accounts.do_login``) answers an account with a factor by a
challenge (``signin.open_challenge``); the functions here close it with a TOTP code, a
recovery code or a passkey assertion, and only then issue the token. A passkey can also
sign in alone, by a discoverable credential. Wrong codes count per account and back off
(429 ``second_factor_throttled`` with ``retry_after``).

What the database holds: TOTP secrets encrypted under the platform key, recovery codes
as keyed hashes, passkeys' public keys. None of it signs anyone in without the key, the
authenticator or the code (docs/identity.md, "Second factors").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from qunzu.crypto import otp, passkeys
from qunzu.domain.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    Unauthenticated,
)
from qunzu.domain.second_factor import (
    RECOVERY_CODE_COUNT,
    Challenge,
    ChallengePurpose,
    FactorKind,
    SecondFactor,
    backoff_seconds,
    blocked_for,
    new_recovery_code,
    normalize_recovery_code,
    normalize_totp_code,
)
from qunzu.domain.text import TextKind, text_problem
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import UnitOfWork
from qunzu.services.signin import (
    Client,
    IssuedToken,
    TokenKind,
    hash_token,
    issue_token,
    open_challenge,
)

ISSUER = "qunzu"
MAX_FACTORS = 10


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """Shown once: the secret, as text, as an ``otpauth://`` URI and as a QR code."""

    factor_id: int
    secret: str
    uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class Security:
    factors: list[SecondFactor]
    recovery_codes_left: int


@dataclass(frozen=True, slots=True)
class Enrolled:
    """A confirmed factor; ``recovery_codes`` only when this was the account's first."""

    factor: SecondFactor
    recovery_codes: list[str] | None


class Proof(enum.StrEnum):
    totp = "totp"
    recovery_code = "recovery_code"
    passkey = "passkey"


def _totp_context(account_id: int) -> str:
    return f"second_factor.totp:{account_id}"


def _recovery_hash(ctx: ServiceContext, account_id: int, code: str) -> str:
    # Keyed by the platform key: a copied database cannot brute-force 50-bit codes.
    return ctx.cipher.blind_index(f"recovery-code:{account_id}:{code}")


def _label(raw: str, default: str) -> str:
    label = " ".join(raw.split())[:64] or default
    problem = text_problem(label, TextKind.line)
    if problem is not None:
        raise InvalidInput("invalid_label", f"A label cannot contain {problem}.")
    return label


async def security_of(ctx: ServiceContext, actor: Actor) -> Security:
    async with transaction(ctx, write=False) as uow:
        factors = [f for f in await uow.second_factors.list_for(actor.id) if f.active]
        left = await uow.second_factors.recovery_codes_left(actor.id)
    return Security(factors, left)


# ---- throttling wrong codes --------------------------------------------------------------


async def _check_backoff(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    _, until = await uow.second_factors.failures(account_id)
    wait = blocked_for(until, ctx.clock.now())
    if wait:
        raise QuotaExceeded(
            "second_factor_throttled",
            f"Too many wrong codes; try again in {wait} seconds.",
            retry_after=wait,
        )


async def _note_failure(ctx: ServiceContext, account_id: int) -> None:
    """Count a wrong code in its own transaction, so the refusal cannot roll it back."""
    async with transaction(ctx) as uow:
        failures, _ = await uow.second_factors.failures(account_id)
        wait = backoff_seconds(failures + 1, ctx.second_factor)
        until = ctx.clock.now() + timedelta(seconds=wait) if wait else None
        await uow.second_factors.set_failures(account_id, failures + 1, until)


# ---- checking a code ---------------------------------------------------------------------


async def _totp_step(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, code: str
) -> tuple[SecondFactor, int] | str:
    """The active TOTP factor and step the code matches, or the refusal's code."""
    now = ctx.clock.now()
    replayed = False
    for factor in await uow.second_factors.list_for(account_id):
        if factor.kind is not FactorKind.totp or not factor.active or not factor.secret_enc:
            continue
        secret = ctx.cipher.decrypt(factor.secret_enc, _totp_context(account_id))
        step = otp.matching_step(secret, code, now, factor.last_step)
        if step is not None:
            return factor, step
        replayed = replayed or otp.matching_step(secret, code, now, None) is not None
    return "code_already_used" if replayed else "wrong_code"


async def _use_totp(ctx: ServiceContext, uow: UnitOfWork, account_id: int, code: str) -> str:
    """Take a TOTP code once: "" when accepted, else the refusal's code."""
    found = await _totp_step(ctx, uow, account_id, normalize_totp_code(code))
    if isinstance(found, str):
        return found
    factor, step = found
    taken = await uow.second_factors.advance(factor.id, ctx.clock.now(), step, factor.sign_count)
    return "" if taken else "code_already_used"


async def _use_recovery(ctx: ServiceContext, uow: UnitOfWork, account_id: int, raw: str) -> str:
    code = normalize_recovery_code(raw)
    digest = _recovery_hash(ctx, account_id, code)
    used = await uow.second_factors.use_recovery_code(account_id, digest, ctx.clock.now())
    return "" if used else "wrong_recovery_code"


_REFUSALS = {
    "wrong_code": "That code is not right.",
    "code_already_used": "That code was already used; wait for the next one.",
    "wrong_recovery_code": "That recovery code is not right or was already used.",
    "wrong_password": "That password is not right.",
}


def _refusal(code: str) -> Unauthenticated:
    return Unauthenticated(code, _REFUSALS.get(code, "That is not right."))


async def _prove(
    ctx: ServiceContext, account_id: int, code: str | None, password: str | None
) -> None:
    """The holder proves it again before a factor goes: a current code or the password."""
    if code is not None:
        async with transaction(ctx) as uow:
            await _check_backoff(ctx, uow, account_id)
            refused = await _use_totp(ctx, uow, account_id, code)
    elif password is not None:
        async with transaction(ctx, write=False) as uow:
            await _check_backoff(ctx, uow, account_id)
            stored = await uow.accounts.password_hash(account_id)
        ok = await ctx.run_blocking(ctx.hasher.verify, stored, password)
        refused = "" if ok else "wrong_password"
    else:
        raise InvalidInput("proof_required", "Send a current code or your password.")
    if refused:
        await _note_failure(ctx, account_id)
        raise _refusal(refused)


# ---- TOTP enrolment ----------------------------------------------------------------------


async def do_start_totp(ctx: ServiceContext, actor: Actor, label: str = "") -> TotpEnrolment:
    """A new, unconfirmed authenticator; an earlier unconfirmed one is dropped."""
    name = _label(label, "Authenticator app")
    secret = otp.new_secret()
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        factors = await uow.second_factors.list_for(actor.id)
        for old in factors:
            if not old.active:
                await uow.second_factors.delete(old.id)
        if sum(1 for f in factors if f.active) >= MAX_FACTORS:
            raise Conflict("too_many_factors", f"An account holds at most {MAX_FACTORS}.")
        factor = await uow.second_factors.add(
            SecondFactor(
                0,
                actor.id,
                FactorKind.totp,
                name,
                now,
                secret_enc=ctx.cipher.encrypt(secret, _totp_context(actor.id)),
            )
        )
    uri = otp.provisioning_uri(secret, actor.account.handle, ISSUER)
    return TotpEnrolment(factor.id, secret, uri, otp.qr_svg(uri))


async def do_confirm_totp(ctx: ServiceContext, actor: Actor, factor_id: int, code: str) -> Enrolled:
    """A first valid code from the app makes the factor active."""
    code = normalize_totp_code(code)
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        await _check_backoff(ctx, uow, actor.id)
        factor = await uow.second_factors.get(factor_id)
        if factor is None or factor.account_id != actor.id or factor.kind is not FactorKind.totp:
            raise NotFound("factor_not_found", "No such second factor.")
        if factor.active:
            raise Conflict("factor_already_confirmed", "This authenticator is already active.")
        assert factor.secret_enc is not None
        secret = ctx.cipher.decrypt(factor.secret_enc, _totp_context(actor.id))
        step = otp.matching_step(secret, code, now, None)
        if step is not None:
            await uow.second_factors.update(factor.id, confirmed_at=now, last_step=step)
            codes = await _activate(ctx, uow, actor.id)
            return Enrolled(replace(factor, confirmed_at=now, last_step=step), codes)
    await _note_failure(ctx, actor.id)
    raise _refusal("wrong_code")


async def _activate(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> list[str] | None:
    """The account now has a factor; its first one comes with recovery codes."""
    account = await uow.accounts.get(account_id)
    assert account is not None
    if account.second_factor:
        return None
    await uow.accounts.update(account_id, second_factor=True)
    return await _new_recovery_codes(ctx, uow, account_id)


async def _new_recovery_codes(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> list[str]:
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    hashes = [_recovery_hash(ctx, account_id, c) for c in codes]
    await uow.second_factors.replace_recovery_codes(account_id, hashes, ctx.clock.now())
    return codes


async def do_regenerate_recovery_codes(
    ctx: ServiceContext, actor: Actor, code: str | None = None, password: str | None = None
) -> list[str]:
    """Ten new codes; the old ones stop working. Shown once, stored hashed."""
    if not actor.account.second_factor:
        raise Conflict("no_second_factor", "Enrol a second factor first.")
    await _prove(ctx, actor.id, code, password)
    async with transaction(ctx) as uow:
        return await _new_recovery_codes(ctx, uow, actor.id)


async def do_remove_factor(
    ctx: ServiceContext,
    actor: Actor,
    factor_id: int,
    code: str | None = None,
    password: str | None = None,
) -> None:
    """Remove a factor after a fresh proof; with the last one go the recovery codes."""
    async with transaction(ctx, write=False) as uow:
        factor = await uow.second_factors.get(factor_id)
    if factor is None or factor.account_id != actor.id:
        raise NotFound("factor_not_found", "No such second factor.")
    await _prove(ctx, actor.id, code, password)
    async with transaction(ctx) as uow:
        await uow.second_factors.delete(factor_id)
        if not any(f.active for f in await uow.second_factors.list_for(actor.id)):
            await uow.accounts.update(actor.id, second_factor=False)
            await uow.second_factors.replace_recovery_codes(actor.id, [], ctx.clock.now())


# ---- the second step of a log-in ---------------------------------------------------------


async def _open(uow: UnitOfWork, handle: str, now: datetime, *purposes: str) -> Challenge:
    """The stored challenge behind a handle, if it is still usable for one of ``purposes``."""
    if not handle.startswith("qzc_") or len(handle) > 128:
        raise Unauthenticated("challenge_invalid", "This sign-in challenge is not valid.")
    found = await uow.second_factors.challenge(hash_token(handle))
    if found is None or found.purpose.value not in purposes:
        raise Unauthenticated("challenge_invalid", "This sign-in challenge is not valid.")
    if found.used_at is not None:
        raise Gone("challenge_used", "This sign-in challenge was already used; log in again.")
    if not found.usable(now):
        raise Gone("challenge_expired", "This sign-in challenge has expired; log in again.")
    return found


async def _finish(ctx: ServiceContext, uow: UnitOfWork, challenge: Challenge) -> None:
    if not await uow.second_factors.use_challenge(challenge.id, ctx.clock.now()):
        raise Gone("challenge_used", "This sign-in challenge was already used; log in again.")
    assert challenge.account_id is not None
    account = await uow.accounts.get(challenge.account_id)
    if account is None or account.disabled:
        raise Forbidden("account_disabled", "This account is disabled.")
    await uow.second_factors.set_failures(challenge.account_id, 0, None)


async def do_complete_login(
    ctx: ServiceContext,
    handle: str,
    code: str | None = None,
    recovery_code: str | None = None,
    kind: TokenKind = TokenKind.api,
    client: Client | None = None,
) -> IssuedToken:
    """Close a log-in challenge with a TOTP code or a recovery code, and issue the token
    of the ``kind`` the entry point gives (a web session, or an API token)."""
    if (code is None) == (recovery_code is None):
        raise InvalidInput("proof_required", "Send either a code or a recovery code.")
    async with transaction(ctx) as uow:
        challenge = await _open(uow, handle, ctx.clock.now(), ChallengePurpose.login)
        account_id = challenge.account_id
        assert account_id is not None
        await _check_backoff(ctx, uow, account_id)
        if code is not None:
            refused = await _use_totp(ctx, uow, account_id, code)
        else:
            assert recovery_code is not None
            refused = await _use_recovery(ctx, uow, account_id, recovery_code)
        if not refused:
            await _finish(ctx, uow, challenge)
    if refused:
        await _note_failure(ctx, account_id)
        raise _refusal(refused)
    return await issue_token(ctx, account_id, challenge.label, kind, client)


# ---- passkeys ----------------------------------------------------------------------------


def _user_id(account_id: int) -> bytes:
    return f"qunzu-account:{account_id}".encode()


async def passkey_registration(ctx: ServiceContext, actor: Actor) -> tuple[str, dict[str, Any]]:
    """A registration challenge and the options for ``navigator.credentials.create``."""
    opened = await open_challenge(ctx, ChallengePurpose.passkey_register, actor.id)
    async with transaction(ctx, write=False) as uow:
        existing = [
            f.credential_id
            for f in await uow.second_factors.list_for(actor.id)
            if f.credential_id is not None
        ]
    rp = ctx.relying_party
    options = passkeys.registration_options(
        rp.id,
        rp.name,
        _user_id(actor.id),
        actor.account.handle,
        actor.account.display_name,
        passkeys.unb64(opened.nonce),
        existing,
    )
    return opened.challenge, options


async def do_register_passkey(
    ctx: ServiceContext, actor: Actor, handle: str, credential: dict[str, Any], label: str = ""
) -> Enrolled:
    """Verify the browser's new credential against the registration challenge and keep its
    public key (never a private one)."""
    name = _label(label, "Passkey")
    rp, now = ctx.relying_party, ctx.clock.now()
    async with transaction(ctx) as uow:
        challenge = await _open(uow, handle, now, ChallengePurpose.passkey_register)
        if challenge.account_id != actor.id:
            raise Unauthenticated("challenge_invalid", "This challenge is not yours.")
        try:
            made = passkeys.verify_registration(
                credential, passkeys.unb64(challenge.nonce), rp.id, rp.origin
            )
        except passkeys.PasskeyRefused as exc:
            raise InvalidInput("passkey_refused", f"The passkey did not verify: {exc}") from None
        if await uow.second_factors.by_credential(made.credential_id) is not None:
            raise Conflict("passkey_already_registered", "This passkey is already registered.")
        await uow.second_factors.use_challenge(challenge.id, now)
        factor = await uow.second_factors.add(
            SecondFactor(
                0,
                actor.id,
                FactorKind.passkey,
                name,
                now,
                confirmed_at=now,
                credential_id=made.credential_id,
                public_key=made.public_key,
                sign_count=made.sign_count,
            )
        )
        codes = await _activate(ctx, uow, actor.id)
    return Enrolled(factor, codes)


async def passkey_login(
    ctx: ServiceContext, handle: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Options for ``navigator.credentials.get``: for a log-in challenge from the password
    step (the account's passkeys), or, with no handle, a passwordless log-in by any
    discoverable passkey."""
    rp_id = ctx.relying_party.id
    if handle is None:
        opened = await open_challenge(ctx, ChallengePurpose.passkey_login, None)
        return opened.challenge, passkeys.authentication_options(
            rp_id, passkeys.unb64(opened.nonce), []
        )
    async with transaction(ctx, write=False) as uow:
        challenge = await _open(uow, handle, ctx.clock.now(), ChallengePurpose.login)
        assert challenge.account_id is not None
        factors = await uow.second_factors.list_for(challenge.account_id)
    allowed = [f.credential_id for f in factors if f.credential_id and f.active]
    if not allowed:
        raise Conflict("no_passkey", "This account has no passkey.")
    return handle, passkeys.authentication_options(rp_id, passkeys.unb64(challenge.nonce), allowed)


async def do_complete_passkey_login(
    ctx: ServiceContext,
    handle: str,
    credential: dict[str, Any],
    kind: TokenKind = TokenKind.api,
    client: Client | None = None,
) -> IssuedToken:
    """Verify a passkey assertion against the challenge and issue the token. A counter
    that did not move forward (a cloned authenticator) is refused."""
    rp, now = ctx.relying_party, ctx.clock.now()
    async with transaction(ctx) as uow:
        challenge = await _open(
            uow, handle, now, ChallengePurpose.login, ChallengePurpose.passkey_login
        )
        factor = await uow.second_factors.by_credential(passkeys.credential_id_of(credential))
        if factor is None or not factor.active or factor.public_key is None:
            raise Unauthenticated("passkey_unknown", "This passkey is not registered here.")
        if challenge.account_id not in (None, factor.account_id):
            raise Unauthenticated("passkey_unknown", "This passkey is not this account's.")
        await _check_backoff(ctx, uow, factor.account_id)
        try:
            count = passkeys.verify_assertion(
                credential,
                passkeys.unb64(challenge.nonce),
                rp.id,
                rp.origin,
                factor.public_key,
                factor.sign_count,
            )
            refused = ""
        except passkeys.PasskeyRefused:
            refused = "passkey_refused"
        if not refused:
            await uow.second_factors.advance(factor.id, now, 0, count)
            await _finish(ctx, uow, replace(challenge, account_id=factor.account_id))
    if refused:
        await _note_failure(ctx, factor.account_id)
        raise Unauthenticated("passkey_refused", "The passkey's answer did not verify.")
    return await issue_token(ctx, factor.account_id, challenge.label, kind, client)
