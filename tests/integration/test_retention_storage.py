"""The purge engine on real storage (SQLite both ways, PostgreSQL): evidence of a closed
case goes after its period, old audit entries go behind a sealed checkpoint, and the
chain verifies afterwards; the checkpoint round-trips."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from qunzu.domain.models import PlatformRole
from qunzu.services import audit, retention
from qunzu.services.ports import AuditCheckpoint
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.fakes import frozen_clock, make_ctx
from tests.unit.test_retention import decide, reported, tag, window
from tests.unit.world import register

DAY = timedelta(days=1)


async def test_the_purge_runs_on_real_storage(uow: SqlUnitOfWorkFactory) -> None:
    ctx = replace(make_ctx(), uow=uow)
    _, _, case_id = await reported(ctx)
    await decide(ctx, case_id)
    async with uow(write=False) as u:
        assert await u.reports.evidence(case_id) != []
        old = (await u.audit.head()).count  # type: ignore[union-attr]
    clock = frozen_clock(ctx)
    clock.advance(max(window(ctx), ctx.rulebooks.latest.retention.audit_days * DAY) + DAY)
    auditor = await register(ctx, tag("auditor"), verified=False, role=PlatformRole.auditor)
    dry = await retention.purge(ctx, dry_run=True)
    assert dry.purged["audit"] == old  # the auditor's creation is new: it stays
    report = await retention.purge(ctx, batch=3)
    assert report.purged["audit"] == dry.purged["audit"]
    assert report.purged["evidence"] == dry.purged["evidence"] > 0
    async with uow(write=False) as u:
        assert await u.reports.evidence(case_id) == []
        checkpoint = await u.audit.checkpoint()
    assert isinstance(checkpoint, AuditCheckpoint) and checkpoint.dropped == report.purged["audit"]
    verdict = await audit.verify_audit_chain(ctx, auditor)
    assert (verdict.ok, verdict.reason) == (True, "")
