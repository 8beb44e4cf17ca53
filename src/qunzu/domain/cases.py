"""A case's lifecycle: one state machine (Arts. 11, 12; P2, P3, P7, P8).

Reports on one target make one case. The case reaches the group's owner first where that
is right, and the platform queue at once when the matter is severe, the group large or
public, the owner or an admin is the one reported, or a manager reports it up (P8)::

    transition         from                                    to
    file               (none)                                  open, with the owner or platform
    join               open, claimed, escalated                the same, one more reporter
    route_to_platform  open, with the owner                    open, with the platform
    handle_by_owner    open, with the owner within its window  handled_by_owner
    claim              open, claimed, escalated (platform's)   claimed (escalated stays)
    release            claimed, escalated (claimed)            open (escalated stays), unclaimed
    escalate           open, claimed (platform's)              escalated
    decide             open, claimed, escalated (platform's)   decided
    request_review     decided no_violation                    the same
    overturn           decided no_violation                    escalated, fresh deadline
    appeal, lift,      any, for a sanction of this case        the same (the sanction ends)
    overturn_sanction

Seniors alone claim and decide an escalated case; a claimed case is its claimant's.

Every transition is a method that takes ``now`` and the rulebook values it needs,
refuses an illegal move with a domain error carrying a stable code, and returns the new
case with the events it caused (``Transition``). Services load a case, ask it, save the
whole case, audit and publish; they hold no rule of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from qunzu.domain.audit import check_not_self
from qunzu.domain.duty import DutyEventKind
from qunzu.domain.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from qunzu.domain.models import PlatformRole
from qunzu.domain.reports import (
    OPEN_STATUSES,
    CaseStatus,
    Decision,
    Route,
    Target,
    TargetKind,
    deadline,
    priority,
    route_for,
)
from qunzu.domain.rulebook import ReportCategory, Rulebook, RulebookSet, Tier
from qunzu.domain.sanctions import Appeal, Sanction, SanctionState, check_appeal_allowed

MAX_SANCTIONS_PER_DECISION = 8
MAX_NOTE_CHARS = 2000
# A reopened case whose category the rulebook no longer lists gets the normal deadline.
REOPEN_DEADLINE_HOURS = 24


class CaseEventKind(StrEnum):
    opened = "opened"
    sent_to_owner = "sent_to_owner"  # the managers are told and the response window runs
    joined = "joined"  # a further reporter's report joined the case
    severity_raised = "severity_raised"
    routed_to_platform = "routed_to_platform"
    handled_by_owner = "handled_by_owner"
    claimed = "claimed"
    released = "released"  # the claimant (or a senior) gave the case back to the queue
    escalated = "escalated"
    decided = "decided"
    review_requested = "review_requested"
    appealed = "appealed"
    reopened = "reopened"  # a no_violation overturned on a reporter's review
    sanction_overturned = "sanction_overturned"
    sanction_lifted = "sanction_lifted"


@dataclass(frozen=True, slots=True)
class CaseEvent:
    kind: CaseEventKind
    at: datetime
    by: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Reviewer:
    """A platform reviewer acting on the queue; seniors take escalated cases."""

    id: int
    senior: bool


@dataclass(frozen=True, slots=True)
class OwnerAct:
    """An owner's or admin's act in their group, as the duty-of-care ledger records it."""

    kind: DutyEventKind
    group_id: int
    seq: int | None = None  # the message removed
    account_id: int | None = None  # the member muted or removed, or the removed message's sender

    @property
    def description(self) -> str:
        return OWNER_ACT_TEXT.get(self.kind, self.kind.value)


OWNER_ACT_TEXT = {
    DutyEventKind.message_removed: "removed the message",
    DutyEventKind.member_muted: "muted the member",
    DutyEventKind.member_removed: "removed the member",
    DutyEventKind.group_muted: "muted the whole group",
}


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    target: Target
    category: str
    severity: str
    tier: str
    route: Route
    status: CaseStatus
    created_at: datetime
    deadline_at: datetime
    platform_visible_at: datetime  # when it enters the platform queue
    conduct_at: datetime  # when the reported conduct happened (P3)
    priority: float
    reporters: int
    claimed_by: int | None = None
    decision: Decision | None = None
    decided_by: int | None = None
    decided_at: datetime | None = None
    decision_note: str = ""
    rulebook_version: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def upheld(self) -> bool:
        """Decided as a violation: the reported account and the managers bear it."""
        return self.status is CaseStatus.decided and self.decision is Decision.violation

    def with_owner(self, now: datetime) -> bool:
        """Still the managers' to handle: routed to them and their window not yet over."""
        return self.is_open and self.route is Route.owner and now < self.platform_visible_at

    def addressed_by(self, act: OwnerAct) -> bool:
        """Whether a manager's act deals with what was reported: removing the message
        handles a report of that message; muting or removing a member handles reports of
        the member and of their messages; muting the whole group handles a report of the
        group. Nothing else does (P7, P8)."""
        if act.group_id != self.target.group_id:
            return False
        kind = self.target.kind
        if act.kind is DutyEventKind.message_removed:
            return kind is TargetKind.message and act.seq == self.target.seq
        if act.kind in (DutyEventKind.member_muted, DutyEventKind.member_removed):
            return kind is not TargetKind.group and act.account_id == self.target.account_id
        if act.kind is DutyEventKind.group_muted:
            return kind is TargetKind.group
        return False

    def measure_target(
        self, owner_id: int | None, named: int | None, named_is_manager: bool
    ) -> int | None:
        """Whom an account measure falls on: the reported account, or (for a report of
        the group) its owner; a reviewer may name a manager of the group instead."""
        if named is not None:
            if named != self.target.account_id and not named_is_manager:
                raise InvalidInput(
                    "wrong_target", "Account measures fall on the reported account or a manager."
                )
            return named
        if self.target.kind is TargetKind.group:
            return owner_id
        return self.target.account_id

    # ---- checks shared by the transitions ------------------------------------------------

    def _require_open(self) -> None:
        if not self.is_open:
            raise Conflict("case_decided", f"This case is already {self.status.value}.")

    def _require_platform(self, now: datetime) -> None:
        self._require_open()
        if self.platform_visible_at > now:
            raise Forbidden("with_owner", "This case is still with the group's owner (P8).")

    def _require_free_for(self, reviewer: Reviewer) -> None:
        if self.claimed_by not in (None, reviewer.id):
            raise Conflict("case_claimed", "Another reviewer has claimed this case.")

    def check_platform_may_read(self, now: datetime) -> None:
        """A reviewer reads a case only once it has reached the platform (P2, P8)."""
        if self.is_open and self.platform_visible_at > now:
            raise Forbidden(
                "with_owner",
                "This case is with the group's owner until "
                f"{self.platform_visible_at.isoformat()} (P8).",
            )
        if self.status is CaseStatus.handled_by_owner:
            # The owner acted in time: the report never reached the platform (P2, P8).
            raise Forbidden("with_owner", "The group's owner handled this case in time (P8).")

    def _step(
        self, kind: CaseEventKind, now: datetime, by: int | None = None, **changes: Any
    ) -> Transition:
        return Transition(replace(self, **changes), (CaseEvent(kind, now, by),))

    # ---- filing ----------------------------------------------------------------------------

    def join(
        self, category: ReportCategory, route: Route, weights: Sequence[float], now: datetime
    ) -> Transition:
        """A further reporter's report joins the case: priority grows with each distinct
        reporter, a severe report makes the case severe, and a report that must reach
        the platform at once takes the case there."""
        self._require_open()
        severe = "severe" in (self.severity, category.severity)
        case = replace(
            self,
            reporters=self.reporters + 1,
            priority=priority("severe" if severe else "normal", list(weights)),
        )
        events = [CaseEvent(CaseEventKind.joined, now)]
        if category.severity == "severe" and self.severity != "severe":
            case = replace(case, severity="severe", category=category.id)
            events.append(CaseEvent(CaseEventKind.severity_raised, now, detail=category.id))
        if route is Route.platform and case.route is Route.owner:
            moved = case.route_to_platform(category, now)
            case, events = moved.case, [*events, *moved.events]
        return Transition(case, tuple(events))

    def route_to_platform(self, category: ReportCategory, now: datetime) -> Transition:
        """A severe report (or one about a manager, or a manager's report up) does not
        wait for the owner: the case enters the platform queue now."""
        self._require_open()
        if self.route is Route.platform:
            raise Conflict("already_with_platform", "This case is already with the platform.")
        return self._step(
            CaseEventKind.routed_to_platform,
            now,
            route=Route.platform,
            platform_visible_at=now,
            deadline_at=min(self.deadline_at, deadline(now, category)),
        )

    # ---- the owner (P7, P8) ----------------------------------------------------------------

    def handle_by_owner(self, act: OwnerAct, now: datetime) -> Transition:
        """The managers dealt with the reported target within their window: the case
        closes without reaching the platform, and says how."""
        self._require_open()
        if not self.with_owner(now):
            raise Conflict("not_with_owner", "This case is with the platform, not the owner.")
        if not self.addressed_by(act):
            raise Conflict("target_not_addressed", "That act does not deal with what was reported.")
        how = act.description
        return self._step(
            CaseEventKind.handled_by_owner,
            now,
            status=CaseStatus.handled_by_owner,
            decided_at=now,
            decision_note=f"handled by the group's managers: {how}",
        )

    # ---- the platform ----------------------------------------------------------------------

    def claim(self, reviewer: Reviewer, now: datetime) -> Transition:
        self._require_platform(now)
        if self.status is CaseStatus.escalated and not reviewer.senior:
            raise Forbidden("senior_required", "An escalated case is for a senior reviewer.")
        self._require_free_for(reviewer)
        status = self.status if self.status is CaseStatus.escalated else CaseStatus.claimed
        return self._step(
            CaseEventKind.claimed, now, reviewer.id, claimed_by=reviewer.id, status=status
        )

    def release(self, reviewer: Reviewer, now: datetime) -> Transition:
        """Give a claimed case back to the queue: its claimant, or a senior freeing a case
        a reviewer left (the deadline keeps running either way)."""
        self._require_platform(now)
        if self.claimed_by is None:
            raise Conflict("case_not_claimed", "Nobody has claimed this case.")
        if self.claimed_by != reviewer.id and not reviewer.senior:
            raise Conflict("case_claimed", "Another reviewer has claimed this case.")
        status = self.status if self.status is CaseStatus.escalated else CaseStatus.open
        return self._step(CaseEventKind.released, now, reviewer.id, claimed_by=None, status=status)

    def escalate(self, reviewer: Reviewer, note: str, now: datetime) -> Transition:
        self._require_platform(now)
        if self.status is CaseStatus.escalated:
            raise Conflict("already_escalated", "This case is already with a senior reviewer.")
        self._require_free_for(reviewer)
        return self._step(
            CaseEventKind.escalated,
            now,
            reviewer.id,
            status=CaseStatus.escalated,
            claimed_by=None,
            decision_note=note[:MAX_NOTE_CHARS],
        )

    def decide(
        self,
        reviewer: Reviewer,
        decision: Decision,
        note: str,
        rulebook_version: str,
        now: datetime,
    ) -> Transition:
        """Decide under the rulebook version in force when the conduct happened (P3)."""
        self._require_platform(now)
        if self.status is CaseStatus.escalated and not reviewer.senior:
            raise Forbidden("senior_required", "An escalated case is decided by a senior reviewer.")
        self._require_free_for(reviewer)
        return self._step(
            CaseEventKind.decided,
            now,
            reviewer.id,
            status=CaseStatus.decided,
            decision=decision,
            decided_by=reviewer.id,
            decided_at=now,
            decision_note=note[:MAX_NOTE_CHARS],
            rulebook_version=rulebook_version,
        )

    # ---- afterwards: reviews, appeals, lifting ---------------------------------------------

    def request_review(
        self, reporter_id: int, already_requested: bool, window_days: int, now: datetime
    ) -> Transition:
        """A reporter asks once, within the window, for review of a no_violation."""
        if self.status is not CaseStatus.decided or self.decision is not Decision.no_violation:
            raise Conflict("not_reviewable", "Only a no_violation decision can be reviewed.")
        if already_requested:
            raise Conflict("appeal_exists", "You may ask for review of a decision once.")
        assert self.decided_at is not None
        if (now - self.decided_at).days > window_days:
            raise Gone("appeal_window_closed", "The window to ask for review has closed.")
        return Transition(self, (CaseEvent(CaseEventKind.review_requested, now, reporter_id),))

    def overturn(self, book: Rulebook, now: datetime) -> Transition:
        """A senior reviewer overturns the no_violation on a reporter's review: the case
        goes back to the queue, for a senior reviewer, with a fresh deadline (procedure:
        the category's deadline in ``book``, the version in force now)."""
        if self.status is not CaseStatus.decided or self.decision is not Decision.no_violation:
            raise Conflict("not_reviewable", "Only a no_violation decision can be reopened.")
        category = book.report_categories.get(self.category)
        deadline_hours = category.deadline_hours if category else REOPEN_DEADLINE_HOURS
        return self._step(
            CaseEventKind.reopened,
            now,
            status=CaseStatus.escalated,
            decision=None,
            decided_by=None,
            decided_at=None,
            claimed_by=None,
            platform_visible_at=now,
            deadline_at=now + timedelta(hours=deadline_hours),
        )

    def appeal(self, sanction: Sanction, already_appealed: bool, now: datetime) -> Transition:
        """The person a sanction affects appeals it, once, within its window."""
        self._require_own(sanction)
        check_appeal_allowed(sanction, now, already_appealed)
        return Transition(self, (CaseEvent(CaseEventKind.appealed, now, detail=str(sanction.id)),))

    def overturn_sanction(self, sanction: Sanction, now: datetime) -> tuple[Transition, Sanction]:
        """An appeal upheld against a sanction ends it, if it has not ended already."""
        self._require_own(sanction)
        ended = sanction.ended(SanctionState.overturned) if sanction.is_active else sanction
        event = CaseEvent(CaseEventKind.sanction_overturned, now, detail=str(sanction.id))
        return Transition(self, (event,)), ended

    def lift(self, sanction: Sanction, now: datetime) -> tuple[Transition, Sanction]:
        """A senior reviewer ends a sanction early."""
        self._require_own(sanction)
        event = CaseEvent(CaseEventKind.sanction_lifted, now, detail=str(sanction.id))
        return Transition(self, (event,)), sanction.ended(SanctionState.lifted)

    def decide_appeal(
        self,
        appeal: Appeal,
        sanction: Sanction | None,
        decider_id: int,
        overturn: bool,
        note: str,
        book: Rulebook,
        now: datetime,
    ) -> AppealOutcome:
        """A senior reviewer other than whoever decided upholds or overturns an appeal.
        Overturning a sanction's appeal ends the sanction (if it has not ended); overturning
        a reporter's review reopens the no_violation (if it still stands: several
        reporters may each have asked)."""
        original = sanction.decided_by if sanction is not None else self.decided_by
        decided = appeal.decided(decider_id, original, overturn, note, now)
        if overturn and sanction is not None:
            step, ended = self.overturn_sanction(sanction, now)
            return AppealOutcome(decided, step, ended if ended != sanction else None)
        if overturn and self.decision is Decision.no_violation:
            return AppealOutcome(decided, self.overturn(book, now), None)
        return AppealOutcome(decided, Transition(self, ()), None)

    def _require_own(self, sanction: Sanction) -> None:
        if sanction.case_id != self.id:
            raise InvalidInput("wrong_case", "That sanction was not decided in this case.")


@dataclass(frozen=True, slots=True)
class Transition:
    """A transition's result: the case as it now stands and what happened."""

    case: Case
    events: tuple[CaseEvent, ...]

    def has(self, kind: CaseEventKind) -> bool:
        return any(e.kind is kind for e in self.events)


def conduct_rulebook(books: RulebookSet, case: Case) -> Rulebook:
    """The version in force when the conduct happened: the articles a decision may cite
    and every consequence it has (P3)."""
    try:
        return books.in_force(case.conduct_at)
    except NotFound:
        raise InvalidInput(
            "article_not_in_force", "No rulebook was in force when the conduct happened (P3)."
        ) from None


def upheld_report_penalty(case: Case, conduct: Rulebook) -> tuple[int, int] | None:
    """What an upheld report costs the reported account, by the conduct-time version:
    (account, delta), or None when nothing is charged."""
    if not case.upheld or case.target.account_id is None:
        return None
    severity = "major" if case.severity == "severe" else "minor"
    return case.target.account_id, conduct.credit.inputs.upheld_report_against[severity]


@dataclass(frozen=True, slots=True)
class AppealOutcome:
    appeal: Appeal  # as decided
    step: Transition  # the case afterwards (reopened, or as it was)
    ended: Sanction | None  # the sanction the appeal ended, if it ended one

    @property
    def reopened(self) -> bool:
        return self.step.has(CaseEventKind.reopened)


def check_decision(decision: Decision, sanctions: int, manifestly_unfounded: bool) -> None:
    """A decision and its sanctions must agree, before any case is touched."""
    if decision is Decision.no_violation and sanctions:
        raise InvalidInput("no_sanctions_without_violation", "No violation means no sanctions.")
    if decision is Decision.violation and not sanctions:
        raise InvalidInput("sanction_required", "A violation names at least one sanction.")
    if decision is Decision.violation and manifestly_unfounded:
        raise InvalidInput("invalid_decision", "An upheld report is not unfounded.")
    if sanctions > MAX_SANCTIONS_PER_DECISION:
        raise InvalidInput(
            "too_many_sanctions",
            f"At most {MAX_SANCTIONS_PER_DECISION} sanctions in one decision.",
        )


# ---- filing a report --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filing:
    """What the domain needs to know about a new report to place it."""

    target: Target
    category: ReportCategory
    tier: Tier
    conduct_at: datetime
    weight: float
    target_is_manager: bool
    direct: bool = False  # a direct chat has no owner or admin to hear first
    report_up: bool = False  # an owner or admin reporting to the platform (P7)


def file_report(
    filing: Filing,
    open_case: Case | None,
    other_weights: Sequence[float],
    owner_response_hours: int,
    now: datetime,
) -> Transition:
    """Place a report: join the target's open case or open a new one; route it to the
    owner or the platform (P8); set its priority and deadlines."""
    cat = filing.category
    if filing.direct or filing.report_up:
        route = Route.platform
    else:
        route = route_for(cat, filing.tier, filing.target_is_manager)
    if open_case is not None:
        return open_case.join(cat, route, [*other_weights, filing.weight], now)
    visible = now if route is Route.platform else now + timedelta(hours=owner_response_hours)
    case = Case(
        id=0,
        target=filing.target,
        category=cat.id,
        severity=cat.severity,
        tier=filing.tier.value,
        route=route,
        status=CaseStatus.open,
        created_at=now,
        deadline_at=deadline(visible, cat),
        platform_visible_at=visible,
        conduct_at=filing.conduct_at,
        priority=priority(cat.severity, [filing.weight]),
        reporters=1,
    )
    events = [CaseEvent(CaseEventKind.opened, now)]
    if route is Route.owner:
        events.append(CaseEvent(CaseEventKind.sent_to_owner, now))
    return Transition(case, tuple(events))


def handled_by(act: OwnerAct, cases: Sequence[Case], now: datetime) -> list[Transition]:
    """The owner-routed cases a manager's act handles: exactly those still with the owner
    whose target the act deals with. The rest stay with the owner until their window
    ends, then go to the platform queue (P7, P8)."""
    return [c.handle_by_owner(act, now) for c in cases if c.with_owner(now) and c.addressed_by(act)]


# ---- who reads a case's content (P1, P2) ----------------------------------------------------


class CaseView(StrEnum):
    """How much of a case file an officer reads."""

    evidence = "evidence"  # the reported messages, their context, the reporters' statements
    metadata = "metadata"  # the case, reports' times and weights, sanctions, standings


def case_view(case: Case, role: PlatformRole | None, officer_id: int) -> CaseView:
    """Case content is for the reviewers working the case. A reviewer reads the evidence of
    an open case nobody else has claimed, of the case they claimed, and of the case they
    decided; a senior reviewer of any case on the platform (escalations, reviews and
    appeals are theirs). Auditors check the process from metadata; platform admins run
    the service and read no content."""
    if role is PlatformRole.senior_reviewer:
        return CaseView.evidence
    if role is not PlatformRole.reviewer or case.status is CaseStatus.escalated:
        return CaseView.metadata
    if case.is_open:
        working = case.claimed_by in (None, officer_id)
    else:
        working = case.decided_by == officer_id
    return CaseView.evidence if working else CaseView.metadata


def check_disinterested(case: Case, officer_id: int, group_owner_id: int | None) -> None:
    """An officer works no case about their own account, nor about a group they own: the
    interest is theirs (``officer_self_action``)."""
    check_not_self(officer_id, case.target.account_id)
    if case.target.kind is TargetKind.group:
        check_not_self(officer_id, group_owner_id)
