"""Retention and purge (Art. 13; PIPL article 19): what may go, and what holds it.

Every data class has a period from the rulebook's ``[retention]`` (never under the legal
minimum: the rulebook check refuses it). Past its period a record goes, unless a legal
hold covers it: an open case, an appeal window still open, a sanction in force, an
appeal waiting for a decision, or an approved request from the authorities whose scope
names the group or account and whose period covers the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.cases import Case
from qunzu.domain.lawful_access import AccessRequest
from qunzu.domain.sanctions import Appeal, AppealState, Sanction


class PurgeClass(StrEnum):
    """The data classes the purge engine handles (services.retention)."""

    evidence = "evidence"  # copies of messages kept in closed cases (removed content too)
    audit = "audit"  # audit entries; a sealed checkpoint keeps the chain verifiable
    identity = "identity"  # identity ciphertexts of deleted accounts


class Hold(StrEnum):
    open_case = "open_case"
    appeal_window = "appeal_window"
    sanction_in_force = "sanction_in_force"
    appeal_pending = "appeal_pending"
    authority_request = "authority_request"


def cutoff(now: datetime, days: int) -> datetime:
    """Records older than this have passed their period."""
    return now - timedelta(days=days)


def request_covers(
    request: AccessRequest, group_id: int | None, account_id: int | None, at: datetime
) -> bool:
    """An approved, open request holds a record of a group or account it names, from
    within its period."""
    if not request.holds:
        return False
    scope = request.scope
    named = (group_id is not None and group_id in scope.group_ids) or (
        account_id is not None and account_id in scope.account_ids
    )
    return named and scope.start <= at < scope.end


def case_hold(
    case: Case,
    sanctions: Iterable[Sanction],
    appeals: Iterable[Appeal],
    requests: Iterable[AccessRequest],
    review_until: datetime | None,
    now: datetime,
) -> Hold | None:
    """Why a case's evidence must stay, or None when it may go.

    ``review_until``: the end of the window in which the case's decision can still be
    contested (a reporter's request for review); None when there is none."""
    if case.is_open:
        return Hold.open_case
    sanctions = list(sanctions)
    if any(s.in_force(now) for s in sanctions):
        return Hold.sanction_in_force
    if any(s.appeal_until > now for s in sanctions) or (review_until and review_until > now):
        return Hold.appeal_window
    if any(a.state is AppealState.pending for a in appeals):
        return Hold.appeal_pending
    target = case.target
    if any(
        request_covers(r, target.group_id, target.account_id, case.conduct_at) for r in requests
    ):
        return Hold.authority_request
    return None


def identity_hold(
    account_id: int, in_force: Iterable[Sanction], requests: Iterable[AccessRequest]
) -> Hold | None:
    """Why a deleted account's identity must stay: a sanction in force on the account
    (deleting does not escape it), or an approved request naming the account."""
    if any(s.account_id == account_id for s in in_force):
        return Hold.sanction_in_force
    if any(r.holds and account_id in r.scope.account_ids for r in requests):
        return Hold.authority_request
    return None
