"""Joining and leaving: invitations, open groups, join requests, removal, roles, ownership."""

from __future__ import annotations

from datetime import timedelta

from qunzu.client import QunzuClient
from tests.factories import group_with, make_group, make_user, me, refused
from tests.server import ServerThread


async def messages(client: QunzuClient, group_id: int) -> list[str]:
    page = await client.history(group_id, limit=200)
    return [e["body"] for e in page["entries"] if e["kind"] == "message"]


# ---- invitations --------------------------------------------------------------------------


async def test_an_invitation_can_be_accepted(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice)
    invitation = await alice.invite(group["id"], me(bob)["handle"])
    assert invitation["state"] == "pending"
    assert (invitation["inviter_id"], invitation["invitee_id"]) == (me(alice)["id"], me(bob)["id"])
    assert [i["id"] for i in await bob.invitations()] == [invitation["id"]]
    membership = await bob.accept_invitation(invitation["id"])
    assert (membership["role"], membership["state"]) == ("member", "active")
    assert await bob.invitations() == []
    seen = await bob.group(group["id"])
    assert (seen["member_count"], seen["my_role"]) == (2, "member")
    joined = (await alice.history(group["id"]))["entries"][-1]
    assert joined["kind"] == "member_joined"
    assert joined["data"] == {
        "account_id": me(bob)["id"],
        "via": "invitation",
        "by": me(alice)["id"],
    }


async def test_an_invitation_can_be_declined(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice)
    invitation = await alice.invite(group["id"], me(bob)["handle"])
    await bob.decline_invitation(invitation["id"])
    assert await bob.invitations() == []
    err = await refused(bob.group(group["id"]))
    assert (err.status, err.code) == (404, "group_not_found")
    err = await refused(bob.accept_invitation(invitation["id"]))
    assert (err.status, err.code) == (409, "invitation_answered")
    assert (await alice.group(group["id"]))["member_count"] == 1


async def test_an_invitee_may_see_the_group_they_are_invited_to(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    await alice.invite(group["id"], me(bob)["handle"])
    seen = await bob.group(group["id"])
    assert seen["name"] == group["name"] and seen["my_role"] is None
    err = await refused(bob.history(group["id"]))
    assert (err.status, err.code) == (404, "group_not_found")


async def test_inviting_twice_is_a_conflict(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice)
    await alice.invite(group["id"], me(bob)["handle"])
    err = await refused(alice.invite(group["id"], me(bob)["handle"]))
    assert (err.status, err.code) == (409, "already_invited")


async def test_inviting_a_member_is_a_conflict(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    err = await refused(alice.invite(group["id"], me(bob)["handle"]))
    assert (err.status, err.code) == (409, "already_member")


async def test_inviting_yourself_or_nobody_is_refused(alice: QunzuClient) -> None:
    group = await make_group(alice)
    err = await refused(alice.invite(group["id"], me(alice)["handle"]))
    assert (err.status, err.code) == (400, "cannot_invite_self")
    err = await refused(alice.invite(group["id"], "nobody_by_this_name"))
    assert (err.status, err.code) == (404, "account_not_found")


async def test_a_member_cannot_invite_into_an_invite_only_group(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    err = await refused(bob.invite(group["id"], me(carol)["handle"]))
    assert (err.status, err.code) == (403, "not_permitted")


async def test_a_member_may_invite_into_an_open_group(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="open")
    await bob.join(group["id"])
    invitation = await bob.invite(group["id"], me(carol)["handle"])
    assert invitation["inviter_id"] == me(bob)["id"]


async def test_someone_elses_invitation_is_not_found(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await make_group(alice)
    invitation = await alice.invite(group["id"], me(bob)["handle"])
    err = await refused(carol.accept_invitation(invitation["id"]))
    assert (err.status, err.code) == (404, "invitation_not_found")
    err = await refused(carol.decline_invitation(invitation["id"]))
    assert (err.status, err.code) == (404, "invitation_not_found")


async def test_an_expired_invitation_is_gone(clocked_server: ServerThread) -> None:
    assert clocked_server.clock is not None
    alice = await make_user(clocked_server.url, prefix="alice", display_name="Alice")
    bob = await make_user(clocked_server.url, prefix="bob", display_name="Bob")
    try:
        group = await make_group(alice)
        invitation = await alice.invite(group["id"], me(bob)["handle"])
        ttl = timedelta(days=clocked_server.settings.invitation_ttl_days)
        clocked_server.clock.advance(ttl + timedelta(seconds=1))
        err = await refused(bob.accept_invitation(invitation["id"]))
        assert (err.status, err.code) == (410, "invitation_expired")
        assert await bob.invitations() == []
        err = await refused(bob.group(group["id"]))
        assert (err.status, err.code) == (404, "group_not_found")
        # A lapsed invitation does not block a new one.
        again = await alice.invite(group["id"], me(bob)["handle"])
        assert [i["id"] for i in await bob.invitations()] == [again["id"]]
        assert (await bob.accept_invitation(again["id"]))["state"] == "active"
    finally:
        await alice.aclose()
        await bob.aclose()


# ---- open groups ----------------------------------------------------------------------------


async def test_anyone_may_join_an_open_group(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice, join_policy="open")
    membership = await bob.join(group["id"])
    assert (membership["role"], membership["state"]) == ("member", "active")
    assert (await alice.group(group["id"]))["member_count"] == 2
    joined = (await alice.history(group["id"]))["entries"][-1]
    assert joined["data"]["via"] == "open"


async def test_joining_twice_is_a_conflict(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice, join_policy="open")
    await bob.join(group["id"])
    err = await refused(bob.join(group["id"]))
    assert (err.status, err.code) == (409, "already_member")
    assert (await alice.group(group["id"]))["member_count"] == 2


async def test_an_invite_only_group_cannot_be_joined_directly(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    hidden = await make_group(alice)
    err = await refused(bob.join(hidden["id"]))
    assert (err.status, err.code) == (404, "group_not_found")
    listed = await make_group(carol, discoverable=True)
    err = await refused(bob.join(listed["id"]))
    assert (err.status, err.code) == (403, "invitation_required")
    err = await refused(bob.request_join(listed["id"]))
    assert (err.status, err.code) == (403, "invitation_required")


async def test_an_approval_group_cannot_be_joined_directly(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="approval", discoverable=True)
    err = await refused(bob.join(group["id"]))
    assert (err.status, err.code) == (409, "approval_required")


# ---- join requests ------------------------------------------------------------------------


async def test_a_join_request_is_listed_for_the_managers(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="approval", discoverable=True)
    request = await bob.request_join(group["id"], note="I live on floor 3")
    assert (request["state"], request["note"]) == ("pending", "I live on floor 3")
    pending = await alice.join_requests(group["id"])
    assert [(r["id"], r["account_id"]) for r in pending] == [(request["id"], me(bob)["id"])]


async def test_asking_to_join_twice_is_a_conflict(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice, join_policy="approval", discoverable=True)
    await bob.request_join(group["id"])
    err = await refused(bob.request_join(group["id"]))
    assert (err.status, err.code) == (409, "join_request_pending")


async def test_asking_to_join_an_open_group_is_a_conflict(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="open", discoverable=True)
    err = await refused(bob.request_join(group["id"]))
    assert (err.status, err.code) == (409, "group_is_open")


async def test_an_admin_approves_a_join_request(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, carol, join_policy="approval", discoverable=True)
    await alice.set_role(group["id"], me(carol)["id"], "admin")
    request = await bob.request_join(group["id"])
    decided = await carol.approve_join(request["id"])
    assert (decided["state"], decided["decided_by"]) == ("accepted", me(carol)["id"])
    assert (await bob.group(group["id"]))["my_role"] == "member"
    assert await alice.join_requests(group["id"]) == []
    assert (await bob.send(group["id"], "thanks for letting me in"))["seq"] > 0


async def test_an_admin_denies_a_join_request(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, carol, join_policy="approval", discoverable=True)
    await alice.set_role(group["id"], me(carol)["id"], "admin")
    request = await bob.request_join(group["id"])
    decided = await carol.deny_join(request["id"])
    assert decided["state"] == "declined"
    assert (await bob.group(group["id"]))["my_role"] is None
    err = await refused(bob.send(group["id"], "let me in"))
    assert (err.status, err.code) == (403, "not_a_member")
    err = await refused(alice.approve_join(request["id"]))
    assert (err.status, err.code) == (409, "join_request_decided")


async def test_a_member_cannot_decide_join_requests(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, carol, join_policy="approval", discoverable=True)
    request = await bob.request_join(group["id"])
    err = await refused(carol.approve_join(request["id"]))
    assert (err.status, err.code) == (403, "not_permitted")
    err = await refused(carol.deny_join(request["id"]))
    assert (err.status, err.code) == (403, "not_permitted")
    err = await refused(carol.join_requests(group["id"]))
    assert (err.status, err.code) == (403, "not_permitted")
    err = await refused(bob.approve_join(request["id"]))
    assert (err.status, err.code) == (403, "not_a_member")


async def test_a_join_request_carries_the_rules_version_read(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="approval", discoverable=True, rules="Be nice")
    err = await refused(bob.request_join(group["id"]))
    assert (err.status, err.code) == (409, "rules_not_accepted")
    request = await bob.request_join(group["id"], rules_version=1)
    await alice.approve_join(request["id"])
    assert (await bob.send(group["id"], "I read them"))["body"] == "I read them"


# ---- leaving and removal ------------------------------------------------------------------


async def test_a_member_leaves(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    left = await bob.leave(group["id"])
    assert left["state"] == "left" and left["left_seq"] is not None
    assert (await alice.group(group["id"]))["member_count"] == 1
    err = await refused(bob.send(group["id"], "still here?"))
    assert (err.status, err.code) == (403, "not_a_member")
    assert group["id"] not in {g["id"] for g in await bob.my_groups()}
    err = await refused(bob.leave(group["id"]))
    assert (err.status, err.code) == (403, "not_a_member")


async def test_the_owner_cannot_leave(alice: QunzuClient) -> None:
    group = await make_group(alice)
    err = await refused(alice.leave(group["id"]))
    assert (err.status, err.code) == (409, "owner_must_transfer")


async def test_a_member_who_left_and_rejoined_sees_each_stay_but_not_the_gap(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="open")
    await bob.join(group["id"])
    await alice.send(group["id"], "first stay")
    await bob.leave(group["id"])
    await alice.send(group["id"], "while away")
    await bob.join(group["id"])
    await alice.send(group["id"], "second stay")
    assert await messages(bob, group["id"]) == ["first stay", "second stay"]


async def test_the_owner_removes_a_member(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    removed = await alice.remove_member(group["id"], me(bob)["id"], reason="spam")
    assert removed["state"] == "removed"
    assert (await alice.group(group["id"]))["member_count"] == 1
    entry = (await alice.history(group["id"]))["entries"][-1]
    assert entry["kind"] == "member_removed"
    assert entry["data"] == {"account_id": me(bob)["id"], "by": me(alice)["id"], "reason": "spam"}


async def test_an_admin_removes_a_member(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    await alice.set_role(group["id"], me(carol)["id"], "admin")
    removed = await carol.remove_member(group["id"], me(bob)["id"])
    assert removed["state"] == "removed"


async def test_an_admin_cannot_remove_an_admin_or_the_owner(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    await alice.set_role(group["id"], me(bob)["id"], "admin")
    await alice.set_role(group["id"], me(carol)["id"], "admin")
    err = await refused(carol.remove_member(group["id"], me(bob)["id"]))
    assert (err.status, err.code) == (403, "not_permitted")
    err = await refused(carol.remove_member(group["id"], me(alice)["id"]))
    assert (err.status, err.code) == (403, "not_permitted")
    # The owner may remove an admin.
    assert (await alice.remove_member(group["id"], me(bob)["id"]))["state"] == "removed"


async def test_a_member_cannot_remove_anyone(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    err = await refused(bob.remove_member(group["id"], me(carol)["id"]))
    assert (err.status, err.code) == (403, "not_permitted")
    assert len(await alice.members(group["id"])) == 3


async def test_removing_a_non_member_or_yourself_is_refused(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    err = await refused(alice.remove_member(group["id"], me(bob)["id"]))
    assert (err.status, err.code) == (404, "member_not_found")
    err = await refused(alice.remove_member(group["id"], me(alice)["id"]))
    assert (err.status, err.code) == (400, "cannot_remove_self")


async def test_a_removed_member_cannot_post(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    await alice.remove_member(group["id"], me(bob)["id"])
    err = await refused(bob.send(group["id"], "let me back"))
    assert (err.status, err.code) == (403, "not_a_member")
    err = await refused(bob.members(group["id"]))
    assert (err.status, err.code) == (403, "not_a_member")


async def test_a_removed_member_cannot_read_past_their_removal(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    await alice.send(group["id"], "while bob was here")
    removed = await alice.remove_member(group["id"], me(bob)["id"])
    await alice.send(group["id"], "after bob left")
    page = await bob.history(group["id"])
    assert page["last_visible_seq"] == removed["left_seq"]
    assert max(e["seq"] for e in page["entries"]) == removed["left_seq"]
    assert await messages(bob, group["id"]) == ["while bob was here"]
    later = await bob.history(group["id"], after=removed["left_seq"])
    assert later["entries"] == []
    older = await bob.history(group["id"], before=removed["left_seq"] + 2)
    assert "after bob left" not in [e["body"] for e in older["entries"]]


# ---- roles ------------------------------------------------------------------------------


async def test_the_owner_sets_a_role(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    promoted = await alice.set_role(group["id"], me(bob)["id"], "admin")
    assert promoted["role"] == "admin"
    assert (await bob.group(group["id"]))["my_role"] == "admin"
    entry = (await bob.history(group["id"]))["entries"][-1]
    assert (entry["kind"], entry["data"]) == (
        "role_changed",
        {"account_id": me(bob)["id"], "role": "admin"},
    )
    demoted = await alice.set_role(group["id"], me(bob)["id"], "member")
    assert demoted["role"] == "member"


async def test_setting_the_same_role_is_a_conflict(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    err = await refused(alice.set_role(group["id"], me(bob)["id"], "member"))
    assert (err.status, err.code) == (409, "role_unchanged")


async def test_only_the_owner_sets_roles(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    await alice.set_role(group["id"], me(bob)["id"], "admin")
    err = await refused(bob.set_role(group["id"], me(carol)["id"], "admin"))
    assert (err.status, err.code) == (403, "not_permitted")
    err = await refused(alice.set_role(group["id"], me(alice)["id"], "member"))
    assert (err.status, err.code) == (403, "not_permitted")


async def test_ownership_is_not_a_settable_role(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    err = await refused(alice.set_role(group["id"], me(bob)["id"], "owner"))
    assert (err.status, err.code) == (422, "validation_error")


async def test_the_members_list_shows_role_labels(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    await alice.set_role(group["id"], me(bob)["id"], "admin")
    listed = await carol.members(group["id"])
    assert [(m["handle"], m["display_name"], m["role"]) for m in listed] == [
        (me(alice)["handle"], "Alice", "owner"),
        (me(bob)["handle"], "Bob", "admin"),
        (me(carol)["handle"], "Carol", "member"),
    ]


# ---- ownership transfer -------------------------------------------------------------------


async def test_an_accepted_offer_swaps_owner_and_admin(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    offer = await alice.offer_ownership(group["id"], me(bob)["id"])
    assert (offer["state"], offer["from_id"], offer["to_id"]) == (
        "pending",
        me(alice)["id"],
        me(bob)["id"],
    )
    assert (await bob.group(group["id"]))["my_role"] == "member"  # nothing moves until accepted
    accepted = await bob.accept_ownership(offer["id"])
    assert accepted["state"] == "accepted"
    seen = await alice.group(group["id"])
    assert (seen["owner_id"], seen["owner_display_name"], seen["my_role"]) == (
        me(bob)["id"],
        "Bob",
        "admin",
    )
    roles = {m["account_id"]: m["role"] for m in await alice.members(group["id"])}
    assert roles == {me(alice)["id"]: "admin", me(bob)["id"]: "owner"}
    entry = (await alice.history(group["id"]))["entries"][-1]
    assert (entry["kind"], entry["data"]) == (
        "ownership_transferred",
        {"from": me(alice)["id"], "to": me(bob)["id"]},
    )
    # The new owner holds the owner's powers; the old one may now leave.
    assert (await bob.update_group(group["id"], name="bob's now"))["name"] == "bob's now"
    assert (await alice.leave(group["id"]))["state"] == "left"


async def test_a_declined_offer_changes_nothing(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    offer = await alice.offer_ownership(group["id"], me(bob)["id"])
    declined = await bob.decline_ownership(offer["id"])
    assert declined["state"] == "declined"
    assert (await alice.group(group["id"]))["owner_id"] == me(alice)["id"]
    err = await refused(bob.accept_ownership(offer["id"]))
    assert (err.status, err.code) == (409, "offer_answered")


async def test_the_owner_cancels_an_offer(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    offer = await alice.offer_ownership(group["id"], me(bob)["id"])
    cancelled = await alice.decline_ownership(offer["id"])
    assert cancelled["state"] == "cancelled"
    err = await refused(bob.accept_ownership(offer["id"]))
    assert (err.status, err.code) == (409, "offer_answered")
    # With the offer cancelled a new one may be made.
    again = await alice.offer_ownership(group["id"], me(bob)["id"])
    assert again["state"] == "pending"


async def test_the_offering_owner_cannot_accept_their_own_offer(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    offer = await alice.offer_ownership(group["id"], me(bob)["id"])
    err = await refused(alice.accept_ownership(offer["id"]))
    assert (err.status, err.code) == (403, "not_permitted")


async def test_a_third_party_cannot_see_an_offer(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    offer = await alice.offer_ownership(group["id"], me(bob)["id"])
    err = await refused(carol.accept_ownership(offer["id"]))
    assert (err.status, err.code) == (404, "offer_not_found")


async def test_ownership_cannot_be_offered_to_a_non_member(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    err = await refused(alice.offer_ownership(group["id"], me(bob)["id"]))
    assert (err.status, err.code) == (404, "member_not_found")
    err = await refused(alice.offer_ownership(group["id"], me(alice)["id"]))
    assert (err.status, err.code) == (400, "cannot_transfer_to_self")


async def test_a_second_pending_offer_is_a_conflict(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    await alice.offer_ownership(group["id"], me(bob)["id"])
    err = await refused(alice.offer_ownership(group["id"], me(carol)["id"]))
    assert (err.status, err.code) == (409, "offer_pending")


async def test_only_the_owner_offers_ownership(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob, carol)
    await alice.set_role(group["id"], me(bob)["id"], "admin")
    err = await refused(bob.offer_ownership(group["id"], me(carol)["id"]))
    assert (err.status, err.code) == (403, "not_permitted")


async def test_an_offer_to_someone_who_since_left_cannot_be_accepted(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    offer = await alice.offer_ownership(group["id"], me(bob)["id"])
    await bob.leave(group["id"])
    err = await refused(bob.accept_ownership(offer["id"]))
    assert (err.status, err.code) == (409, "not_a_member")
    assert (await alice.group(group["id"]))["owner_id"] == me(alice)["id"]


async def test_an_invitation_to_a_dissolved_group_cannot_be_accepted(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    invitation = await alice.invite(group["id"], me(bob)["handle"])
    await alice.dissolve_group(group["id"])
    err = await refused(bob.accept_invitation(invitation["id"]))
    assert (err.status, err.code) == (409, "group_dissolved")


# ---- leaving and rejoining: every period of one's own, never the gaps ---------------------


async def test_a_rejoined_member_reads_and_reports_their_earlier_period_not_the_gap(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="open", discoverable=True)
    await bob.join(group["id"])
    before = (await alice.send(group["id"], "said while bob was here"))["seq"]
    await bob.leave(group["id"])
    gap = (await alice.send(group["id"], "said while bob was away"))["seq"]
    await bob.join(group["id"])
    await alice.send(group["id"], "said after bob came back")
    history = await bob.history(group["id"], limit=50)
    bodies = [e["body"] for e in history["entries"] if e["kind"] == "message"]
    assert bodies == ["said while bob was here", "said after bob came back"]
    assert gap not in [e["seq"] for e in history["entries"]]
    older = await bob.history(group["id"], before=gap + 1, limit=50)
    assert gap not in [e["seq"] for e in older["entries"]]
    receipt = await bob.report(group["id"], "message", "spam", seq=before)
    assert receipt["case_id"] > 0
    err = await refused(bob.report(group["id"], "message", "spam", seq=gap))
    assert (err.status, err.code) == (404, "message_not_found")
