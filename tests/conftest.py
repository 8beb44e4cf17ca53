"""Shared fixtures: a real server per test module, a frozen clock, and the personas."""

from __future__ import annotations

from hypothesis import settings

from qunzu.domain.clock import FrozenClock
from tests.factories import crowd, persona
from tests.server import module_server

# Property tests judge results, not speed: on a loaded 2-core machine one example can take
# longer than Hypothesis's default 200 ms deadline, and speed belongs to bench/.
settings.register_profile("qunzu", deadline=None)
settings.load_profile("qunzu")

server = module_server("qunzu")
# A server whose clock only moves when a test moves it.
clocked_server = module_server("qunzu-clock", clock=FrozenClock)
alice = persona("alice", "Alice")
bob = persona("bob", "Bob")
carol = persona("carol", "Carol")
dave = persona("dave", "Dave")
anon = persona()
# Users and staff on the server with the frozen clock, made as a test needs them.
people = crowd("clocked_server")
