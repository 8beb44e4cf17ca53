"""`qunzu rulebook check|show`, a bad rulebook at `qunzu serve`, and `qunzu credit recompute`,
run as a user would run them: a separate process."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qunzu.bootstrap import build
from qunzu.domain.clock import FrozenClock
from qunzu.policy import default_rulebook_text
from qunzu.services.accounts import do_register
from qunzu.services.context import transaction
from tests.factories import qunzu
from tests.rulebooks import write_rulebook as write
from tests.server import free_port, test_settings

DEFAULT = default_rulebook_text()


def edited(old: str, new: str, text: str = DEFAULT) -> str:
    assert old in text, f"edit target {old!r} not in the default rulebook"
    return text.replace(old, new, 1)


def refused_with(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 1, and one line of the message names every fragment (key and problem)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "rulebook refused" in result.stderr
    lines = result.stderr.splitlines()
    assert any(all(f in line for f in fragments) for line in lines), result.stderr


# ---- rulebook check -----------------------------------------------------------------------


def test_check_accepts_the_default_rulebook(tmp_path: Path) -> None:
    result = qunzu("rulebook", "check", str(write(tmp_path, "cn-2017.toml", DEFAULT)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 2017.1 (")
    assert "in force from 2017-10-08T00:00:00+08:00" in result.stdout


def test_check_refuses_a_missing_level(tmp_path: Path) -> None:
    text = re.sub(r"\[\[credit\.levels\]\]\nlevel = 2\n.*?\n\n", "", DEFAULT, count=1, flags=re.S)
    assert "level = 2" not in text
    result = qunzu("rulebook", "check", str(write(tmp_path, "missing.toml", text)))
    refused_with(result, "missing.toml")
    refused_with(result, "credit.levels:", "none missing", "[0, 1, 3, 4]")


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        pytest.param(
            "min_score = 500",
            "min_score = 480",
            ("credit.levels[2].min_score", "starts at 480", "ends at 499", "overlap"),
            id="overlapping-bands",
        ),
        pytest.param(
            "min_score = 500",
            "min_score = 520",
            ("credit.levels[2].min_score", "starts at 520", "ends at 499", "gap"),
            id="gapped-bands",
        ),
        pytest.param(
            'articles = ["art-11", "art-13"]',
            'articles = ["art-11", "art-99"]',
            ("sanctions[7].articles", "'art-99'"),
            id="unknown-article-reference",
        ),
        pytest.param(
            "invitations_per_day = 20,",
            "invitations_per_day = -1,",
            ("credit.levels[1].quotas.invitations_per_day", "greater than or equal to 0"),
            id="negative-quota",
        ),
        pytest.param(
            "community = 200,",
            "community = -5,",
            ("credit.levels[1].quotas.members_per_group", "community is negative (-5)"),
            id="negative-member-cap",
        ),
    ],
)
def test_check_refuses_an_edit_that_breaks_a_rule(
    tmp_path: Path, old: str, new: str, fragments: tuple[str, ...]
) -> None:
    path = write(tmp_path, "edited.toml", edited(old, new))
    refused_with(qunzu("rulebook", "check", str(path)), *fragments)


def test_check_refuses_two_versions_taking_effect_at_the_same_moment(tmp_path: Path) -> None:
    first = write(tmp_path, "a.toml", DEFAULT)
    second = write(tmp_path, "b.toml", edited('version = "2017.1"', 'version = "2017.2"'))
    refused_with(
        qunzu("rulebook", "check", str(first), str(second)),
        "'2017.1' and '2017.2'",
        "same moment",
        "2017-10-08T00:00:00+08:00",
    )


def test_check_accepts_two_versions_and_lists_them_in_order(tmp_path: Path) -> None:
    later = edited(
        "effective_from = 2017-10-08T00:00:00+08:00",
        "effective_from = 2025-01-01T00:00:00+08:00",
        edited('version = "2017.1"', 'version = "2025.1"'),
    )
    result = qunzu(
        "rulebook",
        "check",
        str(write(tmp_path, "b.toml", later)),
        str(write(tmp_path, "a.toml", DEFAULT)),
    )
    assert result.returncode == 0, result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines()] == ["2017.1", "2025.1"]


# ---- rulebook show ------------------------------------------------------------------------


def test_show_prints_the_rulebook_in_force_as_json() -> None:
    result = qunzu("rulebook", "show")
    assert result.returncode == 0, result.stderr
    book = json.loads(result.stdout)
    assert book["version"] == "2017.1"
    assert [lvl["level"] for lvl in book["credit"]["levels"]] == [0, 1, 2, 3, 4]
    assert {s["id"] for s in book["sanctions"]} >= {"warning", "closure", "blacklist"}
    assert "真实身份信息认证" in result.stdout  # UTF-8, not \u escapes


def test_show_at_a_moment_before_any_version_exits_1() -> None:
    result = qunzu("rulebook", "show", "--at", "2016-01-01T00:00:00+00:00")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "No rulebook was in force at 2016-01-01T00:00:00+00:00" in result.stderr


def test_show_at_a_moment_picks_the_version_then_in_force(tmp_path: Path) -> None:
    later = edited(
        "effective_from = 2017-10-08T00:00:00+08:00",
        "effective_from = 2025-01-01T00:00:00+08:00",
        edited('version = "2017.1"', 'version = "2025.1"'),
    )
    files = [str(write(tmp_path, "a.toml", DEFAULT)), str(write(tmp_path, "b.toml", later))]
    old = qunzu("rulebook", "show", *files, "--at", "2024-12-31T23:59:59+08:00")
    new = qunzu("rulebook", "show", *files, "--at", "2025-01-01T00:00:00+08:00")
    assert old.returncode == 0 and new.returncode == 0, (old.stderr, new.stderr)
    assert json.loads(old.stdout)["version"] == "2017.1"
    assert json.loads(new.stdout)["version"] == "2025.1"


# ---- a bad rulebook stops the start -------------------------------------------------------


def test_serve_with_a_bad_rulebook_exits_2_naming_the_problem(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.toml", edited("min_score = 500", "min_score = 520"))
    port = free_port()
    result = qunzu(
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        env={"QUNZU_RULEBOOK_FILES": json.dumps([str(bad)])},
        timeout=30,
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "qunzu cannot start: rulebook refused: bad.toml" in result.stderr
    assert "credit.levels[2].min_score" in result.stderr and "(a gap)" in result.stderr
    # It did not start: no database was created, nothing listens.
    assert not (tmp_path / "data" / "qunzu.db").exists()
    assert "Uvicorn running" not in result.stderr


# ---- credit recompute ---------------------------------------------------------------------


def test_credit_recompute_on_a_data_dir_counts_every_account(tmp_path: Path) -> None:
    settings = test_settings(tmp_path, rulebook_files=[])
    # Accounts made "in 2024"; the command runs on the wall clock, at least a year later.
    clock = FrozenClock(datetime(2024, 1, 1, tzinfo=UTC))

    async def world() -> list[int]:
        app = build(settings, clock=clock)
        await app.start()
        try:
            return [
                (await do_register(app.ctx, f"recompute{i}", "correct horse battery")).id
                for i in range(3)
            ]
        finally:
            await app.close()

    async def ledger(account_id: int) -> tuple[list[tuple[str, int]], datetime]:
        app = build(settings, clock=clock)
        await app.start()
        try:
            async with transaction(app.ctx, write=False) as uow:
                entries = await uow.credit.entries(account_id)
                state = await uow.credit.get_state(account_id)
        finally:
            await app.close()
        assert state is not None
        return [(e.reason.value, e.delta) for e in entries], state.computed_at

    ids = asyncio.run(world())
    assert asyncio.run(ledger(ids[0])) == ([], clock.now())
    result = qunzu("credit", "recompute", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"recomputed 3 accounts in \d+\.\d\ds\n", result.stdout), result.stdout
    # A year and more of account age became one ledger entry each, capped by the rulebook.
    entries, computed_at = asyncio.run(ledger(ids[2]))
    assert entries == [("account_age", 120)]
    assert computed_at > clock.now() + timedelta(days=365)
