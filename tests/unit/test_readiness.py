"""/readyz decides from three checks: the database answers, its schema is current, the bus
answers. A stand-in for the app lets each check fail on its own."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from qunzu.api import readiness
from qunzu.api.readiness import Readiness
from qunzu.bootstrap import App
from qunzu.storage.health import SchemaState


class StubBus:
    def __init__(self) -> None:
        self.up = True
        self.pings = 0

    async def ping(self) -> None:
        self.pings += 1
        if not self.up:
            raise ConnectionError("bus down")


class StubApp:
    def __init__(self) -> None:
        self.bus = StubBus()
        self.database_up = True
        self.database_hangs = False
        self.schema = SchemaState("0011", "0011", True)
        self.schema_reads = 0

    async def ping_database(self) -> None:
        if self.database_hangs:
            await asyncio.sleep(3600)
        if not self.database_up:
            raise ConnectionRefusedError(111, "refused")

    async def schema_state(self) -> SchemaState:
        self.schema_reads += 1
        return self.schema


@pytest.fixture(autouse=True)
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "CACHE_SECONDS", 0.0)


def probe(app: StubApp) -> Readiness:
    return Readiness(cast(App, app))


async def test_ready_when_database_schema_and_bus_answer() -> None:
    ready, checks = await probe(StubApp()).check()
    assert ready
    assert {name: c["ok"] for name, c in checks.items()} == {
        "database": True,
        "migrations": True,
        "bus": True,
    }
    assert (checks["migrations"]["current"], checks["migrations"]["head"]) == ("0011", "0011")


async def test_a_database_that_refuses_fails_database_and_skips_migrations() -> None:
    app = StubApp()
    app.database_up = False
    ready, checks = await probe(app).check()
    assert not ready
    assert checks["database"] == {"ok": False, "error": "ConnectionRefusedError"}
    assert not checks["migrations"]["ok"]
    assert checks["bus"]["ok"]
    assert app.schema_reads == 0


async def test_a_database_that_does_not_answer_fails_within_the_check_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(readiness, "CHECK_TIMEOUT", 0.05)
    app = StubApp()
    app.database_hangs = True
    ready, checks = await asyncio.wait_for(probe(app).check(), 1.0)
    assert not ready
    assert checks["database"]["error"] == "no answer within 0.05s"


async def test_pending_migrations_fail_migrations_only() -> None:
    app = StubApp()
    app.schema = SchemaState("0006", "0011", True)
    ready, checks = await probe(app).check()
    assert not ready
    assert [name for name, c in checks.items() if not c["ok"]] == ["migrations"]


async def test_a_database_migrated_past_this_code_is_ready_with_a_note() -> None:
    app = StubApp()
    app.schema = SchemaState("0099", "0011", known=False)
    ready, checks = await probe(app).check()
    assert ready
    assert "newer revision" in checks["migrations"]["note"]


async def test_a_bus_that_does_not_answer_fails_bus_only() -> None:
    app = StubApp()
    app.bus.up = False
    ready, checks = await probe(app).check()
    assert not ready
    assert [name for name, c in checks.items() if not c["ok"]] == ["bus"]


async def test_a_current_schema_is_read_once_while_failures_are_read_again() -> None:
    app = StubApp()
    app.schema = SchemaState("0006", "0011", True)
    ready_probe = probe(app)
    await ready_probe.check()
    await ready_probe.check()
    assert app.schema_reads == 2  # not current: asked again each time
    app.schema = SchemaState("0011", "0011", True)
    for _ in range(3):
        ready, _checks = await ready_probe.check()
        assert ready
    assert app.schema_reads == 3  # current: kept for SCHEMA_CACHE_SECONDS


async def test_answers_are_reused_for_a_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "CACHE_SECONDS", 60.0)
    app = StubApp()
    ready_probe = probe(app)
    first: Any = await ready_probe.check()
    app.bus.up = False
    assert await ready_probe.check() == first
    assert app.bus.pings == 1
