"""Owner and admin tools (Art. 9; P7) on a real server with a frozen clock: granular admin
rights, removing messages and members (with a bar on rejoining), mutes, mute all, slow mode,
the group notice, reporting up, the owned-groups overview, and who may use each tool."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from qunzu.client import QunzuClient
from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import collect, has_notice, me, measure, notices, scene
from tests.factories import People, add_member, clock_of, make_group, refused
from tests.server import ServerThread


async def small_group(
    people: People, members: int = 1
) -> tuple[QunzuClient, dict[str, Any], list[QunzuClient]]:
    owner = await people.user("owner")
    group = await make_group(owner)
    crowd = [await people.user("member") for _ in range(members)]
    for member in crowd:
        await add_member(owner, group, member)
    return owner, group, crowd


# ---- admins and their rights --------------------------------------------------------------


async def test_an_owner_appoints_an_admin_with_only_the_rights_named(people: People) -> None:
    owner, group, (admin, member) = await small_group(people, 2)
    granted = await owner.appoint_admin(group["id"], me(admin), ["remove_messages"])
    assert granted["rights"] == ["remove_messages"]
    seq = (await member.send(group["id"], "spam spam"))["seq"]
    await admin.remove_message(group["id"], seq, "spam")
    err = await refused(admin.mute(group["id"], me(member), 10))
    assert (err.status, err.code, err.problem["right"]) == (403, "right_required", "mute")


async def test_an_admin_cannot_grant_a_right_they_lack(people: People) -> None:
    owner, group, (admin, other) = await small_group(people, 2)
    await owner.appoint_admin(group["id"], me(admin), ["appoint_admins", "mute"])
    err = await refused(admin.appoint_admin(group["id"], me(other), ["mute", "remove_members"]))
    assert (err.status, err.code) == (403, "cannot_grant")
    assert "remove_members" in err.detail
    granted = await admin.appoint_admin(group["id"], me(other), ["mute"])
    assert granted["rights"] == ["mute"]


async def test_an_admin_cannot_take_away_rights_they_lack(people: People) -> None:
    owner, group, (lesser, fuller) = await small_group(people, 2)
    await owner.appoint_admin(group["id"], me(lesser), ["appoint_admins", "mute"])
    await owner.appoint_admin(group["id"], me(fuller), ["mute", "remove_members"])
    err = await refused(lesser.appoint_admin(group["id"], me(fuller), ["mute"]))
    assert (err.status, err.code) == (403, "cannot_revoke")
    assert "remove_members" in err.detail
    assert (await owner.appoint_admin(group["id"], me(fuller), []))["rights"] == []


async def test_no_admin_touches_the_owner_or_removes_the_owners_message(
    people: People,
) -> None:
    owner, group, (admin,) = await small_group(people)
    gid, everything = group["id"], ["appoint_admins", "mute", "remove_members", "remove_messages"]
    await owner.appoint_admin(gid, me(admin), everything)
    seq = (await owner.send(gid, "the owner's word"))["seq"]
    calls = {
        "rights": admin.appoint_admin(gid, me(owner), []),
        "mute": admin.mute(gid, me(owner), 10),
        "remove": admin.remove_member(gid, me(owner), "out"),
        "bar": admin.remove_member(gid, me(owner), "out", bar=True),
        "message": admin.remove_message(gid, seq, "no"),
    }
    for name, call in calls.items():
        err = await refused(call)
        assert (err.status, err.code) == (403, "not_permitted"), name
    entries = (await admin.history(gid, after=seq - 1, limit=1))["entries"]
    assert [e["body"] for e in entries if e["seq"] == seq] == ["the owner's word"]


async def test_a_manager_reads_a_reported_message_only_inside_their_window(
    people: People,
) -> None:
    s = await scene(people, public=False, body="an insult from before")
    gid = s.group["id"]
    newcomer = await people.user("newcomer")
    await add_member(s.owner, s.group, newcomer)
    await s.owner.appoint_admin(gid, me(newcomer), ["remove_messages", "mute"])
    (notice,) = await newcomer.owner_notices()
    assert (notice["reported_message"], notice["reported_message_withheld"]) == (None, True)
    err = await refused(newcomer.remove_message(gid, s.seq, "insult"))
    assert (err.status, err.code) == (403, "outside_window")
    (mine,) = await s.owner.owner_notices()
    assert mine["reported_message"]["body"] == "an insult from before"
    await s.owner.appoint_admin(gid, me(newcomer), ["remove_messages", "mute", "read_history"])
    (notice,) = await newcomer.owner_notices()
    assert notice["reported_message"]["body"] == "an insult from before"
    await newcomer.remove_message(gid, s.seq, "insult")


async def test_only_the_owner_grants_the_history_right(people: People) -> None:
    owner, group, (senior, junior) = await small_group(people, 2)
    await owner.appoint_admin(group["id"], me(senior), ["appoint_admins", "read_history"])
    err = await refused(senior.appoint_admin(group["id"], me(junior), ["read_history"]))
    assert (err.status, err.code, err.problem["right"]) == (
        403,
        "owner_grants_only",
        "read_history",
    )


async def test_an_unknown_right_is_400(people: People) -> None:
    owner, group, (admin,) = await small_group(people)
    err = await refused(owner.appoint_admin(group["id"], me(admin), ["rule_the_world"]))
    assert (err.status, err.code) == (400, "unknown_right")


async def test_every_tool_is_refused_to_a_member_without_the_right(people: People) -> None:
    _owner, group, (member, victim) = await small_group(people, 2)
    gid = group["id"]
    seq = (await victim.send(gid, "hello"))["seq"]
    calls = {
        "appoint": member.appoint_admin(gid, me(victim), ["mute"]),
        "remove message": member.remove_message(gid, seq, "no"),
        "mute": member.mute(gid, me(victim), 10),
        "unmute": member.unmute(gid, me(victim)),
        "mute all": member.mute_all(gid, True),
        "slow mode": member.slow_mode(gid, 30),
        "notice": member.pin_notice(gid, "my notice"),
        "remove member": member.remove_member(gid, me(victim)),
        "lift bar": member.lift_bar(gid, me(victim)),
        "duty ledger": member.duty_ledger(gid),
        "report up": member.report_up(gid, "message", "spam", seq=seq),
    }
    for name, call in calls.items():
        err = await refused(call)
        assert err.status == 403, name
        assert err.code in ("right_required", "not_permitted"), (name, err.code)


async def test_every_tool_is_refused_to_owners_of_a_group_under_posting_suspension(
    people: People,
) -> None:
    s = await scene(people, others=1)
    gid, member = s.group["id"], s.others[0]
    reviewer = await people.staff(PlatformRole.reviewer)
    await reviewer.decide_case(
        s.case_id, "violation", [measure("posting_suspension", "art-10", days=3)]
    )
    seq = (await s.owner.send(gid, "the owner may still post"))["seq"]
    calls = {
        "appoint": s.owner.appoint_admin(gid, me(member), ["mute"]),
        "remove message": s.owner.remove_message(gid, seq, "x"),
        "mute": s.owner.mute(gid, me(member), 10),
        "mute all": s.owner.mute_all(gid, True),
        "slow mode": s.owner.slow_mode(gid, 30),
        "notice": s.owner.pin_notice(gid, "notice"),
        "remove member": s.owner.remove_member(gid, me(member)),
        "set role": s.owner.set_role(gid, me(member), "admin"),
    }
    for name, call in calls.items():
        err = await refused(call)
        assert (err.status, err.code) == (403, "tools_suspended"), name


# ---- removing messages --------------------------------------------------------------------


async def test_a_removed_message_keeps_its_place_and_its_sender_hears_the_reason(
    people: People,
) -> None:
    owner, group, (member,) = await small_group(people)
    seq = (await member.send(group["id"], "rude words"))["seq"]
    async with member.events() as stream:
        await owner.remove_message(group["id"], seq, "rude to others")
        frames = await collect(stream, has_notice("message_removed", seq=seq))
    (notice,) = notices(frames, "message_removed")
    assert notice["reason"] == "rude to others"
    entries = (await member.history(group["id"], after=seq - 1, limit=1))["entries"]
    (entry,) = [e for e in entries if e["seq"] == seq]
    assert entry["body"] is None
    assert entry["data"]["removed"] == {"by": me(owner), "reason": "rude to others"}


async def test_reported_evidence_stays_in_the_case_file_after_the_message_is_removed(
    people: People,
) -> None:
    s = await scene(people, body="the reported insult")
    await s.owner.remove_message(s.group["id"], s.seq, "insult")
    reviewer = await people.staff(PlatformRole.reviewer)
    case_file = await reviewer.case_file(s.case_id)
    (reported,) = [e for e in case_file["evidence"] if e["reported"]]
    assert (reported["seq"], reported["body"]) == (s.seq, "the reported insult")


async def test_removing_what_is_not_a_message_is_404_and_removing_twice_is_409(
    people: People,
) -> None:
    owner, group, (member,) = await small_group(people)
    seq = (await member.send(group["id"], "once"))["seq"]
    err = await refused(owner.remove_message(group["id"], 1, "the creation entry"))
    assert (err.status, err.code) == (404, "message_not_found")
    await owner.remove_message(group["id"], seq, "gone")
    err = await refused(owner.remove_message(group["id"], seq, "again"))
    assert (err.status, err.code) == (409, "message_already_removed")


# ---- removing members, with a bar on rejoining --------------------------------------------


async def test_a_barred_member_cannot_rejoin_an_open_group_until_the_bar_is_lifted(
    people: People,
) -> None:
    owner = await people.user("owner")
    group = await make_group(owner, join_policy="open", discoverable=True)
    member = await people.user("member")
    await member.join(group["id"])
    await owner.remove_member(group["id"], me(member), "spam", bar=True)
    err = await refused(member.join(group["id"]))
    assert (err.status, err.code) == (403, "barred")
    await owner.lift_bar(group["id"], me(member))
    await member.join(group["id"])


async def test_a_barred_member_cannot_ask_to_join_or_be_invited_back(people: People) -> None:
    owner = await people.user("owner")
    group = await make_group(owner, join_policy="approval", discoverable=True)
    member = await people.user("member")
    await add_member(owner, group, member)
    await owner.remove_member(group["id"], me(member), "abuse", bar=True)
    err = await refused(member.request_join(group["id"]))
    assert (err.status, err.code) == (403, "barred")
    assert member.account is not None
    err = await refused(owner.invite(group["id"], member.account["handle"]))
    assert (err.status, err.code) == (403, "barred")


async def test_a_removal_without_a_bar_lets_the_member_rejoin(people: People) -> None:
    owner = await people.user("owner")
    group = await make_group(owner, join_policy="open", discoverable=True)
    member = await people.user("member")
    await member.join(group["id"])
    await owner.remove_member(group["id"], me(member), "cool off")
    assert (await member.join(group["id"]))["state"] == "active"


async def test_lifting_a_bar_needs_the_right_and_a_bar(people: People) -> None:
    owner, group, (admin, member) = await small_group(people, 2)
    await owner.appoint_admin(group["id"], me(admin), ["mute"])
    await owner.remove_member(group["id"], me(member), "abuse", bar=True)
    err = await refused(admin.lift_bar(group["id"], me(member)))
    assert (err.status, err.code) == (403, "right_required")
    await owner.lift_bar(group["id"], me(member))
    err = await refused(owner.lift_bar(group["id"], me(member)))
    assert (err.status, err.code) == (404, "not_barred")


# ---- mutes, mute all, slow mode -----------------------------------------------------------


async def test_a_mute_lasts_its_period(people: People, clocked_server: ServerThread) -> None:
    owner, group, (member,) = await small_group(people)
    muted = await owner.mute(group["id"], me(member), 30, "calm down")
    until = datetime.fromisoformat(muted["until"])
    assert until == clock_of(clocked_server).now() + timedelta(minutes=30)
    err = await refused(member.send(group["id"], "let me speak"))
    assert (err.status, err.code) == (403, "muted")
    clock_of(clocked_server).advance(timedelta(minutes=30))
    await member.send(group["id"], "calm now")


async def test_a_mute_of_zero_minutes_is_refused(people: People) -> None:
    owner, group, (member,) = await small_group(people)
    err = await refused(owner.mute(group["id"], me(member), 0))
    assert err.status in (400, 422)


async def test_mute_all_silences_members_but_not_managers(people: People) -> None:
    owner, group, (admin, member) = await small_group(people, 2)
    await owner.appoint_admin(group["id"], me(admin), ["mute"])
    controls = await admin.mute_all(group["id"], True)
    assert controls["mute_all"] is True
    err = await refused(member.send(group["id"], "hello?"))
    assert (err.status, err.code) == (403, "group_muted")
    await owner.send(group["id"], "owner speaks")
    await admin.send(group["id"], "admin speaks")
    await owner.mute_all(group["id"], False)
    await member.send(group["id"], "hello again")


async def test_slow_mode_spaces_a_members_messages(
    people: People, clocked_server: ServerThread
) -> None:
    owner, group, (member,) = await small_group(people)
    await owner.slow_mode(group["id"], 30)
    await member.send(group["id"], "first")
    clock_of(clocked_server).advance(timedelta(seconds=29))
    err = await refused(member.send(group["id"], "too soon"))
    assert (err.status, err.code) == (429, "slow_mode")
    clock_of(clocked_server).advance(timedelta(seconds=1))
    await member.send(group["id"], "in time")


async def test_slow_mode_takes_only_the_fixed_intervals(people: People) -> None:
    owner, group, _ = await small_group(people)
    err = await refused(owner.slow_mode(group["id"], 45))
    assert (err.status, err.code) == (400, "invalid_slow_mode")


# ---- the group notice ---------------------------------------------------------------------


async def test_a_pinned_notice_shows_in_the_timeline_and_the_controls(people: People) -> None:
    owner, group, (member,) = await small_group(people)
    await owner.pin_notice(group["id"], "群公告: be kind")
    controls = await member.controls(group["id"])
    assert (controls["notice_text"], controls["notice_by"]) == ("群公告: be kind", me(owner))
    entries = (await member.history(group["id"], limit=50))["entries"]
    pinned = [e for e in entries if e["kind"] == "notice_pinned"]
    assert pinned[-1]["data"]["notice_text"] == "群公告: be kind"


# ---- reporting up -------------------------------------------------------------------------


async def test_reporting_up_reaches_the_platform_at_once_and_enters_the_ledger(
    people: People,
) -> None:
    owner, group, (member,) = await small_group(people)
    seq = (await member.send(group["id"], "buy my pills"))["seq"]
    receipt = await owner.report_up(group["id"], "message", "fraud", "selling fakes", seq=seq)
    assert receipt["route"] == "platform"
    reviewer = await people.staff(PlatformRole.reviewer)
    assert receipt["case_id"] in [c["id"] for c in await reviewer.cases(limit=200)]
    referral = await owner.report_up(
        group["id"], "member", "fraud", "a fraud ring", account_id=me(member), to="authorities"
    )
    kinds = [(e["kind"], e["case_id"]) for e in await owner.duty_ledger(group["id"])]
    assert ("reported_up", receipt["case_id"]) in kinds
    assert ("referred", referral["case_id"]) in kinds


async def test_the_duty_ledger_is_for_owner_and_admins(people: People) -> None:
    owner, group, (admin, member) = await small_group(people, 2)
    await owner.appoint_admin(group["id"], me(admin), ["mute"])
    await owner.mute(group["id"], me(member), 10, "noise")
    ledger = await admin.duty_ledger(group["id"])
    assert [e["kind"] for e in ledger if e["subject_id"] == me(member)] == ["member_muted"]
    err = await refused(member.duty_ledger(group["id"]))
    assert (err.status, err.code) == (403, "not_permitted")


# ---- what an owner needs to stay exempt ---------------------------------------------------


async def test_owned_groups_show_notices_with_time_left_warnings_rules_and_attendance(
    people: People,
) -> None:
    s = await scene(people, public=False)
    reviewer = await people.staff(PlatformRole.reviewer)
    public = await scene(people)
    await reviewer.decide_case(public.case_id, "violation", [measure("warning", "art-10", 7)])
    (mine,) = [g for g in await s.owner.owned_groups() if g["group_id"] == s.group["id"]]
    assert mine["tier"] == "small"
    assert mine["rules_published"] is False
    assert mine["attendance"] == "attended"
    by_case = {n["case_id"]: n for n in mine["open_notices"]}
    assert 0 < by_case[s.case_id]["seconds_left"] <= 24 * 3600
    (theirs,) = [
        g for g in await public.owner.owned_groups() if g["group_id"] == public.group["id"]
    ]
    assert len(theirs["warnings_in_force"]) == 1
    assert await s.reporter.owned_groups() == []
