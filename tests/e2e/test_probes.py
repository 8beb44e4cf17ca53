"""Liveness and readiness on a real server (SQLite, memory bus): both 200 when all is well."""

from __future__ import annotations

from qunzu.client import QunzuClient


async def test_healthz_says_the_process_is_alive(anon: QunzuClient) -> None:
    assert (await anon.request("GET", "/healthz")).json()["status"] == "ok"


async def test_readyz_is_200_with_each_check_when_database_schema_and_bus_are_fine(
    anon: QunzuClient,
) -> None:
    answer = (await anon.request("GET", "/readyz")).json()
    assert answer["status"] == "ready"
    checks = answer["checks"]
    assert {name: check["ok"] for name, check in checks.items()} == {
        "database": True,
        "migrations": True,
        "bus": True,
    }
    assert checks["migrations"]["current"] == checks["migrations"]["head"] is not None
