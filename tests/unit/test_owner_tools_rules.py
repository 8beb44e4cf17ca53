"""Owner tools rules (Art. 9): granting rights, slow mode, mutes, and attendance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.errors import Forbidden, InvalidInput
from qunzu.domain.models import GroupRole, Membership, MembershipState
from qunzu.domain.owner_tools import (
    ALL_RIGHTS,
    AdminRight,
    Attendance,
    AttendancePolicy,
    attendance,
    check_grant,
    check_mute_minutes,
    check_slow_mode,
    parse_rights,
    rights_of,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = AttendancePolicy(inactive_days=60, response_days=30)


def member(role: GroupRole) -> Membership:
    return Membership(1, 2, role, MembershipState.active, NOW, 1)


def test_the_owner_holds_every_right() -> None:
    assert rights_of(member(GroupRole.owner)) == ALL_RIGHTS


def test_an_admin_holds_only_the_rights_granted() -> None:
    assert rights_of(member(GroupRole.admin), ["mute"]) == {AdminRight.mute}


def test_a_member_holds_no_rights() -> None:
    assert rights_of(member(GroupRole.member), ["mute"]) == frozenset()


def test_an_admin_cannot_grant_a_right_they_lack() -> None:
    granter = frozenset({AdminRight.appoint_admins, AdminRight.mute})
    with pytest.raises(Forbidden) as info:
        check_grant(granter, frozenset({AdminRight.mute, AdminRight.remove_members}))
    assert info.value.code == "cannot_grant"


def test_an_admin_grants_a_subset_of_their_rights() -> None:
    granter = frozenset({AdminRight.appoint_admins, AdminRight.mute})
    check_grant(granter, frozenset({AdminRight.mute}))


def test_granting_needs_the_appoint_right() -> None:
    with pytest.raises(Forbidden):
        check_grant(frozenset({AdminRight.mute}), frozenset({AdminRight.mute}))


def test_unknown_rights_are_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_rights(["delete_everything"])


@pytest.mark.parametrize("seconds", [0, 10, 30, 60, 300, 900, 3600])
def test_slow_mode_accepts_the_fixed_intervals(seconds: int) -> None:
    assert check_slow_mode(seconds) == seconds


@pytest.mark.parametrize("seconds", [-1, 5, 45, 7200])
def test_slow_mode_refuses_other_intervals(seconds: int) -> None:
    with pytest.raises(InvalidInput):
        check_slow_mode(seconds)


def test_mutes_last_one_minute_to_a_year() -> None:
    assert check_mute_minutes(1) == timedelta(minutes=1)
    with pytest.raises(InvalidInput):
        check_mute_minutes(0)
    with pytest.raises(InvalidInput):
        check_mute_minutes(60 * 24 * 366)


def test_managers_away_while_members_post_make_a_group_unattended() -> None:
    state = attendance(NOW - timedelta(days=61), NOW - timedelta(days=1), None, NOW, POLICY)
    assert state is Attendance.unattended


def test_managers_away_at_the_edge_of_the_period_is_still_attended() -> None:
    state = attendance(NOW - timedelta(days=60), NOW - timedelta(days=1), None, NOW, POLICY)
    assert state is Attendance.attended


def test_a_dormant_group_is_left_alone() -> None:
    state = attendance(NOW - timedelta(days=200), NOW - timedelta(days=150), None, NOW, POLICY)
    assert state is Attendance.attended


def test_no_response_in_the_second_period_turns_the_group_read_only() -> None:
    since = NOW - timedelta(days=31)
    assert attendance(NOW - timedelta(days=100), NOW, since, NOW, POLICY) is Attendance.read_only
    since = NOW - timedelta(days=30)
    assert attendance(NOW - timedelta(days=100), NOW, since, NOW, POLICY) is Attendance.unattended
