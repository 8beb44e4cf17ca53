"""The liability assessment (P7): each standing, at the edge of the window and just past it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qunzu.domain.duty import DutyEvent, DutyEventKind, Incident, Standing, assess

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)
OWNER, SENDER, OTHER = 1, 2, 3
INCIDENT = Incident(group_id=9, at=T0, sender_id=SENDER, seq=40, case_id=7)


def notice(at: datetime, who: int = OWNER) -> DutyEvent:
    return DutyEvent(at, DutyEventKind.notice_received, who, seq=40, case_id=7)


def test_no_notice_and_no_read_cursor_is_exempt() -> None:
    result = assess(OWNER, INCIDENT, [], WINDOW, T0 + timedelta(days=30))
    assert result.standing is Standing.exempt_no_notice
    assert result.notice_at is None


def test_acting_at_the_very_edge_of_the_window_is_exempt() -> None:
    ledger = [
        notice(T0 + timedelta(hours=1)),
        DutyEvent(T0 + timedelta(hours=25), DutyEventKind.message_removed, OWNER, seq=40),
    ]
    result = assess(OWNER, INCIDENT, ledger, WINDOW, T0 + timedelta(days=3))
    assert result.standing is Standing.exempt_acted
    assert result.deadline == T0 + timedelta(hours=25)


def test_acting_just_past_the_window_is_liable_inaction() -> None:
    ledger = [
        notice(T0 + timedelta(hours=1)),
        DutyEvent(
            T0 + timedelta(hours=25, seconds=1), DutyEventKind.message_removed, OWNER, seq=40
        ),
    ]
    result = assess(OWNER, INCIDENT, ledger, WINDOW, T0 + timedelta(days=3))
    assert result.standing is Standing.liable_inaction
    assert result.articles == ("art-9", "art-11")


def test_inside_the_window_without_action_is_pending() -> None:
    result = assess(OWNER, INCIDENT, [notice(T0)], WINDOW, T0 + WINDOW)
    assert result.standing is Standing.pending


def test_a_read_cursor_past_the_message_is_notice() -> None:
    ledger = [DutyEvent(T0 + timedelta(minutes=5), DutyEventKind.message_read, OWNER, seq=41)]
    result = assess(OWNER, INCIDENT, ledger, WINDOW, T0 + timedelta(days=2))
    assert result.standing is Standing.liable_inaction
    assert result.notice_at == T0 + timedelta(minutes=5)


def test_a_read_cursor_before_the_message_is_not_notice() -> None:
    ledger = [DutyEvent(T0 + timedelta(minutes=5), DutyEventKind.message_read, OWNER, seq=39)]
    assert assess(OWNER, INCIDENT, ledger, WINDOW, T0 + timedelta(days=2)).standing is (
        Standing.exempt_no_notice
    )


def test_reporting_up_is_exempt_even_late() -> None:
    ledger = [
        notice(T0),
        DutyEvent(T0 + timedelta(days=5), DutyEventKind.reported_up, OWNER, case_id=7),
    ]
    assert assess(OWNER, INCIDENT, ledger, WINDOW, T0 + timedelta(days=6)).standing is (
        Standing.exempt_reported
    )


def test_removing_the_sender_in_time_is_an_adequate_action() -> None:
    ledger = [
        notice(T0),
        DutyEvent(T0 + timedelta(hours=2), DutyEventKind.member_removed, OWNER, subject_id=SENDER),
    ]
    assert assess(OWNER, INCIDENT, ledger, WINDOW, T0 + timedelta(days=2)).standing is (
        Standing.exempt_acted
    )


def test_the_sender_who_is_an_admin_is_liable_for_participation() -> None:
    incident = Incident(group_id=9, at=T0, sender_id=OTHER, seq=40, case_id=7)
    result = assess(OTHER, incident, [], WINDOW, T0 + timedelta(days=1))
    assert result.standing is Standing.liable_participation


def test_someone_elses_notice_does_not_bind_this_manager() -> None:
    ledger = [notice(T0, who=OTHER)]
    assert assess(OWNER, INCIDENT, ledger, WINDOW, T0 + timedelta(days=2)).standing is (
        Standing.exempt_no_notice
    )


def test_the_timeline_lists_the_evidence_in_order() -> None:
    ledger = [
        DutyEvent(T0 + timedelta(hours=3), DutyEventKind.member_muted, OWNER, subject_id=SENDER),
        notice(T0 + timedelta(hours=1)),
    ]
    result = assess(OWNER, INCIDENT, ledger, WINDOW, T0 + timedelta(days=1))
    assert [e.kind for e in result.timeline] == [
        DutyEventKind.notice_received,
        DutyEventKind.member_muted,
    ]
