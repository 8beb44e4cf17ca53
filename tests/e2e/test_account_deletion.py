"""Deleting one's own account (注销) through the API: sessions end, groups are left, the
profile goes and the handle stays reserved, messages stay under "deleted account" unless
removed too; owners transfer first; the password confirms it."""

from __future__ import annotations

from qunzu.client.http import QunzuClient
from tests.factories import PASSWORD, People, account_id, add_member, make_group, me, refused


async def test_a_deleted_account_leaves_its_groups_and_its_sessions_end(people: People) -> None:
    owner, member = await people.user("owner"), await people.user("member")
    group = await make_group(owner)
    await add_member(owner, group, member)
    await member.send(group["id"], "goodbye everyone")
    await member.delete_account(PASSWORD)
    err = await refused(member.me())
    assert err.status in (401, 403)
    handles = {m["handle"] for m in await owner.members(group["id"])}
    assert me(member)["handle"] not in handles
    history = await owner.history(group["id"])
    [message] = [e for e in history["entries"] if e["kind"] == "message"]
    assert message["body"] == "goodbye everyone"  # kept: the member did not remove it
    err = await refused(owner.profile(me(member)["handle"]))
    assert (err.status, err.code) == (404, "account_not_found")


async def test_the_handle_of_a_deleted_account_stays_reserved(people: People) -> None:
    member = await people.user("member")
    await member.delete_account(PASSWORD)
    newcomer = QunzuClient(people.server.url)
    people.clients.append(newcomer)
    err = await refused(newcomer.register(me(member)["handle"], "another password 9"))
    assert err.status == 409


async def test_a_member_can_remove_their_messages_with_the_account(people: People) -> None:
    owner, member = await people.user("owner"), await people.user("member")
    group = await make_group(owner)
    await add_member(owner, group, member)
    await member.send(group["id"], "please forget this")
    await member.delete_account(PASSWORD, remove_messages=True)
    history = await owner.history(group["id"])
    [message] = [e for e in history["entries"] if e["kind"] == "message"]
    assert message["body"] is None


async def test_an_owner_transfers_or_dissolves_first(people: People) -> None:
    owner = await people.user("owner")
    group = await make_group(owner)
    err = await refused(owner.delete_account(PASSWORD))
    assert (err.status, err.code) == (409, "owner_must_transfer")
    assert (err.problem["group_id"], err.problem["groups"]) == (group["id"], 1)
    assert (await owner.me())["id"] == account_id(owner)  # nothing happened


async def test_a_wrong_password_deletes_nothing(people: People) -> None:
    member = await people.user("member")
    err = await refused(member.delete_account("not the password"))
    assert (err.status, err.code) == (403, "password_mismatch")
    assert (await member.me())["id"] == account_id(member)


async def test_malformed_deletion_requests_are_refused(people: People) -> None:
    member = await people.user("member")
    for body in ({}, {"password": ""}, {"password": PASSWORD, "extra": 1}):
        err = await refused(member.request("POST", "/v1/me/deletion", json=body))
        assert err.status == 422
    assert (await refused(people.anonymous().delete_account(PASSWORD))).status == 401
    assert (await member.me())["id"] == account_id(member)
