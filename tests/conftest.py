"""Shared fixtures: a real server per test module, a frozen clock, and the personas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qunzu.domain.clock import FrozenClock
from tests.factories import crowd, persona
from tests.server import ServerThread, test_settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(test_settings(tmp_path_factory.mktemp("qunzu"))) as thread:
        yield thread


@pytest.fixture(scope="module")
def clocked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A server whose clock only moves when a test moves it."""
    settings = test_settings(tmp_path_factory.mktemp("qunzu-clock"))
    with ServerThread(settings, clock=FrozenClock()) as thread:
        yield thread


alice = persona("alice", "Alice")
bob = persona("bob", "Bob")
carol = persona("carol", "Carol")
dave = persona("dave", "Dave")
anon = persona()
# Users and staff on the server with the frozen clock, made as a test needs them.
people = crowd("clocked_server")
