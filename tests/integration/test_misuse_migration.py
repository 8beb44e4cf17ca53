"""Migration 0009 on SQLite and PostgreSQL: a reporter's recorded warning and suspension
become sanctions (so a suspension in force stays in force, now with reasons and an
appeal), and the two reporter_stats columns go."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.domain.cases import Case
from qunzu.domain.reports import CaseStatus, Decision, Report, Route, Target, TargetKind
from qunzu.domain.sanctions import REPORTING_SUSPENSION, REPORTING_WARNING, SanctionState
from qunzu.storage.engine import make_engine
from qunzu.storage.migrate import alembic_config
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.integration.databases import fresh_postgres_database, require_postgres
from tests.integration.test_storage import BACKENDS, T0, new_account, new_group

DECIDED = T0 + timedelta(days=2)
WARNED = T0 + timedelta(days=1)
SUSPENDED_UNTIL = DECIDED + timedelta(days=14)


@pytest.fixture(params=BACKENDS)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    with fresh_postgres_database(require_postgres()) as url:
        yield url


@pytest.fixture
async def blank_engine(blank_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(blank_url)
    yield eng
    await eng.dispose()


async def move_to(engine: AsyncEngine, revision: str, down: bool = False) -> None:
    step = command.downgrade if down else command.upgrade
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: step(alembic_config(c), revision))


async def reporter_with_a_record(engine: AsyncEngine) -> tuple[int, int, int]:
    """At revision 0006: a reporter whose unfounded report was decided, warned and
    suspended the old way. Returns (reporter, reviewer, case) ids."""
    factory = SqlUnitOfWorkFactory(engine)
    async with factory() as u:
        owner, reporter, reviewer = [await new_account(u, p) for p in ("own", "rep", "rev")]
        group = await new_group(u, owner)
        target = Target(TargetKind.message, group.id, 1, owner.id)
        case = await u.reports.save_case(
            Case(
                0, target, "spam", "normal", "public", Route.platform, CaseStatus.decided,
                T0, T0 + timedelta(days=1), T0, T0, 100.0, 1, None, Decision.no_violation,
                reviewer.id, DECIDED, "", "2017.1",
            )
        )  # fmt: skip
        report = await u.reports.add_report(
            Report(0, case.id, reporter.id, target, "spam", "", (), T0, 1.0)
        )
        await u.reports.mark_unfounded([report.id])
        await u.commit()
    sqlite = engine.dialect.name == "sqlite"
    stats = sa.table(
        "reporter_stats",
        *(sa.column(c) for c in ("account_id", "upheld", "unfounded", "no_violation")),
        sa.column("warned_at", sa.DateTime(timezone=True)),
        sa.column("suspended_until", sa.DateTime(timezone=True)),
    )

    def stored(moment: object) -> object:
        return moment.replace(tzinfo=None) if sqlite else moment  # type: ignore[attr-defined]

    async with engine.begin() as conn:
        await conn.execute(
            stats.insert().values(
                account_id=reporter.id, upheld=0, unfounded=5, no_violation=0,
                warned_at=stored(WARNED), suspended_until=stored(SUSPENDED_UNTIL),
            )
        )  # fmt: skip
    return reporter.id, reviewer.id, case.id


async def test_recorded_misuse_measures_become_sanctions_and_the_columns_go(
    blank_engine: AsyncEngine,
) -> None:
    await move_to(blank_engine, "0008")
    reporter, reviewer, case_id = await reporter_with_a_record(blank_engine)
    await move_to(blank_engine, "head")
    async with SqlUnitOfWorkFactory(blank_engine)(write=False) as u:
        measures = (await u.reports.misuse_measures([reporter]))[reporter]
        record = await u.reports.reporter_record(reporter)
    assert record.unfounded == 5
    by_kind = {s.kind: s for s in measures}
    warning, suspension = by_kind[REPORTING_WARNING], by_kind[REPORTING_SUSPENSION]
    assert (warning.starts_at, warning.ends_at) == (WARNED, WARNED + timedelta(days=90))
    assert (suspension.starts_at, suspension.ends_at) == (DECIDED, SUSPENDED_UNTIL)
    for s in measures:
        assert (s.case_id, s.decided_by, s.account_id) == (case_id, reviewer, reporter)
        assert (s.article, s.rulebook_version, s.automated) == ("art-12", "2017.1", True)
        assert s.state is SanctionState.active
        assert s.appeal_until == s.starts_at + timedelta(days=180)
    assert suspension.in_force(DECIDED + timedelta(days=1))

    def columns(sync_conn: sa.Connection) -> set[str]:
        return {c["name"] for c in sa.inspect(sync_conn).get_columns("reporter_stats")}

    async with blank_engine.connect() as conn:
        assert await conn.run_sync(columns) == {
            "account_id",
            "upheld",
            "unfounded",
            "no_violation",
        }

    await move_to(blank_engine, "0008", down=True)
    async with blank_engine.connect() as conn:
        assert {"warned_at", "suspended_until"} <= await conn.run_sync(columns)
        restored = (await conn.execute(sa.text("SELECT count(*) FROM sanctions"))).scalar_one()
    assert restored == 2  # the records stay
