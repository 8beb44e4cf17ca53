"""The owner's duty of care (群主责任, Art. 9; P7) and the liability assessment.

"谁建群、谁负责": whoever builds a group answers for it, but only for what they could
and should have done. For each upheld violation, the standing of the owner and of
each admin is a pure function of the group's duty-of-care ledger and the rulebook's
response window, and it lists its evidence as a timeline:

- ``liable_participation``: they posted (or endorsed) the violating content;
- ``exempt_reported``: they reported it to the platform or the authorities;
- ``exempt_no_notice``: no report or warning reached them and no read cursor shows
  they saw it;
- ``exempt_acted``: an adequate action (remove the message, mute or remove the
  sender, mute the whole group for a report of the group, report up) within the
  window after notice;
- ``pending``: notice came, the window is still open;
- ``liable_inaction``: notice at t1 and no adequate action by t1 + window
  (as in the Guangzhou Internet Court's 2021 residents'-group case).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.credit import CreditReason
from qunzu.domain.rulebook import CreditInputs


class DutyEventKind(StrEnum):
    rules_published = "rules_published"
    rules_changed = "rules_changed"
    notice_received = "notice_received"  # a member report or a platform warning reached them
    message_read = "message_read"  # their read cursor passed a seq
    message_removed = "message_removed"
    member_muted = "member_muted"
    member_removed = "member_removed"
    group_muted = "group_muted"  # mute all (全员禁言) switched on
    reported_up = "reported_up"  # to the platform
    referred = "referred"  # to the authorities
    posted = "posted"
    endorsed = "endorsed"


ADEQUATE_ACTIONS = frozenset(
    {
        DutyEventKind.message_removed,
        DutyEventKind.member_muted,
        DutyEventKind.member_removed,
        DutyEventKind.group_muted,
        DutyEventKind.reported_up,
        DutyEventKind.referred,
    }
)


class Standing(StrEnum):
    exempt_acted = "exempt_acted"
    exempt_reported = "exempt_reported"
    exempt_no_notice = "exempt_no_notice"
    pending = "pending"
    liable_inaction = "liable_inaction"
    liable_participation = "liable_participation"


ARTICLES = {
    Standing.exempt_acted: ("art-9",),
    Standing.exempt_reported: ("art-9", "art-12"),
    Standing.exempt_no_notice: ("art-9",),
    Standing.pending: ("art-9",),
    Standing.liable_inaction: ("art-9", "art-11"),
    Standing.liable_participation: ("art-10", "art-11"),
}


@dataclass(frozen=True, slots=True)
class DutyEvent:
    """One line of a group's append-only duty-of-care ledger."""

    at: datetime
    kind: DutyEventKind
    account_id: int  # whose act or whose notice
    seq: int | None = None  # the message concerned, when there is one
    subject_id: int | None = None  # the member acted upon
    case_id: int | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Incident:
    """An upheld violation: the message (or member) and when it happened."""

    group_id: int
    at: datetime
    sender_id: int | None
    seq: int | None = None
    case_id: int | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    account_id: int
    standing: Standing
    notice_at: datetime | None
    deadline: datetime | None
    articles: tuple[str, ...]
    timeline: tuple[DutyEvent, ...] = field(default_factory=tuple)


def _concerns(event: DutyEvent, incident: Incident) -> bool:
    if incident.case_id is not None and event.case_id == incident.case_id:
        return True
    if incident.seq is not None and event.seq == incident.seq:
        return True
    return (
        event.kind in (DutyEventKind.member_muted, DutyEventKind.member_removed)
        and incident.sender_id is not None
        and event.subject_id == incident.sender_id
    )


def assess(
    account_id: int,
    incident: Incident,
    ledger: Iterable[DutyEvent],
    window: timedelta,
    now: datetime,
) -> Assessment:
    """The standing of one owner or admin for one incident."""
    mine = sorted((e for e in ledger if e.account_id == account_id), key=lambda e: e.at)
    relevant: list[DutyEvent] = []
    notice_at: datetime | None = None
    for e in mine:
        if e.at < incident.at and e.kind is not DutyEventKind.posted:
            continue
        if e.kind in (DutyEventKind.posted, DutyEventKind.endorsed) and e.seq == incident.seq:
            relevant.append(e)
            return Assessment(
                account_id,
                Standing.liable_participation,
                None,
                None,
                ARTICLES[Standing.liable_participation],
                tuple(relevant),
            )
        if e.kind is DutyEventKind.message_read and incident.seq is not None:
            if e.seq is not None and e.seq >= incident.seq:
                relevant.append(e)
                notice_at = e.at if notice_at is None else min(notice_at, e.at)
            continue
        if not _concerns(e, incident):
            continue
        relevant.append(e)
        if e.kind is DutyEventKind.notice_received:
            notice_at = e.at if notice_at is None else min(notice_at, e.at)
    if incident.sender_id == account_id:
        return Assessment(
            account_id,
            Standing.liable_participation,
            None,
            None,
            ARTICLES[Standing.liable_participation],
            tuple(relevant),
        )
    if any(e.kind in (DutyEventKind.reported_up, DutyEventKind.referred) for e in relevant):
        return Assessment(
            account_id,
            Standing.exempt_reported,
            notice_at,
            notice_at + window if notice_at is not None else None,
            ARTICLES[Standing.exempt_reported],
            tuple(relevant),
        )
    if notice_at is None:
        acted = [e for e in relevant if e.kind in ADEQUATE_ACTIONS]
        standing = Standing.exempt_acted if acted else Standing.exempt_no_notice
        return Assessment(account_id, standing, None, None, ARTICLES[standing], tuple(relevant))
    deadline = notice_at + window
    if any(e.kind in ADEQUATE_ACTIONS and e.at <= deadline for e in relevant):
        return Assessment(
            account_id,
            Standing.exempt_acted,
            notice_at,
            deadline,
            ARTICLES[Standing.exempt_acted],
            tuple(relevant),
        )
    standing = Standing.pending if now <= deadline else Standing.liable_inaction
    return Assessment(
        account_id, standing, notice_at, deadline, ARTICLES[standing], tuple(relevant)
    )


def acted_in_time(a: Assessment) -> bool:
    """Whether the standing earns the credit for acting in time: an adequate action within
    the window, or a report up made before the window closed (or with no notice at all)."""
    if a.standing is Standing.exempt_acted:
        return True
    if a.standing is not Standing.exempt_reported:
        return False
    reports = [
        e for e in a.timeline if e.kind in (DutyEventKind.reported_up, DutyEventKind.referred)
    ]
    return a.deadline is None or any(e.at <= a.deadline for e in reports)


def manager_credit(a: Assessment, inputs: CreditInputs) -> tuple[int, CreditReason] | None:
    """The credit an upheld violation brings a manager: ``owner_acted_in_time`` for acting
    in time, ``owner_liable`` for inaction or participation, nothing otherwise. The caller
    passes the inputs of the version in force when the conduct happened (P3)."""
    if acted_in_time(a):
        return inputs.owner_acted_in_time, CreditReason.owner_acted_in_time
    if a.standing in (Standing.liable_inaction, Standing.liable_participation):
        return inputs.owner_liable, CreditReason.owner_liable
    return None
