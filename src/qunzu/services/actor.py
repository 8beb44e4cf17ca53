"""Who is acting: the account behind a request, platform roles, and handles.

Part of the services' bottom layer, which the use-case modules share (they never import
one another; docs/architecture.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from qunzu.domain.audit import SYSTEM_ACTOR_ID, SYSTEM_ACTOR_NAME
from qunzu.domain.errors import Forbidden, InvalidInput
from qunzu.domain.models import Account, PlatformRole

_HANDLE_RE = re.compile(r"^[a-z][a-z0-9_]{2,31}$")

# Platform roles that work the review queue, and those that decide escalations and appeals.
REVIEWERS = (PlatformRole.reviewer, PlatformRole.senior_reviewer, PlatformRole.admin)
SENIORS = (PlatformRole.senior_reviewer, PlatformRole.admin)


@dataclass(frozen=True, slots=True)
class Actor:
    """The account behind a request, and the token it used."""

    account: Account
    token_id: int
    level: int = 0  # credit level (信用等级) when the request began
    # When the token stops being valid (a live stream is closed then).
    token_expires_at: datetime | None = None

    @property
    def id(self) -> int:
        return self.account.id


@dataclass(frozen=True, slots=True)
class SystemActor:
    """The platform itself: periodic jobs and the operator's command line.

    It holds every platform role: whoever runs ``qunzu`` on the server already holds the
    database and the keys. No request can become it; only code at those entry points
    passes ``SYSTEM``. Its acts are audited like anyone's, under ``SYSTEM_ACTOR_ID``.
    """

    name: str = SYSTEM_ACTOR_NAME

    @property
    def id(self) -> int:
        return SYSTEM_ACTOR_ID


SYSTEM = SystemActor()

# Who can be behind a privileged action: an account, or the system.
Principal = Actor | SystemActor


def normalize_handle(raw: str) -> str:
    handle = raw.strip().lower()
    if not _HANDLE_RE.match(handle):
        raise InvalidInput(
            "invalid_handle",
            "A handle is 3 to 32 characters: a letter, then letters, digits or underscores.",
        )
    return handle


def handle_key(raw: str) -> str | None:
    """The normalised handle to look an account up by, or None when no account can have it."""
    try:
        return normalize_handle(raw)
    except InvalidInput:
        return None


def require_platform_role(actor: Principal, *roles: PlatformRole) -> None:
    if isinstance(actor, SystemActor):
        return
    if actor.account.platform_role not in roles:
        raise Forbidden("platform_role_required", "This needs a platform role you do not hold.")
    if not actor.account.second_factor:
        # Staff accounts reach real names and sanctions: a password alone is not enough.
        raise Forbidden(
            "second_factor_required",
            "Platform work needs a second factor: enrol an authenticator app or a passkey.",
        )
