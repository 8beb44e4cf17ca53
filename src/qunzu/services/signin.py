"""Issuing a token, and the challenge a log-in opens when the account has a second factor.

Part of the services' bottom layer: ``accounts`` (the password step) and
``second_factor`` (the second step) both end a log-in here, and never import each other.
A challenge is an opaque random handle; only its SHA-256 is stored, like a token's.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.errors import InvalidInput
from qunzu.domain.models import ApiToken
from qunzu.domain.second_factor import Challenge, ChallengePurpose
from qunzu.domain.text import TextKind, text_problem
from qunzu.domain.throttle import address_prefix
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import notify

TOKEN_PREFIX = "qz_"
CHALLENGE_PREFIX = "qzc_"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OpenChallenge:
    """A log-in waiting for its second step: the handle to send back, and until when."""

    challenge: str
    expires_at: datetime
    methods: tuple[str, ...]
    nonce: str = ""


class TokenKind(StrEnum):
    """What a token was issued for; it authenticates only as that (a web session cookie
    replayed as a bearer token, or the reverse, is refused)."""

    api = "api"
    web = "web"


@dataclass(frozen=True, slots=True)
class Client:
    """Where a log-in comes from: its address and user agent ('' when unknown)."""

    address: str = ""
    user_agent: str = ""


def hash_token(token: str, kind: TokenKind = TokenKind.api) -> str:
    """The stored form of a token. Web session tokens hash under their own prefix, so a
    cookie value looked up as a bearer token finds nothing, and the reverse."""
    material = token if kind is TokenKind.api else f"{kind.value}:{token}"
    return hashlib.sha256(material.encode()).hexdigest()


def check_label(label: str) -> str:
    problem = text_problem(label, TextKind.line)
    if problem is not None:
        raise InvalidInput("invalid_label", f"A token label cannot contain {problem}.")
    return label[:64]


async def issue_token(
    ctx: ServiceContext,
    account_id: int,
    label: str,
    kind: TokenKind = TokenKind.api,
    client: Client | None = None,
) -> IssuedToken:
    """A new token of this kind for the account; sign-in alerts when it starts from a new
    device or place."""
    label = check_label(label)
    client = client or Client()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = ctx.clock.now()
    expires = now + timedelta(hours=ctx.limits.token_ttl_hours)
    agent = _clean_agent(client.user_agent)
    async with transaction(ctx) as uow:
        earlier = await uow.tokens.list_for(account_id) if client.address or agent else []
        row = await uow.tokens.add(
            account_id,
            hash_token(token, kind),
            label,
            now,
            expires,
            kind=kind.value,
            address=client.address[:64],
            user_agent=agent,
        )
        _alert_sign_in(uow, account_id, earlier, row)
    return IssuedToken(token, row.id, expires)


def _clean_agent(raw: str) -> str:
    agent = "".join(ch for ch in raw[:255] if ch.isprintable())
    return agent if text_problem(agent, TextKind.line) is None else ""


def _alert_sign_in(
    uow: UnitOfWork, account_id: int, earlier: list[ApiToken], new: ApiToken
) -> None:
    """Sign-in alerts (登录提醒): a notice when a session starts from a user agent, or an
    address prefix, that none of the account's earlier sessions had."""
    if not earlier:
        return
    if new.user_agent and all(t.user_agent != new.user_agent for t in earlier):
        notify(uow, account_id, "sign_in_new_device", token_id=new.id, user_agent=new.user_agent)
    place = address_prefix(new.address)
    if new.address and all(address_prefix(t.address) != place for t in earlier):
        notify(uow, account_id, "sign_in_new_place", token_id=new.id, address=new.address)


async def open_challenge(
    ctx: ServiceContext,
    purpose: ChallengePurpose,
    account_id: int | None,
    label: str = "",
    nonce: str = "",
) -> OpenChallenge:
    """Store a new single-use challenge that lives ``challenge_seconds``."""
    label = check_label(label)
    # The bytes a passkey signs, should the second step be a passkey.
    nonce = nonce or base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    handle = CHALLENGE_PREFIX + secrets.token_urlsafe(32)
    expires = ctx.clock.now() + timedelta(seconds=ctx.second_factor.challenge_seconds)
    async with transaction(ctx) as uow:
        methods: tuple[str, ...] = ()
        if account_id is not None:
            factors = await uow.second_factors.list_for(account_id)
            kinds = {f.kind.value for f in factors if f.active}
            methods = (*sorted(kinds), "recovery_code")
        await uow.second_factors.add_challenge(
            Challenge(0, hash_token(handle), purpose, account_id, expires, label, nonce)
        )
    return OpenChallenge(handle, expires, methods, nonce)
