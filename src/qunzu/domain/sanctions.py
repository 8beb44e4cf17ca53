"""Sanctions (处置, Art. 11): a closed set of service measures with reasons and appeals (P3, P4).

Measures stop at group-service measures (P4): matters of crime are referred to the
authorities, never punished here. Every sanction cites an article of the rulebook
version in force when the conduct happened (P3), and carries a statement of
reasons (DSA Art. 17): facts, article, evidence, who decided, whether automation
contributed, start, end, and how to appeal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.errors import Conflict, Forbidden, Gone, InvalidInput
from qunzu.domain.permissions import PlatformAction, check_platform_may
from qunzu.domain.rulebook import CreditPolicy, Rulebook, SanctionKind, SanctionTarget, Tier


class SanctionState(StrEnum):
    active = "active"
    lifted = "lifted"
    overturned = "overturned"


class AppealKind(StrEnum):
    sanction = "sanction"  # the affected user contests a sanction
    reporter_review = "reporter_review"  # a reporter asks for review of no_violation


class AppealState(StrEnum):
    pending = "pending"
    upheld = "upheld"  # the original decision stands
    overturned = "overturned"


# Severity of each measure for credit penalties (rulebook credit.inputs.sanction_penalty).
SEVERITY = {
    "warning": "minor",
    "posting_suspension": "major",
    "closure": "severe",
    "lower_credit": "major",
    "suspend_admin_rights": "major",
    "revoke_group_creation": "major",
    "blacklist": "severe",
    "refer_to_authority": "severe",
    "takedown": "minor",
}

# Content measures act on a message, not on a person's service: done at once (no term),
# no credit penalty; lifting or overturning one undoes it.
TAKEDOWN = "takedown"
CONTENT_MEASURES = frozenset({TAKEDOWN})

# Measures that bind a person, not an account: imposed on one account, they bind every
# account of the same real identity (through the identity's blind index) for their term,
# and no account can verify that identity meanwhile.
PERSON_WIDE = frozenset({"blacklist"})


# Measures against misuse of reporting (Art. 12; DSA Art. 23): the reporting rules impose
# them (domain.reporters), never a reviewer's decision on someone else's case.
REPORTING_WARNING = "reporting_warning"
REPORTING_SUSPENSION = "reporting_suspension"
MISUSE_MEASURES = frozenset({REPORTING_WARNING, REPORTING_SUSPENSION})


@dataclass(frozen=True, slots=True)
class SanctionRequest:
    """What a reviewer asks for in a decision."""

    kind: str
    article: str
    facts: str
    days: int | None = None
    scope_group_id: int | None = None  # suspend_admin_rights in one group; None = all


@dataclass(frozen=True, slots=True)
class Sanction:
    id: int
    case_id: int
    kind: str
    target: SanctionTarget
    group_id: int | None
    account_id: int | None
    article: str
    rulebook_version: str
    facts: str
    decided_by: int
    automated: bool
    starts_at: datetime
    ends_at: datetime | None
    state: SanctionState
    appeal_until: datetime
    acknowledged_at: datetime | None = None
    credit_delta: int = 0
    # For a measure that binds a person (PERSON_WIDE): the sanction it was imposed with on
    # another account of the same real identity; None on the one the decision named.
    person_of: int | None = None

    def in_force(self, now: datetime) -> bool:
        return (
            self.state is SanctionState.active
            and self.starts_at <= now
            and (self.ends_at is None or now < self.ends_at)
        )

    @property
    def is_active(self) -> bool:
        """Not lifted or overturned (it may still have run its course)."""
        return self.state is SanctionState.active

    @property
    def on_group(self) -> bool:
        return self.target is SanctionTarget.group

    @property
    def costs_credit(self) -> bool:
        """An account measure takes credit; a group measure, a referral or a content
        measure does not."""
        return (
            self.target is SanctionTarget.account
            and self.account_id is not None
            and self.kind not in CONTENT_MEASURES
        )

    @property
    def lowers_level(self) -> bool:
        return self.kind == "lower_credit"

    @property
    def is_misuse_measure(self) -> bool:
        """A measure against misuse of reporting: its facts name the reports, and the
        case's messages are not its evidence."""
        return self.kind in MISUSE_MEASURES

    def affects(self, account_id: int, group_owner_id: int | None) -> bool:
        """Whom a sanction affects: the account it falls on, or the owner of the group."""
        if self.target is SanctionTarget.account:
            return self.account_id == account_id
        return self.group_id is not None and group_owner_id == account_id

    def acknowledged(self, by_owner: bool, now: datetime) -> Sanction:
        """The owner acknowledges a warning to the group and undertakes to rectify."""
        if not by_owner:
            raise Forbidden("not_permitted", "Only the group's owner acknowledges a warning.")
        if self.acknowledged_at is not None:
            raise Conflict("already_acknowledged", "This warning is already acknowledged.")
        return replace(self, acknowledged_at=now)

    @property
    def closes_group(self) -> bool:
        return self.target is SanctionTarget.group and self.kind == "closure"

    @property
    def warns_managers(self) -> bool:
        """A platform warning to a group is notice to every manager (P7)."""
        return self.target is SanctionTarget.group and self.kind == "warning"

    @property
    def decided_by_role(self) -> str:
        if self.automated:
            return "automated: the rulebook's reporting rules, after platform reviewers' decisions"
        return "platform reviewer"

    def ended(self, state: SanctionState) -> Sanction:
        """Lift or overturn: only a sanction not already ended early can be."""
        if not self.is_active:
            raise Conflict("sanction_not_active", f"This sanction is {self.state.value}.")
        return replace(self, state=state)


@dataclass(frozen=True, slots=True)
class Appeal:
    id: int
    kind: AppealKind
    sanction_id: int | None
    case_id: int
    appellant_id: int
    statement: str
    created_at: datetime
    state: AppealState
    decided_by: int | None = None
    decided_at: datetime | None = None
    note: str = ""

    def decided(
        self,
        decider_id: int,
        original_decider_id: int | None,
        overturn: bool,
        note: str,
        now: datetime,
    ) -> Appeal:
        """A senior reviewer other than whoever made the decision, and other than the
        appellant, upholds or overturns a pending appeal (DSA Art. 20)."""
        if self.state is not AppealState.pending:
            raise Conflict("appeal_decided", f"This appeal is already {self.state.value}.")
        check_appeal_decider(decider_id, original_decider_id)
        if self.appellant_id == decider_id:
            raise Forbidden("own_decision", "No one decides their own appeal.")
        state = AppealState.overturned if overturn else AppealState.upheld
        return replace(self, state=state, decided_by=decider_id, decided_at=now, note=note[:2000])


def check_sanction_request(
    request: SanctionRequest,
    conduct_book: Rulebook,
    target_has_group: bool,
    target_has_account: bool,
) -> SanctionKind:
    """Refuse a sanction outside the catalogue, or citing an article not in force when the
    conduct happened, or one its kind may not cite (P3, P4)."""
    kind = conduct_book.sanctions.get(request.kind)
    if kind is None:
        raise InvalidInput(
            "unknown_sanction",
            f"{request.kind!r} is not in the sanction catalogue of rulebook "
            f"{conduct_book.version} (P4: a closed set of service measures).",
            allowed=", ".join(conduct_book.sanctions),
        )
    if kind.id in MISUSE_MEASURES:
        raise InvalidInput(
            "automatic_measure",
            f"{kind.id} is imposed by the reporting rules on a reporter (Art. 12), "
            "not in a decision on a case.",
        )
    if request.article not in conduct_book.articles:
        raise InvalidInput(
            "article_not_in_force",
            f"Article {request.article!r} was not in force when the conduct happened "
            f"(rulebook {conduct_book.version}); rules never apply backwards (P3).",
        )
    if request.article not in kind.articles:
        raise InvalidInput(
            "article_not_citable",
            f"{kind.id} may cite {', '.join(kind.articles)}, not {request.article}.",
        )
    facts = request.facts.strip()
    if not 10 <= len(facts) <= 2000:
        raise InvalidInput("facts_required", "State the facts (10 to 2,000 characters).")
    if request.days is not None:
        if request.days < 1:
            raise InvalidInput("invalid_days", "A sanction lasts at least one day.")
        if kind.max_days is None:
            # Not time-limited (closure, lower_credit, refer_to_authority): a period would
            # end the sanction on paper while its effect stayed.
            raise InvalidInput("invalid_days", f"{kind.id} is not time-limited; it takes no days.")
        if request.days > kind.max_days:
            raise InvalidInput(
                "invalid_days",
                f"{kind.id} lasts at most {kind.max_days} days.",
                max_days=kind.max_days,
            )
    if kind.target is SanctionTarget.group and not target_has_group:
        raise InvalidInput("wrong_target", f"{kind.id} applies to a group.")
    if kind.target is SanctionTarget.account and not target_has_account:
        raise InvalidInput("wrong_target", f"{kind.id} applies to an account.")
    return kind


def check_measure_allowed(kind: SanctionKind, tier: Tier) -> None:
    """A group measure only where the platform may act on the group (P1: never in a
    private space); account measures everywhere."""
    if kind.target is SanctionTarget.group:
        check_platform_may(PlatformAction.impose_group_sanction, tier)


def impose(
    request: SanctionRequest,
    kind: SanctionKind,
    case_id: int,
    group_id: int,
    account_id: int | None,
    conduct_version: str,
    decided_by: int,
    appeal_window_days: int,
    now: datetime,
) -> Sanction:
    """The sanction a reviewer's request imposes: its article from the version in force
    when the conduct happened, its length from that version's catalogue; the appeal
    window is procedure, from the version in force at the decision (docs/rulebook.md)."""
    on_group = kind.target is SanctionTarget.group
    # A content measure names the group its message is in.
    in_group = on_group or request.kind in CONTENT_MEASURES
    return Sanction(
        id=0,
        case_id=case_id,
        kind=request.kind,
        target=kind.target,
        group_id=group_id if in_group else request.scope_group_id,
        account_id=None if on_group else account_id,
        article=request.article,
        rulebook_version=conduct_version,
        facts=request.facts.strip(),
        decided_by=decided_by,
        automated=False,
        starts_at=now,
        ends_at=now if request.kind in CONTENT_MEASURES else end_of(kind, now, request.days),
        state=SanctionState.active,
        appeal_until=now + timedelta(days=appeal_window_days),
    )


def credit_penalty(kind: str, conduct: CreditPolicy) -> int:
    """The credit an account measure costs, by the version in force at the conduct (P3)."""
    return conduct.inputs.sanction_penalty[SEVERITY.get(kind, "minor")]


def one_level_down(penalty: int, score: int, level: int, scale: CreditPolicy) -> int:
    """ "Lower credit level" (降低信用等级) lowers it: at least ``penalty`` (the conduct-time
    version's), and as much more as it takes to pass the demotion line of the level the
    account holds on ``scale`` (the version that computes levels now)."""
    if level == 0:
        return penalty
    line = math.floor(scale.level(level).min_score * scale.demotion_hysteresis)
    return min(penalty, line - 1 - score)


def end_of(kind: SanctionKind, starts_at: datetime, days: int | None) -> datetime | None:
    if days is not None:
        return starts_at + timedelta(days=days)
    if kind.max_days is not None:
        return starts_at + timedelta(days=kind.max_days)
    return None


def check_lift_reason(reason: str) -> str:
    text = reason.strip()
    if len(text) < 5:
        raise InvalidInput("reason_required", "State why the sanction is lifted.")
    return text[:500]


def check_appeal_allowed(sanction: Sanction, now: datetime, already_appealed: bool) -> None:
    if already_appealed:
        raise Conflict("appeal_exists", "Each sanction may be appealed once.")
    if sanction.state is not SanctionState.active and sanction.ends_at is None:
        raise Conflict("sanction_not_active", "This sanction is no longer in force.")
    if now > sanction.appeal_until:
        raise Gone("appeal_window_closed", "The window to appeal this sanction has closed.")


def check_appeal_decider(decider_id: int, original_decider_id: int | None) -> None:
    """A different, senior reviewer decides an appeal (DSA Art. 20)."""
    if original_decider_id is not None and decider_id == original_decider_id:
        raise Forbidden(
            "own_decision", "An appeal is decided by someone other than who made the decision."
        )


# ---- effects: what a sanction in force refuses (used on every path) ----------------------


class SanctionedPath(StrEnum):
    """The paths a sanction can close."""

    post = "post"
    join_group = "join_group"
    create_group = "create_group"
    manage = "manage"


def _until(s: Sanction) -> str:
    return s.ends_at.isoformat() if s.ends_at else "until lifted"


def check_sanctions_allow(
    path: SanctionedPath,
    in_force: list[Sanction],
    account_id: int,
    group_id: int | None = None,
    is_manager: bool = False,
) -> None:
    """Raise the refusal a sanction in force imposes on this path, if any (Art. 11)."""
    for s in in_force:
        mine = s.account_id == account_id and s.target is SanctionTarget.account
        if mine and s.kind == "blacklist" and path is not SanctionedPath.manage:
            raise Forbidden(
                "blacklisted",
                f"Your account is blacklisted ({_until(s)}); see GET /v1/me/sanctions.",
                sanction_id=s.id,
            )
        if path is SanctionedPath.create_group and mine and s.kind == "revoke_group_creation":
            raise Forbidden(
                "group_creation_revoked",
                f"You may not create groups ({_until(s)}).",
                sanction_id=s.id,
            )
        if (
            path is SanctionedPath.manage
            and mine
            and (
                s.kind == "blacklist"
                or (s.kind == "suspend_admin_rights" and s.group_id in (None, group_id))
            )
        ):
            raise Forbidden(
                "management_suspended",
                f"Your management rights are suspended ({_until(s)}).",
                sanction_id=s.id,
            )
        if (
            path is SanctionedPath.post
            and s.kind == "posting_suspension"
            and s.target is SanctionTarget.group
            and s.group_id == group_id
            and not is_manager  # only owner and admin notices may be posted meanwhile
        ):
            raise Forbidden(
                "posting_suspended",
                f"Posting in this group is suspended by the platform ({_until(s)}).",
                sanction_id=s.id,
            )


def check_tools_allowed(in_force: list[Sanction], group_id: int, suspend_tools: bool) -> None:
    """Where the rulebook says so, a posting suspension on a group also suspends its owner's
    and admins' tools (``[owner_tools] suspend_tools_under_posting_suspension``)."""
    if not suspend_tools:
        return
    for s in in_force:
        if (
            s.kind == "posting_suspension"
            and s.target is SanctionTarget.group
            and s.group_id == group_id
        ):
            raise Forbidden(
                "tools_suspended",
                "Owner and admin tools are suspended while posting in this group is "
                f"suspended by the platform ({_until(s)}).",
                sanction_id=s.id,
            )


# ---- measures that bind a person ------------------------------------------------------


def bind_person(sanction: Sanction, account_id: int) -> Sanction:
    """The same measure on another account of the same real identity, stored beside the
    one imposed (its id is assigned when stored). It costs no second credit penalty."""
    return replace(
        sanction,
        id=0,
        account_id=account_id,
        facts=(
            f"{sanction.facts} This measure binds every account of the same real identity "
            f"(sanction {sanction.id})."
        ),
        credit_delta=0,
        person_of=sanction.id,
    )


def check_identity_not_barred(in_force: list[Sanction]) -> None:
    """Verification with an identity is refused while a person-wide measure binds it."""
    for s in in_force:
        if s.kind in PERSON_WIDE:
            raise Forbidden(
                "identity_blacklisted",
                "This real identity is blacklisted "
                f"({_until(s)}); no account can verify it until the measure ends.",
            )


def check_takedown_target(kind: str, target_seq: int | None) -> None:
    """A takedown falls on a reported message, not on a member or a group."""
    if kind == TAKEDOWN and target_seq is None:
        raise InvalidInput("takedown_needs_message", "Only a reported message can be taken down.")
