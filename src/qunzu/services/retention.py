"""The purge engine (Art. 13 records kept six months, and no longer than needed: PIPL
article 19): one pass over every data class, each with its period from the rulebook in
force, in short batches, leaving whatever a legal hold covers (domain.retention).

It runs as the periodic job ``retention_purge`` (one node at a time on PostgreSQL, like
every job), whose audit entry (``job.run``) carries the counts per class; ``qunzu
retention purge`` runs it now and ``--dry-run`` only counts. Each batch is its own
short transaction, so a send never waits long behind a purge.

Classes: ``evidence`` (the message copies kept in a closed case, removed content among
them) after ``evidence_days``; ``audit`` (audit entries) after ``audit_days``, moving
the audit chain's sealed checkpoint so the chain stays verifiable (services.audit);
``identity`` (the identity ciphertexts of deleted accounts) after ``access_log_days``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from qunzu.domain.cases import Case
from qunzu.domain.lawful_access import AccessRequest, RequestState
from qunzu.domain.retention import Hold, PurgeClass, case_hold, cutoff, identity_hold
from qunzu.services import audit
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import UnitOfWork

BATCH = 500


@dataclass
class PurgeReport:
    dry_run: bool
    purged: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Flat counts for the job's audit entry: ``<class>`` and ``held.<class>.<hold>``."""
        flat = dict(self.purged)
        flat.update({f"held.{hold}": n for hold, n in self.held.items()})
        return flat


async def purge(ctx: ServiceContext, dry_run: bool = False, batch: int = BATCH) -> PurgeReport:
    """Purge (or, with ``dry_run``, count) every data class past its period."""
    report = PurgeReport(dry_run)
    now = ctx.clock.now()
    retention = ctx.rulebooks.in_force(now).retention
    await _purge_evidence(ctx, report, cutoff(now, retention.evidence_days), batch)
    await _purge_audit(ctx, report, cutoff(now, retention.audit_days), batch)
    await _purge_identities(ctx, report, cutoff(now, retention.access_log_days), batch)
    return report


def _count_hold(report: PurgeReport, name: str, hold: Hold) -> None:
    key = f"{name}.{hold.value}"
    report.held[key] = report.held.get(key, 0) + 1


async def _approved_requests(uow: UnitOfWork) -> list[AccessRequest]:
    found, after = [], 0
    while page := await uow.lawful.list_requests(RequestState.approved, after, 500):
        found += page
        after = page[-1].id
    return found


async def _hold_of(
    ctx: ServiceContext, uow: UnitOfWork, case: Case, requests: list[AccessRequest]
) -> Hold | None:
    review_until = None
    if case.decided_at is not None:
        window = ctx.rulebooks.in_force(case.decided_at).appeal_window_days
        review_until = case.decided_at + timedelta(days=window)
    return case_hold(
        case,
        await uow.reports.sanctions_for_case(case.id),
        await uow.reports.appeals_for_case(case.id),
        requests,
        review_until,
        ctx.clock.now(),
    )


async def _purge_evidence(
    ctx: ServiceContext, report: PurgeReport, before: datetime, batch: int
) -> None:
    name = PurgeClass.evidence.value
    report.purged[name] = 0
    after = 0
    while True:
        async with transaction(ctx, write=not report.dry_run) as uow:
            cases = await uow.reports.closed_cases_with_evidence(before, after, batch)
            if not cases:
                return
            after = cases[-1].id
            requests = await _approved_requests(uow)
            going = []
            for case in cases:
                hold = await _hold_of(ctx, uow, case, requests)
                if hold is None:
                    going.append(case.id)
                else:
                    _count_hold(report, name, hold)
            if report.dry_run:
                for case_id in going:
                    report.purged[name] += len(await uow.reports.evidence(case_id))
            else:
                report.purged[name] += await uow.reports.delete_evidence(going)


async def _purge_audit(
    ctx: ServiceContext, report: PurgeReport, before: datetime, batch: int
) -> None:
    name = PurgeClass.audit.value
    if report.dry_run:
        async with transaction(ctx, write=False) as uow:
            report.purged[name] = await audit.count_purgeable_entries(uow, before)
        return
    report.purged[name] = 0
    while True:
        async with transaction(ctx) as uow:
            dropped = await audit.purge_entries(ctx, uow, before, batch)
        report.purged[name] += dropped
        if dropped < batch:
            return


async def _purge_identities(
    ctx: ServiceContext, report: PurgeReport, before: datetime, batch: int
) -> None:
    """Identities of accounts deleted longer ago than the access records they explain are
    kept (``access_log_days``), unless a hold covers the account."""
    name = PurgeClass.identity.value
    report.purged[name] = 0
    after = 0
    while True:
        async with transaction(ctx, write=not report.dry_run) as uow:
            deleted = await uow.accounts.deleted_before(before, after, batch)
            if not deleted:
                return
            after = deleted[-1]
            requests = await _approved_requests(uow)
            for account_id in deleted:
                if await uow.identities.get(account_id) is None:
                    continue
                in_force = await uow.reports.active_sanctions(ctx.clock.now(), None, account_id)
                hold = identity_hold(account_id, in_force, requests)
                if hold is not None:
                    _count_hold(report, name, hold)
                    continue
                report.purged[name] += 1
                if not report.dry_run:
                    await uow.identities.delete(account_id)
