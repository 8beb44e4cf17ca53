"""A copy of my data (PIPL article 45) through the API: requested, built in the
background, downloadable once within a day, holding what is mine and nobody else's."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from qunzu.client.http import QunzuClient
from qunzu.domain.clock import FrozenClock
from tests.factories import People, account_id, add_member, make_group, refused
from tests.server import ServerThread


async def ready(client: QunzuClient, export_id: int) -> dict[str, Any]:
    for _ in range(200):
        export = await client.data_export(export_id)
        if export["state"] != "pending":
            return export
        await asyncio.sleep(0.02)
    raise AssertionError("the export was never built")


async def test_my_export_holds_my_account_groups_and_messages_only(people: People) -> None:
    alice, bob = await people.user("alice"), await people.user("bob")
    group = await make_group(alice)
    await add_member(alice, group, bob)
    await alice.send(group["id"], "alice's own words")
    await bob.send(group["id"], "bob's words, not alice's")
    requested = await alice.request_data_export()
    assert requested["state"] == "pending"
    export = await ready(alice, requested["id"])
    assert export["state"] == "ready" and export["size"] > 0
    data = await alice.download_data_export(export["id"])
    assert data["format"] == "qunzu-personal-data/1"
    assert data["account"]["id"] == account_id(alice)
    assert data["identity"]["resident_id"].count("*") > 0  # masked, never in the clear
    assert [g["group_id"] for g in data["groups"]] == [group["id"]]
    assert [m["body"] for m in data["messages"]] == ["alice's own words"]
    assert data["sessions"] and all("token" not in s for s in data["sessions"])


async def test_an_export_is_downloaded_once(people: People) -> None:
    alice = await people.user("alice")
    export = await ready(alice, (await alice.request_data_export())["id"])
    await alice.download_data_export(export["id"])
    err = await refused(alice.download_data_export(export["id"]))
    assert (err.status, err.code) == (410, "export_gone")
    assert (await alice.data_export(export["id"]))["state"] == "downloaded"


async def test_an_export_not_downloaded_in_time_expires(
    people: People, clocked_server: ServerThread
) -> None:
    alice = await people.user("alice")
    export = await ready(alice, (await alice.request_data_export())["id"])
    clock = clocked_server.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(hours=25))
    await people.relogin(alice)
    assert (await alice.data_export(export["id"]))["state"] == "expired"
    err = await refused(alice.download_data_export(export["id"]))
    assert (err.status, err.code) == (410, "export_gone")


async def test_someone_elses_export_is_not_found(people: People) -> None:
    alice, mallory = await people.user("alice"), await people.user("mallory")
    export = await alice.request_data_export()
    for call in (mallory.data_export(export["id"]), mallory.download_data_export(export["id"])):
        err = await refused(call)
        assert (err.status, err.code) == (404, "export_not_found")
    assert (await refused(people.anonymous().request_data_export())).status == 401


async def test_one_export_at_a_time(people: People) -> None:
    alice = await people.user("alice")
    first = await alice.request_data_export()
    err = await refused(alice.request_data_export())
    assert (err.status, err.code) == (409, "export_in_progress")
    await ready(alice, first["id"])
    err = await refused(alice.request_data_export())  # ready, not yet downloaded
    assert err.code == "export_in_progress"


async def test_a_few_exports_a_day(people: People) -> None:
    alice = await people.user("alice")
    for _ in range(3):
        export = await ready(alice, (await alice.request_data_export())["id"])
        await alice.download_data_export(export["id"])
    err = await refused(alice.request_data_export())
    assert (err.status, err.code) == (429, "export_quota")


async def test_bad_export_ids_are_refused(people: People) -> None:
    alice = await people.user("alice")
    assert (await refused(alice.data_export(0))).status == 422
    assert (await refused(alice.data_export(2**63))).status == 422
    assert (await refused(alice.data_export(2**40))).code == "export_not_found"


async def test_consent_records_name_the_version_accepted_and_when(people: People) -> None:
    alice = await people.user("alice")
    current = await alice.agreement()
    assert current["title"]["zh"] and current["text"]["en"]
    before = await alice.consents()
    after = await alice.accept_agreement(current["version"])
    assert [c["version"] for c in after] == [current["version"]]
    assert after[0]["accepted_at"] and after[0]["title_en"] == current["title"]["en"]
    assert len(before) <= len(after)
    err = await refused(alice.accept_agreement(current["version"] + 1))
    assert (err.status, err.code) == (409, "agreement_version_stale")
    export = await ready(alice, (await alice.request_data_export())["id"])
    data = await alice.download_data_export(export["id"])
    assert [c["agreement_version"] for c in data["consents"]] == [current["version"]]
