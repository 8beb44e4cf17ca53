"""In-memory implementations of the storage Protocols in ``qunzu.services.ports``.

A ``FakeStore`` holds the committed state. Each ``FakeUnitOfWork`` works on a
private copy taken when it opens; ``commit`` makes that copy the committed state,
anything else throws it away, so a rolled-back unit leaves no trace. Like the SQL
storage, ids come from sequences that are not rolled back, ``(sender_id,
client_txn_id)``, ``(group_id, seq)`` and handles are unique (``Conflict("duplicate")``),
and JSON columns round-trip through JSON. Unlike the SQL storage, the fakes refuse
writes in a read-only unit, so a service that forgets ``write=True`` fails loudly.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from qunzu.bus.memory import MemoryBus
from qunzu.crypto.audit_chain import GENESIS, audit_content, entry_hash
from qunzu.crypto.fields import FieldCipher
from qunzu.domain.clock import FrozenClock
from qunzu.domain.credit import (
    CreditEntry,
    CreditReason,
    CreditState,
    activity_points,
    age_points,
    compute_score,
    level_for,
)
from qunzu.domain.errors import Conflict
from qunzu.domain.events import Event
from qunzu.domain.lawful_access import AccessRequest, Referral, ReferralState
from qunzu.domain.lawful_access import RequestState as AccessRequestState
from qunzu.domain.models import (
    Account,
    ApiToken,
    EntryKind,
    Group,
    GroupCategory,
    GroupKind,
    GroupRole,
    GroupRules,
    GroupState,
    Invitation,
    JoinPolicy,
    JoinRequest,
    Membership,
    MembershipState,
    OwnershipOffer,
    PlatformRole,
    RequestState,
    ResetCode,
    TimelineEntry,
)
from qunzu.domain.personal_data import DataExport
from qunzu.domain.rulebook import CreditPolicy, RulebookSet
from qunzu.domain.second_factor import Challenge, SecondFactor
from qunzu.services.context import Limits, ServiceContext
from qunzu.services.ports import (
    AccountRepository,
    ActivityRepository,
    AuditCheckpoint,
    AuditHead,
    AuditRecord,
    AuditRepository,
    ConversationRepository,
    CreditRepository,
    DataExportRepository,
    GroupActivity,
    GroupRepository,
    HeadSealer,
    IdentityRecord,
    IdentityRepository,
    InvitationRepository,
    JobRepository,
    JobRun,
    JoinRequestRepository,
    LawfulAccessRepository,
    MembershipRepository,
    MessageSearch,
    OwnershipOfferRepository,
    OwnerToolsRepository,
    PostingRepository,
    PostingState,
    ReportsRepository,
    ResetCodeRepository,
    RulesRepository,
    SecondFactorRepository,
    TimelineRepository,
    TokenRepository,
)
from qunzu.verification import FormatCheckVerifier
from tests.fake_conversation import FakeConversation, FakeConversationTables
from tests.fake_owner import FakeOwnerTables, FakeOwnerTools
from tests.fake_reports import FakeReports, FakeReportsTables
from tests.fake_search import FakeSearch
from tests.fake_second_factor import FakeSecondFactors
from tests.rulebooks import generous_rulebooks


class ReadOnlyViolation(AssertionError):
    """A service wrote through a unit of work opened with ``write=False``."""


def _json_roundtrip(value: dict[str, Any]) -> dict[str, Any]:
    """What a JSON column gives back; fails like the database on what JSON cannot hold."""
    return dict(json.loads(json.dumps(value)))


def _duplicate(what: str) -> Conflict:
    return Conflict("duplicate", f"This conflicts with an existing record ({what}).")


@dataclass
class FakeState:
    """Every table, as dictionaries of frozen dataclasses (so a shallow copy is a snapshot)."""

    accounts: dict[int, Account] = field(default_factory=dict)
    password_hashes: dict[int, str] = field(default_factory=dict)
    agreements: dict[tuple[int, int], datetime] = field(default_factory=dict)
    deletions: dict[int, tuple[datetime, bool]] = field(default_factory=dict)
    identities: dict[int, IdentityRecord] = field(default_factory=dict)
    tokens: dict[int, ApiToken] = field(default_factory=dict)
    reset_codes: dict[int, ResetCode] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    direct_keys: dict[str, int] = field(default_factory=dict)
    memberships: dict[tuple[int, int], Membership] = field(default_factory=dict)
    rules: dict[tuple[int, int], GroupRules] = field(default_factory=dict)
    timeline: dict[tuple[int, int], TimelineEntry] = field(default_factory=dict)
    invitations: dict[int, Invitation] = field(default_factory=dict)
    join_requests: dict[int, JoinRequest] = field(default_factory=dict)
    ownership_offers: dict[int, OwnershipOffer] = field(default_factory=dict)
    audit: list[AuditRecord] = field(default_factory=list)
    audit_head: AuditHead | None = field(default_factory=lambda: AuditHead(0, 0, GENESIS, None))
    audit_checkpoint: AuditCheckpoint | None = None
    credit_ledger: list[tuple[int, CreditEntry]] = field(default_factory=list)
    credit_states: dict[int, CreditState] = field(default_factory=dict)
    active_days: set[tuple[int, str]] = field(default_factory=set)
    group_activity: dict[int, GroupActivity] = field(default_factory=dict)
    member_activity: dict[tuple[int, int], datetime] = field(default_factory=dict)
    reports_tables: FakeReportsTables = field(default_factory=FakeReportsTables)
    owner_tables: FakeOwnerTables = field(default_factory=FakeOwnerTables)
    conversation_tables: FakeConversationTables = field(default_factory=FakeConversationTables)
    job_runs: dict[str, JobRun] = field(default_factory=dict)
    data_exports: dict[int, tuple[DataExport, str | None]] = field(default_factory=dict)
    access_requests: dict[int, AccessRequest] = field(default_factory=dict)
    referrals: dict[int, Referral] = field(default_factory=dict)
    second_factors: dict[int, SecondFactor] = field(default_factory=dict)
    # id -> (account id, code hash, used at)
    recovery_codes: dict[int, tuple[int, str, datetime | None]] = field(default_factory=dict)
    challenges: dict[int, Challenge] = field(default_factory=dict)
    second_factor_failures: dict[int, tuple[int, datetime | None]] = field(default_factory=dict)
    search_docs: dict[int, tuple[int, int]] = field(default_factory=dict)

    def snapshot(self) -> FakeState:
        return FakeState(
            **{f.name: copy.copy(getattr(self, f.name)) for f in dataclasses.fields(self)}
        )


class FakeStore:
    """The committed state and the id sequences (which, as in SQL, survive a rollback)."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.version = 0  # bumped on every commit that changed something
        self.commits = 0
        self._sequences: dict[str, Iterator[int]] = {}

    def next_id(self, table: str) -> int:
        return next(self._sequences.setdefault(table, itertools.count(1)))


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def s(self) -> FakeState:
        return self._uow.state

    def _writing(self) -> FakeState:
        return self._uow.state_for_write()


class FakeAccounts(_Repo):
    async def add(
        self,
        handle: str,
        display_name: str,
        password_hash: str,
        created_at: datetime,
        platform_role: PlatformRole | None = None,
    ) -> Account:
        s = self._writing()
        if any(a.handle == handle for a in s.accounts.values()):
            raise _duplicate("accounts.handle")
        account = Account(
            id=self._uow.store.next_id("accounts"),
            handle=handle,
            display_name=display_name,
            created_at=created_at,
            platform_role=platform_role,
        )
        s.accounts[account.id] = account
        s.password_hashes[account.id] = password_hash
        return account

    async def get(self, account_id: int) -> Account | None:
        return self.s.accounts.get(account_id)

    async def get_by_handle(self, handle: str) -> Account | None:
        return next((a for a in self.s.accounts.values() if a.handle == handle), None)

    async def get_many(self, account_ids: Sequence[int]) -> dict[int, Account]:
        return {i: self.s.accounts[i] for i in set(account_ids) if i in self.s.accounts}

    async def password_hash(self, account_id: int) -> str:
        return self.s.password_hashes[account_id]

    async def set_password_hash(self, account_id: int, password_hash: str) -> None:
        s = self._writing()
        if account_id in s.accounts:
            s.password_hashes[account_id] = password_hash

    async def update(self, account_id: int, **fields: Any) -> None:
        s = self._writing()
        if "password_hash" in fields:
            s.password_hashes[account_id] = fields.pop("password_hash")
        if fields.get("platform_role") is not None:
            fields["platform_role"] = PlatformRole(fields["platform_role"])
        if account_id in s.accounts:
            s.accounts[account_id] = replace(s.accounts[account_id], **fields)

    async def mark_deleted(self, account_id: int, at: datetime, messages_removed: bool) -> None:
        s = self._writing()
        if account_id in s.deletions:
            raise _duplicate("account_deletions")
        s.deletions[account_id] = (at, messages_removed)

    async def deleted_at(self, account_id: int) -> datetime | None:
        found = self.s.deletions.get(account_id)
        return found[0] if found else None

    async def deleted_before(self, before: datetime, after_id: int, limit: int) -> list[int]:
        found = sorted(a for a, (at, _) in self.s.deletions.items() if at < before)
        return [a for a in found if a > after_id][:limit]

    async def accept_agreement(self, account_id: int, version: int, at: datetime) -> None:
        s = self._writing()
        if (account_id, version) in s.agreements:
            raise _duplicate("agreement_acceptances")
        s.agreements[(account_id, version)] = at

    async def acceptances(self, account_id: int) -> list[tuple[int, datetime]]:
        return sorted((v, at) for (a, v), at in self.s.agreements.items() if a == account_id)

    async def agreement_version(self, account_id: int) -> int | None:
        return max((v for a, v in self.s.agreements if a == account_id), default=None)


class FakeIdentities(_Repo):
    async def get(self, account_id: int) -> IdentityRecord | None:
        return self.s.identities.get(account_id)

    async def accounts_with(self, blind_indexes: Sequence[str]) -> list[int]:
        found = self.s.identities.values()
        return sorted(r.account_id for r in found if r.blind_index in blind_indexes)

    async def scan(self, after_account_id: int, limit: int) -> list[IdentityRecord]:
        found = sorted(self.s.identities.items())
        return [r for a, r in found if a > after_account_id][:limit]

    async def count_accounts_with(self, blind_indexes: Sequence[str], excluding: int) -> int:
        return sum(
            1
            for r in self.s.identities.values()
            if r.blind_index in blind_indexes and r.account_id != excluding
        )

    async def put(self, record: IdentityRecord) -> None:
        self._writing().identities[record.account_id] = record

    async def delete(self, account_id: int) -> None:
        self._writing().identities.pop(account_id, None)


class FakeTokens(_Repo):
    async def add(
        self,
        account_id: int,
        token_hash: str,
        label: str,
        created_at: datetime,
        expires_at: datetime,
        kind: str = "api",
        address: str = "",
        user_agent: str = "",
    ) -> ApiToken:
        s = self._writing()
        if any(t.token_hash == token_hash for t in s.tokens.values()):
            raise _duplicate("api_tokens.token_hash")
        token = ApiToken(
            self._uow.store.next_id("tokens"),
            account_id,
            token_hash,
            created_at,
            expires_at,
            label=label,
            kind=kind,
            address=address,
            user_agent=user_agent,
            last_used_at=created_at,
        )
        s.tokens[token.id] = token
        return token

    async def get_for_auth(self, token_hash: str) -> tuple[ApiToken, Account, int] | None:
        for tok in self.s.tokens.values():
            if tok.token_hash == token_hash:
                state = self.s.credit_states.get(tok.account_id)
                level = state.level if state is not None else 0
                return tok, self.s.accounts[tok.account_id], level
        return None

    async def with_account_state(self, token_ids: Sequence[int]) -> list[tuple[ApiToken, bool]]:
        return [
            (tok, self.s.accounts[tok.account_id].disabled)
            for tid in token_ids
            if (tok := self.s.tokens.get(tid)) is not None
        ]

    async def get(self, token_id: int) -> ApiToken | None:
        return self.s.tokens.get(token_id)

    async def list_for(self, account_id: int) -> list[ApiToken]:
        return sorted(
            (t for t in self.s.tokens.values() if t.account_id == account_id), key=lambda t: t.id
        )

    async def revoke(self, token_id: int, at: datetime) -> None:
        s = self._writing()
        if token_id in s.tokens:
            s.tokens[token_id] = replace(s.tokens[token_id], revoked_at=at)

    async def revoke_all(self, account_id: int, at: datetime, keep: int | None) -> list[int]:
        s = self._writing()
        ids = [
            t.id
            for t in s.tokens.values()
            if t.account_id == account_id and t.revoked_at is None and t.id != keep
        ]
        for tid in ids:
            s.tokens[tid] = replace(s.tokens[tid], revoked_at=at)
        return sorted(ids)

    async def touch(self, token_id: int, at: datetime, address: str) -> None:
        s = self._writing()
        if token_id in s.tokens:
            s.tokens[token_id] = replace(s.tokens[token_id], last_used_at=at, address=address)


class FakeResetCodes(_Repo):
    async def add(
        self, account_id: int, code_hash: str, created_at: datetime, expires_at: datetime
    ) -> ResetCode:
        s = self._writing()
        code = ResetCode(
            self._uow.store.next_id("reset_codes"), account_id, code_hash, created_at, expires_at
        )
        s.reset_codes[code.id] = code
        return code

    async def latest(self, account_id: int) -> ResetCode | None:
        mine = [c for c in self.s.reset_codes.values() if c.account_id == account_id]
        return max(mine, key=lambda c: c.id) if mine else None

    async def count_attempt(self, code_id: int) -> None:
        s = self._writing()
        code = s.reset_codes[code_id]
        s.reset_codes[code_id] = replace(code, attempts=code.attempts + 1)

    async def mark_used(self, code_id: int, at: datetime) -> None:
        s = self._writing()
        s.reset_codes[code_id] = replace(s.reset_codes[code_id], used_at=at)


_GROUP_ENUMS: dict[str, Callable[[Any], Any]] = {
    "kind": GroupKind,
    "category": GroupCategory,
    "join_policy": JoinPolicy,
    "state": GroupState,
}


class FakeGroups(_Repo):
    async def add(self, group: Group, direct_key: str | None = None) -> Group:
        s = self._writing()
        if any(g.number == group.number for g in s.groups.values()):
            raise _duplicate("groups.number")
        if direct_key is not None and direct_key in s.direct_keys:
            raise _duplicate("groups.direct_key")
        stored = replace(group, id=self._uow.store.next_id("groups"))
        s.groups[stored.id] = stored
        if direct_key is not None:
            s.direct_keys[direct_key] = stored.id
        return stored

    async def get(self, group_id: int) -> Group | None:
        return self.s.groups.get(group_id)

    async def get_by_number(self, number: int) -> Group | None:
        return next((g for g in self.s.groups.values() if g.number == number), None)

    async def get_direct(self, direct_key: str) -> Group | None:
        group_id = self.s.direct_keys.get(direct_key)
        return self.s.groups.get(group_id) if group_id is not None else None

    async def number_taken(self, number: int) -> bool:
        return any(g.number == number for g in self.s.groups.values())

    async def next_seq(self, group_id: int) -> int:
        s = self._writing()
        group = s.groups[group_id]
        s.groups[group_id] = replace(group, last_seq=group.last_seq + 1)
        return group.last_seq + 1

    async def update(self, group_id: int, **fields: Any) -> None:
        s = self._writing()
        for key, make in _GROUP_ENUMS.items():
            if fields.get(key) is not None:
                fields[key] = make(fields[key])
        if group_id in s.groups:
            s.groups[group_id] = replace(s.groups[group_id], **fields)

    async def add_member_count(self, group_id: int, delta: int) -> None:
        s = self._writing()
        if group_id in s.groups:
            group = s.groups[group_id]
            s.groups[group_id] = replace(group, member_count=group.member_count + delta)

    async def search_discoverable(self, query: str, limit: int, offset: int) -> list[Group]:
        found = [
            g
            for g in self.s.groups.values()
            if g.discoverable
            and g.state is GroupState.active
            and (not query or query.lower() in g.name.lower())
        ]
        found.sort(key=lambda g: (-g.member_count, g.id))
        return found[offset : offset + limit]


class FakeMemberships(_Repo):
    async def get(self, group_id: int, account_id: int) -> Membership | None:
        return self.s.memberships.get((group_id, account_id))

    async def put(self, membership: Membership) -> None:
        s = self._writing()
        s.memberships[(membership.group_id, membership.account_id)] = replace(
            membership,
            role=GroupRole(membership.role),
            state=MembershipState(membership.state),
        )

    async def list_active(self, group_id: int, limit: int, offset: int) -> list[Membership]:
        active = sorted(
            (m for (g, _), m in self.s.memberships.items() if g == group_id and m.is_active),
            key=lambda m: (m.joined_seq, m.account_id),
        )
        return active[offset : offset + limit]

    async def active_account_ids(self, group_id: int) -> list[int]:
        return [m.account_id for m in await self.list_active(group_id, 1_000_000, 0)]

    async def for_account(
        self, account_id: int, active_only: bool = True
    ) -> list[tuple[Membership, Group]]:
        rows = [
            (m, self.s.groups[g])
            for (g, a), m in self.s.memberships.items()
            if a == account_id and (m.is_active or not active_only)
        ]
        return sorted(rows, key=lambda row: row[1].id)


class FakeRules(_Repo):
    async def add(self, rules: GroupRules) -> None:
        s = self._writing()
        key = (rules.group_id, rules.version)
        if key in s.rules:
            raise _duplicate("group_rules (group_id, version)")
        s.rules[key] = rules

    async def get(self, group_id: int, version: int) -> GroupRules | None:
        return self.s.rules.get((group_id, version))


class FakeTimeline(_Repo):
    async def redact(self, group_id: int, seq: int, data: dict[str, Any]) -> None:
        s = self._writing()
        s.timeline[(group_id, seq)] = replace(
            s.timeline[(group_id, seq)], body=None, data=_json_roundtrip(data)
        )

    async def restore(self, group_id: int, seq: int, body: str, data: dict[str, Any]) -> None:
        s = self._writing()
        s.timeline[(group_id, seq)] = replace(
            s.timeline[(group_id, seq)], body=body, data=_json_roundtrip(data)
        )

    async def append(self, entry: TimelineEntry) -> None:
        s = self._writing()
        key = (entry.group_id, entry.seq)
        if key in s.timeline:
            raise _duplicate("timeline (group_id, seq)")
        if (
            entry.client_txn_id is not None
            and entry.sender_id is not None
            and await self.get_by_txn(entry.sender_id, entry.client_txn_id) is not None
        ):
            raise _duplicate("timeline (sender_id, client_txn_id)")
        s.timeline[key] = replace(entry, data=_json_roundtrip(entry.data))

    async def get_by_txn(self, sender_id: int, client_txn_id: str) -> TimelineEntry | None:
        return next(
            (
                e
                for e in self.s.timeline.values()
                if e.sender_id == sender_id and e.client_txn_id == client_txn_id
            ),
            None,
        )

    async def get(self, group_id: int, seq: int) -> TimelineEntry | None:
        return self.s.timeline.get((group_id, seq))

    def _of(self, group_id: int) -> list[TimelineEntry]:
        return sorted(
            (e for (g, _), e in self.s.timeline.items() if g == group_id), key=lambda e: e.seq
        )

    async def after(
        self, group_id: int, after_seq: int, limit: int, upto: int | None = None
    ) -> list[TimelineEntry]:
        found = [
            e for e in self._of(group_id) if e.seq > after_seq and (upto is None or e.seq <= upto)
        ]
        return found[:limit]

    async def before(
        self, group_id: int, before_seq: int, limit: int, floor: int = 0
    ) -> list[TimelineEntry]:
        found = [e for e in self._of(group_id) if floor <= e.seq < before_seq]
        return found[-limit:] if limit > 0 else []


class FakeInvitations(_Repo):
    async def add(
        self,
        group_id: int,
        inviter_id: int,
        invitee_id: int,
        created_at: datetime,
        expires_at: datetime,
    ) -> Invitation:
        invitation = Invitation(
            self._uow.store.next_id("invitations"),
            group_id,
            inviter_id,
            invitee_id,
            RequestState.pending,
            created_at,
            expires_at,
        )
        self._writing().invitations[invitation.id] = invitation
        return invitation

    async def get(self, invitation_id: int) -> Invitation | None:
        return self.s.invitations.get(invitation_id)

    async def pending_for(self, group_id: int, invitee_id: int) -> Invitation | None:
        return next(
            (
                i
                for i in sorted(self.s.invitations.values(), key=lambda i: i.id)
                if i.group_id == group_id
                and i.invitee_id == invitee_id
                and i.state is RequestState.pending
            ),
            None,
        )

    async def list_for_invitee(self, invitee_id: int) -> list[Invitation]:
        return sorted(
            (
                i
                for i in self.s.invitations.values()
                if i.invitee_id == invitee_id and i.state is RequestState.pending
            ),
            key=lambda i: i.id,
        )

    async def set_state(self, invitation_id: int, state: RequestState) -> None:
        s = self._writing()
        if invitation_id in s.invitations:
            s.invitations[invitation_id] = replace(
                s.invitations[invitation_id], state=RequestState(state)
            )


class FakeJoinRequests(_Repo):
    async def add(
        self,
        group_id: int,
        account_id: int,
        note: str,
        rules_version: int,
        created_at: datetime,
    ) -> JoinRequest:
        request = JoinRequest(
            self._uow.store.next_id("join_requests"),
            group_id,
            account_id,
            note,
            RequestState.pending,
            created_at,
            rules_version,
        )
        self._writing().join_requests[request.id] = request
        return request

    async def get(self, request_id: int) -> JoinRequest | None:
        return self.s.join_requests.get(request_id)

    async def pending_for(self, group_id: int, account_id: int) -> JoinRequest | None:
        pending = await self.list_pending(group_id)
        return next((r for r in pending if r.account_id == account_id), None)

    async def list_pending(self, group_id: int) -> list[JoinRequest]:
        return sorted(
            (
                r
                for r in self.s.join_requests.values()
                if r.group_id == group_id and r.state is RequestState.pending
            ),
            key=lambda r: r.id,
        )

    async def decide(self, request_id: int, state: RequestState, decided_by: int | None) -> None:
        s = self._writing()
        if request_id in s.join_requests:
            s.join_requests[request_id] = replace(
                s.join_requests[request_id], state=RequestState(state), decided_by=decided_by
            )


class FakeOwnershipOffers(_Repo):
    async def add(
        self, group_id: int, from_id: int, to_id: int, created_at: datetime
    ) -> OwnershipOffer:
        offer = OwnershipOffer(
            self._uow.store.next_id("ownership_offers"),
            group_id,
            from_id,
            to_id,
            RequestState.pending,
            created_at,
        )
        self._writing().ownership_offers[offer.id] = offer
        return offer

    async def get(self, offer_id: int) -> OwnershipOffer | None:
        return self.s.ownership_offers.get(offer_id)

    async def pending_for_group(self, group_id: int) -> OwnershipOffer | None:
        return next(
            (
                o
                for o in sorted(self.s.ownership_offers.values(), key=lambda o: o.id)
                if o.group_id == group_id and o.state is RequestState.pending
            ),
            None,
        )

    async def set_state(self, offer_id: int, state: RequestState) -> None:
        s = self._writing()
        if offer_id in s.ownership_offers:
            s.ownership_offers[offer_id] = replace(
                s.ownership_offers[offer_id], state=RequestState(state)
            )


class FakeAudit(_Repo):
    """The audit log with a real hash chain and head, kept as ``storage`` keeps them."""

    async def lock(self) -> None:
        self._writing()  # one writer at a time already: commits are serialised

    async def append(
        self,
        at: datetime,
        actor_id: int,
        action: str,
        subject: str,
        detail: dict[str, Any],
        seal: HeadSealer,
    ) -> AuditRecord:
        s = self._writing()
        detail = _json_roundtrip(detail)
        head = s.audit_head
        checkpoint = s.audit_checkpoint
        prev = s.audit[-1].hash if s.audit else (checkpoint.last_hash if checkpoint else GENESIS)
        digest = entry_hash(prev, audit_content(at, actor_id, action, subject, detail))
        record = AuditRecord(
            self._uow.store.next_id("audit"), at, actor_id, action, subject, detail, prev, digest
        )
        s.audit.append(record)
        count = (head.count if head else 0) + 1
        s.audit_head = AuditHead(count, record.id, digest, seal(head, count, record.id, digest))
        return record

    async def scan(self, after_id: int, limit: int) -> list[AuditRecord]:
        return sorted((r for r in self.s.audit if r.id > after_id), key=lambda r: r.id)[:limit]

    async def head(self) -> AuditHead | None:
        return self.s.audit_head

    async def put_head(self, head: AuditHead) -> None:
        self._writing().audit_head = head

    async def checkpoint(self) -> AuditCheckpoint | None:
        return self.s.audit_checkpoint

    async def put_checkpoint(self, checkpoint: AuditCheckpoint) -> None:
        self._writing().audit_checkpoint = checkpoint

    async def delete_through(self, last_id: int) -> int:
        s = self._writing()
        kept = [r for r in s.audit if r.id > last_id]
        gone = len(s.audit) - len(kept)
        s.audit = kept
        return gone


class FakeCredit(_Repo):
    """``CreditRepository``, mirroring ``storage.credit_repo.SqlCredit``."""

    async def add_entry(self, entry: CreditEntry) -> int:
        s = self._writing()
        entry_id = self._uow.store.next_id("credit_ledger")
        s.credit_ledger.append((entry_id, replace(entry, note=entry.note[:255])))
        return entry_id

    async def add_entries(self, entries: list[CreditEntry]) -> None:
        for entry in entries:
            await self.add_entry(entry)

    async def entries(self, account_id: int, limit: int | None = None) -> list[CreditEntry]:
        mine = [(i, e) for i, e in self.s.credit_ledger if e.account_id == account_id]
        mine.sort(key=lambda row: (row[1].at, row[0]), reverse=True)
        return [e for _, e in mine][:limit]

    async def get_state(self, account_id: int) -> CreditState | None:
        return self.s.credit_states.get(account_id)

    async def put_state(self, state: CreditState) -> None:
        self._writing().credit_states[state.account_id] = state

    async def mark_active_day(self, account_id: int, day: str) -> None:
        self._writing().active_days.add((account_id, day))

    async def active_days_since(self, account_id: int, first_day: str) -> int:
        return sum(1 for a, d in self.s.active_days if a == account_id and d >= first_day)

    async def recompute_batch(
        self, now: datetime, policy: CreditPolicy, after: int, limit: int
    ) -> tuple[int, int]:
        """The per-account rules applied to a batch of accounts, as the SQL bulk path does."""
        s = self._writing()
        first_day = (now - timedelta(days=policy.inputs.active_days_window)).date().isoformat()
        batch = sorted((a for a in s.accounts.values() if a.id > after), key=lambda a: a.id)
        batch = batch[:limit]
        for account in batch:
            state = s.credit_states.get(account.id)
            new_age = age_points((now - account.created_at).total_seconds() / 86_400, policy)
            new_act = activity_points(await self.active_days_since(account.id, first_day), policy)
            for reason, new, old in (
                (CreditReason.account_age, new_age, state.age_points if state else 0),
                (CreditReason.activity, new_act, state.activity_points if state else 0),
            ):
                if new != old:
                    await self.add_entry(CreditEntry(account.id, new - old, reason, now))
            entries = [e for _, e in s.credit_ledger if e.account_id == account.id]
            score = compute_score(entries, now, policy)
            level = level_for(
                score,
                account.identity_verified,
                policy,
                previous=state.level if state else None,
                locked=state.locked_level if state else None,
            )
            s.credit_states[account.id] = CreditState(
                account.id,
                score,
                level,
                now,
                state.locked_level if state else None,
                state.locked_by if state else None,
                new_age,
                new_act,
            )
        return len(batch), batch[-1].id if batch else after


class FakeActivity(_Repo):
    """``ActivityRepository``, mirroring ``storage.credit_repo.SqlActivity``."""

    async def init_group(self, group_id: int, created_by: int | None, tier: str) -> None:
        s = self._writing()
        if group_id in s.group_activity:
            raise _duplicate("group_activity.group_id")
        s.group_activity[group_id] = GroupActivity(group_id, created_by, tier, None)

    async def get_group(self, group_id: int) -> GroupActivity | None:
        return self.s.group_activity.get(group_id)

    async def set_tier(self, group_id: int, tier: str) -> None:
        s = self._writing()
        current = s.group_activity.get(group_id) or GroupActivity(group_id, None, tier, None)
        s.group_activity[group_id] = replace(current, tier=tier)

    async def touch(self, group_id: int, account_id: int | None, at: datetime) -> None:
        s = self._writing()
        if group_id in s.group_activity:
            s.group_activity[group_id] = replace(s.group_activity[group_id], last_activity_at=at)
        if account_id is not None:
            s.member_activity[(group_id, account_id)] = at

    async def messages_since(self, group_id: int, since: datetime) -> int:
        return sum(
            1
            for (g, _), e in self.s.timeline.items()
            if g == group_id and e.created_at >= since and e.kind is EntryKind.message
        )

    async def groups_created_since(self, account_id: int, since: datetime) -> int:
        return sum(
            1
            for a in self.s.group_activity.values()
            if a.created_by == account_id
            and (g := self.s.groups.get(a.group_id)) is not None
            and g.created_at >= since
            and g.kind is GroupKind.group
        )

    async def groups_owned(self, account_id: int) -> int:
        return sum(
            1
            for g in self.s.groups.values()
            if g.owner_id == account_id and g.is_active and g.kind is GroupKind.group
        )

    async def groups_joined(self, account_id: int) -> int:
        return sum(
            1
            for (g_id, a), m in self.s.memberships.items()
            if a == account_id
            and m.is_active
            and self.s.groups[g_id].kind is GroupKind.group
            and self.s.groups[g_id].is_active
        )

    async def invitations_since(self, inviter_id: int, since: datetime) -> int:
        return sum(
            1
            for i in self.s.invitations.values()
            if i.inviter_id == inviter_id and i.created_at >= since
        )

    async def member_last_active(self, group_id: int, account_id: int) -> datetime | None:
        return self.s.member_activity.get((group_id, account_id))


class FakeJobs(_Repo):
    """``JobRepository``, mirroring ``storage.jobs_repo.SqlJobs``."""

    async def get(self, name: str) -> JobRun | None:
        return self.s.job_runs.get(name)

    async def all(self) -> list[JobRun]:
        return [self.s.job_runs[n] for n in sorted(self.s.job_runs)]

    async def put(self, run: JobRun) -> None:
        self._writing().job_runs[run.name] = run


class FakeLawfulAccess(_Repo):
    """``LawfulAccessRepository``, mirroring ``storage.lawful_repo.SqlLawfulAccess``."""

    async def add_request(self, request: AccessRequest) -> AccessRequest:
        stored = dataclasses.replace(request, id=self._uow.store.next_id("access_requests"))
        self._writing().access_requests[stored.id] = stored
        return stored

    async def get_request(self, request_id: int) -> AccessRequest | None:
        return self.s.access_requests.get(request_id)

    async def update_request(self, request: AccessRequest) -> None:
        self._writing().access_requests[request.id] = request

    async def list_requests(
        self, state: AccessRequestState | None, after_id: int, limit: int
    ) -> list[AccessRequest]:
        found = [
            r
            for i, r in sorted(self.s.access_requests.items())
            if i > after_id and (state is None or r.state is state)
        ]
        return found[:limit]

    async def requests_between(self, start: datetime, end: datetime) -> list[AccessRequest]:
        return [
            r for _, r in sorted(self.s.access_requests.items()) if start <= r.registered_at < end
        ]

    async def add_referral(self, referral: Referral) -> Referral:
        stored = dataclasses.replace(referral, id=self._uow.store.next_id("referrals"))
        self._writing().referrals[stored.id] = stored
        return stored

    async def get_referral(self, referral_id: int) -> Referral | None:
        return self.s.referrals.get(referral_id)

    async def update_referral(self, referral: Referral) -> None:
        self._writing().referrals[referral.id] = referral

    async def list_referrals(
        self, state: ReferralState | None, after_id: int, limit: int
    ) -> list[Referral]:
        found = [
            r
            for i, r in sorted(self.s.referrals.items())
            if i > after_id and (state is None or r.state is state)
        ]
        return found[:limit]


class FakeDataExports(_Repo):
    """``DataExportRepository``, mirroring ``storage.exports_repo.SqlDataExports``."""

    async def add(self, export: DataExport) -> DataExport:
        stored = dataclasses.replace(export, id=self._uow.store.next_id("data_exports"))
        self._writing().data_exports[stored.id] = (stored, None)
        return stored

    async def get(self, export_id: int) -> DataExport | None:
        found = self.s.data_exports.get(export_id)
        return found[0] if found else None

    async def latest_for(self, account_id: int) -> DataExport | None:
        mine = [e for e, _ in self.s.data_exports.values() if e.account_id == account_id]
        return max(mine, key=lambda e: e.id) if mine else None

    async def count_since(self, account_id: int, since: datetime) -> int:
        found = self.s.data_exports.values()
        return sum(1 for e, _ in found if e.account_id == account_id and e.requested_at >= since)

    async def put(self, export: DataExport, content: str | None) -> None:
        self._writing().data_exports[export.id] = (export, content)

    async def content(self, export_id: int) -> str | None:
        found = self.s.data_exports.get(export_id)
        return found[1] if found else None


class FakePosting:
    """``PostingRepository`` composed from the other fakes (the SQL one is one statement)."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    async def load(
        self, group_id: int, account_id: int, client_txn_id: str, now: datetime
    ) -> PostingState | None:
        u = self.uow
        group = await u.groups.get(group_id)
        if group is None:
            return None
        mute = await u.owner.get_mute(group_id, account_id)
        return PostingState(
            group=group,
            membership=await u.memberships.get(group_id, account_id),
            controls=await u.owner.get_controls(group_id),
            mute_until=mute[0] if mute is not None else None,
            last_active_at=await u.activity.member_last_active(group_id, account_id),
            sanctions_in_force=bool(await u.reports.active_sanctions(now, group_id, account_id)),
            previous=await u.timeline.get_by_txn(account_id, client_txn_id),
        )


class FakeUnitOfWork:
    """One transaction over a private snapshot of the store."""

    def __init__(self, factory: FakeUnitOfWorkFactory, write: bool) -> None:
        self.factory = factory
        self.store = factory.store
        self.write = write
        self.events: list[Event] = []
        self.committed = False
        self.rolled_back = False
        self._state: FakeState | None = None
        self._dirty = False
        self._base_version = 0
        self.accounts: AccountRepository = FakeAccounts(self)
        self.identities: IdentityRepository = FakeIdentities(self)
        self.tokens: TokenRepository = FakeTokens(self)
        self.reset_codes: ResetCodeRepository = FakeResetCodes(self)
        self.groups: GroupRepository = FakeGroups(self)
        self.memberships: MembershipRepository = FakeMemberships(self)
        self.rules: RulesRepository = FakeRules(self)
        self.timeline: TimelineRepository = FakeTimeline(self)
        self.invitations: InvitationRepository = FakeInvitations(self)
        self.join_requests: JoinRequestRepository = FakeJoinRequests(self)
        self.ownership_offers: OwnershipOfferRepository = FakeOwnershipOffers(self)
        self.audit: AuditRepository = FakeAudit(self)
        self.credit: CreditRepository = FakeCredit(self)
        self.activity: ActivityRepository = FakeActivity(self)
        self.reports: ReportsRepository = FakeReports(self)
        self.owner: OwnerToolsRepository = FakeOwnerTools(self)
        self.posting: PostingRepository = FakePosting(self)
        self.jobs: JobRepository = FakeJobs(self)
        self.exports: DataExportRepository = FakeDataExports(self)
        self.lawful: LawfulAccessRepository = FakeLawfulAccess(self)
        self.uploads = FakeUploads()
        self.second_factors: SecondFactorRepository = FakeSecondFactors(self)
        self.conversation: ConversationRepository = FakeConversation(self)
        self.search: MessageSearch = FakeSearch(self)

    @property
    def state(self) -> FakeState:
        if self._state is None:
            raise AssertionError("the unit of work is not open")
        return self._state

    def state_for_write(self) -> FakeState:
        if not self.write:
            raise ReadOnlyViolation("a write through a unit of work opened with write=False")
        self._dirty = True
        return self.state

    def _begin(self) -> None:
        self._state = self.store.state.snapshot()
        self._base_version = self.store.version
        self._dirty = False

    async def __aenter__(self) -> Self:
        self._begin()
        self.factory.opened.append(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            self.rolled_back = True
        self._state = None  # uncommitted changes are gone

    async def commit(self) -> None:
        if not self.write:
            raise ReadOnlyViolation("commit of a unit of work opened with write=False")
        failure = self.factory.take_commit_failure()
        if failure is not None:
            raise failure
        if self._dirty:
            if self.store.version != self._base_version:
                # Another unit committed since this one began: refuse rather than lose it.
                raise Conflict("concurrent_update", "A concurrent transaction committed first.")
            self.store.state = self.state
            self.store.version += 1
        self.store.commits += 1
        self.committed = True
        self._begin()

    async def rollback(self) -> None:
        self.rolled_back = True
        self._begin()


class FakeUnitOfWorkFactory:
    """``UnitOfWorkFactory``: every unit it makes works on the same ``FakeStore``."""

    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store or FakeStore()
        self.opened: list[FakeUnitOfWork] = []
        self._commit_failures: list[BaseException] = []

    def __call__(self, *, write: bool = True) -> FakeUnitOfWork:
        return FakeUnitOfWork(self, write)

    def fail_next_commit(self, exc: BaseException) -> None:
        """The next commit raises ``exc`` (as a database might at COMMIT) and keeps nothing."""
        self._commit_failures.append(exc)

    def take_commit_failure(self) -> BaseException | None:
        return self._commit_failures.pop(0) if self._commit_failures else None

    @property
    def state(self) -> FakeState:
        """The committed state, for assertions."""
        return self.store.state


class FakePasswordHasher:
    """Deterministic and fast; ``version`` lets a test make old hashes need a rehash."""

    def __init__(self, version: int = 1) -> None:
        self.version = version

    def hash(self, password: str) -> str:
        digest = hashlib.sha256(password.encode()).hexdigest()
        return f"fake${self.version}${digest}"

    def verify(self, password_hash: str, password: str) -> bool:
        _, _, rest = password_hash.partition("$")
        _, _, digest = rest.partition("$")
        return digest == hashlib.sha256(password.encode()).hexdigest()

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake${self.version}$")


async def run_blocking(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``asyncio.to_thread`` without the thread: the unit tests stay single-threaded."""
    return fn(*args, **kwargs)


class CountingObserver:
    def __init__(self) -> None:
        self.messages = 0
        self.publish_failures = 0

    def message_sent(self) -> None:
        self.messages += 1

    def publish_failed(self) -> None:
        self.publish_failures += 1


def make_ctx(
    clock: FrozenClock | None = None,
    limits: Limits | None = None,
    rulebooks: RulebookSet | None = None,
) -> ServiceContext:
    """A service context over the fakes, the memory bus and a frozen clock.

    The rulebook defaults to the generous test copy; quota tests pass the real one.
    """
    return ServiceContext(
        uow=FakeUnitOfWorkFactory(),
        bus=MemoryBus(),
        clock=clock or FrozenClock(),
        cipher=FieldCipher(os.urandom(32)),
        hasher=FakePasswordHasher(),
        verifier=FormatCheckVerifier(),
        limits=limits or Limits(),
        observer=CountingObserver(),
        run_blocking=run_blocking,
        rulebooks=rulebooks or generous_rulebooks(),
    )


def restart_audit_log(ctx: ServiceContext) -> None:
    """Empty the audit log and its head, so that a test's own entries start the chain."""
    state = fake_uow(ctx).state
    state.audit.clear()
    state.audit_head = AuditHead(0, 0, GENESIS, None)


def fake_uow(ctx: ServiceContext) -> FakeUnitOfWorkFactory:
    """The fake factory inside a context made by ``make_ctx`` (typed for the tests)."""
    assert isinstance(ctx.uow, FakeUnitOfWorkFactory)
    return ctx.uow


def frozen_clock(ctx: ServiceContext) -> FrozenClock:
    assert isinstance(ctx.clock, FrozenClock)
    return ctx.clock


class FakeUploads:
    """No uploads on fakes: attachments are tested through a server (tests/e2e), and the
    services that read them here (case files, exports) must cope with messages that
    carry none."""

    async def get(self, upload_id: int) -> None:
        return None

    async def get_many(self, upload_ids: Any) -> dict[int, Any]:
        return {}

    async def for_messages(self, group_id: int, seqs: Any) -> dict[int, list[Any]]:
        return {}

    async def references(self, upload_id: int) -> list[tuple[int, int]]:
        return []

    async def in_evidence(self, group_id: int, seq: int) -> bool:
        return False
