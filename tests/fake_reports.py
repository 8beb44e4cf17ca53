"""In-memory ``ReportsRepository`` for the unit tests (mirrors storage/reports_repo.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from qunzu.domain.cases import Case
from qunzu.domain.reporters import UnfoundedReport
from qunzu.domain.reports import (
    OPEN_STATUSES,
    CaseStatus,
    EvidenceItem,
    QueueFilter,
    Report,
    ReporterRecord,
    Route,
)
from qunzu.domain.rulebook import SanctionTarget
from qunzu.domain.sanctions import (
    MISUSE_MEASURES,
    Appeal,
    AppealKind,
    AppealState,
    Sanction,
    SanctionState,
)


class FakeReportsTables:
    """Kept on the fake state; copied on snapshot like every other table."""

    def __init__(self) -> None:
        self.cases: dict[int, Case] = {}
        self.reports: dict[int, Report] = {}
        self.evidence: dict[tuple[int, int], EvidenceItem] = {}
        self.sanctions: dict[int, Sanction] = {}
        self.appeals: dict[int, Appeal] = {}
        self.reporters: dict[int, ReporterRecord] = {}

    def __copy__(self) -> FakeReportsTables:
        other = FakeReportsTables()
        for name in vars(self):
            setattr(other, name, dict(getattr(self, name)))
        return other


class FakeReports:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    @property
    def t(self) -> FakeReportsTables:
        return self._uow.state.reports_tables  # type: ignore[no-any-return]

    def _w(self) -> FakeReportsTables:
        return self._uow.state_for_write().reports_tables  # type: ignore[no-any-return]

    def _id(self, table: str) -> int:
        return int(self._uow.store.next_id(table))

    async def open_case_for(self, target_key: str) -> Case | None:
        return next(
            (
                c
                for c in self.t.cases.values()
                if c.target.key == target_key and c.status in OPEN_STATUSES
            ),
            None,
        )

    async def save_case(self, case: Case) -> Case:
        if case.id == 0:
            case = replace(case, id=self._id("cases"))
        elif case.id not in self.t.cases:
            raise KeyError(f"no case {case.id} to save")
        self._w().cases[case.id] = case
        return case

    async def get_case(self, case_id: int) -> Case | None:
        return self.t.cases.get(case_id)

    async def queue(self, now: datetime, flt: QueueFilter, limit: int, offset: int) -> list[Case]:
        rows = [
            c
            for c in self.t.cases.values()
            if c.status in flt.status
            and c.platform_visible_at <= now
            and (flt.category is None or c.category == flt.category)
            and (flt.severity is None or c.severity == flt.severity)
            and (not flt.escalated_only or c.status.value == "escalated")
            and (not flt.overdue_only or c.deadline_at < now)
            and (flt.tier is None or c.tier == flt.tier)
            and (flt.route is None or c.route is flt.route)
            and (flt.claimed_by is None or c.claimed_by == flt.claimed_by)
        ]
        rows.sort(key=lambda c: (c.deadline_at, -c.priority, c.id))
        return rows[offset : offset + limit]

    async def count_open_by_deadline(self, now: datetime, bounds: list[datetime]) -> list[int]:
        open_ = [
            c
            for c in self.t.cases.values()
            if c.status in OPEN_STATUSES and c.platform_visible_at <= now
        ]
        return [sum(1 for c in open_ if c.deadline_at < b) for b in bounds]

    async def count_overdue(self, now: datetime) -> int:
        return sum(
            1
            for c in self.t.cases.values()
            if c.status in OPEN_STATUSES and c.deadline_at < now and c.platform_visible_at <= now
        )

    async def owner_cases(self, group_ids: list[int]) -> list[Case]:
        return sorted(
            (
                c
                for c in self.t.cases.values()
                if c.target.group_id in group_ids
                and c.route is Route.owner
                and c.status in OPEN_STATUSES
            ),
            key=lambda c: c.created_at,
        )

    async def cases_between(self, start: datetime, end: datetime) -> list[Case]:
        return sorted(
            (c for c in self.t.cases.values() if start <= c.created_at < end), key=lambda c: c.id
        )

    async def add_report(self, report: Report) -> Report:
        if any(
            r.reporter_id == report.reporter_id and r.target.key == report.target.key
            for r in self.t.reports.values()
        ):
            from qunzu.domain.errors import Conflict

            raise Conflict("duplicate", "duplicate report")
        report = replace(report, id=self._id("reports"))
        self._w().reports[report.id] = report
        return report

    async def report_by(self, reporter_id: int, target_key: str) -> Report | None:
        return next(
            (
                r
                for r in self.t.reports.values()
                if r.reporter_id == reporter_id and r.target.key == target_key
            ),
            None,
        )

    async def reports_for_case(self, case: Case) -> list[Report]:
        return sorted(
            (r for r in self.t.reports.values() if r.case_id == case.id), key=lambda r: r.id
        )

    async def get_report(self, report_id: int) -> tuple[Report, Case] | None:
        r = self.t.reports.get(report_id)
        return (r, self.t.cases[r.case_id]) if r else None

    async def reports_by(self, reporter_id: int, limit: int) -> list[tuple[Report, Case]]:
        mine = sorted(
            (r for r in self.t.reports.values() if r.reporter_id == reporter_id),
            key=lambda r: -r.id,
        )[:limit]
        return [(r, self.t.cases[r.case_id]) for r in mine]

    async def count_reports_since(self, reporter_id: int, since: datetime) -> int:
        return sum(
            1
            for r in self.t.reports.values()
            if r.reporter_id == reporter_id and r.created_at >= since
        )

    async def count_unfounded_since(self, reporter_id: int, since: datetime) -> int:
        return sum(
            1
            for r in self.t.reports.values()
            if r.reporter_id == reporter_id and r.created_at >= since and r.manifestly_unfounded
        )

    async def mark_unfounded(self, report_ids: list[int], unfounded: bool = True) -> None:
        w = self._w()
        for rid in report_ids:
            w.reports[rid] = replace(w.reports[rid], manifestly_unfounded=unfounded)

    async def unfounded_reports_since(
        self, reporter_ids: list[int], since: datetime
    ) -> dict[int, list[UnfoundedReport]]:
        out: dict[int, list[UnfoundedReport]] = {}
        for r in sorted(self.t.reports.values(), key=lambda r: (r.created_at, r.id)):
            if r.reporter_id in reporter_ids and r.created_at >= since and r.manifestly_unfounded:
                decided_at = self.t.cases[r.case_id].decided_at
                out.setdefault(r.reporter_id, []).append(
                    UnfoundedReport(r.id, r.case_id, r.created_at, decided_at)
                )
        return out

    async def add_evidence(self, case_id: int, items: list[EvidenceItem]) -> None:
        w = self._w()
        for item in items:
            key = (case_id, item.seq)
            if key in w.evidence:
                if item.reported:
                    w.evidence[key] = replace(w.evidence[key], reported=True)
                continue
            w.evidence[key] = item

    async def evidence(self, case_id: int) -> list[EvidenceItem]:
        return sorted(
            (e for (c, _), e in self.t.evidence.items() if c == case_id), key=lambda e: e.seq
        )

    async def add_sanction(self, s: Sanction) -> Sanction:
        s = replace(s, id=self._id("sanctions"))
        self._w().sanctions[s.id] = s
        return s

    async def sanctions_bound_to(self, sanction_id: int) -> list[Sanction]:
        return sorted(
            (s for s in self.t.sanctions.values() if s.person_of == sanction_id),
            key=lambda s: s.id,
        )

    async def closed_cases_with_evidence(
        self, decided_before: datetime, after_id: int, limit: int
    ) -> list[Case]:
        holding = {case_id for case_id, _ in self.t.evidence}
        found = [
            c
            for i, c in sorted(self.t.cases.items())
            if i > after_id
            and i in holding
            and c.status in (CaseStatus.decided, CaseStatus.handled_by_owner)
            and c.decided_at is not None
            and c.decided_at < decided_before
        ]
        return found[:limit]

    async def delete_evidence(self, case_ids: Sequence[int]) -> int:
        w = self._w()
        gone = [key for key in w.evidence if key[0] in set(case_ids)]
        for key in gone:
            del w.evidence[key]
        return len(gone)

    async def appeals_for_case(self, case_id: int) -> list[Appeal]:
        return sorted(
            (a for a in self.t.appeals.values() if a.case_id == case_id), key=lambda a: a.id
        )

    async def appeals_by(self, appellant_id: int) -> list[Appeal]:
        found = self.t.appeals.values()
        return sorted((a for a in found if a.appellant_id == appellant_id), key=lambda a: a.id)

    async def get_sanction(self, sanction_id: int) -> Sanction | None:
        return self.t.sanctions.get(sanction_id)

    async def update_sanction(self, sanction_id: int, **fields: Any) -> None:
        w = self._w()
        w.sanctions[sanction_id] = replace(w.sanctions[sanction_id], **fields)

    async def sanctions_for_case(self, case_id: int) -> list[Sanction]:
        return sorted(
            (s for s in self.t.sanctions.values() if s.case_id == case_id), key=lambda s: s.id
        )

    async def active_sanctions(
        self, now: datetime, group_id: int | None = None, account_id: int | None = None
    ) -> list[Sanction]:
        out = []
        for s in self.t.sanctions.values():
            matches = (
                group_id is not None and s.group_id == group_id and s.target is SanctionTarget.group
            ) or (account_id is not None and s.account_id == account_id)
            if matches and s.in_force(now):
                out.append(s)
        return out

    async def sanctions_affecting(self, account_id: int, group_ids: list[int]) -> list[Sanction]:
        return sorted(
            (
                s
                for s in self.t.sanctions.values()
                if s.account_id == account_id
                or (s.target is SanctionTarget.group and s.group_id in group_ids)
            ),
            key=lambda s: -s.id,
        )

    async def sanctions_between(self, start: datetime, end: datetime) -> list[Sanction]:
        return sorted(
            (s for s in self.t.sanctions.values() if start <= s.starts_at < end), key=lambda s: s.id
        )

    async def misuse_measures(self, account_ids: list[int]) -> dict[int, list[Sanction]]:
        out: dict[int, list[Sanction]] = {}
        for s in sorted(self.t.sanctions.values(), key=lambda s: s.id):
            if s.account_id in account_ids and s.kind in MISUSE_MEASURES:
                out.setdefault(s.account_id, []).append(s)
        return out

    async def add_appeal(self, a: Appeal) -> Appeal:
        a = replace(a, id=self._id("appeals"))
        self._w().appeals[a.id] = a
        return a

    async def get_appeal(self, appeal_id: int) -> Appeal | None:
        return self.t.appeals.get(appeal_id)

    async def find_appeal(
        self, kind: AppealKind, case_id: int, appellant_id: int | None, sanction_id: int | None
    ) -> Appeal | None:
        return next(
            (
                a
                for a in self.t.appeals.values()
                if a.kind is kind
                and a.case_id == case_id
                and (sanction_id is None or a.sanction_id == sanction_id)
                and (appellant_id is None or a.appellant_id == appellant_id)
            ),
            None,
        )

    async def update_appeal(self, appeal_id: int, **fields: Any) -> None:
        w = self._w()
        w.appeals[appeal_id] = replace(w.appeals[appeal_id], **fields)

    async def pending_appeals(self, limit: int) -> list[Appeal]:
        return sorted(
            (a for a in self.t.appeals.values() if a.state is AppealState.pending),
            key=lambda a: a.id,
        )[:limit]

    async def appeals_between(self, start: datetime, end: datetime) -> list[Appeal]:
        return sorted(
            (a for a in self.t.appeals.values() if start <= a.created_at < end), key=lambda a: a.id
        )

    async def reporter_record(self, account_id: int) -> ReporterRecord:
        return self.t.reporters.get(account_id, ReporterRecord())

    async def reporter_records(self, account_ids: list[int]) -> dict[int, ReporterRecord]:
        return {a: self.t.reporters[a] for a in account_ids if a in self.t.reporters}

    async def put_reporter_records(self, records: dict[int, ReporterRecord]) -> None:
        self._w().reporters.update(records)


__all__ = ["FakeReports", "FakeReportsTables", "SanctionState"]
