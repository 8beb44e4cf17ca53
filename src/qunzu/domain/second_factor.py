"""Second factors (第二验证因素): what an account holds besides its password, and the rules
of a sign-in that needs one.

A factor is a TOTP authenticator (RFC 6238) or a passkey (WebAuthn). Recovery codes stand
in for a lost factor, once each. A password that is right for an account with a factor
opens a short-lived, single-use challenge, never a token; the challenge is closed by a
code, a recovery code or a passkey assertion. Wrong codes back off per account.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from qunzu.domain.errors import InvalidInput

RECOVERY_CODE_COUNT = 10
# 10 groups of 5 from an alphabet without look-alikes (no 0/O, 1/I/L): 50 bits per code.
_RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_RECOVERY_GROUP = 5


class FactorKind(enum.StrEnum):
    totp = "totp"
    passkey = "passkey"


class ChallengePurpose(enum.StrEnum):
    """What a challenge is for: the second step of a log-in, a passwordless log-in by
    passkey, or registering a passkey."""

    login = "login"
    passkey_login = "passkey_login"
    passkey_register = "passkey_register"


@dataclass(frozen=True, slots=True)
class SecondFactor:
    id: int
    account_id: int
    kind: FactorKind
    label: str
    created_at: datetime
    confirmed_at: datetime | None = None
    secret_enc: str | None = None  # TOTP: the secret, encrypted under the platform key
    last_step: int | None = None  # TOTP: the last time step accepted (no replay)
    credential_id: str | None = None  # passkey: base64url credential id
    public_key: str | None = None  # passkey: base64url COSE public key
    sign_count: int = 0
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True, slots=True)
class Challenge:
    id: int
    handle_hash: str
    purpose: ChallengePurpose
    account_id: int | None
    expires_at: datetime
    label: str = ""
    nonce: str = ""  # WebAuthn: the base64url challenge bytes sent to the browser
    used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class SecondFactorPolicy:
    """How long a challenge lives and how wrong codes back off (settings)."""

    challenge_seconds: int = 300
    free_failures: int = 5  # wrong codes before the backoff starts
    backoff_base_seconds: int = 30
    backoff_max_seconds: int = 15 * 60


def backoff_seconds(failures: int, policy: SecondFactorPolicy) -> int:
    """Seconds to refuse codes after ``failures`` wrong ones in a row: none for the first
    few, then doubling up to the ceiling."""
    over = failures - policy.free_failures
    if over < 0:
        return 0
    return min(policy.backoff_base_seconds * 2 ** min(over, 20), policy.backoff_max_seconds)


def blocked_for(blocked_until: datetime | None, now: datetime) -> int:
    """Whole seconds left in a backoff (0 when none)."""
    if blocked_until is None or blocked_until <= now:
        return 0
    return max(1, int((blocked_until - now) / timedelta(seconds=1) + 0.999))


def new_recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(2 * _RECOVERY_GROUP))
    return f"{chars[:_RECOVERY_GROUP]}-{chars[_RECOVERY_GROUP:]}"


def normalize_recovery_code(raw: str) -> str:
    """A recovery code as typed (any case, spaces, dashes) in its stored form."""
    chars = "".join(ch for ch in raw.upper() if ch not in " -")
    if len(chars) != 2 * _RECOVERY_GROUP or any(ch not in _RECOVERY_ALPHABET for ch in chars):
        raise InvalidInput("invalid_recovery_code", "A recovery code is ten letters and digits.")
    return f"{chars[:_RECOVERY_GROUP]}-{chars[_RECOVERY_GROUP:]}"


def normalize_totp_code(raw: str) -> str:
    code = raw.replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidInput("invalid_code", "An authenticator code is six digits.")
    return code


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who passkeys are made for (settings): the site's domain and its origin."""

    id: str = "localhost"
    name: str = "qunzu"
    origin: str = "http://localhost:8000"
