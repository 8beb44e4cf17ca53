"""Request and response bodies. Requests forbid unknown fields so typos fail loudly."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qunzu.domain.models import (
    Account,
    ApiToken,
    Group,
    GroupCategory,
    GroupRole,
    Invitation,
    JoinPolicy,
    JoinRequest,
    Membership,
    OwnershipOffer,
    TimelineEntry,
)

MAX_ID = 2**62
IdInt = Annotated[int, Field(ge=1, le=MAX_ID)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- requests ------------------------------------------------------------------------------


class RegisterIn(In):
    handle: str = Field(min_length=1, max_length=64, examples=["li_wei"])
    password: str = Field(min_length=1, max_length=256, examples=["correct horse battery"])
    display_name: str | None = Field(default=None, max_length=128, examples=["李伟"])


class LoginIn(In):
    handle: str = Field(min_length=1, max_length=64, examples=["li_wei"])
    password: str = Field(min_length=1, max_length=256, examples=["correct horse battery"])
    label: str = Field(default="", max_length=64, examples=["laptop"])


class TokenIn(In):
    label: str = Field(default="", max_length=64)


class ProfileIn(In):
    display_name: str = Field(min_length=1, max_length=128)


class IdentityIn(In):
    legal_name: str = Field(min_length=1, max_length=64)
    resident_id: str = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=1, max_length=32)


class GroupIn(In):
    name: str = Field(min_length=1, max_length=128)
    category: GroupCategory
    join_policy: JoinPolicy = JoinPolicy.invite_only
    discoverable: bool = False
    rules: str | None = Field(default=None, max_length=10_000)


class GroupPatchIn(In):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    join_policy: JoinPolicy | None = None
    discoverable: bool | None = None


class RulesIn(In):
    text: str = Field(min_length=1, max_length=10_000)


class RulesAcceptIn(In):
    version: int = Field(ge=1, le=MAX_ID)


class JoinIn(In):
    rules_version: int | None = Field(default=None, ge=0, le=MAX_ID)


class JoinRequestIn(In):
    note: str = Field(default="", max_length=280)
    rules_version: int | None = Field(default=None, ge=0, le=MAX_ID)


class InviteIn(In):
    handle: str = Field(min_length=1, max_length=64)


class RoleIn(In):
    role: Literal["admin", "member"]


class RemoveIn(In):
    reason: str = Field(default="", max_length=500)


class OfferIn(In):
    to_account_id: IdInt


class MessageIn(In):
    body: str = Field(min_length=1, max_length=100_000)
    client_txn_id: str = Field(min_length=1, max_length=64)


class DirectIn(In):
    handle: str = Field(min_length=1, max_length=64)


class IdentityReadIn(In):
    account_id: IdInt
    # No min_length: the service judges the reason, so "" and "why" get the same reason_required.
    reason: str = Field(max_length=500)


# ---- responses -----------------------------------------------------------------------------


class AccountOut(BaseModel):
    id: int
    handle: str
    display_name: str
    identity_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        return cls(
            id=a.id,
            handle=a.handle,
            display_name=a.display_name,
            identity_verified=a.identity_verified,
            created_at=a.created_at,
        )


class MeOut(AccountOut):
    platform_role: str | None

    @classmethod
    def of_me(cls, a: Account) -> MeOut:
        return cls(
            **AccountOut.of(a).model_dump(),
            platform_role=a.platform_role.value if a.platform_role else None,
        )


class TokenOut(BaseModel):
    token: str
    token_id: int
    expires_at: datetime
    account: AccountOut | None = None


class TokenInfoOut(BaseModel):
    id: int
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, t: ApiToken) -> TokenInfoOut:
        return cls(
            id=t.id,
            label=t.label,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
        )


class MaskedIdentityOut(BaseModel):
    legal_name: str
    resident_id: str
    phone: str
    verified: bool
    verifier: str
    submitted_at: datetime


class FullIdentityOut(BaseModel):
    account_id: int
    legal_name: str
    resident_id: str
    phone: str
    verified: bool
    verifier: str


class MembershipOut(BaseModel):
    group_id: int
    account_id: int
    role: GroupRole
    state: str
    joined_at: datetime
    joined_seq: int
    left_seq: int | None
    accepted_rules_version: int

    @classmethod
    def of(cls, m: Membership) -> MembershipOut:
        return cls(
            group_id=m.group_id,
            account_id=m.account_id,
            role=m.role,
            state=m.state.value,
            joined_at=m.joined_at,
            joined_seq=m.joined_seq,
            left_seq=m.left_seq,
            accepted_rules_version=m.accepted_rules_version,
        )


class GroupOut(BaseModel):
    """The group profile: the Art. 8 information page fields, and the viewer's standing."""

    id: int
    number: int
    kind: str
    name: str
    category: GroupCategory | None
    join_policy: JoinPolicy
    discoverable: bool
    state: str
    member_count: int
    owner_id: int | None
    owner_display_name: str | None = None
    created_at: datetime
    last_seq: int
    rules_version: int
    my_role: GroupRole | None = None
    my_accepted_rules_version: int | None = None
    tier: str | None = Field(default=None, description="private, small, large or public (Art. 7)")
    activity: str | None = Field(default=None, description="dormant, normal or busy")
    messages_last_day: int | None = None
    last_activity_at: datetime | None = None
    info_page: dict[str, Any] | None = Field(
        default=None,
        description="Art. 8 information page of larger groups: name, member count, category, "
        "owner's display name.",
    )

    @classmethod
    def of(
        cls, g: Group, owner_display_name: str | None = None, me: Membership | None = None
    ) -> GroupOut:
        active = me is not None and me.is_active
        return cls(
            id=g.id,
            number=g.number,
            kind=g.kind.value,
            name=g.name,
            category=g.category,
            join_policy=g.join_policy,
            discoverable=g.discoverable,
            state=g.state.value,
            member_count=g.member_count,
            owner_id=g.owner_id,
            owner_display_name=owner_display_name,
            created_at=g.created_at,
            last_seq=g.last_seq,
            rules_version=g.rules_version,
            my_role=me.role if me is not None and active else None,
            my_accepted_rules_version=me.accepted_rules_version
            if me is not None and active
            else None,
        )


def group_out_of_view(view: Any) -> GroupOut:
    """A group profile with its tier, activity class and, for larger groups, the Art. 8 page."""
    out = GroupOut.of(view.group, view.owner_display_name, view.my_membership)
    out.tier = view.tier
    out.activity = view.activity
    out.messages_last_day = view.messages_last_day
    out.last_activity_at = view.last_activity_at
    if view.shows_info_page:
        out.info_page = {
            "name": view.group.name,
            "member_count": view.group.member_count,
            "category": view.group.category.value if view.group.category else None,
            "owner_display_name": view.owner_display_name,
            "number": view.group.number,
        }
    return out


class MemberOut(BaseModel):
    account_id: int
    handle: str
    display_name: str
    role: GroupRole
    joined_at: datetime


class RulesOut(BaseModel):
    group_id: int
    version: int
    text: str
    set_by: int
    set_at: datetime


class InvitationOut(BaseModel):
    id: int
    group_id: int
    inviter_id: int
    invitee_id: int
    state: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, i: Invitation) -> InvitationOut:
        return cls(
            id=i.id,
            group_id=i.group_id,
            inviter_id=i.inviter_id,
            invitee_id=i.invitee_id,
            state=i.state.value,
            created_at=i.created_at,
            expires_at=i.expires_at,
        )


class JoinRequestOut(BaseModel):
    id: int
    group_id: int
    account_id: int
    note: str
    state: str
    rules_version: int
    created_at: datetime
    decided_by: int | None

    @classmethod
    def of(cls, r: JoinRequest) -> JoinRequestOut:
        return cls(
            id=r.id,
            group_id=r.group_id,
            account_id=r.account_id,
            note=r.note,
            state=r.state.value,
            rules_version=r.rules_version,
            created_at=r.created_at,
            decided_by=r.decided_by,
        )


class OfferOut(BaseModel):
    id: int
    group_id: int
    from_id: int
    to_id: int
    state: str
    created_at: datetime

    @classmethod
    def of(cls, o: OwnershipOffer) -> OfferOut:
        return cls(
            id=o.id,
            group_id=o.group_id,
            from_id=o.from_id,
            to_id=o.to_id,
            state=o.state.value,
            created_at=o.created_at,
        )


class EntryOut(BaseModel):
    group_id: int
    seq: int
    kind: str
    sender_id: int | None
    body: str | None
    client_txn_id: str | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, e: TimelineEntry) -> EntryOut:
        return cls(
            group_id=e.group_id,
            seq=e.seq,
            kind=e.kind.value,
            sender_id=e.sender_id,
            body=e.body,
            client_txn_id=e.client_txn_id,
            data=e.data,
            created_at=e.created_at,
        )


class HistoryOut(BaseModel):
    entries: list[EntryOut]
    first_visible_seq: int
    last_visible_seq: int


class AuditVerifyOut(BaseModel):
    ok: bool
    checked: int
    first_broken_id: int | None
    reason: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str


# ---- governance: rulebook and credit ------------------------------------------------------


class RulebookVersionOut(BaseModel):
    version: str
    name: str
    effective_from: str
    in_force: bool


class CreditLockIn(In):
    account_id: IdInt
    level: int | None = Field(ge=0, le=100)
    reason: str = Field(max_length=500)


class CreditStateOut(BaseModel):
    account_id: int
    score: int
    level: int
    locked_level: int | None
    computed_at: datetime

    @classmethod
    def of(cls, s: Any) -> CreditStateOut:
        return cls(
            account_id=s.account_id,
            score=s.score,
            level=s.level,
            locked_level=s.locked_level,
            computed_at=s.computed_at,
        )


class LevelOut(BaseModel):
    level: int
    name_zh: str
    name_en: str
    min_score: int
    max_score: int
    can_post: bool
    quotas: dict[str, Any]


class CreditEntryOut(BaseModel):
    delta: int
    reason: str
    reason_zh: str
    reason_en: str
    article: str | None
    source: str | None
    at: datetime


class CreditOut(BaseModel):
    score: int
    level: int
    level_name_zh: str
    level_name_en: str
    locked: bool
    rulebook_version: str
    levels: list[LevelOut]
    entries: list[CreditEntryOut]

    @classmethod
    def of(cls, view: Any) -> CreditOut:
        from dataclasses import asdict

        return cls(
            score=view.state.score,
            level=view.state.level,
            level_name_zh=view.current.name.zh,
            level_name_en=view.current.name.en,
            locked=view.state.locked_level is not None,
            rulebook_version=view.rulebook.version,
            levels=[
                LevelOut(
                    level=lvl.level,
                    name_zh=lvl.name.zh,
                    name_en=lvl.name.en,
                    min_score=lvl.min_score,
                    max_score=lvl.max_score,
                    can_post=lvl.can_post,
                    quotas=asdict(lvl.quotas),
                )
                for lvl in view.rulebook.credit.levels
            ],
            entries=[
                CreditEntryOut(
                    delta=e.entry.delta,
                    reason=e.entry.reason.value,
                    reason_zh=e.text_zh,
                    reason_en=e.text_en,
                    article=e.entry.article,
                    source=e.entry.source,
                    at=e.entry.at,
                )
                for e in view.entries
            ],
        )


# ---- reports, review, sanctions, appeals ---------------------------------------------------


class ReportTargetIn(In):
    kind: Literal["message", "member", "group"]
    seq: int | None = Field(default=None, ge=1, le=MAX_ID)
    account_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ReportIn(In):
    group_id: IdInt
    target: ReportTargetIn
    category: str = Field(min_length=1, max_length=32)
    statement: str = Field(default="", max_length=1000)
    extra_seqs: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=20
    )


class CaseOut(BaseModel):
    id: int
    target_kind: str
    group_id: int
    seq: int | None
    account_id: int | None
    category: str
    severity: str
    tier: str
    route: str
    status: str
    created_at: datetime
    deadline_at: datetime
    platform_visible_at: datetime
    conduct_at: datetime
    priority: float
    reporters: int
    claimed_by: int | None
    decision: str | None
    decided_at: datetime | None
    rulebook_version: str

    @classmethod
    def of(cls, c: Any) -> CaseOut:
        return cls(
            id=c.id,
            target_kind=c.target.kind.value,
            group_id=c.target.group_id,
            seq=c.target.seq,
            account_id=c.target.account_id,
            category=c.category,
            severity=c.severity,
            tier=c.tier,
            route=c.route.value,
            status=c.status.value,
            created_at=c.created_at,
            deadline_at=c.deadline_at,
            platform_visible_at=c.platform_visible_at,
            conduct_at=c.conduct_at,
            priority=c.priority,
            reporters=c.reporters,
            claimed_by=c.claimed_by,
            decision=c.decision.value if c.decision else None,
            decided_at=c.decided_at,
            rulebook_version=c.rulebook_version,
        )


class ReceiptOut(BaseModel):
    """What a reporter gets: a receipt now, and the outcome once the case is decided."""

    report_id: int
    case_id: int
    category: str
    created_at: datetime
    status: str
    outcome: str | None
    route: str


class EvidenceOut(BaseModel):
    seq: int
    sender_id: int | None
    body: str | None
    kind: str
    created_at: datetime
    reported: bool


class ReportOut(BaseModel):
    id: int
    reporter_id: int
    category: str
    statement: str
    extra_seqs: list[int]
    created_at: datetime
    reporter_weight: float
    manifestly_unfounded: bool


class SanctionIn(In):
    kind: str = Field(min_length=1, max_length=32)
    article: str = Field(min_length=1, max_length=32)
    facts: str = Field(min_length=1, max_length=2000)
    days: int | None = Field(default=None, ge=1, le=3650)
    account_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    scope_group_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class DecisionIn(In):
    decision: Literal["no_violation", "violation"]
    sanctions: list[SanctionIn] = Field(default_factory=list, max_length=8)
    note: str = Field(default="", max_length=2000)
    manifestly_unfounded: bool = False


class NoteIn(In):
    note: str = Field(default="", max_length=2000)


class ReasonIn(In):
    reason: str = Field(min_length=1, max_length=500)


class StatementIn(In):
    statement: str = Field(min_length=1, max_length=2000)


class AppealDecisionIn(In):
    overturn: bool
    note: str = Field(default="", max_length=2000)


class SanctionOut(BaseModel):
    id: int
    case_id: int
    kind: str
    target: str
    group_id: int | None
    account_id: int | None
    article: str
    rulebook_version: str
    facts: str
    decided_by: int
    automated: bool
    starts_at: datetime
    ends_at: datetime | None
    state: str
    appeal_until: datetime
    acknowledged_at: datetime | None
    credit_delta: int

    @classmethod
    def of(cls, s: Any) -> SanctionOut:
        return cls(
            id=s.id,
            case_id=s.case_id,
            kind=s.kind,
            target=s.target.value,
            group_id=s.group_id,
            account_id=s.account_id,
            article=s.article,
            rulebook_version=s.rulebook_version,
            facts=s.facts,
            decided_by=s.decided_by,
            automated=s.automated,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            state=s.state.value,
            appeal_until=s.appeal_until,
            acknowledged_at=s.acknowledged_at,
            credit_delta=s.credit_delta,
        )


class AppealOut(BaseModel):
    id: int
    kind: str
    sanction_id: int | None
    case_id: int
    appellant_id: int
    statement: str
    created_at: datetime
    state: str
    decided_by: int | None
    decided_at: datetime | None
    note: str

    @classmethod
    def of(cls, a: Any) -> AppealOut:
        return cls(
            id=a.id,
            kind=a.kind.value,
            sanction_id=a.sanction_id,
            case_id=a.case_id,
            appellant_id=a.appellant_id,
            statement=a.statement,
            created_at=a.created_at,
            state=a.state.value,
            decided_by=a.decided_by,
            decided_at=a.decided_at,
            note=a.note,
        )


class StatementOfReasonsOut(BaseModel):
    """DSA Art. 17: the facts, the article, the evidence, who decided, whether automated,
    start, end, and how to appeal."""

    sanction: SanctionOut
    measure_zh: str
    measure_en: str
    article_id: str
    article_title_zh: str | None
    article_title_en: str | None
    article_text_zh: str | None
    article_text_en: str | None
    evidence_seqs: list[int]
    decided_by_role: str
    automated: bool
    in_force: bool
    how_to_appeal: str
    appeal: AppealOut | None


class CaseFileOut(BaseModel):
    case: CaseOut
    reports: list[ReportOut]
    evidence: list[EvidenceOut]
    sanctions: list[SanctionOut]


class DecisionOut(BaseModel):
    case: CaseOut
    sanctions: list[SanctionOut]


class OwnerNoticeOut(BaseModel):
    case: CaseOut
    reports: int
    respond_by: datetime
    reported_message: EvidenceOut | None
