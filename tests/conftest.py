"""Shared fixtures: a real server per test module, a frozen clock, and the SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from qunzu.client import QunzuClient
from qunzu.domain.clock import FrozenClock
from tests.factories import make_user
from tests.server import ServerThread, test_settings

# Property tests judge results, not speed: on a loaded 2-core machine one example can take
# longer than Hypothesis's default 200 ms deadline, and speed belongs to bench/.
settings.register_profile("qunzu", deadline=None)
settings.load_profile("qunzu")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data_dir: Path = tmp_path_factory.mktemp("qunzu")
    thread = ServerThread(test_settings(data_dir)).start()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def clocked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A server whose clock only moves when a test moves it."""
    data_dir: Path = tmp_path_factory.mktemp("qunzu-clock")
    thread = ServerThread(test_settings(data_dir), clock=FrozenClock()).start()
    yield thread
    thread.stop()


@pytest.fixture
async def alice(server: ServerThread) -> AsyncIterator[QunzuClient]:
    client = await make_user(server.url, prefix="alice", display_name="Alice")
    yield client
    await client.aclose()


@pytest.fixture
async def bob(server: ServerThread) -> AsyncIterator[QunzuClient]:
    client = await make_user(server.url, prefix="bob", display_name="Bob")
    yield client
    await client.aclose()


@pytest.fixture
async def anon(server: ServerThread) -> AsyncIterator[QunzuClient]:
    client = QunzuClient(server.url)
    yield client
    await client.aclose()
