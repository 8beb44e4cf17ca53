"""What the services need from storage, as Protocols.

``storage/`` implements these with SQLAlchemy; ``tests/fakes.py`` implements
them with dictionaries for the unit tests of the services.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from qunzu.domain.credit import CreditEntry, CreditState
from qunzu.domain.events import Event
from qunzu.domain.models import (
    Account,
    ApiToken,
    Group,
    GroupRules,
    Invitation,
    JoinRequest,
    Membership,
    OwnershipOffer,
    PlatformRole,
    RequestState,
    TimelineEntry,
)
from qunzu.domain.rulebook import CreditPolicy


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """An identity as stored: encrypted fields, masked copies and the blind index."""

    account_id: int
    blind_index: str
    legal_name_enc: str
    resident_id_enc: str
    phone_enc: str
    masked_name: str
    masked_resident_id: str
    masked_phone: str
    verified: bool
    verifier: str
    verification_note: str
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AccountRepository(Protocol):
    async def add(
        self,
        handle: str,
        display_name: str,
        password_hash: str,
        created_at: datetime,
        platform_role: PlatformRole | None = None,
    ) -> Account: ...
    async def get(self, account_id: int) -> Account | None: ...
    async def get_by_handle(self, handle: str) -> Account | None: ...
    async def get_many(self, account_ids: Sequence[int]) -> dict[int, Account]: ...
    async def password_hash(self, account_id: int) -> str: ...
    async def set_password_hash(self, account_id: int, password_hash: str) -> None: ...
    async def update(self, account_id: int, **fields: Any) -> None: ...
    async def ids_after(self, after_id: int, limit: int) -> list[int]: ...


class IdentityRepository(Protocol):
    async def get(self, account_id: int) -> IdentityRecord | None: ...
    async def count_accounts_with(self, blind_index: str, excluding: int) -> int: ...
    async def put(self, record: IdentityRecord) -> None: ...


class TokenRepository(Protocol):
    async def add(
        self,
        account_id: int,
        token_hash: str,
        label: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> ApiToken: ...
    async def get_with_account(self, token_hash: str) -> tuple[ApiToken, Account] | None: ...
    async def get(self, token_id: int) -> ApiToken | None: ...
    async def list_for(self, account_id: int) -> list[ApiToken]: ...
    async def revoke(self, token_id: int, at: datetime) -> None: ...


class GroupRepository(Protocol):
    async def add(self, group: Group, direct_key: str | None = None) -> Group: ...
    async def get(self, group_id: int) -> Group | None: ...
    async def get_by_number(self, number: int) -> Group | None: ...
    async def get_direct(self, direct_key: str) -> Group | None: ...
    async def number_taken(self, number: int) -> bool: ...
    async def next_seq(self, group_id: int) -> int: ...
    async def update(self, group_id: int, **fields: Any) -> None: ...
    async def add_member_count(self, group_id: int, delta: int) -> None: ...
    async def search_discoverable(self, query: str, limit: int, offset: int) -> list[Group]: ...


class MembershipRepository(Protocol):
    async def get(self, group_id: int, account_id: int) -> Membership | None: ...
    async def put(self, membership: Membership) -> None: ...
    async def list_active(self, group_id: int, limit: int, offset: int) -> list[Membership]: ...
    async def active_account_ids(self, group_id: int) -> list[int]: ...
    async def for_account(
        self, account_id: int, active_only: bool = True
    ) -> list[tuple[Membership, Group]]: ...


class RulesRepository(Protocol):
    async def add(self, rules: GroupRules) -> None: ...
    async def get(self, group_id: int, version: int) -> GroupRules | None: ...


class TimelineRepository(Protocol):
    async def append(self, entry: TimelineEntry) -> None: ...
    async def get_by_txn(self, sender_id: int, client_txn_id: str) -> TimelineEntry | None: ...
    async def get(self, group_id: int, seq: int) -> TimelineEntry | None: ...
    async def after(
        self, group_id: int, after_seq: int, limit: int, upto: int | None = None
    ) -> list[TimelineEntry]: ...
    async def before(
        self, group_id: int, before_seq: int, limit: int, floor: int = 0
    ) -> list[TimelineEntry]: ...


class InvitationRepository(Protocol):
    async def add(
        self,
        group_id: int,
        inviter_id: int,
        invitee_id: int,
        created_at: datetime,
        expires_at: datetime,
    ) -> Invitation: ...
    async def get(self, invitation_id: int) -> Invitation | None: ...
    async def pending_for(self, group_id: int, invitee_id: int) -> Invitation | None: ...
    async def list_for_invitee(self, invitee_id: int) -> list[Invitation]: ...
    async def set_state(self, invitation_id: int, state: RequestState) -> None: ...


class JoinRequestRepository(Protocol):
    async def add(
        self,
        group_id: int,
        account_id: int,
        note: str,
        rules_version: int,
        created_at: datetime,
    ) -> JoinRequest: ...
    async def get(self, request_id: int) -> JoinRequest | None: ...
    async def pending_for(self, group_id: int, account_id: int) -> JoinRequest | None: ...
    async def list_pending(self, group_id: int) -> list[JoinRequest]: ...
    async def decide(
        self, request_id: int, state: RequestState, decided_by: int | None
    ) -> None: ...


class OwnershipOfferRepository(Protocol):
    async def add(
        self, group_id: int, from_id: int, to_id: int, created_at: datetime
    ) -> OwnershipOffer: ...
    async def get(self, offer_id: int) -> OwnershipOffer | None: ...
    async def pending_for_group(self, group_id: int) -> OwnershipOffer | None: ...
    async def set_state(self, offer_id: int, state: RequestState) -> None: ...


class AuditRepository(Protocol):
    async def append(
        self,
        at: datetime,
        actor_id: int | None,
        action: str,
        subject: str,
        detail: dict[str, Any],
    ) -> AuditRecord: ...
    async def scan(self, after_id: int, limit: int) -> list[AuditRecord]: ...


class UnitOfWork(Protocol):
    """One transaction. Events collected here are published only after commit."""

    accounts: AccountRepository
    identities: IdentityRepository
    tokens: TokenRepository
    groups: GroupRepository
    memberships: MembershipRepository
    rules: RulesRepository
    timeline: TimelineRepository
    invitations: InvitationRepository
    join_requests: JoinRequestRepository
    ownership_offers: OwnershipOfferRepository
    audit: AuditRepository
    credit: CreditRepository
    activity: ActivityRepository
    events: list[Event]

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True) -> UnitOfWork: ...


@dataclass(frozen=True, slots=True)
class GroupActivity:
    group_id: int
    created_by: int | None
    tier: str
    last_activity_at: datetime | None


class CreditRepository(Protocol):
    async def add_entry(self, entry: CreditEntry) -> int: ...
    async def entries(self, account_id: int, limit: int | None = None) -> list[CreditEntry]: ...
    async def get_state(self, account_id: int) -> CreditState | None: ...
    async def put_state(self, state: CreditState) -> None: ...
    async def mark_active_day(self, account_id: int, day: str) -> None: ...
    async def active_days_since(self, account_id: int, first_day: str) -> int: ...
    async def recompute_all(self, now: datetime, policy: CreditPolicy) -> int: ...


class ActivityRepository(Protocol):
    async def init_group(self, group_id: int, created_by: int | None, tier: str) -> None: ...
    async def get_group(self, group_id: int) -> GroupActivity | None: ...
    async def set_tier(self, group_id: int, tier: str) -> None: ...
    async def touch(self, group_id: int, account_id: int | None, at: datetime) -> None: ...
    async def messages_since(self, group_id: int, since: datetime) -> int: ...
    async def groups_created_since(self, account_id: int, since: datetime) -> int: ...
    async def groups_owned(self, account_id: int) -> int: ...
    async def groups_joined(self, account_id: int) -> int: ...
    async def invitations_since(self, inviter_id: int, since: datetime) -> int: ...
    async def member_last_active(self, group_id: int, account_id: int) -> datetime | None: ...
