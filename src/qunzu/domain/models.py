"""The nouns of qunzu: accounts, groups (群组), memberships, timeline entries.

Plain frozen dataclasses. Repositories build them from rows; services pass them
to the permission checks; nothing here knows how they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class PlatformRole(StrEnum):
    """Roles of platform staff; ordinary users have none."""

    reviewer = "reviewer"
    senior_reviewer = "senior-reviewer"
    auditor = "auditor"
    admin = "admin"


class GroupRole(StrEnum):
    """Role labels shown beside a member's name: 群主 / 管理员 / 成员."""

    owner = "owner"
    admin = "admin"
    member = "member"


class GroupKind(StrEnum):
    group = "group"
    direct = "direct"


class GroupCategory(StrEnum):
    family = "family"
    friends = "friends"
    work = "work"
    interest = "interest"
    community = "community"
    public_affairs = "public-affairs"
    commercial = "commercial"


class JoinPolicy(StrEnum):
    invite_only = "invite-only"
    approval = "approval"
    open = "open"


class GroupState(StrEnum):
    active = "active"
    dissolved = "dissolved"
    closed = "closed"  # closed by the platform as a sanction (关闭群组, Art. 11)


class MembershipState(StrEnum):
    active = "active"
    left = "left"
    removed = "removed"


class RequestState(StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    cancelled = "cancelled"


class EntryKind(StrEnum):
    """What a timeline entry records. All share the group's gap-free ``seq``."""

    message = "message"
    member_joined = "member_joined"
    member_left = "member_left"
    member_removed = "member_removed"
    role_changed = "role_changed"
    rules_changed = "rules_changed"
    ownership_transferred = "ownership_transferred"
    group_state_changed = "group_state_changed"
    group_created = "group_created"
    group_updated = "group_updated"
    tier_changed = "tier_changed"
    sanction_imposed = "sanction_imposed"
    sanction_lifted = "sanction_lifted"
    warning_acknowledged = "warning_acknowledged"
    message_removed = "message_removed"
    member_muted = "member_muted"
    member_unmuted = "member_unmuted"
    controls_changed = "controls_changed"
    notice_pinned = "notice_pinned"
    attendance_changed = "attendance_changed"
    message_recalled = "message_recalled"
    message_pinned = "message_pinned"
    message_unpinned = "message_unpinned"
    nickname_changed = "nickname_changed"


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    handle: str
    display_name: str
    created_at: datetime
    identity_verified: bool = False
    platform_role: PlatformRole | None = None
    disabled: bool = False
    # Holds a confirmed second factor (TOTP or passkey): log-in then takes two steps.
    second_factor: bool = False

    @property
    def can_post(self) -> bool:
        """Art. 6: no posting without a verified real identity."""
        return self.identity_verified and not self.disabled


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    number: int
    kind: GroupKind
    name: str
    category: GroupCategory | None
    join_policy: JoinPolicy
    discoverable: bool
    owner_id: int | None
    state: GroupState
    created_at: datetime
    last_seq: int = 0
    rules_version: int = 0
    member_count: int = 0

    @property
    def is_direct(self) -> bool:
        return self.kind is GroupKind.direct

    @property
    def is_active(self) -> bool:
        return self.state is GroupState.active


@dataclass(frozen=True, slots=True)
class Membership:
    group_id: int
    account_id: int
    role: GroupRole
    state: MembershipState
    joined_at: datetime
    joined_seq: int
    left_seq: int | None = None
    accepted_rules_version: int = 0
    # The member's earlier membership periods in this group, oldest first, each
    # (joined_seq, left_seq): leaving and rejoining keeps them, never the gaps between.
    earlier: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.earlier:  # stored as JSON lists: compare and hash as tuples
            periods = tuple((int(a), int(b)) for a, b in self.earlier)
            object.__setattr__(self, "earlier", periods)

    @property
    def is_active(self) -> bool:
        return self.state is MembershipState.active

    @property
    def is_manager(self) -> bool:
        return self.is_active and self.role in (GroupRole.owner, GroupRole.admin)

    @property
    def periods(self) -> tuple[tuple[int, int | None], ...]:
        """Every membership period, oldest first; the current (or last) one may be open."""
        return (*self.earlier, (self.joined_seq, self.left_seq))

    def can_see_seq(self, seq: int) -> bool:
        """A member sees the timeline of each of their own membership periods (from joining
        on, as WeChat does, until leaving), and nothing of the gaps between them."""
        return any(first <= seq and (last is None or seq <= last) for first, last in self.periods)


@dataclass(frozen=True, slots=True)
class GroupRules:
    """A version of a group's rules (群规)."""

    group_id: int
    version: int
    text: str
    set_by: int
    set_at: datetime


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One item in a group's ordered timeline: a message or a group event."""

    group_id: int
    seq: int
    kind: EntryKind
    sender_id: int | None
    created_at: datetime
    body: str | None = None
    client_txn_id: str | None = None
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    group_id: int
    inviter_id: int
    invitee_id: int
    state: RequestState
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class JoinRequest:
    id: int
    group_id: int
    account_id: int
    note: str
    state: RequestState
    created_at: datetime
    rules_version: int
    decided_by: int | None = None


@dataclass(frozen=True, slots=True)
class OwnershipOffer:
    id: int
    group_id: int
    from_id: int
    to_id: int
    state: RequestState
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ResetCode:
    """A one-time password reset code (only its keyed hash is kept)."""

    id: int
    account_id: int
    code_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    account_id: int
    token_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    label: str = ""
    # "api" (a bearer token) or "web" (a page session cookie): a token works only as its kind.
    kind: str = "api"
    address: str = ""  # where it was issued or last used
    user_agent: str = ""
    last_used_at: datetime | None = None

    def is_valid(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at
