"""May this person post here now: the one rule every send asks (Arts. 6, 8, 9, 11).

The message path reads everything it needs in one go (``PostingState``: group,
membership, owner controls, the sender's mute and last post, sanctions, the retry),
adds the sender's credit level and how many messages they sent in the last minute,
and asks ``can_post``. Each refusal keeps the stable code it always had; they are
tried in this order, so a sender meets the most fundamental one first:

1. ``group_not_found``: no such group, or one the sender may not know of;
2. identity and account (``identity_unverified``, ``account_disabled``), membership
   and role (``not_a_member``, ``not_permitted``), the group's state
   (``group_closed``, ``group_dissolved``), the group rules (``rules_not_accepted``);
3. platform sanctions (``blacklisted``, ``posting_suspended``; Art. 11);
4. owner controls, which bind members but not the owner and admins (Art. 9):
   ``group_unattended``, ``muted``, ``group_muted``, ``slow_mode``;
5. the credit level (Art. 8): ``credit_level_read_only``, then ``quota_exceeded``
   for ``messages_per_minute``.

The message itself (``check_message``) is judged before any of this, against the
rulebook's ``max_message_chars``: the one limit for HTTP and WebSocket sends alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, QuotaExceeded
from qunzu.domain.models import Account, Group, Membership, TimelineEntry
from qunzu.domain.owner_tools import GroupControls
from qunzu.domain.permissions import check_can_post, check_visible
from qunzu.domain.quotas import check_quota
from qunzu.domain.rulebook import Rulebook
from qunzu.domain.sanctions import Sanction, SanctionedPath, check_sanctions_allow
from qunzu.domain.text import check_text

_TXN_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")

# Last-activity times serve dormancy, attendance and the group view, all counted in days,
# so a sender's rapid messages write them at most once a minute per node. Slow mode
# needs the exact time of a member's last post.
ACTIVITY_WRITE_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class PostingState:
    """What a send needs to know about a group and a sender, read in one go.

    ``sanctions_in_force`` says whether some sanction on the group or on the sender is
    in force; only then are they read (``sanctions``), a rare second read.
    """

    group: Group
    membership: Membership | None
    controls: GroupControls
    mute_until: datetime | None  # the sender's mute here, if any (it may have run out)
    last_active_at: datetime | None  # the sender's last post here, for slow mode
    sanctions_in_force: bool
    previous: TimelineEntry | None  # the sender's entry with this client_txn_id, any group
    sanctions: tuple[Sanction, ...] = ()


@dataclass(frozen=True, slots=True)
class Sender:
    account: Account
    level: int  # credit level when the request began
    sent_last_minute: int  # their messages counted in the last minute (on this node)


@dataclass(frozen=True, slots=True)
class Posting:
    """A send the rules allow."""

    member: Membership
    exact_activity: bool  # slow mode is on: the sender's last post must be written exactly


def check_message(body: str, client_txn_id: str, book: Rulebook) -> None:
    """The message itself: some text, at most the rulebook's length, and a usable txn id."""
    if not body.strip():
        raise InvalidInput("empty_message", "A message needs some text.")
    limit = book.max_message_chars
    if len(body) > limit:
        raise InvalidInput(
            "message_too_long", f"A message is at most {limit} characters.", limit=limit
        )
    check_text(body, "body")
    if not _TXN_RE.fullmatch(client_txn_id):  # match() lets '$' pass a trailing newline
        raise InvalidInput(
            "invalid_client_txn_id",
            "client_txn_id is 1 to 64 characters of letters, digits and . _ : -",
        )


def check_retry(previous: TimelineEntry, group_id: int, body: str) -> None:
    """A send whose ``client_txn_id`` was used is a retry only if it is the same message."""
    if previous.group_id != group_id or previous.body != body:
        raise Conflict(
            "txn_id_reused", "This client_txn_id was already used for a different message."
        )


def can_post(state: PostingState | None, sender: Sender, book: Rulebook, now: datetime) -> Posting:
    """Allow the send (and say what it must record), or raise the refusal with its code.

    ``state`` is None when there is no such group."""
    group = check_visible(state.group if state else None, state.membership if state else None)
    assert state is not None  # check_visible refused a missing group
    member = check_can_post(sender.account, group, state.membership)
    manager = member.is_manager
    if state.sanctions:
        check_sanctions_allow(
            SanctionedPath.post, list(state.sanctions), sender.account.id, group.id, manager
        )
    if not manager:  # a returning owner or admin may speak; the next sweep sees them back
        _check_controls(state, now)
    _check_credit(sender, book)
    return Posting(member, exact_activity=state.controls.slow_mode_seconds > 0)


def _check_controls(state: PostingState, now: datetime) -> None:
    controls = state.controls
    if controls.read_only_since is not None:
        raise Forbidden(
            "group_unattended", "This group is read-only until someone takes ownership."
        )
    until = state.mute_until
    if until is not None and until > now:
        raise Forbidden(
            "muted", f"You are muted here until {until.isoformat()}.", until=until.isoformat()
        )
    if controls.mute_all:
        raise Forbidden("group_muted", "Only the owner and admins may post right now.")
    slow = controls.slow_mode_seconds
    last = state.last_active_at
    if slow and last is not None and now - last < timedelta(seconds=slow):
        wait = slow - int((now - last).total_seconds())
        raise QuotaExceeded(
            "slow_mode", f"Slow mode: wait {wait} s before posting again.", retry_after=wait
        )


def _check_credit(sender: Sender, book: Rulebook) -> None:
    policy = book.credit
    level = policy.level(sender.level)
    if not level.can_post:
        raise Forbidden(
            "credit_level_read_only",
            f"Credit level {sender.level} ({level.name.en}) reads only; see GET /v1/me/credit.",
            level=sender.level,
        )
    check_quota(
        "messages_per_minute",
        sender.sent_last_minute,
        level.quotas.messages_per_minute,
        sender.level,
        policy,
    )


def activity_write_due(last_written: datetime | None, now: datetime, exact: bool) -> bool:
    """Whether a post must write the sender's last activity (see ACTIVITY_WRITE_INTERVAL)."""
    if exact or last_written is None:
        return True
    return not timedelta(0) <= now - last_written < ACTIVITY_WRITE_INTERVAL
