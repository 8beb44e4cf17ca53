"""Unattended groups (“建群不能任性”, P7) by moving the injected clock: the owner and admins
go quiet while members keep posting, the sweep reminds the owner, the group turns read-only
after a second period, and someone takes ownership (an admin claims it, or the platform
decides when there are no admins). Dormant groups are left alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from qunzu.client import QunzuClient
from qunzu.domain.models import PlatformRole
from qunzu.services.attendance import sweep_unattended
from qunzu.services.context import transaction
from tests.e2e.test_reports import collect, has_notice, me, notices
from tests.factories import People, add_member, clock_of, group_with, qunzu, refused
from tests.rulebooks import generous_rulebooks
from tests.server import ServerThread

POLICY = generous_rulebooks().latest.attendance
AWAY = timedelta(days=POLICY.inactive_days + 1)
SECOND_PERIOD = timedelta(days=POLICY.response_days + 1)


async def sweep(server: ServerThread) -> dict[str, int]:
    ctx = server.app.state.qunzu.ctx
    return await server.acall(lambda: sweep_unattended(ctx))


async def later(people: People, server: ServerThread, delta: timedelta) -> None:
    """Move the clock; everyone logs in again (tokens expire after 30 days)."""
    clock_of(server).advance(delta)
    for client in people.clients:
        if client.account is not None and client.account.get("platform_role") is None:
            await people.relogin(client)


async def attendance_of(owner: QunzuClient, group: dict[str, Any]) -> str:
    (mine,) = [g for g in await owner.owned_groups() if g["group_id"] == group["id"]]
    return str(mine["attendance"])


async def abandoned(
    people: People, server: ServerThread, with_admin: bool = True
) -> tuple[QunzuClient, QunzuClient | None, QunzuClient, dict[str, Any]]:
    """A group whose managers went quiet past the period while a member kept posting."""
    owner, member = await people.user("owner"), await people.user("member")
    group = await group_with(owner, member)
    admin = None
    if with_admin:
        admin = await people.user("admin")
        await add_member(owner, group, admin)
        await owner.appoint_admin(group["id"], me(admin), ["mute"])
    await owner.send(group["id"], "welcome")
    await sweep(server)
    assert await attendance_of(owner, group) == "attended"
    await later(people, server, AWAY)
    await member.send(group["id"], "anyone here?")
    return owner, admin, member, group


async def read_only(
    people: People, server: ServerThread
) -> tuple[QunzuClient, QunzuClient | None, QunzuClient, dict[str, Any]]:
    """An abandoned group, reminded, then left a second period without response."""
    abandoned_group = await abandoned(people, server)
    await sweep(server)
    await later(people, server, SECOND_PERIOD)
    await sweep(server)
    return abandoned_group


async def test_managers_away_while_members_post_makes_a_group_unattended_and_reminds_the_owner(
    people: People, clocked_server: ServerThread
) -> None:
    owner, _, _, group = await abandoned(people, clocked_server)
    async with owner.events() as stream:
        moved = await sweep(clocked_server)
        frames = await collect(stream, has_notice("unattended_reminder", group_id=group["id"]))
    assert moved["unattended"] >= 1
    (reminder,) = notices(frames, "unattended_reminder")
    assert reminder["choices"] == ["appoint_admins", "transfer_ownership", "dissolve"]
    assert await attendance_of(owner, group) == "unattended"
    entries = (await owner.history(group["id"], limit=50))["entries"]
    assert [e["data"]["state"] for e in entries if e["kind"] == "attendance_changed"] == [
        "unattended"
    ]


async def test_an_owner_who_returns_makes_the_group_attended_again(
    people: People, clocked_server: ServerThread
) -> None:
    owner, _, member, group = await abandoned(people, clocked_server)
    await sweep(clocked_server)
    await owner.send(group["id"], "I am back")
    await sweep(clocked_server)
    assert await attendance_of(owner, group) == "attended"
    await member.send(group["id"], "welcome back")


async def test_a_second_period_without_response_turns_the_group_read_only_for_members(
    people: People, clocked_server: ServerThread
) -> None:
    owner, admin, member, group = await read_only(people, clocked_server)
    assert await attendance_of(owner, group) == "read_only"
    err = await refused(member.send(group["id"], "hello?"))
    assert (err.status, err.code) == (403, "group_unattended")
    assert admin is not None
    await admin.send(group["id"], "an admin may still speak")


async def test_an_admin_claims_a_read_only_group_and_it_is_attended_again(
    people: People, clocked_server: ServerThread
) -> None:
    owner, admin, member, group = await read_only(people, clocked_server)
    assert admin is not None
    response = await admin.request("POST", f"/v1/groups/{group['id']}/claim")
    assert response.status_code == 204
    assert await attendance_of(admin, group) == "attended"
    assert [g["group_id"] for g in await owner.owned_groups()].count(group["id"]) == 0
    await member.send(group["id"], "thanks for taking over")
    await sweep(clocked_server)
    assert await attendance_of(admin, group) == "attended"  # the claim counts as activity


async def test_claiming_an_attended_group_is_409(
    people: People, clocked_server: ServerThread
) -> None:
    owner, member = await people.user("owner"), await people.user("member")
    group = await group_with(owner, member)
    await owner.appoint_admin(group["id"], me(member), ["mute"])
    err = await refused(member.claim_group(group["id"]))
    assert (err.status, err.code) == (409, "group_attended")


async def test_without_admins_a_member_needs_a_platform_decision_which_is_audited(
    people: People, clocked_server: ServerThread
) -> None:
    owner, _, member, group = await abandoned(people, clocked_server, with_admin=False)
    await sweep(clocked_server)
    err = await refused(member.claim_group(group["id"]))
    assert (err.status, err.code) == (403, "platform_decision_required")
    reviewer = await people.staff(PlatformRole.reviewer)
    err = await refused(reviewer.assign_owner(group["id"], me(member), "owner gone 60 days"))
    assert err.status == 403
    senior = await people.staff(PlatformRole.senior_reviewer)
    await senior.assign_owner(group["id"], me(member), "owner gone 60 days; member asked")
    assert await attendance_of(member, group) == "attended"
    assert (await member.group(group["id"]))["owner_id"] == me(member)
    entries = (await member.history(group["id"], limit=50))["entries"]
    (transfer,) = [e for e in entries if e["kind"] == "ownership_transferred"]
    assert transfer["data"] == {"from": me(owner), "to": me(member), "via": "platform"}

    ctx = clocked_server.app.state.qunzu.ctx

    async def audited() -> list[Any]:
        async with transaction(ctx, write=False) as uow:
            return [
                r
                for r in await uow.audit.scan(0, 100_000)
                if r.action == "group.assign_owner" and r.subject == f"group:{group['id']}"
            ]

    (entry,) = await clocked_server.acall(audited)
    assert entry.detail["account_id"] == me(member)


async def test_dormant_groups_where_nobody_posts_are_left_alone(
    people: People, clocked_server: ServerThread
) -> None:
    owner, member = await people.user("owner"), await people.user("member")
    group = await group_with(owner, member)
    await member.send(group["id"], "last words")
    await later(people, clocked_server, AWAY + SECOND_PERIOD)
    await sweep(clocked_server)
    await sweep(clocked_server)
    assert await attendance_of(owner, group) == "attended"
    await member.send(group["id"], "still allowed")


def test_the_cli_sweeps_a_data_dir(tmp_path: Path) -> None:
    result = qunzu("groups", "sweep-unattended", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unattended: 0, read-only: 0, attended again: 0"
