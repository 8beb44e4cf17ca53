"""A real qunzu server on a free local port, in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from qunzu.api import create_app
from qunzu.api.ws_protocol import uvicorn_ws_options
from qunzu.config import Settings
from qunzu.domain.clock import FrozenClock
from tests.rulebooks import write_generous_rulebook, write_rulebook

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: cheap argon2 so logins do not dominate the suite, the
    generous test rulebook (pass ``rulebook_files=[]`` for the real default), and no
    job schedule (a test about the jobs passes ``jobs=True``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": data_dir,
        "rulebook_files": [write_generous_rulebook(data_dir)],
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
        "jobs": False,
        # Every test client is 127.0.0.1: per-address throttles would couple the tests.
        # Tests of the throttles set their own.
        "throttle_login_address": 100_000,
        "throttle_signup_address_per_hour": 100_000,
        "throttle_reset_address_per_hour": 100_000,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


class ServerThread:
    def __init__(self, settings: Settings, clock: FrozenClock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.port = free_port()
        self.app = create_app(settings, clock=clock)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **uvicorn_ws_options(settings.ws_protocol, settings.ws_deflate),
            ws_max_size=2**20,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    def call(self, coro_factory: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        """Run ``coro_factory()`` on the server's own event loop and wait for its result.

        For reaching into the running app (``self.app.state.qunzu.ctx``) from a test,
        e.g. to create a platform admin through ``services`` before there is a CLI.
        """
        if self.loop is None:
            raise RuntimeError("the server is not running")

        async def run() -> T:
            return await coro_factory()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    async def acall(self, coro_factory: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        """``call`` for async tests: awaits without blocking the test's own event loop."""
        if self.loop is None:
            raise RuntimeError("the server is not running")

        async def run() -> T:
            return await coro_factory()

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

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

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def module_server(
    name: str,
    *,
    clock: Callable[[], FrozenClock] | None = None,
    rulebooks: Callable[[], dict[str, str]] | None = None,
    **overrides: object,
) -> Any:
    """A module-scoped fixture: a server on a fresh data directory named after ``name``.

    ``clock`` makes the clock the tests move; ``rulebooks`` gives the rulebook files to
    load (file name to text, in that order) instead of the generous test copy.
    """

    @pytest.fixture(scope="module")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
        data_dir = tmp_path_factory.mktemp(name)
        values = dict(overrides)
        if rulebooks is not None:
            files = [write_rulebook(data_dir, file, text) for file, text in rulebooks().items()]
            values["rulebook_files"] = files
        with ServerThread(test_settings(data_dir, **values), clock and clock()) as thread:
            yield thread

    return server
