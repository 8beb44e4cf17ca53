"""What every service function receives, and the transaction helper.

``transaction`` opens a unit of work, yields it, commits when the block ends
without error, and only then publishes the events the block collected (as
Zulip's ``send_event_on_commit`` does): no event ever describes a rolled-back
change.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from qunzu.bus.base import EventBus
from qunzu.domain.agreement import AgreementSet, parse_agreements
from qunzu.domain.clock import Clock
from qunzu.domain.events import AccountNotified, Event, TimelineAppended
from qunzu.domain.quotas import SlidingWindow
from qunzu.domain.rulebook import RulebookSet
from qunzu.services.ports import UnitOfWork, UnitOfWorkFactory
from qunzu.services.wire import entry_to_wire


class FieldCipherLike(Protocol):
    def encrypt(self, plaintext: str, context: str) -> str: ...
    def decrypt(self, token: str, context: str) -> str: ...
    def blind_index(self, value: str) -> str: ...


class PasswordHasherLike(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Service limits from settings (the rulebook takes over the governance ones later)."""

    max_message_chars: int = 4000
    history_page_max: int = 200
    token_ttl_hours: int = 24 * 30
    invitation_ttl_days: int = 7
    max_accounts_per_identity: int = 3
    ws_catchup_page: int = 500


class Observer(Protocol):
    def message_sent(self) -> None: ...


class _NoObserver:
    def message_sent(self) -> None:
        return None


def _default_rulebooks() -> RulebookSet:
    from qunzu.policy import load_rulebooks

    return load_rulebooks()


def _default_agreements() -> AgreementSet:
    from importlib.resources import files

    text = files("qunzu.policies").joinpath("agreement.toml").read_text("utf-8")
    return parse_agreements(text, "agreement.toml")


@dataclass
class ServiceContext:
    uow: UnitOfWorkFactory
    bus: EventBus
    clock: Clock
    cipher: FieldCipherLike
    hasher: PasswordHasherLike
    verifier: Any  # IdentityVerifier; typed in services.identity to avoid a cycle
    limits: Limits = field(default_factory=Limits)
    observer: Observer = field(default_factory=_NoObserver)
    run_blocking: Callable[..., Any] = field(default=asyncio.to_thread)
    rulebooks: RulebookSet = field(default_factory=_default_rulebooks)
    agreements: AgreementSet = field(default_factory=_default_agreements)
    message_rate: SlidingWindow = field(default_factory=lambda: SlidingWindow(timedelta(minutes=1)))
    active_days_seen: set[tuple[int, str]] = field(default_factory=set)
    # (group, account) -> when this node last wrote their activity (governance.note_activity)
    activity_noted: dict[tuple[int, int], datetime] = field(default_factory=dict)


def encode_event(event: Event) -> bytes:
    if isinstance(event, TimelineAppended):
        return json.dumps({"type": "event", **entry_to_wire(event.entry)}).encode()
    if isinstance(event, AccountNotified):
        return json.dumps(
            {"type": "notice", "kind": event.kind, "recipient": event.account_id, **event.data}
        ).encode()
    raise TypeError(f"cannot encode {event!r}")


@asynccontextmanager
async def transaction(ctx: ServiceContext, *, write: bool = True) -> AsyncIterator[UnitOfWork]:
    uow = ctx.uow(write=write)
    async with uow:
        yield uow
        if write:
            await uow.commit()
    for event in uow.events:
        await ctx.bus.publish(event.topic, encode_event(event))
