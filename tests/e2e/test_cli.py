"""The `qunzu` command, run as a user would run it: a separate process."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.factories import qunzu
from tests.server import free_port


def run_cli(*args: str, data_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {"QUNZU_NEW_USER_PASSWORD": "staff password 1"}
    return qunzu(*args, "--data-dir", str(data_dir), env=env, timeout=timeout)


def create_staff(data_dir: Path, handle: str, role: str) -> subprocess.CompletedProcess[str]:
    return run_cli("admin", "create-platform-user", handle, "--role", role, data_dir=data_dir)


def test_migrate_creates_the_schema_and_reports_the_revision(tmp_path: Path) -> None:
    result = run_cli("migrate", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"database at revision \d{4}", result.stdout)
    assert (tmp_path / "qunzu.db").exists()


def test_identity_key_file_is_created_owner_only(tmp_path: Path) -> None:
    result = run_cli("audit", "verify", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    key = tmp_path / "identity.key"
    assert key.exists()
    assert key.stat().st_mode & 0o777 == 0o600


def test_demo_builds_a_world_and_prints_logins(tmp_path: Path) -> None:
    port = free_port()
    result = qunzu(
        "demo", "--no-serve", "--port", str(port), "--data-dir", str(tmp_path), timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wangfang" in result.stdout
    assert "qunzu-demo-2017" in result.stdout
    assert (tmp_path / "DEMO_WORLD").exists()


def test_platform_user_creation_is_audited_and_chain_verifies(tmp_path: Path) -> None:
    created = create_staff(tmp_path, "auditor1", "auditor")
    assert created.returncode == 0, created.stderr
    assert "role auditor" in created.stdout
    verified = run_cli("audit", "verify", data_dir=tmp_path)
    assert verified.returncode == 0
    assert "audit chain intact: 1 entries" in verified.stdout


def test_unknown_platform_role_is_refused(tmp_path: Path) -> None:
    result = create_staff(tmp_path, "x_staff", "emperor")
    assert result.returncode == 2
    assert "unknown role" in result.stderr


def test_duplicate_platform_handle_is_refused(tmp_path: Path) -> None:
    assert create_staff(tmp_path, "rev1", "reviewer").returncode == 0
    again = create_staff(tmp_path, "rev1", "reviewer")
    assert again.returncode == 1
    assert "handle_taken" in again.stderr


def test_tampered_audit_entry_is_named(tmp_path: Path) -> None:
    import sqlite3

    assert create_staff(tmp_path, "adm1", "admin").returncode == 0
    assert create_staff(tmp_path, "adm2", "admin").returncode == 0
    with sqlite3.connect(tmp_path / "qunzu.db") as db:
        db.execute('UPDATE audit_log SET detail = \'{"role": "reviewer"}\' WHERE id = 1')
    result = run_cli("audit", "verify", data_dir=tmp_path)
    assert result.returncode == 1
    assert "BROKEN at entry 1" in result.stdout


def test_a_cut_log_is_reported_until_an_operator_seals_it_as_it_stands(tmp_path: Path) -> None:
    import sqlite3

    for handle in ("adm1", "adm2"):
        created = run_cli(
            "admin", "create-platform-user", handle, "--role", "admin", data_dir=tmp_path
        )
        assert created.returncode == 0, created.stderr
    with sqlite3.connect(tmp_path / "qunzu.db") as db:
        db.execute("DELETE FROM audit_log WHERE id = 2")
    cut = run_cli("audit", "verify", data_dir=tmp_path)
    assert cut.returncode == 1
    assert "entries missing at the end" in cut.stdout
    assert "1 entries verified; the head says 2" in cut.stdout
    sealed = run_cli("audit", "seal", data_dir=tmp_path)
    assert sealed.returncode == 0, sealed.stderr
    assert "audit head sealed at 2 entries" in sealed.stdout  # adm1's, and the failed check's
    assert run_cli("audit", "verify", data_dir=tmp_path).returncode == 0


def test_retention_purge_counts_on_a_dry_run_and_runs_as_a_job(tmp_path: Path) -> None:
    import json

    dry = run_cli("retention", "purge", "--dry-run", data_dir=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {
        "dry_run": True,
        "would_purge": {"evidence": 0, "audit": 0, "identity": 0},
        "held": {},
    }
    done = run_cli("retention", "purge", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"dry_run": False, "evidence": 0, "audit": 0, "identity": 0}
    verify = run_cli("audit", "verify", data_dir=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr  # the job's entry fits
