"""Rows to domain models."""

from __future__ import annotations

from typing import Any

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
    TimelineEntry,
)


class Prefixed:
    """A row whose columns were labelled ``prefix + name`` (a join), read by plain names."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)


def account(r: Any) -> Account:
    return Account(
        id=r.id,
        handle=r.handle,
        display_name=r.display_name,
        created_at=r.created_at,
        identity_verified=bool(r.identity_verified),
        platform_role=PlatformRole(r.platform_role) if r.platform_role else None,
        disabled=bool(r.disabled),
    )


def token(r: Any) -> ApiToken:
    return ApiToken(
        id=r.id,
        account_id=r.account_id,
        token_hash=r.token_hash,
        created_at=r.created_at,
        expires_at=r.expires_at,
        revoked_at=r.revoked_at,
        label=r.label,
    )


def group(r: Any) -> Group:
    return Group(
        id=r.id,
        number=r.number,
        kind=GroupKind(r.kind),
        name=r.name,
        category=GroupCategory(r.category) if r.category else None,
        join_policy=JoinPolicy(r.join_policy),
        discoverable=bool(r.discoverable),
        owner_id=r.owner_id,
        state=GroupState(r.state),
        created_at=r.created_at,
        last_seq=r.last_seq,
        rules_version=r.rules_version,
        member_count=r.member_count,
    )


def membership(r: Any) -> Membership:
    return Membership(
        group_id=r.group_id,
        account_id=r.account_id,
        role=GroupRole(r.role),
        state=MembershipState(r.state),
        joined_at=r.joined_at,
        joined_seq=r.joined_seq,
        left_seq=r.left_seq,
        accepted_rules_version=r.accepted_rules_version,
    )


def rules(r: Any) -> GroupRules:
    return GroupRules(
        group_id=r.group_id, version=r.version, text=r.text, set_by=r.set_by, set_at=r.set_at
    )


def entry(r: Any) -> TimelineEntry:
    return TimelineEntry(
        group_id=r.group_id,
        seq=r.seq,
        kind=EntryKind(r.kind),
        sender_id=r.sender_id,
        created_at=r.created_at,
        body=r.body,
        client_txn_id=r.client_txn_id,
        data=dict(r.data or {}),
    )


def invitation(r: Any) -> Invitation:
    return Invitation(
        id=r.id,
        group_id=r.group_id,
        inviter_id=r.inviter_id,
        invitee_id=r.invitee_id,
        state=RequestState(r.state),
        created_at=r.created_at,
        expires_at=r.expires_at,
    )


def join_request(r: Any) -> JoinRequest:
    return JoinRequest(
        id=r.id,
        group_id=r.group_id,
        account_id=r.account_id,
        note=r.note,
        state=RequestState(r.state),
        created_at=r.created_at,
        rules_version=r.rules_version,
        decided_by=r.decided_by,
    )


def offer(r: Any) -> OwnershipOffer:
    return OwnershipOffer(
        id=r.id,
        group_id=r.group_id,
        from_id=r.from_id,
        to_id=r.to_id,
        state=RequestState(r.state),
        created_at=r.created_at,
    )
