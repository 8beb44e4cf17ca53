"""Records for the authorities and the transparency report (Art. 11; DSA Art. 15): API and CLI.

Each test moves the frozen clock to a fresh day first, so the period it asks about holds
only what it made.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qunzu.cli import _period
from qunzu.domain.clock import FrozenClock
from qunzu.domain.models import PlatformRole
from qunzu.services.records import EXPORT_FIELDS
from tests.e2e.test_reports import FACTS, me, measure, scene
from tests.factories import People, qunzu, refused
from tests.server import ServerThread


@pytest.fixture
def clock(clocked_server: ServerThread) -> FrozenClock:
    """The server's clock, moved to a fresh day: the test's period starts now."""
    assert clocked_server.clock is not None
    clocked_server.clock.advance(timedelta(days=1))
    return clocked_server.clock


def iso(moment: datetime) -> str:
    return moment.isoformat()


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return qunzu(*args, "--data-dir", str(data_dir))


async def sanctioned(people: People) -> tuple[Any, list[dict[str, Any]]]:
    """A public group's insult, decided with a blacklist and a referral."""
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    decided = await reviewer.decide_case(
        s.case_id,
        "violation",
        [measure("blacklist", days=30), measure("refer_to_authority", "art-13")],
    )
    return s, decided["sanctions"]


# ---- the regulator export -----------------------------------------------------------------


async def test_the_regulator_export_as_json_lines_carries_every_schema_field(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    s, (blacklist, referral) = await sanctioned(people)
    auditor = await people.staff(PlatformRole.auditor)
    text = await auditor.export_regulator(iso(start), iso(clock.now() + timedelta(hours=1)))
    rows = [json.loads(line) for line in text.splitlines()]
    assert [list(r) for r in rows] == [list(EXPORT_FIELDS)] * 2
    first, second = rows
    assert first == {
        "sanction_id": blacklist["id"],
        "case_id": s.case_id,
        "measure": "blacklist",
        "target": "account",
        "group_id": s.group["id"],
        "group_number": s.group["number"],
        "account_id": me(s.offender),
        "article": "art-11",
        "rulebook_version": "2017.1",
        "facts": FACTS,
        "category": "insult-defamation",
        "tier": "public",
        "decided_by": blacklist["decided_by"],
        "automated": False,
        "starts_at": first["starts_at"],
        "ends_at": first["ends_at"],
        "state": "active",
        "report_count": 1,
        "conduct_at": first["conduct_at"],
        "decided_at": first["decided_at"],
        "attachments": "",
    }
    starts = datetime.fromisoformat(first["starts_at"])
    assert starts == clock.now()
    assert datetime.fromisoformat(first["ends_at"]) - starts == timedelta(days=30)
    assert datetime.fromisoformat(first["decided_at"]) == starts
    assert (second["measure"], second["target"], second["article"]) == (
        "refer_to_authority",
        "referral",
        "art-13",
    )
    assert second["sanction_id"] == referral["id"] and second["ends_at"] is None


async def test_the_regulator_export_as_csv_has_a_header_and_the_same_rows(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    _, sanctions = await sanctioned(people)
    admin = await people.staff(PlatformRole.admin)
    period = (iso(start), iso(clock.now() + timedelta(hours=1)))
    text = await admin.export_regulator(*period, fmt="csv")
    assert text.splitlines()[0] == ",".join(EXPORT_FIELDS)
    rows = list(csv.DictReader(io.StringIO(text)))
    jsonl = [json.loads(line) for line in (await admin.export_regulator(*period)).splitlines()]
    assert [int(r["sanction_id"]) for r in rows] == [s["id"] for s in sanctions]
    assert [r["facts"] for r in rows] == [j["facts"] for j in jsonl]
    assert rows[1]["ends_at"] == ""  # a referral has no end


async def test_the_export_holds_only_sanctions_begun_in_the_period(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    _, sanctions = await sanctioned(people)
    mine = {s["id"] for s in sanctions}
    auditor = await people.staff(PlatformRole.auditor)

    async def exported(first: datetime, last: datetime) -> set[int]:
        text = await auditor.export_regulator(iso(first), iso(last))
        return {json.loads(line)["sanction_id"] for line in text.splitlines()}

    assert await exported(start, start + timedelta(seconds=1)) == mine
    assert not mine & await exported(start - timedelta(days=1), start)
    later = clock.now() + timedelta(seconds=1)
    assert await exported(later, later + timedelta(days=1)) == set()


async def test_lifted_and_overturned_sanctions_stay_in_the_records(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    s, (blacklist, _) = await sanctioned(people)
    senior = await people.staff(PlatformRole.senior_reviewer)
    appeal = await s.offender.appeal(blacklist["id"], "a misunderstanding")
    await senior.decide_appeal(appeal["id"], overturn=True)
    text = await senior.export_regulator(iso(start), iso(clock.now() + timedelta(hours=1)))
    states = {
        json.loads(line)["sanction_id"]: json.loads(line)["state"] for line in text.splitlines()
    }
    assert states[blacklist["id"]] == "overturned"


@pytest.mark.parametrize("role", [None, PlatformRole.reviewer])
async def test_only_auditors_admins_and_senior_reviewers_may_export(
    people: People, role: PlatformRole | None
) -> None:
    client = await people.staff(role) if role else await people.user("curious")
    period = ("2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")
    for call in (client.export_regulator(*period), client.transparency(*period)):
        err = await refused(call)
        assert (err.status, err.code) == (403, "platform_role_required")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-02-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00", "2026-02-01T00:00:00"),
    ],
)
async def test_a_period_must_run_forwards_with_an_offset(
    people: People, start: str, end: str
) -> None:
    auditor = await people.staff(PlatformRole.auditor)
    for call in (auditor.export_regulator(start, end), auditor.transparency(start, end)):
        err = await refused(call)
        assert (err.status, err.code) == (400, "invalid_period")


async def test_an_unknown_export_format_is_refused(people: People) -> None:
    auditor = await people.staff(PlatformRole.auditor)
    err = await refused(
        auditor.export_regulator("2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00", "xml")
    )
    assert err.status == 422


# ---- the transparency report --------------------------------------------------------------


async def test_the_transparency_report_counts_what_happened_in_the_period(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    upheld = await scene(people)  # public: the platform at once
    severe = await scene(people, public=False, category="threat-to-life", body="I will hurt you")
    handled = await scene(people, public=False)  # the owner hears first
    reviewer = await people.staff(PlatformRole.reviewer)
    senior = await people.staff(PlatformRole.senior_reviewer)
    clock.advance(timedelta(hours=1))
    await handled.owner.remove_member(handled.group["id"], me(handled.offender))
    clock.advance(timedelta(hours=1))
    decided = await reviewer.decide_case(
        upheld.case_id, "violation", [measure("blacklist", days=30)]
    )
    (sanction,) = decided["sanctions"]
    clock.advance(timedelta(hours=1))  # past the 2-hour deadline of the severe case
    await reviewer.decide_case(severe.case_id, "no_violation")
    appeal = await upheld.offender.appeal(sanction["id"], "unfair")
    await senior.decide_appeal(appeal["id"], overturn=True)
    auditor = await people.staff(PlatformRole.auditor)
    report = await auditor.transparency(iso(start), iso(clock.now() + timedelta(seconds=1)))
    assert report["period"] == {
        "from": iso(start),
        "to": iso(clock.now() + timedelta(seconds=1)),
    }
    assert (report["cases"], report["reports"]) == (3, 3)
    assert report["by_category"] == {"insult-defamation": 2, "threat-to-life": 1}
    assert report["by_tier"] == {"public": 1, "small": 2}
    assert report["by_decision"] == {"violation": 1, "no_violation": 1, "handled_by_owner": 1}
    assert report["sanctions"] == {"blacklist": 1}
    assert report["median_hours_to_decision"] == 2.0
    assert report["deadlines_missed"] == 1
    assert (report["appeals"], report["appeals_decided"], report["appeals_overturned"]) == (1, 1, 1)
    assert report["overturn_rate"] == 1.0


async def test_an_empty_period_reports_zeros_and_no_rates(
    people: People, clock: FrozenClock
) -> None:
    senior = await people.staff(PlatformRole.senior_reviewer)
    now = clock.now()
    report = await senior.transparency(iso(now), iso(now + timedelta(hours=1)))
    assert (report["cases"], report["reports"], report["appeals"]) == (0, 0, 0)
    assert report["median_hours_to_decision"] is None
    assert report["overturn_rate"] is None


# ---- the command line ---------------------------------------------------------------------


async def test_the_cli_exports_and_reports_the_same_as_the_api(
    people: People, clock: FrozenClock, clocked_server: ServerThread, tmp_path: Path
) -> None:
    start = clock.now()
    _, sanctions = await sanctioned(people)
    end = clock.now() + timedelta(hours=1)
    auditor = await people.staff(PlatformRole.auditor)
    data_dir = clocked_server.settings.data_dir
    period = ["--from", iso(start), "--to", iso(end)]

    jsonl = run_cli(data_dir, "export", "regulator", *period)
    assert jsonl.returncode == 0, jsonl.stderr
    assert jsonl.stdout == await auditor.export_regulator(iso(start), iso(end))
    assert [json.loads(line)["sanction_id"] for line in jsonl.stdout.splitlines()] == [
        s["id"] for s in sanctions
    ]

    out = tmp_path / "records.csv"
    as_csv = run_cli(data_dir, "export", "regulator", *period, "--format", "csv", "--out", str(out))
    assert as_csv.returncode == 0, as_csv.stderr
    assert out.read_bytes().decode("utf-8") == await auditor.export_regulator(
        iso(start), iso(end), fmt="csv"
    )

    counted = run_cli(data_dir, "report", "transparency", *period)
    assert counted.returncode == 0, counted.stderr
    from_cli = json.loads(counted.stdout)
    from_api = await auditor.transparency(iso(start), iso(end))
    assert from_cli == from_api
    assert from_cli["sanctions"] == {"blacklist": 1, "refer_to_authority": 1}


def test_the_cli_refuses_a_bad_period(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "export", "regulator", "--from", "2026-01-01")
    assert result.returncode == 2
    assert "bad period" in result.stderr


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("2026", "2026-01-01", "2027-01-01"),
        ("2026-Q3", "2026-07-01", "2026-10-01"),
        ("2026-Q4", "2026-10-01", "2027-01-01"),
        ("2026-12", "2026-12-01", "2027-01-01"),
    ],
)
def test_the_cli_period_names_a_half_open_utc_range(period: str, first: str, last: str) -> None:
    start, end = _period(None, None, period)
    assert (start, end) == (
        datetime.fromisoformat(first).replace(tzinfo=UTC),
        datetime.fromisoformat(last).replace(tzinfo=UTC),
    )
