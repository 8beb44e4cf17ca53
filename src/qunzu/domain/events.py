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


Event = TimelineAppended | AccountNotified


def group_topic(group_id: int) -> str:
    return f"group.{group_id}"


def account_topic(account_id: int) -> str:
    return f"account.{account_id}"
