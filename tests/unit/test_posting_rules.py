"""``domain/posting.py``: may this person post here now, and is this a message at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.errors import Conflict, DomainError, InvalidInput, QuotaExceeded
from qunzu.domain.models import (
    Account,
    EntryKind,
    Group,
    GroupCategory,
    GroupKind,
    GroupRole,
    GroupState,
    JoinPolicy,
    Membership,
    MembershipState,
    TimelineEntry,
)
from qunzu.domain.owner_tools import GroupControls
from qunzu.domain.posting import (
    ACTIVITY_WRITE_INTERVAL,
    PostingState,
    Sender,
    activity_write_due,
    can_post,
    check_message,
    check_retry,
)
from qunzu.domain.quotas import SlidingWindow
from qunzu.domain.rulebook import SanctionTarget
from qunzu.domain.sanctions import Sanction, SanctionState
from qunzu.policy import load_rulebooks
from tests.rulebooks import generous_rulebooks

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
BOOK = (
    load_rulebooks().latest
)  # the packaged rulebook: level 1 allows 20 messages a minute; level 0 reads only
ME = Account(7, "li_wei", "李伟", NOW, identity_verified=True)


def group(**changes: object) -> Group:
    base = Group(
        id=1,
        number=123456789,
        kind=GroupKind.group,
        name="家人群",
        category=GroupCategory.family,
        join_policy=JoinPolicy.invite_only,
        discoverable=False,
        owner_id=1,
        state=GroupState.active,
        created_at=NOW,
        rules_version=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def member(role: GroupRole = GroupRole.member, **changes: object) -> Membership:
    base = Membership(1, ME.id, role, MembershipState.active, NOW, 1, accepted_rules_version=1)
    return replace(base, **changes)  # type: ignore[arg-type]


def state(**changes: object) -> PostingState:
    base = PostingState(
        group=group(),
        membership=member(),
        controls=GroupControls(1),
        mute_until=None,
        last_active_at=None,
        sanctions_in_force=False,
        previous=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def sender(level: int = 1, sent: int = 0, account: Account = ME) -> Sender:
    return Sender(account, level, sent)


def sanction(kind: str, target: SanctionTarget, **changes: object) -> Sanction:
    base = Sanction(
        id=5,
        case_id=1,
        kind=kind,
        target=target,
        group_id=1 if target is SanctionTarget.group else None,
        account_id=ME.id if target is SanctionTarget.account else None,
        article="art-11",
        rulebook_version="2017.1",
        facts="facts of the case",
        decided_by=2,
        automated=False,
        starts_at=NOW - timedelta(days=1),
        ends_at=None,
        state=SanctionState.active,
        appeal_until=NOW + timedelta(days=100),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def refusal(s: PostingState | None, who: Sender | None = None) -> DomainError:
    with pytest.raises(DomainError) as caught:
        can_post(s, who or sender(), BOOK, NOW)
    return caught.value


# ---- allowed ---------------------------------------------------------------------------------


def test_a_member_in_good_standing_may_post_and_gets_their_membership_back() -> None:
    allowed = can_post(state(), sender(), BOOK, NOW)
    assert allowed.member == member()
    assert allowed.exact_activity is False


def test_slow_mode_asks_for_the_exact_activity_time() -> None:
    s = state(controls=GroupControls(1, slow_mode_seconds=30))
    assert can_post(s, sender(), BOOK, NOW).exact_activity is True


# ---- each refusal, with its stable code ------------------------------------------------------


@pytest.mark.parametrize(
    ("posting", "code"),
    [
        (None, "group_not_found"),
        (state(membership=None), "group_not_found"),
        (state(membership=member(state=MembershipState.left)), "not_a_member"),
        (state(group=group(state=GroupState.closed)), "group_closed"),
        (state(group=group(state=GroupState.dissolved)), "group_dissolved"),
        (state(membership=member(accepted_rules_version=0)), "rules_not_accepted"),
        (state(controls=GroupControls(1, read_only_since=NOW)), "group_unattended"),
        (state(mute_until=NOW + timedelta(minutes=5)), "muted"),
        (state(controls=GroupControls(1, mute_all=True)), "group_muted"),
        (
            state(
                controls=GroupControls(1, slow_mode_seconds=30),
                last_active_at=NOW - timedelta(seconds=10),
            ),
            "slow_mode",
        ),
        (
            state(sanctions=(sanction("blacklist", SanctionTarget.account),)),
            "blacklisted",
        ),
        (
            state(sanctions=(sanction("posting_suspension", SanctionTarget.group),)),
            "posting_suspended",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_refusal_keeps_its_code(posting: PostingState | None, code: str) -> None:
    assert refusal(posting).code == code


def test_an_unverified_or_disabled_account_is_refused_first() -> None:
    unverified = replace(ME, identity_verified=False)
    assert refusal(state(), sender(account=unverified)).code == "identity_unverified"
    disabled = replace(ME, disabled=True)
    assert refusal(state(), sender(account=disabled)).code == "account_disabled"


def test_a_read_only_credit_level_cannot_post() -> None:
    err = refusal(state(), sender(level=0))
    assert (err.code, err.extra["level"]) == ("credit_level_read_only", 0)


def test_the_last_message_within_the_minute_passes_and_the_next_is_refused() -> None:
    limit = BOOK.credit.level(1).quotas.messages_per_minute
    assert can_post(state(), sender(sent=limit - 1), BOOK, NOW).member == member()
    err = refusal(state(), sender(sent=limit))
    assert isinstance(err, QuotaExceeded)
    assert (err.code, err.extra["quota"], err.extra["limit"]) == (
        "quota_exceeded",
        "messages_per_minute",
        limit,
    )


def test_a_mute_that_ran_out_no_longer_refuses() -> None:
    assert can_post(state(mute_until=NOW), sender(), BOOK, NOW).member == member()


def test_slow_mode_says_how_long_to_wait_and_lets_the_post_through_after() -> None:
    controls = GroupControls(1, slow_mode_seconds=30)
    err = refusal(state(controls=controls, last_active_at=NOW - timedelta(seconds=12)))
    assert (err.code, err.extra["retry_after"]) == ("slow_mode", 18)
    later = state(controls=controls, last_active_at=NOW - timedelta(seconds=30))
    assert can_post(later, sender(), BOOK, NOW).exact_activity is True


@pytest.mark.parametrize("role", [GroupRole.owner, GroupRole.admin])
def test_owner_and_admins_are_not_bound_by_the_owner_controls(role: GroupRole) -> None:
    controlled = state(
        membership=member(role),
        controls=GroupControls(1, mute_all=True, slow_mode_seconds=60, read_only_since=NOW),
        mute_until=NOW + timedelta(hours=1),
        last_active_at=NOW,
        sanctions=(sanction("posting_suspension", SanctionTarget.group),),
    )
    assert can_post(controlled, sender(), BOOK, NOW).member.role is role


def test_a_blacklisted_manager_is_still_refused() -> None:
    s = state(
        membership=member(GroupRole.owner),
        sanctions=(sanction("blacklist", SanctionTarget.account),),
    )
    assert refusal(s).code == "blacklisted"


def test_refusals_come_in_order_most_fundamental_first() -> None:
    everything = state(
        membership=member(accepted_rules_version=0),
        controls=GroupControls(1, mute_all=True),
        mute_until=NOW + timedelta(hours=1),
        sanctions=(sanction("posting_suspension", SanctionTarget.group),),
    )
    assert refusal(everything, sender(level=0, sent=99)).code == "rules_not_accepted"
    fixed = replace(everything, membership=member())
    assert refusal(fixed, sender(level=0, sent=99)).code == "posting_suspended"
    fixed = replace(fixed, sanctions=())
    assert refusal(fixed, sender(level=0, sent=99)).code == "muted"
    fixed = replace(fixed, mute_until=None)
    assert refusal(fixed, sender(level=0, sent=99)).code == "group_muted"
    fixed = replace(fixed, controls=GroupControls(1))
    assert refusal(fixed, sender(level=0, sent=99)).code == "credit_level_read_only"
    assert refusal(fixed, sender(level=1, sent=99)).code == "quota_exceeded"


# ---- the message itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "txn", "code"),
    [
        (" \n\t", "t1", "empty_message"),
        ("x" * 4001, "t1", "message_too_long"),
        ("a\x00b", "t1", "invalid_text"),
        ("a\udfffb", "t1", "invalid_text"),
        ("hi", "", "invalid_client_txn_id"),
        ("hi", "t1\n", "invalid_client_txn_id"),
        ("hi", "x" * 65, "invalid_client_txn_id"),
    ],
)
def test_a_malformed_message_is_refused(body: str, txn: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_message(body, txn, BOOK)
    assert caught.value.code == code


def test_the_length_limit_is_the_rulebooks() -> None:
    assert BOOK.max_message_chars == 4000
    check_message("字" * 4000, "t1", BOOK)
    shorter = replace(BOOK, max_message_chars=10)
    with pytest.raises(InvalidInput) as caught:
        check_message("x" * 11, "t1", shorter)
    assert (caught.value.code, caught.value.extra["limit"]) == ("message_too_long", 10)
    assert generous_rulebooks().latest.max_message_chars == 4000


def test_a_retry_is_the_same_message_in_the_same_group_or_a_conflict() -> None:
    sent = TimelineEntry(1, 9, EntryKind.message, ME.id, NOW, "hello", "t1")
    check_retry(sent, 1, "hello")
    for group_id, body in ((2, "hello"), (1, "hello!")):
        with pytest.raises(Conflict) as caught:
            check_retry(sent, group_id, body)
        assert caught.value.code == "txn_id_reused"


# ---- bookkeeping -----------------------------------------------------------------------------


def test_activity_is_written_at_most_once_a_minute_unless_exact() -> None:
    assert activity_write_due(None, NOW, exact=False)
    assert not activity_write_due(NOW - ACTIVITY_WRITE_INTERVAL / 2, NOW, exact=False)
    assert activity_write_due(NOW - ACTIVITY_WRITE_INTERVAL, NOW, exact=False)
    assert activity_write_due(NOW + timedelta(seconds=1), NOW, exact=False)  # clock went back
    assert activity_write_due(NOW, NOW, exact=True)


def test_a_slot_taken_in_the_window_can_be_given_back() -> None:
    window = SlidingWindow(timedelta(minutes=1))
    window.add(ME.id, NOW)
    window.add(ME.id, NOW)
    window.remove(ME.id, NOW)
    assert window.used(ME.id, NOW) == 1
    window.remove(ME.id, NOW - timedelta(hours=1))  # never taken: nothing happens
    assert window.used(ME.id, NOW) == 1
