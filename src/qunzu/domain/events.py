"""Past-tense events, collected during a unit of work and published after commit."""

from __future__ import annotations

from dataclasses import dataclass

from qunzu.domain.models import TimelineEntry


@dataclass(frozen=True, slots=True)
class TimelineAppended:
    """A new entry in a group's timeline: a message or a member/rules/state change.

    Delivered over WebSocket to every member of the group, and to the subject of a
    removal (so they learn why the group went quiet).
    """

    entry: TimelineEntry
    extra_recipients: tuple[int, ...] = ()

    @property
    def topic(self) -> str:
        return group_topic(self.entry.group_id)


@dataclass(frozen=True, slots=True)
class AccountNotified:
    """A per-account notice: an invitation, an ownership offer, a decided join request."""

    account_id: int
    kind: str
    data: dict[str, object]

    @property
    def topic(self) -> str:
        return account_topic(self.account_id)


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """A token stopped being valid before it expired (logged out, revoked): every live
    stream that uses it, on every node, must close. ``token_id`` None means every token
    of the account (the account was disabled). ``reason`` is the error code a new
    request with the token would get (``token_revoked``, ``account_disabled``)."""

    account_id: int
    token_id: int | None
    reason: str

    @property
    def topic(self) -> str:
        # Every stream of the account already hears this topic: no subscription to add.
        return account_topic(self.account_id)


Event = TimelineAppended | AccountNotified | SessionEnded


def group_topic(group_id: int) -> str:
    return f"group.{group_id}"


def account_topic(account_id: int) -> str:
    return f"account.{account_id}"
