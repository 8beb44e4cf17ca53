"""Owner and admin tools (Art. 9): granular admin rights, mutes, slow mode, unattended groups.

An admin can grant only rights they hold themselves (as Telegram does); the owner
holds them all. Slow mode takes one of a fixed set of intervals. A group whose
owner and admins have gone quiet while members keep posting becomes
``unattended`` ("建群不能任性": whoever builds a group answers for it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.errors import Forbidden, InvalidInput
from qunzu.domain.models import GroupRole, Membership


class AdminRight(StrEnum):
    remove_messages = "remove_messages"
    mute = "mute"
    remove_members = "remove_members"
    approve_joins = "approve_joins"
    edit_rules = "edit_rules"
    pin_notices = "pin_notices"
    appoint_admins = "appoint_admins"
    # Read and act on messages from before the admin's own membership (see manager_may_read).
    read_history = "read_history"
    pin_messages = "pin_messages"
    mention_all = "mention_all"


ALL_RIGHTS = frozenset(AdminRight)
# Rights only the owner grants: whose history an admin reads is the owner's call (P1, P7).
OWNER_GRANTS_ONLY = frozenset({AdminRight.read_history})
SLOW_MODE_SECONDS = (0, 10, 30, 60, 300, 900, 3600)
MAX_MUTE = timedelta(days=365)


def rights_of(membership: Membership | None, granted: Iterable[str] = ()) -> frozenset[AdminRight]:
    if membership is None or not membership.is_active:
        return frozenset()
    if membership.role is GroupRole.owner:
        return ALL_RIGHTS
    if membership.role is GroupRole.admin:
        return frozenset(AdminRight(r) for r in granted if r in AdminRight.__members__)
    return frozenset()


def check_right(held: frozenset[AdminRight], right: AdminRight) -> None:
    if right not in held:
        raise Forbidden(
            "right_required", f"This needs the admin right {right.value!r}.", right=right.value
        )


def parse_rights(raw: Iterable[str]) -> frozenset[AdminRight]:
    rights = set()
    for r in raw:
        try:
            rights.add(AdminRight(r))
        except ValueError:
            raise InvalidInput(
                "unknown_right",
                f"Unknown admin right {r!r}.",
                allowed=", ".join(a.value for a in AdminRight),
            ) from None
    return frozenset(rights)


def check_grant(
    granter: frozenset[AdminRight],
    requested: frozenset[AdminRight],
    by_owner: bool = False,
    current: frozenset[AdminRight] = frozenset(),
) -> None:
    """An admin grants only rights they hold themselves, and newly grants none of the
    owner-only ones (``current``: what the admin holds already)."""
    check_right(granter, AdminRight.appoint_admins)
    missing = requested - granter
    if missing:
        raise Forbidden(
            "cannot_grant",
            "You can grant only rights you hold: "
            + ", ".join(sorted(r.value for r in missing))
            + " you do not.",
        )
    owners = (requested - current) & OWNER_GRANTS_ONLY
    if owners and not by_owner:
        raise Forbidden(
            "owner_grants_only",
            "Only the owner grants " + ", ".join(sorted(r.value for r in owners)) + ".",
            right=min(r.value for r in owners),
        )


def check_change_rights(
    changer: frozenset[AdminRight],
    current: frozenset[AdminRight],
    requested: frozenset[AdminRight],
    by_owner: bool = False,
) -> None:
    """Changing an admin's rights: one grants only rights one holds, and takes away only
    rights one holds, so an admin with fewer rights cannot strip a fuller admin."""
    check_grant(changer, requested, by_owner, current)
    taken = (current - requested) - changer
    if taken:
        raise Forbidden(
            "cannot_revoke",
            "You can take away only rights you hold: "
            + ", ".join(sorted(r.value for r in taken))
            + " you do not.",
        )


def manager_may_read(membership: Membership, held: frozenset[AdminRight], seq: int) -> bool:
    """Managers act within the owner's duty, but read only inside their own visible window:
    the owner reads every message of the group; an admin reads the messages of their own
    membership periods, and earlier ones only with ``read_history``, which the owner grants."""
    if membership.role is GroupRole.owner or AdminRight.read_history in held:
        return True
    return membership.can_see_seq(seq)


def check_manager_may_read(membership: Membership, held: frozenset[AdminRight], seq: int) -> None:
    if not manager_may_read(membership, held, seq):
        raise Forbidden(
            "outside_window",
            "This message is from outside your membership; acting on it needs the "
            "read_history right, which the owner grants.",
            right=AdminRight.read_history.value,
        )


def check_may_remove_message_of(
    remover: GroupRole, remover_id: int, sender: GroupRole | None, sender_id: int | None
) -> None:
    """The owner's messages are removed by the owner alone, an admin's by the owner or
    that admin: the same order as muting and removing members."""
    if remover is GroupRole.owner or sender_id == remover_id:
        return
    if sender is GroupRole.owner:
        raise Forbidden("not_permitted", "No one but the owner removes the owner's messages.")
    if sender is GroupRole.admin:
        raise Forbidden("not_permitted", "Only the owner removes an admin's messages.")


def check_slow_mode(seconds: int) -> int:
    if seconds not in SLOW_MODE_SECONDS:
        raise InvalidInput(
            "invalid_slow_mode",
            "Slow mode is one of " + ", ".join(str(s) for s in SLOW_MODE_SECONDS) + " seconds.",
        )
    return seconds


def check_mute_minutes(minutes: int) -> timedelta:
    period = timedelta(minutes=minutes)
    if minutes < 1 or period > MAX_MUTE:
        raise InvalidInput("invalid_mute", "A mute lasts 1 minute to 365 days.")
    return period


class Attendance(StrEnum):
    attended = "attended"
    unattended = "unattended"  # reminded; the owner may appoint, transfer or dissolve
    read_only = "read_only"  # no response in the second period; waits for a new owner


@dataclass(frozen=True, slots=True)
class AttendancePolicy:
    inactive_days: int = 60
    response_days: int = 30


def attendance(
    managers_last_active: datetime | None,
    members_last_post: datetime | None,
    unattended_since: datetime | None,
    now: datetime,
    policy: AttendancePolicy,
) -> Attendance:
    """Unattended when managers have been away past the period while members kept posting;
    read-only when that lasted a further period. Dormant groups (nobody posting) are left alone."""
    away = managers_last_active is None or now - managers_last_active > timedelta(
        days=policy.inactive_days
    )
    members_active = (
        members_last_post is not None
        and (managers_last_active is None or members_last_post > managers_last_active)
        and now - members_last_post <= timedelta(days=policy.inactive_days)
    )
    if not away:
        return Attendance.attended
    if unattended_since is not None and now - unattended_since > timedelta(
        days=policy.response_days
    ):
        return Attendance.read_only
    if unattended_since is not None or members_active:
        return Attendance.unattended
    return Attendance.attended


@dataclass(frozen=True, slots=True)
class GroupControls:
    """A group's owner-set controls and its attendance state."""

    group_id: int
    mute_all: bool = False
    slow_mode_seconds: int = 0
    notice_text: str | None = None
    notice_by: int | None = None
    notice_at: datetime | None = None
    unattended_since: datetime | None = None
    read_only_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    """What the unattended-group sweep needs to know of one group."""

    group_id: int
    owner_id: int | None
    last_activity_at: datetime | None
    managers_last_active: datetime | None
    unattended_since: datetime | None
    read_only_since: datetime | None


@dataclass(frozen=True, slots=True)
class Bar:
    """A bar on rejoining a group (拉黑), set with a removal until a manager lifts it."""

    group_id: int
    account_id: int
    reason: str
    by: int
    at: datetime
