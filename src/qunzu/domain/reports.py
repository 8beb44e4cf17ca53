"""Reports (举报, Art. 12): targets, evidence, and the rules for who may report, routing,
priority and deadlines (P2, P8).

A report is the only way content reaches the platform (P1, P2). Reports on the
same target become one case (``domain.cases``, its lifecycle). A case reaches the
group's owner first where that is right, and the platform queue at once when the
matter is severe, the group is large or public, or the owner or an admin is the one
reported (P8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.duty import DutyEventKind
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import EntryKind, Group, GroupRole, Membership, TimelineEntry
from qunzu.domain.rulebook import ReportCategory, Rulebook, Tier
from qunzu.domain.text import text_problem

MAX_STATEMENT_CHARS = 1000
MAX_EXTRA_MESSAGES = 20
CONTEXT_WINDOW = 10  # messages before the reported one, kept as context outside private tiers


class TargetKind(StrEnum):
    message = "message"
    member = "member"
    group = "group"


class CaseStatus(StrEnum):
    open = "open"  # waiting for a reviewer
    claimed = "claimed"
    escalated = "escalated"  # waiting for a senior reviewer
    decided = "decided"
    handled_by_owner = "handled_by_owner"  # the owner acted in time (P7, P8)


class Route(StrEnum):
    owner = "owner"  # owner notice first; the platform after the response window
    platform = "platform"


class Decision(StrEnum):
    no_violation = "no_violation"
    violation = "violation"


OPEN_STATUSES = frozenset({CaseStatus.open, CaseStatus.claimed, CaseStatus.escalated})


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    group_id: int
    seq: int | None = None  # for messages
    account_id: int | None = None  # for members (and the sender of a message)

    @property
    def key(self) -> str:
        """Reports with the same key join one case."""
        if self.kind is TargetKind.message:
            return f"message:{self.group_id}:{self.seq}"
        if self.kind is TargetKind.member:
            return f"member:{self.group_id}:{self.account_id}"
        return f"group:{self.group_id}"


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    case_id: int
    reporter_id: int
    target: Target
    category: str
    statement: str
    extra_seqs: tuple[int, ...]
    created_at: datetime
    reporter_weight: float
    manifestly_unfounded: bool = False


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """A copy of a message, kept even if the original is deleted."""

    seq: int
    sender_id: int | None
    body: str | None
    created_at: datetime
    kind: str
    reported: bool  # False: context around the reported message


@dataclass(frozen=True, slots=True)
class ReporterRecord:
    """How a reporter's decided reports went (their warnings and suspensions for misuse
    are sanctions: ``domain.reporters``)."""

    upheld: int = 0
    unfounded: int = 0
    no_violation: int = 0
    recent_unfounded: int = 0


def check_statement(statement: str) -> str:
    text = statement.strip()
    if len(text) > MAX_STATEMENT_CHARS:
        raise InvalidInput(
            "statement_too_long", f"A report statement is at most {MAX_STATEMENT_CHARS} characters."
        )
    problem = text_problem(text)
    if problem is not None:
        raise InvalidInput("invalid_statement", f"A report statement cannot contain {problem}.")
    return text


def category_of(book: Rulebook, category_id: str) -> ReportCategory:
    try:
        return book.report_categories[category_id]
    except KeyError:
        raise InvalidInput(
            "unknown_category",
            f"Unknown report category {category_id!r}; see GET /v1/rulebook.",
            allowed=", ".join(book.report_categories),
        ) from None


def check_may_report_in(
    group: Group, membership: Membership | None, kind: TargetKind, tier: Tier
) -> None:
    """Anyone may report a public group; everything else is for its members. An outsider
    learns nothing of a hidden group by trying."""
    if membership is not None and membership.is_active:
        return
    if kind is TargetKind.group and tier is Tier.public:
        return
    if membership is None and not group.discoverable:
        raise NotFound("group_not_found", "No such group.")
    raise Forbidden("not_a_member", "Only members can report what happens in a group.")


REPORT_UP = {"platform": DutyEventKind.reported_up, "authorities": DutyEventKind.referred}


def check_report_up(escalate_to: str | None, membership: Membership | None) -> DutyEventKind | None:
    """An owner or admin reports up (P7): to the platform queue at once, or to the
    authorities through the platform (P4). The duty-of-care ledger records which."""
    if escalate_to is None:
        return None
    if escalate_to not in REPORT_UP:
        raise InvalidInput("invalid_escalation", "Report up to the platform or the authorities.")
    if membership is None or not membership.is_manager:
        raise Forbidden("not_permitted", "Only the owner or an admin reports up.")
    return REPORT_UP[escalate_to]


def reported_seqs(kind: TargetKind, seq: int | None, extra_seqs: tuple[int, ...]) -> list[int]:
    """The messages a report names: the reported one first, then any attached."""
    seqs: list[int] = []
    if kind is TargetKind.message:
        if seq is None:
            raise InvalidInput("seq_required", "Name the message by its seq.")
        seqs.append(seq)
    seqs.extend(s for s in extra_seqs if s not in seqs)
    return seqs


def reported_message(
    entry: TimelineEntry | None, seq: int, periods: Sequence[tuple[int, int]]
) -> EvidenceItem:
    """A message the reporter can see (in any of their own membership periods), copied as
    evidence (it outlives the original)."""
    visible = entry is not None and any(first <= seq <= last for first, last in periods)
    if entry is None or not visible or entry.kind is not EntryKind.message:
        raise NotFound("message_not_found", f"No message {seq} that you can see in this group.")
    return EvidenceItem(entry.seq, entry.sender_id, entry.body, entry.created_at, "message", True)


def target_of(
    kind: TargetKind,
    group_id: int,
    reported: list[EvidenceItem],
    account_id: int | None,
    is_in_group: bool,
    now: datetime,
) -> tuple[Target, datetime]:
    """The report's target and when the conduct happened (P3): a message at its time; a
    member or a group at its earliest attached message, or now."""
    if kind is TargetKind.message:
        first = reported[0]
        if first.sender_id is None:
            raise InvalidInput("not_reportable", "Only messages people sent can be reported.")
        return Target(kind, group_id, first.seq, first.sender_id), first.created_at
    conduct_at = min((e.created_at for e in reported), default=now)
    if kind is TargetKind.member:
        if account_id is None:
            raise InvalidInput("account_required", "Name the member by account_id.")
        if not is_in_group:
            raise NotFound("member_not_found", "That account is not in this group.")
        return Target(kind, group_id, None, account_id), conduct_at
    return Target(TargetKind.group, group_id), conduct_at


def is_manager_target(group: Group, target: Target, member: Membership | None) -> bool:
    """Whether the report is about the group's owner or one of its admins (P8: then it
    goes to the platform at once)."""
    if target.kind is TargetKind.group or target.account_id is None:
        return False
    if group.owner_id == target.account_id:
        return True
    return member is not None and member.is_active and member.role is GroupRole.admin


def check_first_report(previous: Report | None) -> None:
    """One report per reporter and target: the reporter hears the outcome of the first."""
    if previous is not None:
        raise Conflict("duplicate_report", "You already reported this; you will hear the outcome.")


def check_extra_messages(extra_seqs: tuple[int, ...]) -> None:
    if len(extra_seqs) > MAX_EXTRA_MESSAGES:
        raise InvalidInput(
            "too_many_messages", f"Attach at most {MAX_EXTRA_MESSAGES} further messages."
        )


def context_start(first_seq: int, joined_seq: int) -> int:
    """The seq after which the kept context begins: up to ``CONTEXT_WINDOW`` messages
    before the first reported one, never before the reporter joined."""
    return max(joined_seq - 1, first_seq - CONTEXT_WINDOW - 1)


def route_for(category: ReportCategory, tier: Tier, target_is_manager: bool) -> Route:
    """P8: the owner hears first unless the matter is severe, the group large or public,
    or the owner or an admin is the one reported."""
    if category.severity == "severe" or target_is_manager:
        return Route.platform
    if tier in (Tier.large, Tier.public):
        return Route.platform
    return Route.owner


def reporter_weight(level: int, record: ReporterRecord) -> float:
    """As Discourse weighs flags: trust level and past accuracy. 0.2 to 3.0."""
    decided = record.upheld + record.unfounded + record.no_violation
    accuracy = (record.upheld + 1) / (decided + 2)  # Laplace-smoothed, 0.5 with no history
    penalty = 0.5**record.recent_unfounded
    return max(0.2, min(3.0, (0.5 + 0.5 * level) * (2 * accuracy) * penalty))


def priority(severity: str, weights: list[float]) -> float:
    """Severity first, then the weight of the reporters, growing with each distinct one."""
    base = 1000.0 if severity == "severe" else 100.0
    return base + 10.0 * sum(weights)


def deadline(created_at: datetime, category: ReportCategory) -> datetime:
    return created_at + timedelta(hours=category.deadline_hours)


@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: frozenset[CaseStatus] = field(default_factory=lambda: OPEN_STATUSES)
    category: str | None = None
    severity: str | None = None
    escalated_only: bool = False
    overdue_only: bool = False
    tier: str | None = None
    route: Route | None = None  # owner: reached the platform after the owner's window
    claimed_by: int | None = None
