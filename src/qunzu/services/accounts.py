"""Accounts, passwords and API tokens.

Tokens are opaque random strings; only their SHA-256 is stored, so a leaked
database does not leak working tokens. The same ``authenticate`` serves HTTP
requests and the WebSocket.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Collection

from qunzu.domain.audit import AuditAction
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from qunzu.domain.events import SessionEnded
from qunzu.domain.models import Account, ApiToken, PlatformRole
from qunzu.domain.second_factor import ChallengePurpose
from qunzu.services.actor import Actor, Principal, normalize_handle
from qunzu.services.audit import privileged
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ledgers import recompute_account
from qunzu.services.ports import UnitOfWork
from qunzu.services.signin import (
    TOKEN_PREFIX,
    IssuedToken,
    OpenChallenge,
    hash_token,
    issue_token,
    open_challenge,
)

__all__ = ["IssuedToken", "OpenChallenge", "hash_token"]

_HANDLE_RE = re.compile(r"^[a-z][a-z0-9_]{2,31}$")


def normalize_display_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 64:
        raise InvalidInput("invalid_display_name", "A display name is 1 to 64 characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("invalid_display_name", "A display name has no control characters.")
    return name


def check_password(password: str) -> None:
    if not 8 <= len(password) <= 128:
        raise InvalidInput("weak_password", "A password is 8 to 128 characters.")


async def do_register(
    ctx: ServiceContext, handle: str, password: str, display_name: str | None = None
) -> Account:
    """Create an account. The display name is free (前台自愿); identity comes separately."""
    handle, name, password_hash = await _new_account_fields(ctx, handle, password, display_name)
    async with transaction(ctx) as uow:
        return await _add_account(ctx, uow, handle, name, password_hash, None)


async def do_create_platform_user(
    ctx: ServiceContext,
    by: Principal,
    handle: str,
    password: str,
    role: PlatformRole,
    display_name: str | None = None,
) -> Account:
    """Create a platform staff account: an admin's act, or the operator's (the system,
    ``qunzu admin create-platform-user``). Audited."""
    handle, name, password_hash = await _new_account_fields(ctx, handle, password, display_name)
    async with privileged(
        ctx,
        by,
        (PlatformRole.admin,),
        AuditAction.platform_user_create,
        f"handle:{handle}",
        role=role.value,
    ) as act:
        account = await _add_account(ctx, act.uow, handle, name, password_hash, role)
        act.subject = f"account:{account.id}"
    return account


async def _new_account_fields(
    ctx: ServiceContext, handle: str, password: str, display_name: str | None
) -> tuple[str, str, str]:
    handle = normalize_handle(handle)
    name = normalize_display_name(display_name if display_name is not None else handle)
    check_password(password)
    return handle, name, await ctx.run_blocking(ctx.hasher.hash, password)


async def _add_account(
    ctx: ServiceContext,
    uow: UnitOfWork,
    handle: str,
    name: str,
    password_hash: str,
    role: PlatformRole | None,
) -> Account:
    if await uow.accounts.get_by_handle(handle) is not None:
        raise Conflict("handle_taken", f"The handle {handle!r} is taken.")
    account = await uow.accounts.add(
        handle, name, password_hash, ctx.clock.now(), platform_role=role
    )
    await recompute_account(ctx, uow, account.id)
    return account


async def do_login(
    ctx: ServiceContext, handle: str, password: str, label: str = ""
) -> IssuedToken | OpenChallenge:
    """Check the password and issue a new token. Wrong handle and wrong password look alike.

    An account with a second factor gets a short-lived challenge instead of a token; the
    second step (services/second_factor.py) closes it and issues the token."""
    try:
        handle = normalize_handle(handle)
    except InvalidInput:
        raise Unauthenticated("bad_credentials", "Wrong handle or password.") from None
    async with transaction(ctx, write=False) as uow:
        account = await uow.accounts.get_by_handle(handle)
        stored = await uow.accounts.password_hash(account.id) if account else None
    if account is None or stored is None:
        # Spend the same time as a real check, so handles cannot be probed by timing.
        await ctx.run_blocking(ctx.hasher.verify, _DUMMY_HASH.get(ctx), password)
        raise Unauthenticated("bad_credentials", "Wrong handle or password.")
    if not await ctx.run_blocking(ctx.hasher.verify, stored, password):
        raise Unauthenticated("bad_credentials", "Wrong handle or password.")
    if account.disabled:
        raise Forbidden("account_disabled", "This account is disabled.")
    if ctx.hasher.needs_rehash(stored):
        new_hash = await ctx.run_blocking(ctx.hasher.hash, password)
        async with transaction(ctx) as uow:
            await uow.accounts.set_password_hash(account.id, new_hash)
    if account.second_factor:
        return await open_challenge(ctx, ChallengePurpose.login, account.id, label[:64])
    return await issue_token(ctx, account.id, label[:64])


class _DummyHash:
    """One throwaway hash per context, made lazily, for constant-time failed logins."""

    def __init__(self) -> None:
        self._by_ctx: dict[int, str] = {}

    def get(self, ctx: ServiceContext) -> str:
        key = id(ctx.hasher)
        if key not in self._by_ctx:
            self._by_ctx[key] = ctx.hasher.hash(secrets.token_urlsafe(16))
        return self._by_ctx[key]


_DUMMY_HASH = _DummyHash()


async def authenticate(ctx: ServiceContext, token: str | None) -> Actor:
    if not token:
        raise Unauthenticated("token_missing", "Send a bearer token (Authorization: Bearer ...).")
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise Unauthenticated("token_invalid", "This token is not valid.")
    async with transaction(ctx, write=False) as uow:
        found = await uow.tokens.get_for_auth(hash_token(token))
    if found is None:
        raise Unauthenticated("token_invalid", "This token is not valid.")
    tok, account, level = found
    if tok.revoked_at is not None:
        raise Unauthenticated("token_revoked", "This token was revoked; log in again.")
    if not tok.is_valid(ctx.clock.now()):
        raise Unauthenticated("token_expired", "This token has expired; log in again.")
    if account.disabled:
        raise Forbidden("account_disabled", "This account is disabled.")
    return Actor(account, tok.id, level, tok.expires_at)


async def ended_sessions(ctx: ServiceContext, token_ids: Collection[int]) -> dict[int, str]:
    """Which of these tokens no longer authenticate, each with the code a request with it
    would now get: for live streams, which keep their session open past each request."""
    now = ctx.clock.now()
    async with transaction(ctx, write=False) as uow:
        found = await uow.tokens.with_account_state(sorted(token_ids))
    ended = {tid: "token_invalid" for tid in token_ids}
    for tok, disabled in found:
        if tok.revoked_at is not None:
            ended[tok.id] = "token_revoked"
        elif not tok.is_valid(now):
            ended[tok.id] = "token_expired"
        elif disabled:
            ended[tok.id] = "account_disabled"
        else:
            del ended[tok.id]
    return ended


async def do_logout(ctx: ServiceContext, actor: Actor) -> None:
    async with transaction(ctx) as uow:
        await uow.tokens.revoke(actor.token_id, ctx.clock.now())
        # After the commit, every node closes the live streams that use this token.
        uow.events.append(SessionEnded(actor.id, actor.token_id, "token_revoked"))


async def do_issue_token(ctx: ServiceContext, actor: Actor, label: str) -> IssuedToken:
    """A further token for a script or device, without giving out the password."""
    return await issue_token(ctx, actor.id, label[:64])


async def list_tokens(ctx: ServiceContext, actor: Actor) -> list[ApiToken]:
    async with transaction(ctx, write=False) as uow:
        return await uow.tokens.list_for(actor.id)


async def do_revoke_token(ctx: ServiceContext, actor: Actor, token_id: int) -> None:
    async with transaction(ctx) as uow:
        tok = await uow.tokens.get(token_id)
        if tok is None or tok.account_id != actor.id:
            raise NotFound("token_not_found", "No such token.")
        if tok.revoked_at is not None:
            raise Conflict("token_already_revoked", "This token is already revoked.")
        await uow.tokens.revoke(token_id, ctx.clock.now())
        uow.events.append(SessionEnded(actor.id, token_id, "token_revoked"))


async def do_update_profile(ctx: ServiceContext, actor: Actor, display_name: str) -> Account:
    name = normalize_display_name(display_name)
    async with transaction(ctx) as uow:
        await uow.accounts.update(actor.id, display_name=name)
        account = await uow.accounts.get(actor.id)
    assert account is not None
    return account


async def get_account(ctx: ServiceContext, account_id: int) -> Account:
    async with transaction(ctx, write=False) as uow:
        account = await uow.accounts.get(account_id)
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    return account


async def find_account(ctx: ServiceContext, handle: str) -> Account:
    try:
        handle = normalize_handle(handle)
    except InvalidInput:
        raise NotFound("account_not_found", "No such account.") from None
    async with transaction(ctx, write=False) as uow:
        account = await uow.accounts.get_by_handle(handle)
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    return account
