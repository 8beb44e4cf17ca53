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

from qunzu.domain.errors import InvalidInput
from qunzu.domain.second_factor import Challenge, ChallengePurpose
from qunzu.domain.text import TextKind, text_problem
from qunzu.services.context import ServiceContext, transaction

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


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_label(label: str) -> str:
    problem = text_problem(label, TextKind.line)
    if problem is not None:
        raise InvalidInput("invalid_label", f"A token label cannot contain {problem}.")
    return label[:64]


async def issue_token(ctx: ServiceContext, account_id: int, label: str) -> IssuedToken:
    label = check_label(label)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = ctx.clock.now()
    expires = now + timedelta(hours=ctx.limits.token_ttl_hours)
    async with transaction(ctx) as uow:
        row = await uow.tokens.add(account_id, hash_token(token), label, now, expires)
    return IssuedToken(token, row.id, expires)


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
