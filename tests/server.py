"""A real qunzu server on a free local port, in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import uvicorn

from qunzu.api import create_app
from qunzu.config import Settings
from qunzu.domain.clock import FrozenClock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: cheap argon2 so logins do not dominate the suite."""
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": data_dir,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class ServerThread:
    def __init__(self, settings: Settings, clock: FrozenClock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.port = free_port()
        self.app = create_app(settings, clock=clock)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
            ws_max_size=2**20,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("qunzu test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
