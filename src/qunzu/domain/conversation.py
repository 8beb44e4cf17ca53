"""Conversation rules: replies and their quotes, @mentions and @all, recall, pinned
messages and per-group nicknames (群昵称).

Pure decisions over values the services read; the numbers (recall window, daily @all
uses, pins per group, nickname length) come from the rulebook's ``[conversation]``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from qunzu.domain.models import EntryKind, TimelineEntry
from qunzu.domain.text import TextKind, text_problem

# In a mention row, "every member" (@all): counted for each member without a row each.
ALL_MEMBERS = 0
# Mention counts stop here (clients show "999+"), so reading the counts costs the same
# however many mentions a member left unread: a bounded index range, never a scan.
MENTION_COUNT_CAP = 999


@dataclass(frozen=True, slots=True)
class ConversationPolicy:
    recall_window_seconds: int = 120
    recalled_retention_days: int = 180
    mention_all_per_day: int = 3
    max_mentions: int = 50
    pins_per_group: int = 10
    nickname_max_chars: int = 32
    excerpt_chars: int = 60

    @property
    def recall_window(self) -> timedelta:
        return timedelta(seconds=self.recall_window_seconds)


def is_recalled(entry: TimelineEntry) -> bool:
    return "recalled" in entry.data


def is_withdrawn(entry: TimelineEntry) -> bool:
    """Removed by a manager or recalled by its sender: its text is no longer shown."""
    return entry.body is None


def quote_of(original: TimelineEntry | None, policy: ConversationPolicy) -> dict[str, object]:
    """What a reply shows of its original: author and a short excerpt, or a placeholder
    (``state`` "recalled", "removed" or "unavailable") that never carries the content."""
    if original is None or original.kind is not EntryKind.message:
        return {"state": "unavailable"}
    base: dict[str, object] = {"seq": original.seq, "sender_id": original.sender_id}
    if is_recalled(original):
        return {**base, "state": "recalled"}
    if original.body is None:
        return {**base, "state": "removed"}
    text = " ".join(original.body.split())
    if len(text) > policy.excerpt_chars:
        text = text[: policy.excerpt_chars - 1] + "…"
    return {**base, "state": "shown", "excerpt": text}


def check_reply_target(
    original: TimelineEntry | None, window: tuple[int, int], group_id: int
) -> TimelineEntry:
    """A reply names a message of the same group inside the sender's visible window."""
    first, last = window
    if (
        original is None
        or original.group_id != group_id
        or original.kind is not EntryKind.message
        or not first <= original.seq <= last
    ):
        raise NotFound("reply_target_not_found", "No such message in your view of this group.")
    if is_withdrawn(original):
        raise Conflict("reply_target_withdrawn", "That message was removed or recalled.")
    return original


def check_mention_list(
    mentions: list[int], sender_id: int, policy: ConversationPolicy
) -> tuple[int, ...]:
    """Distinct accounts, in order, without the sender; at most the rulebook's number."""
    out = tuple(dict.fromkeys(m for m in mentions if m != sender_id))
    if len(out) > policy.max_mentions:
        raise InvalidInput(
            "too_many_mentions",
            f"A message mentions at most {policy.max_mentions} members.",
            limit=policy.max_mentions,
        )
    return out


def check_mentions_are_members(mentions: tuple[int, ...], members: set[int]) -> None:
    missing = [m for m in mentions if m not in members]
    if missing:
        raise InvalidInput(
            "mention_not_member",
            "Only current members of the group can be mentioned.",
            accounts=missing,
        )


def check_mention_all(may: bool, used_today: int, policy: ConversationPolicy) -> None:
    if not may:
        raise Forbidden(
            "right_required",
            "@all needs the owner or an admin with the right.",
            right="mention_all",
        )
    if used_today >= policy.mention_all_per_day:
        raise Conflict(
            "mention_all_limit",
            f"@all is used at most {policy.mention_all_per_day} times a day in a group.",
            limit=policy.mention_all_per_day,
        )


def check_recall(
    entry: TimelineEntry | None, actor_id: int, now: datetime, policy: ConversationPolicy
) -> TimelineEntry:
    if entry is None or entry.kind is not EntryKind.message:
        raise NotFound("message_not_found", "No such message in this group.")
    if entry.sender_id != actor_id:
        raise Forbidden("not_your_message", "Only its sender recalls a message.")
    if is_recalled(entry):
        raise Conflict("message_already_recalled", "This message was already recalled.")
    if entry.body is None:
        raise Conflict("message_already_removed", "This message was already removed.")
    if now - entry.created_at > policy.recall_window:
        raise Conflict(
            "recall_window_passed",
            f"A message can be recalled within {policy.recall_window_seconds} seconds.",
            seconds=policy.recall_window_seconds,
        )
    return entry


def check_pin(
    entry: TimelineEntry | None,
    window: tuple[int, int],
    pinned: list[int],
    policy: ConversationPolicy,
) -> TimelineEntry:
    first, last = window
    if entry is None or entry.kind is not EntryKind.message or not first <= entry.seq <= last:
        raise NotFound("message_not_found", "No such message in this group.")
    if is_withdrawn(entry):
        raise Conflict("message_withdrawn", "A removed or recalled message cannot be pinned.")
    if entry.seq in pinned:
        raise Conflict("already_pinned", "This message is already pinned.")
    if len(pinned) >= policy.pins_per_group:
        raise Conflict(
            "pin_limit",
            f"A group pins at most {policy.pins_per_group} messages.",
            limit=policy.pins_per_group,
        )
    return entry


def normalize_nickname(raw: str, policy: ConversationPolicy) -> str | None:
    """A group nickname is checked as display names are: spaces collapsed, no character of
    category C (controls, bidi overrides and other format characters); empty clears it."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        return None
    if (
        len(name) > policy.nickname_max_chars
        or text_problem(name, TextKind.line) is not None
        or any(unicodedata.category(ch).startswith("C") for ch in name)
    ):
        raise InvalidInput(
            "invalid_nickname",
            f"A group nickname is 1 to {policy.nickname_max_chars} characters of one line, "
            "with no control or bidirectional characters.",
        )
    return name
