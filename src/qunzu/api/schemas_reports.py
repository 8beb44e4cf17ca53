"""Bodies of the reports, review, sanctions and appeals endpoints (Arts. 11, 12)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from qunzu.api.schemas import MAX_ID, IdInt, In, Line, Text

# ---- reports, review, sanctions, appeals ---------------------------------------------------


class ReportTargetIn(In):
    kind: Literal["message", "member", "group"]
    seq: int | None = Field(default=None, ge=1, le=MAX_ID)
    account_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ReportIn(In):
    group_id: IdInt
    target: ReportTargetIn
    category: Line = Field(min_length=1, max_length=32)
    statement: Text = Field(default="", max_length=1000)
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
    # For handled_by_owner: how the group's managers dealt with what you reported.
    outcome_detail: str | None = None
    route: str

    @classmethod
    def of(cls, r: Any, c: Any) -> ReceiptOut:
        handled = c.status.value == "handled_by_owner"
        return cls(
            report_id=r.id,
            case_id=c.id,
            category=r.category,
            created_at=r.created_at,
            status=c.status.value,
            outcome=c.decision.value if c.decision else (c.status.value if handled else None),
            outcome_detail=c.decision_note if handled else None,
            route=c.route.value,
        )


class EvidenceOut(BaseModel):
    seq: int
    sender_id: int | None
    body: str | None
    kind: str
    created_at: datetime
    reported: bool
    # What the message carried (with each content's sha256); GET /v1/uploads/{id} gives a
    # reviewer on the case signed links to it, even after the message was removed.
    attachments: list[dict[str, Any]] = []


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
    kind: Line = Field(min_length=1, max_length=32)
    article: Line = Field(min_length=1, max_length=32)
    facts: Text = Field(min_length=1, max_length=2000)
    days: int | None = Field(default=None, ge=1, le=3650)
    account_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    scope_group_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class DecisionIn(In):
    decision: Literal["no_violation", "violation"]
    sanctions: list[SanctionIn] = Field(default_factory=list, max_length=8)
    note: Text = Field(default="", max_length=2000)
    manifestly_unfounded: bool = False


class NoteIn(In):
    note: Text = Field(default="", max_length=2000)


class ReasonIn(In):
    reason: Text = Field(min_length=1, max_length=500)


class StatementIn(In):
    statement: Text = Field(min_length=1, max_length=2000)


class AppealDecisionIn(In):
    overturn: bool
    note: Text = Field(default="", max_length=2000)


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
    person_of: int | None = None  # a person-wide measure's twin: the sanction imposed

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
            person_of=s.person_of,
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


class AssessmentOut(BaseModel):
    """The liability standing of an owner or admin for this case (P7), with its evidence."""

    account_id: int
    standing: str
    notice_at: datetime | None
    deadline: datetime | None
    articles: list[str]
    timeline: list[dict[str, Any]]

    @classmethod
    def of(cls, a: Any) -> AssessmentOut:
        return cls(
            account_id=a.account_id,
            standing=a.standing.value,
            notice_at=a.notice_at,
            deadline=a.deadline,
            articles=list(a.articles),
            timeline=[
                {
                    "at": e.at.isoformat(),
                    "kind": e.kind.value,
                    "account_id": e.account_id,
                    "seq": e.seq,
                    "subject_id": e.subject_id,
                    "case_id": e.case_id,
                    "note": e.note,
                }
                for e in a.timeline
            ],
        )


class CaseFileOut(BaseModel):
    case: CaseOut
    reports: list[ReportOut]
    evidence: list[EvidenceOut]
    sanctions: list[SanctionOut]
    assessments: list[AssessmentOut] = Field(default_factory=list)
    # True when this officer reads the case's metadata only: evidence bodies and the
    # reporters' statements are null/empty (docs/records.md, who reads a case).
    content_withheld: bool = False


class DecisionOut(BaseModel):
    case: CaseOut
    sanctions: list[SanctionOut]


class OwnerNoticeOut(BaseModel):
    case: CaseOut
    reports: int
    respond_by: datetime
    reported_message: EvidenceOut | None
    # True when the reported message is outside this manager's own window and they lack
    # the read_history right (then reported_message is null).
    reported_message_withheld: bool = False
