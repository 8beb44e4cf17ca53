"""What every service function receives, and the transaction helper.

``transaction`` opens a unit of work, yields it, commits when the block ends
without error, and only then publishes the events the block collected (as
Zulip's ``send_event_on_commit`` does): no event ever describes a rolled-back
change.

The bus is at-most-once: once the commit is done, the change stands whether or
not its event reaches the bus. A failed publish is therefore counted
(``Observer.publish_failed``) and logged, never raised: the request that made the
change still succeeds, and live streams repair the gap from storage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from qunzu.bus.base import EventBus
from qunzu.domain.agreement import AgreementSet, parse_agreements
from qunzu.domain.clock import Clock
from qunzu.domain.events import AccountNotified, Event, SessionEnded, TimelineAppended
from qunzu.domain.quotas import SlidingWindow
from qunzu.domain.rulebook import RulebookSet
from qunzu.domain.second_factor import RelyingParty, SecondFactorPolicy
from qunzu.domain.throttle import MemoryThrottleStore, Throttles, ThrottleStore
from qunzu.services.credentials import HashGate
from qunzu.services.ports import AttachmentWiring, UnitOfWork, UnitOfWorkFactory
from qunzu.services.wire import entry_to_wire

log = logging.getLogger("qunzu.bus")
# While the bus is down every send fails to publish: one log line per this many seconds.
PUBLISH_FAILURE_LOG_SECONDS = 10.0


class FieldCipherLike(Protocol):
    def encrypt(self, plaintext: str, context: str) -> str: ...
    def decrypt(self, token: str, context: str) -> str: ...
    def blind_index(self, value: str) -> str: ...
    def blind_indexes(self, value: str) -> tuple[str, ...]: ...
    def is_current(self, token: str) -> bool: ...
    def seal(self, message: str) -> str: ...
    def sign(self, data: bytes) -> bytes: ...
    def signing_public_key(self) -> bytes: ...


class PasswordHasherLike(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Service limits from settings (the rulebook takes over the governance ones later)."""

    history_page_max: int = 200
    token_ttl_hours: int = 24 * 30
    invitation_ttl_days: int = 7
    max_accounts_per_identity: int = 3
    ws_catchup_page: int = 500


class Observer(Protocol):
    def message_sent(self) -> None: ...
    def publish_failed(self) -> None: ...


class _NoObserver:
    def message_sent(self) -> None:
        return None

    def publish_failed(self) -> None:
        return None


class _FailureLog:
    """Logs the first publish failure in full, then a count every few seconds."""

    def __init__(self) -> None:
        self.unlogged = 0
        self.logged_at = -PUBLISH_FAILURE_LOG_SECONDS

    def failed(self, topic: str, exc: BaseException) -> None:
        self.unlogged += 1
        now = time.monotonic()
        if now - self.logged_at < PUBLISH_FAILURE_LOG_SECONDS:
            return
        log.warning(
            "bus publish failed (%d since the last report; latest on %s): %s; the change is "
            "committed and live streams will fill the gap from storage",
            self.unlogged,
            topic,
            exc,
            exc_info=exc if self.logged_at < 0 else None,
        )
        self.unlogged, self.logged_at = 0, now


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
    # searches per account in the last minute on this node (services/search.py)
    search_rate: SlidingWindow = field(default_factory=lambda: SlidingWindow(timedelta(minutes=1)))
    active_days_seen: set[tuple[int, str]] = field(default_factory=set)
    # (group, account) -> when this node last wrote their activity (messaging._note_activity)
    activity_noted: dict[tuple[int, int], datetime] = field(default_factory=dict)
    publish_failures: _FailureLog = field(default_factory=_FailureLog)
    # Uploads (services/attachments.py); None where nothing wires them (most unit tests).
    attachments: AttachmentWiring | None = None
    # Account security: throttles and their counters, the bound on password hashing, the
    # SMS sender of reset codes (SmsSender in services/passwords.py; None: not configured).
    throttles: Throttles = field(default_factory=Throttles)
    throttle_store: ThrottleStore = field(default_factory=MemoryThrottleStore)
    hash_gate: HashGate = field(default_factory=HashGate)
    sms: Any = None
    reset_code_ttl: timedelta = timedelta(minutes=10)
    second_factor: SecondFactorPolicy = field(default_factory=SecondFactorPolicy)
    relying_party: RelyingParty = field(default_factory=RelyingParty)
    # Called in the unit of work that removes or recalls a message, so an index (search)
    # drops it in the same transaction: hook(uow, group_id, seq). See services/threads.py.
    message_withdrawn_hooks: list[Callable[[UnitOfWork, int, int], Awaitable[None]]] = field(
        default_factory=list
    )


def encode_event(event: Event) -> bytes:
    if isinstance(event, TimelineAppended):
        return json.dumps({"type": "event", **entry_to_wire(event.entry)}).encode()
    if isinstance(event, AccountNotified):
        return json.dumps(
            {"type": "notice", "kind": event.kind, "recipient": event.account_id, **event.data}
        ).encode()
    if isinstance(event, SessionEnded):
        # Not for clients: the hub of each node acts on it (api/sessions.py).
        return json.dumps(
            {
                "type": "session_ended",
                "account_id": event.account_id,
                "token_id": event.token_id,
                "reason": event.reason,
            }
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
        try:
            await ctx.bus.publish(event.topic, encode_event(event))
        except Exception as exc:  # committed: the change stands, only its live copy is lost
            ctx.observer.publish_failed()
            ctx.publish_failures.failed(event.topic, exc)
