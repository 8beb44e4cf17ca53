"""Passwords: change, reset by a code sent to the verified mobile number (找回密码), and
reset by an officer with a stated reason.

A reset code is six digits, good for ``ctx.reset_code_ttl``, for one use and for
``RESET_CODE_TRIES`` guesses; only its keyed hash (the cipher's blind index) is stored,
so the database alone does not give working codes. Codes are limited per address and
per mobile number per hour (``ctx.throttles``). Changing or resetting a password ends
other sessions: on request for a change, always for a reset.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from qunzu.domain.audit import AuditAction, check_not_self
from qunzu.domain.errors import Gone, InvalidInput, NotFound, Unavailable
from qunzu.domain.events import SessionEnded
from qunzu.domain.models import PlatformRole
from qunzu.domain.text import text_problem
from qunzu.services import throttle
from qunzu.services.actor import Actor, normalize_handle
from qunzu.services.audit import privileged
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.credentials import check_password, hash_password, verify_password
from qunzu.services.ports import UnitOfWork

RESET_CODE_TRIES = 5
OFFICER_RESETTERS = (PlatformRole.admin,)


class SmsSender(Protocol):
    """Sends a text message to a mobile number (``QUNZU_SMS_SENDER``)."""

    async def send(self, phone: str, text: str) -> None: ...


async def do_change_password(
    ctx: ServiceContext, actor: Actor, current: str, new: str, revoke_others: bool = False
) -> int:
    """Change one's own password, given the current one. Returns how many other sessions
    were ended (``revoke_others``)."""
    check_password(new)
    async with transaction(ctx, write=False) as uow:
        stored = await uow.accounts.password_hash(actor.id)
    if stored is None or not await verify_password(ctx, stored, current):
        raise InvalidInput("bad_current_password", "The current password is wrong.")
    if current == new:
        raise InvalidInput("password_unchanged", "The new password is the current one.")
    new_hash = await hash_password(ctx, new)
    async with transaction(ctx) as uow:
        await uow.accounts.set_password_hash(actor.id, new_hash)
        keep = actor.token_id
        return await _end_sessions(ctx, uow, actor.id, keep) if revoke_others else 0


async def do_request_reset(ctx: ServiceContext, handle: str, address: str = "") -> None:
    """Send a reset code to the account's verified mobile number. Answers alike whether
    or not the account exists or has one, so handles cannot be probed."""
    if address:
        await throttle.take(
            ctx, ctx.throttles.reset_address, f"reset:addr:{address}", "reset_throttled"
        )
    if ctx.sms is None:
        raise Unavailable("sms_unavailable", "Password reset by SMS is not set up here.")
    found = await _verified_phone(ctx, handle)
    if found is None:
        return
    account_id, phone = found
    number_key = f"reset:number:{ctx.cipher.blind_index(phone)}"
    await throttle.take(ctx, ctx.throttles.reset_number, number_key, "reset_throttled")
    code = f"{secrets.randbelow(10**6):06d}"
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        code_hash = _code_hash(ctx, account_id, code)
        await uow.reset_codes.add(account_id, code_hash, now, now + ctx.reset_code_ttl)
    minutes = int(ctx.reset_code_ttl.total_seconds() // 60)
    await ctx.sms.send(phone, f"[qunzu] Your password reset code is {code}, valid {minutes} min.")


async def _verified_phone(ctx: ServiceContext, handle: str) -> tuple[int, str] | None:
    try:
        handle = normalize_handle(handle)
    except InvalidInput:
        return None
    async with transaction(ctx, write=False) as uow:
        account = await uow.accounts.get_by_handle(handle)
        rec = await uow.identities.get(account.id) if account else None
    if account is None or rec is None or not rec.verified or account.disabled:
        return None
    return account.id, ctx.cipher.decrypt(rec.phone_enc, f"identity:{account.id}:phone")


def _code_hash(ctx: ServiceContext, account_id: int, code: str) -> str:
    # Keyed (the identity master key): the database alone cannot be searched for codes.
    return ctx.cipher.blind_index(f"reset-code:{account_id}:{code}")


async def do_reset_password(ctx: ServiceContext, handle: str, code: str, new: str) -> None:
    """Set a new password with a reset code; every session of the account ends."""
    check_password(new)
    try:
        handle = normalize_handle(handle)
    except InvalidInput:
        raise InvalidInput("reset_code_invalid", "This code is not valid.") from None
    new_hash = await hash_password(ctx, new)
    async with transaction(ctx) as uow:
        account = await uow.accounts.get_by_handle(handle)
        row = await uow.reset_codes.latest(account.id) if account else None
        if account is None or row is None or row.used_at is not None:
            raise InvalidInput("reset_code_invalid", "This code is not valid.")
        if row.expires_at <= ctx.clock.now() or row.attempts >= RESET_CODE_TRIES:
            raise Gone("reset_code_expired", "This code has expired; ask for a new one.")
        right = secrets.compare_digest(row.code_hash, _code_hash(ctx, account.id, code.strip()))
        if right:
            await uow.reset_codes.mark_used(row.id, ctx.clock.now())
            await uow.accounts.set_password_hash(account.id, new_hash)
            await _end_sessions(ctx, uow, account.id, None)
        else:  # the wrong guess counts, so it is committed before the refusal
            await uow.reset_codes.count_attempt(row.id)
    if not right:
        raise InvalidInput("reset_code_invalid", "This code is not valid.")
    await throttle.clear(ctx, f"login:acct:{handle}")


async def do_officer_reset_password(
    ctx: ServiceContext, actor: Actor, account_id: int, reason: str
) -> str:
    """An officer resets a password for a person who cannot receive a code (lost phone),
    having confirmed who they are: a one-time password, given once to the officer to hand
    over; every session of the account ends. Audited with the reason."""
    reason = " ".join(reason.split())
    temporary = secrets.token_urlsafe(12)
    new_hash = await hash_password(ctx, temporary)
    async with privileged(
        ctx,
        actor,
        OFFICER_RESETTERS,
        AuditAction.password_reset_by_officer,
        f"account:{account_id}",
        reason=reason[:500],
    ) as act:
        check_not_self(actor.id, account_id)
        if len(reason) < 5:
            raise InvalidInput("reason_required", "State why this password is reset.")
        problem = text_problem(reason)
        if problem is not None:
            raise InvalidInput("invalid_reason", f"A reason cannot contain {problem}.")
        if await act.uow.accounts.get(account_id) is None:
            raise NotFound("account_not_found", "No such account.")
        await act.uow.accounts.set_password_hash(account_id, new_hash)
        await _end_sessions(ctx, act.uow, account_id, None)
    return temporary


async def _end_sessions(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, keep: int | None
) -> int:
    ids = await uow.tokens.revoke_all(account_id, ctx.clock.now(), keep)
    for token_id in ids:
        uow.events.append(SessionEnded(account_id, token_id, "token_revoked"))
    return len(ids)
