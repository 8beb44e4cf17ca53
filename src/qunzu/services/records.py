"""Records and reports to the authorities (Art. 11), and the transparency report (DSA Art. 15).

Every decision, sanction, referral and appeal is kept. The regulator export lists
sanctions on groups and accounts with their articles and reasons; the
transparency report counts what happened in a period.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from datetime import datetime
from typing import Any

from qunzu.domain.audit import AuditAction
from qunzu.domain.cases import Case
from qunzu.domain.errors import InvalidInput
from qunzu.domain.models import PlatformRole
from qunzu.domain.reports import OPEN_STATUSES
from qunzu.domain.sanctions import AppealState
from qunzu.services import attached
from qunzu.services.actor import Principal, SystemActor
from qunzu.services.audit import privileged
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import UnitOfWork

EXPORT_FIELDS = (
    "sanction_id", "case_id", "measure", "target", "group_id", "group_number", "account_id",
    "article", "rulebook_version", "facts", "category", "tier", "decided_by", "automated",
    "starts_at", "ends_at", "state", "report_count", "conduct_at", "decided_at",
    "attachments",
)  # fmt: skip
RECORDS_ROLES = (PlatformRole.auditor, PlatformRole.admin, PlatformRole.senior_reviewer)


def _check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("invalid_period", "Give both ends of the period with a UTC offset.")
    if end <= start:
        raise InvalidInput("invalid_period", "The period ends after it starts.")


async def regulator_rows(
    ctx: ServiceContext, start: datetime, end: datetime, actor: Principal
) -> list[dict[str, Any]]:
    """Sanctions (and referrals) begun in [start, end), with their articles and reasons.
    Every export is audited: through the API as the officer, from the command line as
    the system."""
    via = "cli" if isinstance(actor, SystemActor) else "api"
    async with privileged(
        ctx,
        actor,
        RECORDS_ROLES,
        AuditAction.records_export,
        "regulator",
        write=False,
        start=start.isoformat(),
        end=end.isoformat(),
        via=via,
    ) as act:
        _check_period(start, end)
        rows = []
        uow = act.uow
        for s in await uow.reports.sanctions_between(start, end):
            case = await uow.reports.get_case(s.case_id)
            assert case is not None
            group = await uow.groups.get(case.target.group_id)
            carried = await _attachments(uow, case)
            rows.append(
                {
                    "sanction_id": s.id,
                    "case_id": s.case_id,
                    "measure": s.kind,
                    "target": s.target.value,
                    "group_id": case.target.group_id,
                    "group_number": group.number if group else None,
                    "account_id": s.account_id,
                    "article": s.article,
                    "rulebook_version": s.rulebook_version,
                    "facts": s.facts,
                    "category": case.category,
                    "tier": case.tier,
                    "decided_by": s.decided_by,
                    "automated": s.automated,
                    "starts_at": s.starts_at.isoformat(),
                    "ends_at": s.ends_at.isoformat() if s.ends_at else None,
                    "state": s.state.value,
                    "report_count": case.reporters,
                    "conduct_at": case.conduct_at.isoformat(),
                    "decided_at": case.decided_at.isoformat() if case.decided_at else None,
                    "attachments": carried,
                }
            )
        act.note(rows=len(rows))
    return rows


async def _attachments(uow: UnitOfWork, case: Case) -> str:
    """The reported message's attachments as ``id:kind:sha256`` joined by spaces: the
    content itself stays in the blob store, identified by its hash."""
    seq = case.target.seq
    if seq is None:
        return ""
    carried = (await attached.of_messages(uow, case.target.group_id, [seq])).get(seq, [])
    return " ".join(f"{a['id']}:{a['kind']}:{a['sha256']}" for a in carried)


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(EXPORT_FIELDS))
        writer.writeheader()
        for r in rows:
            writer.writerow(r)
        return out.getvalue()
    raise InvalidInput("invalid_format", "format is jsonl or csv.")


async def transparency(
    ctx: ServiceContext, start: datetime, end: datetime, actor: Principal
) -> dict[str, Any]:
    """Counts for a period: reports by category and tier, decisions, sanctions, time to
    decision, deadlines missed, appeals and how many overturned. Audited."""
    now = ctx.clock.now()
    async with privileged(
        ctx,
        actor,
        RECORDS_ROLES,
        AuditAction.records_transparency,
        "transparency",
        write=False,
        start=start.isoformat(),
        end=end.isoformat(),
    ) as act:
        _check_period(start, end)
        figures = await _figures(act.uow, now, start, end)
    return figures


async def published_transparency(
    ctx: ServiceContext, start: datetime, end: datetime
) -> dict[str, Any]:
    """The same figures for the public report (no login): counts only, no case, person
    or group is named, so reading them is not an officer's act and is not audited."""
    _check_period(start, end)
    async with transaction(ctx, write=False) as uow:
        return await _figures(uow, ctx.clock.now(), start, end)


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


async def _figures(
    uow: UnitOfWork, now: datetime, start: datetime, end: datetime
) -> dict[str, Any]:
    """Counts for [start, end): reports by category, tier and route, decisions, time to
    decision (median, 90th percentile, against the deadline), sanctions, appeals."""
    cases = await uow.reports.cases_between(start, end)
    sanctions = await uow.reports.sanctions_between(start, end)
    appeals = await uow.reports.appeals_between(start, end)
    requests = await uow.lawful.requests_between(start, end)
    hours = [(c.decided_at - c.created_at).total_seconds() / 3600 for c in cases if c.decided_at]
    missed = sum(
        1
        for c in cases
        if (c.decided_at and c.decided_at > c.deadline_at)
        or (c.status in OPEN_STATUSES and now > c.deadline_at)
    )
    decided_appeals = [a for a in appeals if a.state is not AppealState.pending]
    overturned = sum(1 for a in decided_appeals if a.state is AppealState.overturned)
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "cases": len(cases),
        "reports": sum(c.reporters for c in cases),
        "by_category": dict(Counter(c.category for c in cases)),
        "by_tier": dict(Counter(c.tier for c in cases)),
        "by_route": dict(Counter(c.route.value for c in cases)),
        "by_decision": dict(
            Counter(c.decision.value if c.decision else c.status.value for c in cases)
        ),
        "sanctions": dict(Counter(s.kind for s in sanctions)),
        "median_hours_to_decision": round(statistics.median(hours), 2) if hours else None,
        "p90_hours_to_decision": _percentile(hours, 0.9),
        "deadlines_missed": missed,
        "decided_in_time": sum(
            1 for c in cases if c.decided_at is not None and c.decided_at <= c.deadline_at
        ),
        "appeals": len(appeals),
        "appeals_decided": len(decided_appeals),
        "appeals_overturned": overturned,
        "overturn_rate": round(overturned / len(decided_appeals), 3) if decided_appeals else None,
        "access_requests": {
            "total": len(requests),
            "by_authority_kind": dict(Counter(r.authority_kind.value for r in requests)),
            "by_outcome": dict(Counter(r.state.value for r in requests)),
        },
    }
