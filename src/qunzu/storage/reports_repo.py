"""Reports, cases, evidence, sanctions, appeals and reporter records: SQL implementations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select, union_all, update

from qunzu.domain.cases import Case
from qunzu.domain.reporters import UnfoundedReport
from qunzu.domain.reports import (
    CaseStatus,
    Decision,
    EvidenceItem,
    QueueFilter,
    Report,
    ReporterRecord,
    Route,
    Target,
    TargetKind,
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
from qunzu.storage import tables as t
from qunzu.storage.fastsql import prebuilt

_S = t.sanctions
_ACTIVE_SANCTIONS = prebuilt(
    select(_S).where(
        or_(
            and_(_S.c.group_id == bindparam("group_id"), _S.c.target == SanctionTarget.group.value),
            _S.c.account_id == bindparam("account_id"),
        ),
        _S.c.state == SanctionState.active.value,
        _S.c.starts_at <= bindparam("now", type_=t.UTCDateTime()),
        or_(_S.c.ends_at.is_(None), _S.c.ends_at > bindparam("now", type_=t.UTCDateTime())),
    )
)


def _case(r: Any) -> Case:
    return Case(
        id=r.id,
        target=Target(TargetKind(r.target_kind), r.group_id, r.seq, r.account_id),
        category=r.category,
        severity=r.severity,
        tier=r.tier,
        route=Route(r.route),
        status=CaseStatus(r.status),
        created_at=r.created_at,
        deadline_at=r.deadline_at,
        platform_visible_at=r.platform_visible_at,
        conduct_at=r.conduct_at,
        priority=r.priority,
        reporters=r.reporters,
        claimed_by=r.claimed_by,
        decision=Decision(r.decision) if r.decision else None,
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        decision_note=r.decision_note,
        rulebook_version=r.rulebook_version,
    )


def _report(r: Any, target: Target) -> Report:
    return Report(
        id=r.id,
        case_id=r.case_id,
        reporter_id=r.reporter_id,
        target=target,
        category=r.category,
        statement=r.statement,
        extra_seqs=tuple(r.extra_seqs or ()),
        created_at=r.created_at,
        reporter_weight=r.reporter_weight,
        manifestly_unfounded=bool(r.manifestly_unfounded),
    )


def _sanction(r: Any) -> Sanction:
    return Sanction(
        id=r.id,
        case_id=r.case_id,
        kind=r.kind,
        target=SanctionTarget(r.target),
        group_id=r.group_id,
        account_id=r.account_id,
        article=r.article,
        rulebook_version=r.rulebook_version,
        facts=r.facts,
        decided_by=r.decided_by,
        automated=bool(r.automated),
        starts_at=r.starts_at,
        ends_at=r.ends_at,
        state=SanctionState(r.state),
        appeal_until=r.appeal_until,
        acknowledged_at=r.acknowledged_at,
        credit_delta=r.credit_delta,
        person_of=r.person_of,
    )


def _appeal(r: Any) -> Appeal:
    return Appeal(
        id=r.id,
        kind=AppealKind(r.kind),
        sanction_id=r.sanction_id,
        case_id=r.case_id,
        appellant_id=r.appellant_id,
        statement=r.statement,
        created_at=r.created_at,
        state=AppealState(r.state),
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        note=r.note,
    )


def _enum_values(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in fields.items()}


class SqlReports:
    def __init__(self, conn: Any) -> None:
        self.c = conn

    # ---- cases -----------------------------------------------------------------------------

    async def open_case_for(self, target_key: str) -> Case | None:
        c = t.cases
        row = (
            await self.c.execute(
                select(c).where(
                    c.c.target_key == target_key,
                    c.c.status.in_(
                        [
                            s.value
                            for s in (CaseStatus.open, CaseStatus.claimed, CaseStatus.escalated)
                        ]
                    ),
                )
            )
        ).first()
        return _case(row) if row else None

    async def save_case(self, case: Case) -> Case:
        """The whole case in one statement: an insert for a new case, else an update."""
        values = {
            "target_key": case.target.key,
            "target_kind": case.target.kind.value,
            "group_id": case.target.group_id,
            "seq": case.target.seq,
            "account_id": case.target.account_id,
            "category": case.category,
            "severity": case.severity,
            "tier": case.tier,
            "route": case.route.value,
            "status": case.status.value,
            "created_at": case.created_at,
            "deadline_at": case.deadline_at,
            "platform_visible_at": case.platform_visible_at,
            "conduct_at": case.conduct_at,
            "priority": case.priority,
            "reporters": case.reporters,
            "claimed_by": case.claimed_by,
            "decision": case.decision.value if case.decision else None,
            "decided_by": case.decided_by,
            "decided_at": case.decided_at,
            "decision_note": case.decision_note,
            "rulebook_version": case.rulebook_version,
        }
        if case.id == 0:
            res = await self.c.execute(t.cases.insert().values(**values).returning(t.cases.c.id))
            return replace(case, id=int(res.scalar_one()))
        await self.c.execute(update(t.cases).where(t.cases.c.id == case.id).values(**values))
        return case

    async def get_case(self, case_id: int) -> Case | None:
        row = (await self.c.execute(select(t.cases).where(t.cases.c.id == case_id))).first()
        return _case(row) if row else None

    async def queue(self, now: datetime, flt: QueueFilter, limit: int, offset: int) -> list[Case]:
        """Earliest deadline first (then priority, then id), filtered.

        One ordered, limited branch per status, merged: each walks ``ix_cases_queue`` (or
        ``ix_cases_queue_category``) in deadline order and stops after ``offset + limit``
        rows, where ``status IN (...)`` would read and sort every open case.
        """
        c = t.cases
        statuses = sorted(s.value for s in flt.status)
        if flt.escalated_only:
            statuses = [s for s in statuses if s == CaseStatus.escalated.value]
        if not statuses:
            return []
        order = (c.c.deadline_at, c.c.priority.desc(), c.c.id)

        def branch(status: str) -> Select[Any]:
            stmt = select(c).where(c.c.status == status, c.c.platform_visible_at <= now)
            if flt.category:
                stmt = stmt.where(c.c.category == flt.category)
            if flt.severity:
                stmt = stmt.where(c.c.severity == flt.severity)
            if flt.overdue_only:
                stmt = stmt.where(c.c.deadline_at < now)
            if flt.tier:
                stmt = stmt.where(c.c.tier == flt.tier)
            if flt.route is not None:
                stmt = stmt.where(c.c.route == flt.route.value)
            if flt.claimed_by is not None:
                stmt = stmt.where(c.c.claimed_by == flt.claimed_by)
            return stmt.order_by(*order)

        if len(statuses) == 1:
            stmt = branch(statuses[0])
        else:
            merged = union_all(
                *(select(branch(s).limit(limit + offset).subquery()) for s in statuses)
            ).subquery()
            stmt = select(merged).order_by(
                merged.c.deadline_at, merged.c.priority.desc(), merged.c.id
            )
        return [_case(r) for r in await self.c.execute(stmt.limit(limit).offset(offset))]

    async def count_overdue(self, now: datetime) -> int:
        c = t.cases
        res = await self.c.execute(
            select(func.count())
            .select_from(c)
            .where(
                c.c.status.in_(
                    [CaseStatus.open.value, CaseStatus.claimed.value, CaseStatus.escalated.value]
                ),
                c.c.deadline_at < now,
                c.c.platform_visible_at <= now,
            )
        )
        return int(res.scalar_one())

    async def count_open_by_deadline(self, now: datetime, bounds: list[datetime]) -> list[int]:
        """Open cases in the platform queue whose deadline falls before each bound (one
        count per bound, in one statement over ``ix_cases_queue``)."""
        c = t.cases
        res = await self.c.execute(
            select(*(func.count().filter(c.c.deadline_at < b) for b in bounds))
            .select_from(c)
            .where(
                c.c.status.in_(
                    [CaseStatus.open.value, CaseStatus.claimed.value, CaseStatus.escalated.value]
                ),
                c.c.platform_visible_at <= now,
            )
        )
        return [int(v) for v in res.one()]

    async def owner_cases(self, group_ids: list[int]) -> list[Case]:
        if not group_ids:
            return []
        c = t.cases
        rows = await self.c.execute(
            select(c)
            .where(
                c.c.group_id.in_(group_ids),
                c.c.route == Route.owner.value,
                c.c.status.in_(
                    [CaseStatus.open.value, CaseStatus.claimed.value, CaseStatus.escalated.value]
                ),
            )
            .order_by(c.c.created_at)
        )
        return [_case(r) for r in rows]

    async def cases_between(self, start: datetime, end: datetime) -> list[Case]:
        c = t.cases
        rows = await self.c.execute(
            select(c).where(c.c.created_at >= start, c.c.created_at < end).order_by(c.c.id)
        )
        return [_case(r) for r in rows]

    # ---- reports ---------------------------------------------------------------------------

    async def add_report(self, report: Report) -> Report:
        res = await self.c.execute(
            t.reports.insert()
            .values(
                case_id=report.case_id,
                reporter_id=report.reporter_id,
                target_key=report.target.key,
                category=report.category,
                statement=report.statement,
                extra_seqs=list(report.extra_seqs),
                created_at=report.created_at,
                reporter_weight=report.reporter_weight,
                manifestly_unfounded=False,
            )
            .returning(t.reports.c.id)
        )
        return replace(report, id=int(res.scalar_one()))

    async def report_by(self, reporter_id: int, target_key: str) -> Report | None:
        r = t.reports
        row = (
            await self.c.execute(
                select(
                    r,
                    t.cases.c.target_kind,
                    t.cases.c.group_id,
                    t.cases.c.seq,
                    t.cases.c.account_id,
                )
                .join(t.cases, t.cases.c.id == r.c.case_id)
                .where(r.c.reporter_id == reporter_id, r.c.target_key == target_key)
            )
        ).first()
        if row is None:
            return None
        target = Target(TargetKind(row.target_kind), row.group_id, row.seq, row.account_id)
        return _report(row, target)

    async def reports_for_case(self, case: Case) -> list[Report]:
        r = t.reports
        rows = await self.c.execute(select(r).where(r.c.case_id == case.id).order_by(r.c.id))
        return [_report(row, case.target) for row in rows]

    async def get_report(self, report_id: int) -> tuple[Report, Case] | None:
        r = t.reports
        row = (await self.c.execute(select(r).where(r.c.id == report_id))).first()
        if row is None:
            return None
        case = await self.get_case(row.case_id)
        assert case is not None
        return _report(row, case.target), case

    async def reports_by(self, reporter_id: int, limit: int) -> list[tuple[Report, Case]]:
        r = t.reports
        rows = (
            await self.c.execute(
                select(r).where(r.c.reporter_id == reporter_id).order_by(r.c.id.desc()).limit(limit)
            )
        ).all()
        out = []
        for row in rows:
            case = await self.get_case(row.case_id)
            assert case is not None
            out.append((_report(row, case.target), case))
        return out

    async def count_reports_since(self, reporter_id: int, since: datetime) -> int:
        r = t.reports
        res = await self.c.execute(
            select(func.count())
            .select_from(r)
            .where(r.c.reporter_id == reporter_id, r.c.created_at >= since)
        )
        return int(res.scalar_one())

    async def count_unfounded_since(self, reporter_id: int, since: datetime) -> int:
        r = t.reports
        res = await self.c.execute(
            select(func.count())
            .select_from(r)
            .where(
                r.c.reporter_id == reporter_id,
                r.c.created_at >= since,
                r.c.manifestly_unfounded.is_(True),
            )
        )
        return int(res.scalar_one())

    async def mark_unfounded(self, report_ids: list[int], unfounded: bool = True) -> None:
        if report_ids:
            await self.c.execute(
                update(t.reports)
                .where(t.reports.c.id.in_(report_ids))
                .values(manifestly_unfounded=unfounded)
            )

    async def unfounded_reports_since(
        self, reporter_ids: list[int], since: datetime
    ) -> dict[int, list[UnfoundedReport]]:
        if not reporter_ids:
            return {}
        r, c = t.reports, t.cases
        rows = await self.c.execute(
            select(r.c.reporter_id, r.c.id, r.c.case_id, r.c.created_at, c.c.decided_at)
            .join(c, c.c.id == r.c.case_id)
            .where(
                r.c.reporter_id.in_(reporter_ids),
                r.c.created_at >= since,
                r.c.manifestly_unfounded.is_(True),
            )
            .order_by(r.c.created_at, r.c.id)
        )
        out: dict[int, list[UnfoundedReport]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(UnfoundedReport(row[1], row[2], row[3], row[4]))
        return out

    # ---- evidence --------------------------------------------------------------------------

    async def add_evidence(self, case_id: int, items: list[EvidenceItem]) -> None:
        e = t.evidence
        have = {
            row[0] for row in await self.c.execute(select(e.c.seq).where(e.c.case_id == case_id))
        }
        for item in items:
            if item.seq in have:
                if item.reported:
                    await self.c.execute(
                        update(e)
                        .where(e.c.case_id == case_id, e.c.seq == item.seq)
                        .values(reported=True)
                    )
                continue
            have.add(item.seq)
            await self.c.execute(
                e.insert().values(
                    case_id=case_id,
                    seq=item.seq,
                    sender_id=item.sender_id,
                    body=item.body,
                    kind=item.kind,
                    created_at=item.created_at,
                    reported=item.reported,
                )
            )

    async def evidence(self, case_id: int) -> list[EvidenceItem]:
        e = t.evidence
        rows = await self.c.execute(select(e).where(e.c.case_id == case_id).order_by(e.c.seq))
        return [
            EvidenceItem(r.seq, r.sender_id, r.body, r.created_at, r.kind, bool(r.reported))
            for r in rows
        ]

    # ---- sanctions -------------------------------------------------------------------------

    async def add_sanction(self, s: Sanction) -> Sanction:
        res = await self.c.execute(
            t.sanctions.insert()
            .values(
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
                acknowledged_at=None,
                credit_delta=s.credit_delta,
                person_of=s.person_of,
            )
            .returning(t.sanctions.c.id)
        )
        return replace(s, id=int(res.scalar_one()))

    async def sanctions_bound_to(self, sanction_id: int) -> list[Sanction]:
        s = t.sanctions
        rows = await self.c.execute(select(s).where(s.c.person_of == sanction_id).order_by(s.c.id))
        return [_sanction(r) for r in rows]

    async def closed_cases_with_evidence(
        self, decided_before: datetime, after_id: int, limit: int
    ) -> list[Case]:
        c, e = t.cases, t.evidence
        held = select(e.c.case_id).where(e.c.case_id == c.c.id).exists()
        q = (
            select(c)
            .where(
                c.c.id > after_id,
                c.c.status.in_([CaseStatus.decided.value, CaseStatus.handled_by_owner.value]),
                c.c.decided_at < decided_before,
                held,
            )
            .order_by(c.c.id)
            .limit(limit)
        )
        return [_case(r) for r in await self.c.execute(q)]

    async def delete_evidence(self, case_ids: Sequence[int]) -> int:
        if not case_ids:
            return 0
        e = t.evidence
        res = await self.c.execute(delete(e).where(e.c.case_id.in_(list(case_ids))))
        return int(res.rowcount)

    async def appeals_for_case(self, case_id: int) -> list[Appeal]:
        a = t.appeals
        rows = await self.c.execute(select(a).where(a.c.case_id == case_id).order_by(a.c.id))
        return [_appeal(r) for r in rows]

    async def appeals_by(self, appellant_id: int) -> list[Appeal]:
        a = t.appeals
        q = select(a).where(a.c.appellant_id == appellant_id).order_by(a.c.id)
        return [_appeal(r) for r in await self.c.execute(q)]

    async def get_sanction(self, sanction_id: int) -> Sanction | None:
        s = t.sanctions
        row = (await self.c.execute(select(s).where(s.c.id == sanction_id))).first()
        return _sanction(row) if row else None

    async def update_sanction(self, sanction_id: int, **fields: Any) -> None:
        await self.c.execute(
            update(t.sanctions)
            .where(t.sanctions.c.id == sanction_id)
            .values(**_enum_values(fields))
        )

    async def sanctions_for_case(self, case_id: int) -> list[Sanction]:
        s = t.sanctions
        rows = await self.c.execute(select(s).where(s.c.case_id == case_id).order_by(s.c.id))
        return [_sanction(r) for r in rows]

    async def active_sanctions(
        self, now: datetime, group_id: int | None = None, account_id: int | None = None
    ) -> list[Sanction]:
        """Sanctions in force now on a group and/or an account."""
        if group_id is None and account_id is None:
            return []
        # One prebuilt statement for the message path (-1 never matches an id).
        rows = await self.c.execute(
            _ACTIVE_SANCTIONS,
            {
                "group_id": group_id if group_id is not None else -1,
                "account_id": account_id if account_id is not None else -1,
                "now": now,
            },
        )
        return [_sanction(r) for r in rows]

    async def sanctions_affecting(self, account_id: int, group_ids: list[int]) -> list[Sanction]:
        s = t.sanctions
        cond = [s.c.account_id == account_id]
        if group_ids:
            cond.append(and_(s.c.group_id.in_(group_ids), s.c.target == SanctionTarget.group.value))
        rows = await self.c.execute(select(s).where(or_(*cond)).order_by(s.c.id.desc()))
        return [_sanction(r) for r in rows]

    async def sanctions_between(self, start: datetime, end: datetime) -> list[Sanction]:
        s = t.sanctions
        rows = await self.c.execute(
            select(s).where(s.c.starts_at >= start, s.c.starts_at < end).order_by(s.c.id)
        )
        return [_sanction(r) for r in rows]

    async def misuse_measures(self, account_ids: list[int]) -> dict[int, list[Sanction]]:
        if not account_ids:
            return {}
        s = t.sanctions
        rows = await self.c.execute(
            select(s)
            .where(s.c.account_id.in_(account_ids), s.c.kind.in_(sorted(MISUSE_MEASURES)))
            .order_by(s.c.id)
        )
        out: dict[int, list[Sanction]] = {}
        for row in rows:
            out.setdefault(row.account_id, []).append(_sanction(row))
        return out

    # ---- appeals ---------------------------------------------------------------------------

    async def add_appeal(self, a: Appeal) -> Appeal:
        res = await self.c.execute(
            t.appeals.insert()
            .values(
                kind=a.kind.value,
                sanction_id=a.sanction_id,
                case_id=a.case_id,
                appellant_id=a.appellant_id,
                statement=a.statement,
                created_at=a.created_at,
                state=a.state.value,
                note="",
            )
            .returning(t.appeals.c.id)
        )
        return replace(a, id=int(res.scalar_one()))

    async def get_appeal(self, appeal_id: int) -> Appeal | None:
        a = t.appeals
        row = (await self.c.execute(select(a).where(a.c.id == appeal_id))).first()
        return _appeal(row) if row else None

    async def find_appeal(
        self, kind: AppealKind, case_id: int, appellant_id: int | None, sanction_id: int | None
    ) -> Appeal | None:
        a = t.appeals
        stmt = select(a).where(a.c.kind == kind.value, a.c.case_id == case_id)
        if sanction_id is not None:
            stmt = stmt.where(a.c.sanction_id == sanction_id)
        if appellant_id is not None:
            stmt = stmt.where(a.c.appellant_id == appellant_id)
        row = (await self.c.execute(stmt)).first()
        return _appeal(row) if row else None

    async def update_appeal(self, appeal_id: int, **fields: Any) -> None:
        await self.c.execute(
            update(t.appeals).where(t.appeals.c.id == appeal_id).values(**_enum_values(fields))
        )

    async def pending_appeals(self, limit: int) -> list[Appeal]:
        a = t.appeals
        rows = await self.c.execute(
            select(a).where(a.c.state == AppealState.pending.value).order_by(a.c.id).limit(limit)
        )
        return [_appeal(r) for r in rows]

    async def appeals_between(self, start: datetime, end: datetime) -> list[Appeal]:
        a = t.appeals
        rows = await self.c.execute(
            select(a).where(a.c.created_at >= start, a.c.created_at < end).order_by(a.c.id)
        )
        return [_appeal(r) for r in rows]

    # ---- reporter records ------------------------------------------------------------------

    async def reporter_record(self, account_id: int) -> ReporterRecord:
        return (await self.reporter_records([account_id])).get(account_id, ReporterRecord())

    async def reporter_records(self, account_ids: list[int]) -> dict[int, ReporterRecord]:
        if not account_ids:
            return {}
        rs = t.reporter_stats
        rows = await self.c.execute(select(rs).where(rs.c.account_id.in_(account_ids)))
        return {
            row.account_id: ReporterRecord(
                upheld=row.upheld, unfounded=row.unfounded, no_violation=row.no_violation
            )
            for row in rows
        }

    async def put_reporter_records(self, records: dict[int, ReporterRecord]) -> None:
        """One statement for every reporter of a case: delete and re-insert their rows."""
        if not records:
            return
        rs = t.reporter_stats
        await self.c.execute(rs.delete().where(rs.c.account_id.in_(list(records))))
        await self.c.execute(
            rs.insert(),
            [
                {
                    "account_id": a,
                    "upheld": r.upheld,
                    "unfounded": r.unfounded,
                    "no_violation": r.no_violation,
                }
                for a, r in records.items()
            ],
        )
