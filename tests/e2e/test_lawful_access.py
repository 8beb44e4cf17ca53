"""Requests from the authorities (four eyes, scope, legal hold, signed export) and the
referral outbox, through the API on a server with a frozen clock."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from qunzu.client.http import QunzuClient
from qunzu.domain.clock import FrozenClock
from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import measure, scene
from tests.factories import (
    People,
    account_id,
    add_member,
    audit_entries,
    make_group,
    refused,
)
from tests.server import ServerThread

NOTE = "Checked the document against the register."


@pytest.fixture
def clock(clocked_server: ServerThread) -> FrozenClock:
    assert clocked_server.clock is not None
    clocked_server.clock.advance(timedelta(days=1))
    return clocked_server.clock


def body_for(
    start: datetime,
    end: datetime,
    *,
    accounts: list[int] = (),  # type: ignore[assignment]
    groups: list[int] = (),  # type: ignore[assignment]
    classes: tuple[str, ...] = ("accounts", "messages"),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "authority": "Haidian Public Security Bureau",
        "authority_kind": "public_security",
        "legal_basis": "Criminal Procedure Law, section 54 (evidence collection)",
        "document_ref": "HD-2026-0417",
        "scope": {
            "account_ids": list(accounts),
            "group_ids": list(groups),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "data_classes": list(classes),
        },
        **extra,
    }


async def officers(people: People) -> tuple[QunzuClient, QunzuClient]:
    return await people.staff(PlatformRole.admin), await people.staff(PlatformRole.senior_reviewer)


def unzip(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return {name: z.read(name) for name in z.namelist()}


def lines(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw.decode().splitlines()]


# ---- four eyes ----------------------------------------------------------------------------


async def test_the_officer_who_registered_a_request_cannot_decide_it(
    people: People, clock: FrozenClock
) -> None:
    registrar, second = await officers(people)
    user = await people.user()
    start = clock.now() - timedelta(days=3)
    request = await registrar.register_access_request(
        body_for(start, clock.now(), accounts=[account_id(user)])
    )
    assert request["state"] == "registered" and request["legal_hold"] is False
    err = await refused(registrar.decide_access_request(request["id"], True, NOTE))
    assert (err.status, err.code) == (403, "four_eyes_required")
    approved = await second.decide_access_request(request["id"], True, NOTE)
    assert approved["state"] == "approved" and approved["legal_hold"] is True
    assert approved["decided_by"] == account_id(second)


async def test_a_decided_request_is_not_decided_again(people: People, clock: FrozenClock) -> None:
    registrar, second = await officers(people)
    user = await people.user()
    request = await registrar.register_access_request(
        body_for(clock.now() - timedelta(days=1), clock.now(), accounts=[account_id(user)])
    )
    await second.decide_access_request(request["id"], False, "The document is not signed.")
    other = await people.staff(PlatformRole.admin)
    err = await refused(other.decide_access_request(request["id"], True, NOTE))
    assert (err.status, err.code) == (409, "request_already_decided")
    err = await refused(second.export_access_request(request["id"]))
    assert (err.status, err.code) == (409, "request_not_approved")


@pytest.mark.parametrize("role", [PlatformRole.reviewer, PlatformRole.auditor])
async def test_only_legal_officers_register_requests(
    people: People, clock: FrozenClock, role: PlatformRole
) -> None:
    staff = await people.staff(role)
    err = await refused(
        staff.register_access_request(
            body_for(clock.now() - timedelta(days=1), clock.now(), accounts=[1])
        )
    )
    assert err.status == 403


async def test_members_and_anonymous_callers_cannot_see_the_register(people: People) -> None:
    member = await people.user()
    assert (await refused(member.access_requests())).status == 403
    assert (await refused(people.anonymous().access_requests())).status == 401


async def test_auditors_read_the_register_but_cannot_export(
    people: People, clock: FrozenClock
) -> None:
    registrar, second = await officers(people)
    user = await people.user()
    request = await registrar.register_access_request(
        body_for(clock.now() - timedelta(days=1), clock.now(), accounts=[account_id(user)])
    )
    await second.decide_access_request(request["id"], True, NOTE)
    auditor = await people.staff(PlatformRole.auditor)
    listed = await auditor.access_requests(after=request["id"] - 1)
    assert [r["id"] for r in listed] == [request["id"]]
    assert (await refused(auditor.export_access_request(request["id"]))).status == 403


# ---- the signed export ---------------------------------------------------------------------


async def test_the_export_holds_the_scope_and_its_manifest_is_signed_by_the_platform(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    owner, member = await people.user("owner"), await people.user("member")
    group = await make_group(owner, join_policy="open", discoverable=True)
    await add_member(owner, group, member)
    await member.send(group["id"], "the meeting is at nine")
    clock.advance(timedelta(minutes=5))
    registrar, second = await officers(people)
    request = await registrar.register_access_request(
        body_for(
            start,
            clock.now(),
            accounts=[account_id(member)],
            classes=("accounts", "identity", "memberships", "messages", "sanctions"),
        )
    )
    await second.decide_access_request(request["id"], True, NOTE)
    files = unzip(await second.export_access_request(request["id"]))
    manifest_bytes = files["manifest.json"]
    manifest = json.loads(manifest_bytes)
    key = base64.b64decode((await second.signing_key())["public_key_b64"])
    signature = base64.b64decode(files["manifest.sig"].strip())
    Ed25519PublicKey.from_public_bytes(key).verify(signature, manifest_bytes)  # raises if bad
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == entry["sha256"]
        assert len(lines(files[name])) == entry["records"]
    assert manifest["document_ref"] == "HD-2026-0417"
    messages = lines(files["messages.jsonl"])
    assert [(m["sender_id"], m["body"]) for m in messages] == [
        (account_id(member), "the meeting is at nine")
    ]
    identity = lines(files["identity.jsonl"])
    assert identity[0]["account_id"] == account_id(member)
    assert identity[0]["legal_name"]  # decrypted, not masked
    assert {m["group_id"] for m in lines(files["memberships.jsonl"])} == {group["id"]}


async def test_a_tampered_manifest_fails_the_signature_check(
    people: People, clock: FrozenClock
) -> None:
    registrar, second = await officers(people)
    user = await people.user()
    request = await registrar.register_access_request(
        body_for(clock.now() - timedelta(days=1), clock.now(), accounts=[account_id(user)])
    )
    await second.decide_access_request(request["id"], True, NOTE)
    files = unzip(await registrar.export_access_request(request["id"]))
    key = Ed25519PublicKey.from_public_bytes(
        base64.b64decode((await registrar.signing_key())["public_key_b64"])
    )
    tampered = files["manifest.json"].replace(b"HD-2026-0417", b"HD-2026-0418")
    with pytest.raises(InvalidSignature):
        key.verify(base64.b64decode(files["manifest.sig"].strip()), tampered)


async def test_private_chats_are_exported_only_on_a_basis_that_names_them(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    alice, bob = await people.user("alice"), await people.user("bob")
    direct = await alice.open_direct(bob.account["handle"])  # type: ignore[index]
    await alice.send(direct["id"], "a private word")
    clock.advance(timedelta(minutes=1))
    registrar, second = await officers(people)
    err = await refused(
        registrar.register_access_request(
            body_for(
                start, clock.now(), accounts=[account_id(alice)], classes=("private_messages",)
            )
        )
    )
    assert (err.status, err.code) == (400, "private_tier_basis_required")
    plain = await registrar.register_access_request(
        body_for(start, clock.now(), accounts=[account_id(alice)], classes=("messages",))
    )
    await second.decide_access_request(plain["id"], True, NOTE)
    files = unzip(await second.export_access_request(plain["id"]))
    assert lines(files["messages.jsonl"]) == []
    named = await registrar.register_access_request(
        body_for(
            start,
            clock.now(),
            accounts=[account_id(alice)],
            classes=("private_messages",),
            private_tier_basis="Criminal Procedure Law, section 143: communications of the suspect",
        )
    )
    await second.decide_access_request(named["id"], True, NOTE)
    files = unzip(await second.export_access_request(named["id"]))
    got = lines(files["messages.jsonl"])
    assert [(m["body"], m["private_tier"]) for m in got] == [("a private word", True)]


async def test_closing_a_request_releases_the_hold_and_stops_exports(
    people: People, clock: FrozenClock
) -> None:
    registrar, second = await officers(people)
    user = await people.user()
    request = await registrar.register_access_request(
        body_for(clock.now() - timedelta(days=1), clock.now(), accounts=[account_id(user)])
    )
    await second.decide_access_request(request["id"], True, NOTE)
    closed = await registrar.close_access_request(request["id"], "Export handed over in person.")
    assert closed["state"] == "closed" and closed["legal_hold"] is False
    err = await refused(second.export_access_request(request["id"]))
    assert (err.status, err.code) == (409, "request_not_approved")
    err = await refused(second.close_access_request(request["id"], "Closing it twice."))
    assert (err.status, err.code) == (409, "request_closed")


async def test_every_step_of_a_request_is_audited(
    people: People, clock: FrozenClock, clocked_server: ServerThread
) -> None:
    registrar, second = await officers(people)
    user = await people.user()
    request = await registrar.register_access_request(
        body_for(clock.now() - timedelta(days=1), clock.now(), accounts=[account_id(user)])
    )
    await second.decide_access_request(request["id"], True, NOTE)
    await second.export_access_request(request["id"])
    await registrar.close_access_request(request["id"], "Export handed over in person.")
    subject = f"access_request:{request['id']}"
    steps = [
        (e.action, e.actor_id) for e in await audit_entries(clocked_server) if e.subject == subject
    ]
    assert steps == [
        ("lawful.register", account_id(registrar)),
        ("lawful.approve", account_id(second)),
        ("lawful.export", account_id(second)),
        ("lawful.close", account_id(registrar)),
    ]


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda b: b["scope"].update(account_ids=[], group_ids=[]), 400, "scope_empty"),
        (lambda b: b["scope"].update(data_classes=["everything"]), 422, "validation_error"),
        (lambda b: b["scope"].update(data_classes=[]), 422, "validation_error"),
        (lambda b: b["scope"].update(account_ids=list(range(1, 102))), 422, "validation_error"),
        (lambda b: b.update(legal_basis="basis\x00with a NUL"), 422, "validation_error"),
        (lambda b: b.update(extra="field"), 422, "validation_error"),
        (lambda b: b.update(authority_kind="bank"), 422, "validation_error"),
        (lambda b: b.update(legal_basis="law"), 400, "invalid_legal_basis"),
    ],
)
async def test_malformed_requests_are_refused_and_nothing_is_registered(
    people: People, clock: FrozenClock, change: Any, status: int, code: str
) -> None:
    registrar, _ = await officers(people)
    before = await registrar.access_requests(limit=500)
    body = body_for(clock.now() - timedelta(days=1), clock.now(), accounts=[1])
    change(body)
    err = await refused(registrar.register_access_request(body))
    assert (err.status, err.code) == (status, code)
    assert await registrar.access_requests(limit=500) == before


@pytest.mark.parametrize(
    ("start_days", "end_days"),
    [(-1, -2), (1, 2), (-800, -1)],
    ids=["ends-before-it-starts", "in-the-future", "longer-than-two-years"],
)
async def test_periods_must_be_closed_past_and_bounded(
    people: People, clock: FrozenClock, start_days: int, end_days: int
) -> None:
    registrar, _ = await officers(people)
    now = clock.now()
    body = body_for(now + timedelta(days=start_days), now + timedelta(days=end_days), accounts=[1])
    err = await refused(registrar.register_access_request(body))
    assert (err.status, err.code) == (400, "invalid_period")


async def test_an_unknown_request_is_404(people: People) -> None:
    registrar, second = await officers(people)
    err = await refused(second.decide_access_request(2**40, True, NOTE))
    assert (err.status, err.code) == (404, "access_request_not_found")
    assert (await refused(registrar.access_request(2**63))).status == 422


# ---- referrals -----------------------------------------------------------------------------


async def test_an_owners_report_to_the_authorities_waits_in_the_referral_outbox(
    people: People,
) -> None:
    owner, offender = await people.user("owner"), await people.user("offender")
    group = await make_group(owner)
    await add_member(owner, group, offender)
    seq = (await offender.send(group["id"], "selling forged documents"))["seq"]
    officer = await people.staff(PlatformRole.senior_reviewer)
    before = {r["id"] for r in await officer.referrals()}
    await owner.report_up(
        group["id"], "message", "fraud", "selling forged documents", seq=seq, to="authorities"
    )
    new = [r for r in await officer.referrals() if r["id"] not in before]
    assert [(r["source"], r["group_id"], r["state"]) for r in new] == [
        ("owner_report_up", group["id"], "open")
    ]
    closed = await officer.close_referral(new[0]["id"], "Sent to Haidian PSB, ref HD-1")
    assert (closed["state"], closed["closed_by"]) == ("closed", account_id(officer))
    assert new[0]["id"] not in {r["id"] for r in await officer.referrals()}
    err = await refused(officer.close_referral(new[0]["id"], "Sent to Haidian PSB again"))
    assert (err.status, err.code) == (409, "referral_closed")


async def test_a_refer_to_authority_decision_enters_the_outbox(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    officer = await people.staff(PlatformRole.admin)
    before = {r["id"] for r in await officer.referrals()}
    await reviewer.decide_case(s.case_id, "violation", [measure("refer_to_authority", "art-13")])
    new = [r for r in await officer.referrals() if r["id"] not in before]
    assert [(r["source"], r["case_id"]) for r in new] == [("reviewer_decision", s.case_id)]


async def test_members_and_reviewers_cannot_work_the_outbox(people: People) -> None:
    member, reviewer = await people.user(), await people.staff(PlatformRole.reviewer)
    assert (await refused(member.referrals())).status == 403
    assert (await refused(reviewer.referrals())).status == 403


# ---- transparency ------------------------------------------------------------------------


async def test_the_transparency_report_counts_requests_by_authority_and_outcome(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    registrar, second = await officers(people)
    user = await people.user()
    for approve in (True, False):
        r = await registrar.register_access_request(
            body_for(start - timedelta(days=1), start, accounts=[account_id(user)])
        )
        await second.decide_access_request(r["id"], approve, NOTE)
    court = body_for(start - timedelta(days=1), start, accounts=[account_id(user)])
    court["authority_kind"] = "court"
    await registrar.register_access_request(court)
    auditor = await people.staff(PlatformRole.auditor)
    report = await auditor.transparency(
        start.isoformat(), (clock.now() + timedelta(hours=1)).isoformat()
    )
    assert report["access_requests"] == {
        "total": 3,
        "by_authority_kind": {"public_security": 2, "court": 1},
        "by_outcome": {"approved": 1, "refused": 1, "registered": 1},
    }
