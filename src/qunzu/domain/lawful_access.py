"""Lawful-access requests (依法调取) and referrals to the authorities: the pure rules.

A request from an authority names who asks (the authority and its kind), on what legal
basis and document, and a scope: accounts, groups, a period and data classes. It is
registered by one officer and approved or refused by another (four eyes); only an
approved request produces an export, and approval puts a legal hold on its scope until
the request is closed. Private-tier content (one-to-one chats and small family groups,
P1) is in scope only when the request states a legal basis that names it.

A referral is a matter the platform passes on to the authorities: an owner's report up
"to the authorities", or a reviewer's ``refer_to_authority`` measure. Referrals wait in
one outbox until an officer records how each was passed on and closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.errors import Conflict, Forbidden, InvalidInput

MAX_SCOPE_IDS = 100  # accounts or groups one request may name
MAX_PERIOD = timedelta(days=366 * 2)


class AuthorityKind(StrEnum):
    """Who may ask: the kinds of authority the transparency report counts by."""

    public_security = "public_security"  # 公安机关
    state_security = "state_security"  # 国家安全机关
    procuratorate = "procuratorate"  # 检察院
    court = "court"  # 法院
    cyberspace_administration = "cyberspace_administration"  # 网信部门
    other = "other"


class DataClass(StrEnum):
    """What an export may hold. ``private_messages`` is private-tier content (P1)."""

    accounts = "accounts"
    identity = "identity"
    memberships = "memberships"
    messages = "messages"
    private_messages = "private_messages"
    sanctions = "sanctions"


class RequestState(StrEnum):
    registered = "registered"
    approved = "approved"
    refused = "refused"
    closed = "closed"


class ReferralSource(StrEnum):
    owner_report_up = "owner_report_up"  # an owner or admin reported up "to the authorities"
    reviewer_decision = "reviewer_decision"  # a decision with refer_to_authority


class ReferralState(StrEnum):
    open = "open"
    closed = "closed"


@dataclass(frozen=True, slots=True)
class AccessScope:
    account_ids: tuple[int, ...]
    group_ids: tuple[int, ...]
    start: datetime
    end: datetime
    data_classes: tuple[DataClass, ...]


@dataclass(frozen=True, slots=True)
class AccessRequest:
    id: int
    authority: str
    authority_kind: AuthorityKind
    legal_basis: str
    document_ref: str
    private_tier_basis: str | None
    scope: AccessScope
    state: RequestState
    registered_by: int
    registered_at: datetime
    decided_by: int | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    exports: int = 0
    closed_at: datetime | None = None

    @property
    def holds(self) -> bool:
        """An approved request holds its scope until closed (legal hold)."""
        return self.state is RequestState.approved


@dataclass(frozen=True, slots=True)
class Referral:
    id: int
    source: ReferralSource
    group_id: int
    case_id: int | None
    account_id: int | None
    summary: str
    created_at: datetime
    state: ReferralState = ReferralState.open
    closed_by: int | None = None
    closed_at: datetime | None = None
    outcome: str | None = None


def check_scope(scope: AccessScope, private_tier_basis: str | None, now: datetime) -> None:
    """A scope names someone, a closed period in the past, and at least one data class;
    private-tier content only on a basis that names it."""
    if not scope.account_ids and not scope.group_ids:
        raise InvalidInput("scope_empty", "Name at least one account or group.")
    if len(scope.account_ids) > MAX_SCOPE_IDS or len(scope.group_ids) > MAX_SCOPE_IDS:
        raise InvalidInput("scope_too_wide", f"Name at most {MAX_SCOPE_IDS} accounts and groups.")
    if scope.start.tzinfo is None or scope.end.tzinfo is None:
        raise InvalidInput("invalid_period", "Give both ends of the period with a UTC offset.")
    if scope.end <= scope.start:
        raise InvalidInput("invalid_period", "The period ends after it starts.")
    if scope.end - scope.start > MAX_PERIOD:
        raise InvalidInput("invalid_period", "A request covers at most two years.")
    if scope.start > now:
        raise InvalidInput("invalid_period", "The period cannot start in the future.")
    if not scope.data_classes:
        raise InvalidInput("scope_empty", "Name at least one data class.")
    if DataClass.private_messages in scope.data_classes and not private_tier_basis:
        raise InvalidInput(
            "private_tier_basis_required",
            "Private chats are in scope only on a legal basis that names them (P1).",
        )


def check_four_eyes(request: AccessRequest, officer_id: int) -> None:
    """The officer who registered a request never decides it."""
    if request.registered_by == officer_id:
        raise Forbidden(
            "four_eyes_required", "A second officer must approve or refuse this request."
        )


def check_decidable(request: AccessRequest) -> None:
    if request.state is not RequestState.registered:
        raise Conflict("request_already_decided", f"This request is {request.state.value}.")


def check_exportable(request: AccessRequest) -> None:
    if request.state is not RequestState.approved:
        raise Conflict("request_not_approved", "Only an approved, open request produces an export.")


def check_closable(request: AccessRequest) -> None:
    if request.state in (RequestState.closed, RequestState.refused):
        raise Conflict("request_closed", f"This request is already {request.state.value}.")


def check_referral_open(referral: Referral) -> None:
    if referral.state is not ReferralState.open:
        raise Conflict("referral_closed", "This referral is already closed.")


def new_referral(
    source: ReferralSource,
    group_id: int,
    case_id: int | None,
    account_id: int | None,
    summary: str,
    now: datetime,
) -> Referral:
    """A matter entering the outbox (its id is assigned when stored)."""
    return Referral(
        id=0,
        source=source,
        group_id=group_id,
        case_id=case_id,
        account_id=account_id,
        summary=" ".join(summary.split())[:1000],
        created_at=now,
    )
