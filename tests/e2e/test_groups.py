"""Groups (群组): creation, profile (Art. 8), search, settings, dissolution and rules (群规)."""

from __future__ import annotations

import uuid

import pytest

from qunzu.client import QunzuClient
from qunzu.domain.models import GroupCategory
from tests.factories import add_member, group_with, make_group, me, refused


def token() -> str:
    """A word no other group name contains, to search for."""
    return "t" + uuid.uuid4().hex[:12]


# ---- creation and profile ---------------------------------------------------------------


@pytest.mark.parametrize("category", [c.value for c in GroupCategory])
async def test_create_a_group_in_each_category(alice: QunzuClient, category: str) -> None:
    group = await alice.create_group(f"a {category} group", category)
    assert group["category"] == category
    assert group["kind"] == "group"
    assert group["state"] == "active"
    assert group["join_policy"] == "invite-only"
    assert group["discoverable"] is False
    assert group["member_count"] == 1
    assert group["owner_id"] == me(alice)["id"]
    assert group["my_role"] == "owner"
    assert group["rules_version"] == 0


async def test_an_unknown_category_is_a_validation_error(alice: QunzuClient) -> None:
    err = await refused(alice.create_group("no such category", "gossip"))
    assert (err.status, err.code) == (422, "validation_error")


async def test_a_blank_group_name_is_refused(alice: QunzuClient) -> None:
    err = await refused(alice.create_group("   ", "friends"))
    assert (err.status, err.code) == (400, "invalid_group_name")


async def test_the_group_number_has_nine_digits_and_never_changes(alice: QunzuClient) -> None:
    group = await make_group(alice)
    number = group["number"]
    assert 100_000_000 <= number <= 999_999_999
    renamed = await alice.update_group(group["id"], name="a new name")
    assert renamed["number"] == number
    assert (await alice.group(group["id"]))["number"] == number
    assert (await alice.group_by_number(number))["id"] == group["id"]


async def test_group_numbers_are_distinct(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    # One group per owner: a new account's daily creation quota is small (Art. 8).
    numbers = {(await make_group(owner))["number"] for owner in (alice, bob, carol)}
    assert len(numbers) == 3


async def test_the_profile_shows_count_owner_category_and_my_role(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob, category="community")
    seen = await bob.group(group["id"])
    assert seen["member_count"] == 2
    assert seen["owner_display_name"] == "Alice"
    assert seen["category"] == "community"
    assert seen["my_role"] == "member"
    assert seen["name"] == group["name"]
    assert (await alice.group(group["id"]))["my_role"] == "owner"


async def test_my_groups_lists_the_groups_i_belong_to(alice: QunzuClient, bob: QunzuClient) -> None:
    mine = await make_group(alice)
    other = await make_group(bob)
    ids = {g["id"] for g in await alice.my_groups()}
    assert mine["id"] in ids and other["id"] not in ids


# ---- finding groups ---------------------------------------------------------------------


async def test_search_lists_discoverable_groups_only(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    word = token()
    listed = await make_group(alice, name=f"club {word}", discoverable=True)
    await make_group(bob, name=f"secret {word}", discoverable=False)
    found = await carol.search_groups(word)
    assert [g["id"] for g in found] == [listed["id"]]
    assert found[0]["my_role"] is None


async def test_search_does_not_list_dissolved_groups(alice: QunzuClient, bob: QunzuClient) -> None:
    word = token()
    group = await make_group(alice, name=f"closing {word}", discoverable=True)
    assert len(await bob.search_groups(word)) == 1
    await alice.dissolve_group(group["id"])
    assert await bob.search_groups(word) == []


async def test_search_treats_like_wildcards_literally(alice: QunzuClient, bob: QunzuClient) -> None:
    word = token()
    await make_group(alice, name=f"{word} plain", discoverable=True)
    assert await bob.search_groups(f"{word}%") == []
    assert await bob.search_groups(f"{word[:4]}_{word[5:]}") == []


async def test_a_discoverable_group_is_found_by_number(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, discoverable=True)
    seen = await bob.group_by_number(group["number"])
    assert seen["id"] == group["id"]
    assert seen["my_role"] is None
    assert seen["owner_display_name"] == "Alice"


async def test_a_private_group_is_not_found_by_number_for_outsiders(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    err = await refused(bob.group_by_number(group["number"]))
    assert (err.status, err.code) == (404, "group_not_found")


async def test_an_unknown_group_number_is_not_found(alice: QunzuClient) -> None:
    err = await refused(alice.group_by_number(1))
    assert (err.status, err.code) == (404, "group_not_found")


async def test_an_outsider_viewing_a_private_group_gets_not_found(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    err = await refused(bob.group(group["id"]))
    assert (err.status, err.code) == (404, "group_not_found")
    err = await refused(bob.history(group["id"]))
    assert (err.status, err.code) == (404, "group_not_found")
    err = await refused(bob.members(group["id"]))
    assert (err.status, err.code) == (404, "group_not_found")


async def test_a_group_that_does_not_exist_is_not_found(alice: QunzuClient) -> None:
    err = await refused(alice.group(2**62))
    assert (err.status, err.code) == (404, "group_not_found")


# ---- settings ---------------------------------------------------------------------------


async def test_the_owner_updates_the_settings(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    updated = await alice.update_group(
        group["id"], name="renamed", join_policy="open", discoverable=True
    )
    assert (updated["name"], updated["join_policy"], updated["discoverable"]) == (
        "renamed",
        "open",
        True,
    )
    updated_entry, tier_entry = (await bob.history(group["id"]))["entries"][-2:]
    assert updated_entry["kind"] == "group_updated"
    assert updated_entry["data"] == {
        "name": "renamed",
        "join_policy": "open",
        "discoverable": True,
    }
    # Open and discoverable makes the group public (Art. 7 tiers); the change is an event.
    assert tier_entry["kind"] == "tier_changed"
    assert tier_entry["data"] == {"from": "small", "to": "public"}


async def test_an_admin_cannot_update_the_settings(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    await alice.set_role(group["id"], me(bob)["id"], "admin")
    err = await refused(bob.update_group(group["id"], name="taken over"))
    assert (err.status, err.code) == (403, "not_permitted")
    assert (await alice.group(group["id"]))["name"] == group["name"]


async def test_a_member_cannot_update_the_settings(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    err = await refused(bob.update_group(group["id"], discoverable=True))
    assert (err.status, err.code) == (403, "not_permitted")


async def test_an_update_that_changes_nothing_is_refused(alice: QunzuClient) -> None:
    group = await make_group(alice)
    err = await refused(alice.update_group(group["id"]))
    assert (err.status, err.code) == (400, "nothing_to_change")


# ---- dissolution --------------------------------------------------------------------------


async def test_only_the_owner_dissolves_a_group(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    await alice.set_role(group["id"], me(bob)["id"], "admin")
    err = await refused(bob.dissolve_group(group["id"]))
    assert (err.status, err.code) == (403, "not_permitted")
    dissolved = await alice.dissolve_group(group["id"])
    assert dissolved["state"] == "dissolved"
    assert (await bob.group(group["id"]))["state"] == "dissolved"


async def test_an_outsider_cannot_dissolve_a_group(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice, discoverable=True)
    err = await refused(bob.dissolve_group(group["id"]))
    assert (err.status, err.code) == (403, "not_a_member")


async def test_a_dissolved_group_refuses_posts_but_keeps_its_history(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    await bob.send(group["id"], "before the end")
    await alice.dissolve_group(group["id"])
    for client in (alice, bob):
        err = await refused(client.send(group["id"], "after the end"))
        assert (err.status, err.code) == (409, "group_dissolved")
    entries = (await bob.history(group["id"]))["entries"]
    assert [e["body"] for e in entries if e["kind"] == "message"] == ["before the end"]
    assert entries[-1]["kind"] == "group_state_changed"
    assert entries[-1]["data"] == {"state": "dissolved"}


async def test_a_dissolved_group_refuses_changes(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice)
    await alice.dissolve_group(group["id"])
    for call in (
        alice.dissolve_group(group["id"]),
        alice.update_group(group["id"], name="zombie"),
        alice.set_rules(group["id"], "no rules for the dead"),
        alice.invite(group["id"], me(bob)["handle"]),
    ):
        err = await refused(call)
        assert (err.status, err.code) == (409, "group_dissolved")


# ---- rules (群规) -------------------------------------------------------------------------


async def test_a_group_created_with_rules_is_at_version_one(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, rules="Be kind.")
    assert group["rules_version"] == 1
    assert group["my_accepted_rules_version"] == 1
    await add_member(alice, group, bob)
    rules = await bob.rules(group["id"])
    assert (rules["version"], rules["text"], rules["set_by"]) == (1, "Be kind.", me(alice)["id"])


async def test_setting_rules_increments_the_version(alice: QunzuClient) -> None:
    group = await make_group(alice)
    first = await alice.set_rules(group["id"], "No spam.")
    second = await alice.set_rules(group["id"], "No spam. No ads.")
    assert (first["version"], second["version"]) == (1, 2)
    assert (await alice.rules(group["id"]))["text"] == "No spam. No ads."
    assert (await alice.group(group["id"]))["rules_version"] == 2
    kinds = [e["kind"] for e in (await alice.history(group["id"]))["entries"]]
    assert kinds.count("rules_changed") == 2


async def test_a_group_without_rules_has_none_to_read(alice: QunzuClient) -> None:
    group = await make_group(alice)
    err = await refused(alice.rules(group["id"]))
    assert (err.status, err.code) == (404, "rules_not_set")
    err = await refused(alice.accept_rules(group["id"], 1))
    assert (err.status, err.code) == (409, "rules_not_set")


async def test_a_member_cannot_set_rules(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    err = await refused(bob.set_rules(group["id"], "my rules now"))
    assert (err.status, err.code) == (403, "not_permitted")


async def test_an_admin_may_set_rules(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await group_with(alice, bob)
    await alice.set_role(group["id"], me(bob)["id"], "admin")
    rules = await bob.set_rules(group["id"], "Admins wrote this.")
    assert rules["set_by"] == me(bob)["id"]


async def test_members_must_accept_new_rules_before_posting(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    await bob.send(group["id"], "before rules")
    await alice.set_rules(group["id"], "Stay on topic.")
    err = await refused(bob.send(group["id"], "after rules"))
    assert (err.status, err.code) == (403, "rules_not_accepted")
    assert err.problem["rules_version"] == 1
    # The author has read what they wrote.
    await alice.send(group["id"], "the rules are up")
    accepted = await bob.accept_rules(group["id"], 1)
    assert accepted["accepted_rules_version"] == 1
    assert (await bob.send(group["id"], "accepted"))["body"] == "accepted"


async def test_accepting_a_stale_rules_version_is_a_conflict(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    await alice.set_rules(group["id"], "v1")
    await alice.set_rules(group["id"], "v2")
    for wrong in (1, 3):
        err = await refused(bob.accept_rules(group["id"], wrong))
        assert (err.status, err.code) == (409, "rules_version_stale")
        assert err.problem["rules_version"] == 2
    err = await refused(bob.send(group["id"], "still not accepted"))
    assert err.code == "rules_not_accepted"


async def test_joining_with_a_stale_rules_version_is_refused(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, join_policy="open", discoverable=True, rules="v1")
    await alice.set_rules(group["id"], "v2")
    err = await refused(bob.join(group["id"], rules_version=1))
    assert (err.status, err.code) == (409, "rules_version_stale")
    err = await refused(bob.join(group["id"]))
    assert (err.status, err.code) == (409, "rules_not_accepted")
    joined = await bob.join(group["id"], rules_version=2)
    assert joined["accepted_rules_version"] == 2
    assert (await bob.send(group["id"], "read the rules"))["body"] == "read the rules"


async def test_accepting_an_invitation_with_stale_rules_is_refused(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, rules="v1")
    invitation = await alice.invite(group["id"], me(bob)["handle"])
    await alice.set_rules(group["id"], "v2")
    err = await refused(bob.accept_invitation(invitation["id"], 1))
    assert (err.status, err.code) == (409, "rules_version_stale")
    joined = await bob.accept_invitation(invitation["id"], 2)
    assert joined["accepted_rules_version"] == 2


async def test_an_invitee_may_read_the_rules_before_accepting(
    alice: QunzuClient, carol: QunzuClient
) -> None:
    group = await make_group(alice, rules="Read me first.")
    await alice.invite(group["id"], me(carol)["handle"])
    assert (await carol.group(group["id"]))["rules_version"] == 1
    assert (await carol.rules(group["id"]))["text"] == "Read me first."
