"""Real-name identity (Art. 6, 后台实名、前台自愿) and the platform's audited identity reads."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from qunzu.client import QunzuClient
from qunzu.domain.identity import make_resident_id, resident_id_check_char
from qunzu.domain.models import PlatformRole
from tests.factories import (
    audit_entries,
    group_with,
    make_group,
    make_user,
    me,
    persona,
    platform_user,
    refused,
)
from tests.server import ServerThread


def id_ending_123x(region: str = "110101") -> str:
    """A valid ID number whose sequence is 123 and whose check character is X."""
    rnd = random.Random()
    while True:
        born = date(1950, 1, 1) + timedelta(days=rnd.randrange(365 * 50))
        number = make_resident_id(region, born, 123)
        if number.endswith("X"):
            return number


def fresh_id() -> str:
    born = date(1950, 1, 1) + timedelta(days=random.randrange(365 * 50))
    return make_resident_id("440305", born, random.randrange(1000))


def with_check_char(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


newcomer = persona("newcomer", verified=False)
admin = persona(role=PlatformRole.admin)


# ---- submitting an identity -------------------------------------------------------------


async def test_submitting_a_valid_identity_returns_only_masked_values(
    newcomer: QunzuClient,
) -> None:
    number = id_ending_123x()
    masked = await newcomer.submit_identity("张三", number, "13812345678")
    assert masked["legal_name"] == "张*"
    assert masked["resident_id"] == "1101**********123X"
    assert masked["phone"] == "138****5678"
    assert masked["verified"] is True
    assert masked["verifier"] == "format-check"
    response = await newcomer.request("GET", "/v1/me/identity")
    assert number not in response.text and "13812345678" not in response.text
    assert "张三" not in response.text
    assert (await newcomer.me())["identity_verified"] is True


async def test_my_identity_is_shown_masked(newcomer: QunzuClient) -> None:
    await newcomer.submit_identity("欧阳娜娜", id_ending_123x("310104"), "+86 139-0000-5678")
    mine = await newcomer.my_identity()
    assert mine["legal_name"] == "欧***"
    assert mine["resident_id"] == "3101**********123X"
    assert mine["phone"] == "139****5678"
    assert mine["verified"] is True


async def test_my_identity_before_submitting_is_not_found(newcomer: QunzuClient) -> None:
    err = await refused(newcomer.my_identity())
    assert (err.status, err.code) == (404, "identity_not_submitted")


async def test_a_lower_case_x_check_character_is_accepted(newcomer: QunzuClient) -> None:
    masked = await newcomer.submit_identity("李四", id_ending_123x().lower(), "13812345678")
    assert masked["resident_id"].endswith("123X")


@pytest.mark.parametrize(
    "resident_id",
    [
        pytest.param("x", id="too-short"),
        pytest.param("11010119900307123", id="17-digits"),
        pytest.param("1101011990030712A4", id="letter-inside"),
    ],
)
async def test_a_malformed_id_number_is_refused(newcomer: QunzuClient, resident_id: str) -> None:
    err = await refused(newcomer.submit_identity("张三", resident_id, "13812345678"))
    assert (err.status, err.code) == (400, "invalid_id_number")


async def test_an_id_number_with_a_wrong_check_digit_is_refused(newcomer: QunzuClient) -> None:
    good = fresh_id()
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    err = await refused(newcomer.submit_identity("张三", wrong, "13812345678"))
    assert (err.status, err.code) == (400, "invalid_id_number")
    assert "check digit" in err.detail
    assert (await newcomer.me())["identity_verified"] is False


@pytest.mark.parametrize(
    ("first17", "flaw"),
    [
        ("00000019900307123", "region"),
        ("99010119900307123", "region"),
        ("11000019900307123", "region"),
        ("11010119901301123", "birth date"),
        ("11010119900230123", "birth date"),
        ("11010118991231123", "birth date"),
        ("11010120991231123", "birth date"),
    ],
    ids=[
        "region-000000",
        "region-990101",
        "region-110000",
        "birth-month13",
        "birth-feb30",
        "birth-old",
        "birth-future",
    ],
)
async def test_an_id_number_with_an_unknown_region_or_impossible_birth_date_is_refused(
    newcomer: QunzuClient, first17: str, flaw: str
) -> None:
    err = await refused(newcomer.submit_identity("张三", with_check_char(first17), "13812345678"))
    assert (err.status, err.code) == (400, "invalid_id_number")
    assert flaw in err.detail


@pytest.mark.parametrize("phone", ["12345", "12812345678", "1381234567a", "+1 13812345678"])
async def test_a_bad_phone_number_is_refused(newcomer: QunzuClient, phone: str) -> None:
    err = await refused(newcomer.submit_identity("张三", fresh_id(), phone))
    assert (err.status, err.code) == (400, "invalid_phone")


async def test_a_bad_legal_name_is_refused(newcomer: QunzuClient) -> None:
    err = await refused(newcomer.submit_identity("张3", fresh_id(), "13812345678"))
    assert (err.status, err.code) == (400, "invalid_legal_name")


async def test_submitting_again_after_verification_is_a_conflict(
    newcomer: QunzuClient,
) -> None:
    number = fresh_id()
    await newcomer.submit_identity("张三", number, "13812345678")
    err = await refused(newcomer.submit_identity("张三", number, "13812345678"))
    assert (err.status, err.code) == (409, "identity_already_verified")
    err = await refused(newcomer.submit_identity("王五", fresh_id(), "13900001111"))
    assert (err.status, err.code) == (409, "identity_already_verified")
    assert (await newcomer.my_identity())["legal_name"] == "张*"


async def test_one_identity_may_hold_at_most_three_accounts(server: ServerThread) -> None:
    number = fresh_id()
    clients = [await make_user(server.url, verified=False, prefix="many") for _ in range(4)]
    try:
        for client in clients[:3]:
            await client.submit_identity("张三", number, "13812345678")
        err = await refused(clients[3].submit_identity("张三", number, "13812345678"))
        assert (err.status, err.code) == (409, "identity_account_limit")
        assert err.problem["limit"] == server.settings.max_accounts_per_identity == 3
        assert (await clients[3].me())["identity_verified"] is False
        # The fourth account can still verify with its own identity.
        await clients[3].submit_identity("张四", fresh_id(), "13812345679")
    finally:
        for client in clients:
            await client.aclose()


# ---- what an unverified account may do ---------------------------------------------------


async def test_an_unverified_account_can_read_but_not_post(
    alice: QunzuClient, newcomer: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="open", discoverable=True)
    await alice.send(group["id"], "welcome")
    await newcomer.join(group["id"])
    page = await newcomer.history(group["id"])
    assert page["entries"][-1]["kind"] == "member_joined"
    assert (await newcomer.group(group["id"]))["my_role"] == "member"
    err = await refused(newcomer.send(group["id"], "hello"))
    assert (err.status, err.code) == (403, "identity_unverified")


async def test_an_unverified_account_cannot_create_a_group(newcomer: QunzuClient) -> None:
    err = await refused(make_group(newcomer))
    assert (err.status, err.code) == (403, "identity_unverified")
    assert await newcomer.my_groups() == []


async def test_an_unverified_account_cannot_open_a_direct_conversation(
    alice: QunzuClient, newcomer: QunzuClient
) -> None:
    err = await refused(newcomer.open_direct(me(alice)["handle"]))
    assert (err.status, err.code) == (403, "identity_unverified")


async def test_verifying_lets_an_account_post(alice: QunzuClient, newcomer: QunzuClient) -> None:
    group = await group_with(alice, newcomer)
    err = await refused(newcomer.send(group["id"], "too early"))
    assert err.code == "identity_unverified"
    await newcomer.submit_identity("张三", fresh_id(), "13812345678")
    sent = await newcomer.send(group["id"], "now verified")
    assert sent["body"] == "now verified"


# ---- the platform reads an identity --------------------------------------------------------


async def test_a_platform_admin_is_made_through_services(admin: QunzuClient) -> None:
    assert admin.account is not None
    assert me(admin)["platform_role"] == "admin"


async def test_an_admin_reads_a_full_identity_with_a_reason(
    server: ServerThread, admin: QunzuClient, newcomer: QunzuClient
) -> None:
    number = fresh_id()
    await newcomer.submit_identity("张三", number, "+86 138 1234 5678")
    target = me(newcomer)["id"]
    response = await admin.request(
        "POST",
        "/v1/platform/identity-reads",
        json={"account_id": target, "reason": "Report #42: fraud complaint needs the identity"},
    )
    assert response.status_code == 200
    full = response.json()
    assert full == {
        "account_id": target,
        "legal_name": "张三",
        "resident_id": number,
        "phone": "13812345678",
        "verified": True,
        "verifier": "format-check",
    }
    reads = [
        e
        for e in await audit_entries(server)
        if e.action == "identity.read" and e.subject == f"account:{target}"
    ]
    assert len(reads) == 1
    assert reads[0].actor_id == me(admin)["id"]
    assert reads[0].detail["reason"] == "Report #42: fraud complaint needs the identity"


async def test_a_senior_reviewer_may_read_an_identity(
    server: ServerThread, newcomer: QunzuClient
) -> None:
    await newcomer.submit_identity("张三", fresh_id(), "13812345678")
    reviewer = await platform_user(server, PlatformRole.senior_reviewer)
    try:
        full = await reviewer.read_identity(me(newcomer)["id"], "case 7 evidence")
        assert full["legal_name"] == "张三"
    finally:
        await reviewer.aclose()


async def test_an_ordinary_user_cannot_read_an_identity(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    err = await refused(alice.read_identity(me(bob)["id"], "I am curious about bob"))
    assert (err.status, err.code) == (403, "platform_role_required")


async def test_an_auditor_cannot_read_an_identity(server: ServerThread, bob: QunzuClient) -> None:
    auditor = await platform_user(server, PlatformRole.auditor)
    try:
        err = await refused(auditor.read_identity(me(bob)["id"], "routine audit check"))
        assert (err.status, err.code) == (403, "platform_role_required")
    finally:
        await auditor.aclose()


@pytest.mark.parametrize("reason", ["", "    ", "why", " a  b "])
async def test_an_identity_read_needs_a_stated_reason(
    server: ServerThread, admin: QunzuClient, bob: QunzuClient, reason: str
) -> None:
    before = len(await audit_entries(server))
    err = await refused(admin.read_identity(me(bob)["id"], reason))
    assert (err.status, err.code) == (400, "reason_required")
    assert len(await audit_entries(server)) == before  # no read, no audit entry


async def test_reading_an_identity_never_submitted_is_not_found(
    admin: QunzuClient, newcomer: QunzuClient
) -> None:
    err = await refused(admin.read_identity(me(newcomer)["id"], "checking a report"))
    assert (err.status, err.code) == (404, "identity_not_submitted")


async def test_the_audit_chain_verifies_after_identity_reads(
    admin: QunzuClient, bob: QunzuClient
) -> None:
    await admin.read_identity(me(bob)["id"], "report 99: threats")
    report = await admin.verify_audit()
    assert report["ok"] is True
    assert report["checked"] >= 2  # the admin's creation and the read
    assert report["first_broken_id"] is None


async def test_an_ordinary_user_cannot_verify_the_audit_chain(alice: QunzuClient) -> None:
    err = await refused(alice.verify_audit())
    assert (err.status, err.code) == (403, "platform_role_required")


async def test_the_verification_reports_the_length_its_sealed_head_expects(
    admin: QunzuClient,
) -> None:
    report = await admin.verify_audit()
    assert report["ok"] is True and report["expected"] == report["checked"]


async def test_an_officer_cannot_read_their_own_identity(
    server: ServerThread, admin: QunzuClient
) -> None:
    await admin.submit_identity("张三", fresh_id(), "13812345678")
    before = len(await audit_entries(server))
    err = await refused(admin.read_identity(me(admin)["id"], "checking my own record"))
    assert (err.status, err.code) == (403, "officer_self_action")
    assert len(await audit_entries(server)) == before


async def test_an_auditor_reads_the_audit_log_and_the_read_is_audited(
    server: ServerThread, admin: QunzuClient
) -> None:
    auditor = await platform_user(server, PlatformRole.auditor)
    try:
        entries = await auditor.audit_entries(after=0, limit=1000)
        assert entries and [e["id"] for e in entries] == sorted(e["id"] for e in entries)
        assert {"action", "actor_id", "subject", "detail", "hash"} <= entries[0].keys()
        last = (await audit_entries(server))[-1]
        assert (last.action, last.actor_id) == ("audit.read", me(auditor)["id"])
    finally:
        await auditor.aclose()


async def test_an_ordinary_user_cannot_read_the_audit_log(alice: QunzuClient) -> None:
    err = await refused(alice.audit_entries())
    assert (err.status, err.code) == (403, "platform_role_required")
