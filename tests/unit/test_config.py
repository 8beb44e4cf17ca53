"""Settings: what the SQLite URL and mode say must be what runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from qunzu.config import Settings


def test_the_default_database_is_sqlite_without_a_driver_named(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'qunzu.db'}"
    assert settings.sqlite_mode == "on-loop"


@pytest.mark.parametrize(
    ("url", "mode"),
    [
        ("sqlite:///x.db", "on-loop"),
        ("sqlite:///x.db", "thread"),
        ("sqlite+pysqlite:///x.db", "on-loop"),
        ("sqlite+aiosqlite:///x.db", "thread"),
        ("postgresql+asyncpg://db/qunzu", "on-loop"),
    ],
)
def test_a_url_that_agrees_with_the_mode_is_taken(url: str, mode: str) -> None:
    assert Settings(database_url=url, sqlite_mode=mode).database_url == url  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "mode"),
    [("sqlite+aiosqlite:///x.db", "on-loop"), ("sqlite+pysqlite:///x.db", "thread")],
)
def test_a_url_naming_the_other_modes_driver_is_refused(url: str, mode: str) -> None:
    with pytest.raises(ValidationError, match="QUNZU_SQLITE_MODE"):
        Settings(database_url=url, sqlite_mode=mode)  # type: ignore[arg-type]


def test_the_websocket_implementation_is_named_not_auto() -> None:
    assert Settings().ws_protocol == "websockets-sansio"
    with pytest.raises(ValidationError):
        Settings(ws_protocol="auto")  # type: ignore[arg-type]


def test_production_refuses_the_development_sms_sender() -> None:
    with pytest.raises(ValidationError, match="QUNZU_SMS_SENDER"):
        Settings(environment="production", identity_key="a" * 44)
    taken = Settings(environment="production", identity_key="a" * 44, sms_sender="x:Y")
    assert taken.sms_sender == "x:Y"


def test_the_throttle_settings_become_frozen_rules() -> None:
    throttles = Settings(throttle_login_account=7, throttle_login_window_minutes=30).throttles
    assert throttles.login_account.free == 7
    assert throttles.login_account.window.total_seconds() == 1800
    with pytest.raises(AttributeError):
        throttles.login_account.free = 1  # type: ignore[misc]


def test_the_server_warns_at_start_up_that_the_sms_sender_only_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from qunzu.bootstrap import build

    with caplog.at_level("WARNING", logger="qunzu.bootstrap"):
        build(Settings(data_dir=tmp_path, environment="test"))
    assert "for development only" in caplog.text.lower()


def test_the_compression_offer_is_on_or_off() -> None:
    assert Settings().ws_deflate == "on"
    assert Settings(ws_deflate="off").ws_deflate == "off"
    with pytest.raises(ValidationError):
        Settings(ws_deflate="context")  # type: ignore[arg-type]
