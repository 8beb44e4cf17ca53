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
from datetime import timedelta

from qunzu.domain.audit import AuditAction
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from qunzu.domain.events import SessionEnded
from qunzu.domain.models import Account, ApiToken, PlatformRole
from qunzu.domain.second_factor import ChallengePurpose
from qunzu.services import throttle
from qunzu.services.actor import Actor, Principal, normalize_handle
from qunzu.services.audit import privileged
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.credentials import check_password, hash_password, verify_password
from qunzu.services.ledgers import recompute_account
from qunzu.services.ports import UnitOfWork
from qunzu.services.signin import (
    TOKEN_PREFIX,
    Client,
    IssuedToken,
    OpenChallenge,
    TokenKind,
    hash_token,
    issue_token,
    open_challenge,
)

__all__ = ["Client", "IssuedToken", "OpenChallenge", "TokenKind", "hash_token"]

_HANDLE_RE = re.compile(r"^[a-z][a-z0-9_]{2,31}$")


def normalize_display_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 64:
        raise InvalidInput("invalid_display_name", "A display name is 1 to 64 characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("invalid_display_name", "A display name has no control characters.")
    return name


async def do_register(
    ctx: ServiceContext,
    handle: str,
    password: str,
    display_name: str | None = None,
    client: Client | None = None,
) -> Account:
    """Create an account. The display name is free (前台自愿); identity comes separately.
    Sign-ups are limited per address."""
    if client is not None and client.address:
        await throttle.take(
            ctx, ctx.throttles.signup_address, f"signup:{client.address}", "signup_throttled"
        )
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
    return handle, name, await hash_password(ctx, password)


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
    ctx: ServiceContext,
    handle: str,
    password: str,
    label: str = "",
    kind: TokenKind = TokenKind.api,
    client: Client | None = None,
) -> IssuedToken | OpenChallenge:
    """Check the password and issue a new token. Wrong handle and wrong password look alike.

    Two steps, so that a further factor can come between them: ``check_login`` (throttled,
    the password, the rehash) and ``start_session`` (the token, the sign-in alerts). An
    account with a second factor gets a short-lived challenge instead of a token; the
    second step (services/second_factor.py) closes it and issues the token."""
    account = await check_login(ctx, handle, password, client)
    if account.second_factor:
        return await open_challenge(ctx, ChallengePurpose.login, account.id, label[:64])
    return await start_session(ctx, account, label, kind, client)


async def check_login(
    ctx: ServiceContext, handle: str, password: str, client: Client | None = None
) -> Account:
    """The account whose password this is, or ``bad_credentials`` (401); ``login_throttled``
    (429, ``retry_after``) after repeated failures for the account or from the address."""
    client = client or Client()
    ctx.hash_gate.check_room()
    try:
        handle = normalize_handle(handle)
    except InvalidInput:
        raise Unauthenticated("bad_credentials", "Wrong handle or password.") from None
    if client.address:
        await throttle.take(
            ctx, ctx.throttles.login_address, f"login:addr:{client.address}", "login_throttled"
        )
    await throttle.take(ctx, ctx.throttles.login_account, f"login:acct:{handle}", "login_throttled")
    async with transaction(ctx, write=False) as uow:
        account = await uow.accounts.get_by_handle(handle)
        stored = await uow.accounts.password_hash(account.id) if account else None
    if account is None or stored is None:
        # Spend the same time as a real check, so handles cannot be probed by timing.
        await verify_password(ctx, await _DUMMY_HASH.get(ctx), password)
        raise Unauthenticated("bad_credentials", "Wrong handle or password.")
    if not await verify_password(ctx, stored, password):
        raise Unauthenticated("bad_credentials", "Wrong handle or password.")
    await throttle.clear(ctx, f"login:acct:{handle}")
    if account.disabled:
        raise Forbidden("account_disabled", "This account is disabled.")
    if ctx.hasher.needs_rehash(stored):
        # The argon2 parameters changed since this hash was made: store it anew.
        new_hash = await hash_password(ctx, password)
        async with transaction(ctx) as uow:
            await uow.accounts.set_password_hash(account.id, new_hash)
    return account


async def start_session(
    ctx: ServiceContext,
    account: Account,
    label: str = "",
    kind: TokenKind = TokenKind.api,
    client: Client | None = None,
) -> IssuedToken:
    """Issue the token of a log-in whose every factor has been checked."""
    return await issue_token(ctx, account.id, label[:64], kind, client)


class _DummyHash:
    """One throwaway hash per context, made lazily (through the hash gate, off the event
    loop), for constant-time failed logins."""

    def __init__(self) -> None:
        self._by_ctx: dict[int, str] = {}

    async def get(self, ctx: ServiceContext) -> str:
        key = id(ctx.hasher)
        if key not in self._by_ctx:
            self._by_ctx[key] = await hash_password(ctx, secrets.token_urlsafe(16))
        return self._by_ctx[key]


_DUMMY_HASH = _DummyHash()

# How stale a token's last-use time may be before a request writes it anew.
LAST_USE_RESOLUTION = timedelta(minutes=5)


async def authenticate(
    ctx: ServiceContext,
    token: str | None,
    kind: TokenKind = TokenKind.api,
    address: str = "",
) -> Actor:
    """The actor of a token of this kind. ``address``, when given, is noted as the token's
    last use (at most every ``LAST_USE_RESOLUTION``, to keep requests read-only)."""
    if not token:
        raise Unauthenticated("token_missing", "Send a bearer token (Authorization: Bearer ...).")
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise Unauthenticated("token_invalid", "This token is not valid.")
    async with transaction(ctx, write=False) as uow:
        found = await uow.tokens.get_for_auth(hash_token(token, kind))
    if found is None:
        raise Unauthenticated("token_invalid", "This token is not valid.")
    tok, account, level = found
    if tok.revoked_at is not None:
        raise Unauthenticated("token_revoked", "This token was revoked; log in again.")
    if not tok.is_valid(ctx.clock.now()):
        raise Unauthenticated("token_expired", "This token has expired; log in again.")
    if account.disabled:
        raise Forbidden("account_disabled", "This account is disabled.")
    await _note_use(ctx, tok, address)
    return Actor(account, tok.id, level, tok.expires_at)


async def _note_use(ctx: ServiceContext, tok: ApiToken, address: str) -> None:
    now = ctx.clock.now()
    if not address:
        return
    recent = tok.last_used_at is not None and now - tok.last_used_at < LAST_USE_RESOLUTION
    if recent and tok.address == address[:64]:
        return
    async with transaction(ctx) as uow:
        await uow.tokens.touch(tok.id, now, address[:64])


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


async def do_revoke_other_tokens(ctx: ServiceContext, actor: Actor) -> int:
    """Sign out everywhere else: revoke every live token of the account but this one."""
    async with transaction(ctx) as uow:
        ids = await uow.tokens.revoke_all(actor.id, ctx.clock.now(), keep=actor.token_id)
        for token_id in ids:
            uow.events.append(SessionEnded(actor.id, token_id, "token_revoked"))
    return len(ids)


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
        # A deleted account's profile is gone; its handle stays reserved (account_deletion).
        if account is not None and await uow.accounts.deleted_at(account.id) is not None:
            account = None
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    return account
