"""Settling reporters after a decision, and misuse of reporting (Art. 12; DSA Art. 23).

Every reporter hears the outcome, and their record (how their decided reports went)
weighs their next reports (Discourse). Manifestly unfounded reports bring, as the
rulebook's ``[reporting]`` section says, first a warning and then a time-limited
suspension of reporting. Both are sanctions on the reporter's account
(``reporting_warning``, ``reporting_suspension``), automated, with a statement of
reasons that names the reports, when they were decided, the article and the
thresholds, and appealable like any other measure.

The rules of escalation:

- the reports counted are the reporter's manifestly unfounded ones filed within the
  window, and after the start of their last reporting suspension (a suspension uses
  up the reports that led to it);
- ``warning_after`` of them bring a warning, unless one is in force; it lasts the
  window;
- ``suspension_after`` of them bring a suspension of ``suspension_days``, but only once
  a warning is in force (a suspension is always warned of first), and never a second
  one while one is in force;
- while suspended, a report in a severe category (threat to life, minors, terrorism:
  whatever the rulebook marks ``severe``) is still accepted and goes to the platform
  queue at once, as every severe report does: refusing those helps nobody.

Which rulebook version (P3): a reporter's conduct is filing the report, so the credit
for it and the thresholds it is counted under come from the version in force when it
was filed; the appeal window is procedure, from the version in force at the decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from qunzu.domain.cases import Case
from qunzu.domain.credit import CreditEntry, CreditReason
from qunzu.domain.errors import Forbidden
from qunzu.domain.reports import Decision, Report, ReporterRecord
from qunzu.domain.rulebook import ReportCategory, Rulebook, RulebookSet, SanctionTarget
from qunzu.domain.sanctions import (
    REPORTING_SUSPENSION,
    REPORTING_WARNING,
    Sanction,
    SanctionState,
)

LISTED_REPORTS = 10  # a statement of reasons names at most this many (the latest) reports


@dataclass(frozen=True, slots=True)
class UnfoundedReport:
    """One of a reporter's reports decided manifestly unfounded."""

    report_id: int
    case_id: int
    filed_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class Notice:
    """A per-account notice to send once the decision is stored."""

    account_id: int
    kind: str
    data: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class MisuseMeasure:
    sanction: Sanction  # id 0 until stored
    notice: Notice  # sent with the stored sanction's id


@dataclass(frozen=True, slots=True)
class Settlement:
    records: dict[int, ReporterRecord]
    credit: list[CreditEntry]
    measures: list[MisuseMeasure]
    notices: list[Notice]


def check_may_report(
    category: ReportCategory, in_force: Sequence[Sanction], account_id: int
) -> None:
    """Refuse a report while the reporter's reporting is suspended, except in a severe
    category: those are always accepted (module docstring)."""
    if category.severity == "severe":
        return
    for s in in_force:
        if s.kind == REPORTING_SUSPENSION and s.account_id == account_id:
            until = s.ends_at.isoformat() if s.ends_at else "until lifted"
            raise Forbidden(
                "reporting_suspended",
                "Your reporting is suspended after repeated manifestly unfounded reports "
                f"(until {until}); see GET /v1/sanctions/{s.id}. Reports of a severe matter "
                "(threat to life, minors, terrorism) are still accepted.",
                sanction_id=s.id,
            )


def misuse_lookback(reports: Sequence[Report], books: RulebookSet, now: datetime) -> datetime:
    """How far back a decision needs the reporters' unfounded reports: the longest window
    among the versions the reports were filed under."""
    return min((books.in_force(r.created_at).reporting.since(now) for r in reports), default=now)


def settle_reporters(
    case: Case,
    reports: Sequence[Report],
    decision: Decision,
    unfounded: bool,
    records: Mapping[int, ReporterRecord],
    history: Mapping[int, Sequence[UnfoundedReport]],
    measures: Mapping[int, Sequence[Sanction]],
    books: RulebookSet,
    decided_by: int,
    now: datetime,
) -> Settlement:
    """Every reporter's record, credit and notice after a decision, and the misuse
    measures manifestly unfounded reports bring (module docstring)."""
    out = dict(records)
    credit: list[CreditEntry] = []
    imposed: list[MisuseMeasure] = []
    notices: list[Notice] = []
    source = f"case:{case.id}"
    for report in reports:
        book = books.in_force(report.created_at)  # the reporter's conduct is the filing
        who = report.reporter_id
        record = out.get(who, ReporterRecord())
        if decision is Decision.violation:
            record = replace(record, upheld=record.upheld + 1)
            delta, reason = book.credit.inputs.report_upheld, CreditReason.report_upheld
        elif unfounded:
            record = replace(record, unfounded=record.unfounded + 1)
            delta, reason = book.credit.inputs.report_unfounded, CreditReason.report_unfounded
            this = UnfoundedReport(report.id, case.id, report.created_at, now)
            past = [u for u in history.get(who, ()) if u.report_id != report.id]
            measure = misuse_measure(
                who,
                [*past, this],
                measures.get(who, ()),
                book,
                books.in_force(now),
                case,
                decided_by,
                now,
            )
            imposed.extend([measure] if measure else [])
        else:
            record = replace(record, no_violation=record.no_violation + 1)
            delta, reason = 0, None
        if reason is not None:
            credit.append(CreditEntry(who, delta, reason, now, source=source))
        out[who] = record
        outcome = {"report_id": report.id, "case_id": case.id, "outcome": decision.value}
        notices.append(Notice(who, "report_outcome", outcome))
    return Settlement(out, credit, imposed, notices)


def misuse_measure(
    reporter_id: int,
    unfounded: Sequence[UnfoundedReport],
    measures: Sequence[Sanction],
    book: Rulebook,
    procedure: Rulebook,
    case: Case,
    decided_by: int,
    now: datetime,
) -> MisuseMeasure | None:
    """The warning or suspension a reporter's unfounded reports bring now, if any."""
    policy = book.reporting
    if any(m.kind == REPORTING_SUSPENSION and m.in_force(now) for m in measures):
        return None
    since = policy.since(now)
    last = max((m.starts_at for m in measures if m.kind == REPORTING_SUSPENSION), default=None)
    counted = sorted(
        (u for u in unfounded if u.filed_at >= since and (last is None or u.filed_at > last)),
        key=lambda u: (u.filed_at, u.report_id),
    )
    warned = any(m.kind == REPORTING_WARNING and m.in_force(now) for m in measures)
    if warned and len(counted) >= policy.suspension_after:
        kind, days, notice = REPORTING_SUSPENSION, policy.suspension_days, "reporting_suspended"
    elif not warned and len(counted) >= policy.warning_after:
        kind, days, notice = REPORTING_WARNING, policy.unfounded_window_days, "reporting_warning"
    else:
        return None
    ends = now + timedelta(days=days)
    article = book.sanctions[kind].articles[0]
    sanction = Sanction(
        id=0,
        case_id=case.id,
        kind=kind,
        target=SanctionTarget.account,
        group_id=None,
        account_id=reporter_id,
        article=article,
        rulebook_version=book.version,
        facts=misuse_facts(counted, since, book),
        decided_by=decided_by,
        automated=True,
        starts_at=now,
        ends_at=ends,
        state=SanctionState.active,
        appeal_until=now + timedelta(days=procedure.appeal_window_days),
    )
    data = {"unfounded_reports": len(counted), "article": article, "until": ends.isoformat()}
    return MisuseMeasure(sanction, Notice(reporter_id, notice, data))


def misuse_facts(counted: Sequence[UnfoundedReport], since: datetime, book: Rulebook) -> str:
    """The statement of reasons' facts: which reports, decided when, under which rules."""
    p = book.reporting
    listed = counted[-LISTED_REPORTS:]
    items = "; ".join(
        f"report {u.report_id} (case {u.case_id}, decided "
        f"{u.decided_at.isoformat(timespec='minutes') if u.decided_at else 'earlier'})"
        for u in listed
    )
    earlier = len(counted) - len(listed)
    more = f"; and {earlier} earlier" if earlier else ""
    return (
        f"{len(counted)} of your reports filed since {since.date().isoformat()} were decided "
        f"manifestly unfounded: {items}{more}. Rulebook {book.version} [reporting]: a warning "
        f"after {p.warning_after} such reports within {p.unfounded_window_days} days; once "
        f"warned, reporting is suspended for {p.suspension_days} days after "
        f"{p.suspension_after}. Reports in a severe category are accepted even while "
        "reporting is suspended."
    )
