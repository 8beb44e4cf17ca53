"""A real server on PostgreSQL, driven through the SDK from registration to history.

Runs when QUNZU_TEST_POSTGRES_URL names a server; the module gets a fresh database,
dropped at the end.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from qunzu.client import QunzuClient
from tests.factories import group_with, persona
from tests.integration.databases import fresh_postgres_database, require_postgres
from tests.server import ServerThread
from tests.server import test_settings as settings_for_tests


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with fresh_postgres_database(require_postgres()) as url:
        settings = settings_for_tests(tmp_path_factory.mktemp("qunzu-pg"), database_url=url)
        with ServerThread(settings) as thread:
            yield thread


owner = persona("owner", "群主", server="pg_server")
member = persona("member", "Member", server="pg_server")


async def test_server_on_postgres_runs_a_group_conversation_end_to_end(
    pg_server: ServerThread, owner: QunzuClient, member: QunzuClient
) -> None:
    assert pg_server.settings.resolved_database_url.startswith("postgresql")
    assert owner.account is not None and owner.account["identity_verified"]

    group = await group_with(owner, member, name="PostgreSQL 群")
    members = {m["handle"]: m["role"] for m in await owner.members(group["id"])}
    assert member.account is not None
    assert members == {owner.account["handle"]: "owner", member.account["handle"]: "member"}

    first = await owner.send(group["id"], "你好, PostgreSQL")
    second = await member.send(group["id"], "hello back")
    assert second["seq"] == first["seq"] + 1

    # A retry with the same client_txn_id returns the stored message, not a second one.
    txn = uuid.uuid4().hex
    sent = await member.send(group["id"], "sent once", client_txn_id=txn)
    retried = await member.send(group["id"], "sent once", client_txn_id=txn)
    assert retried["seq"] == sent["seq"]

    page = await owner.history(group["id"])
    messages = [e for e in page["entries"] if e["kind"] == "message"]
    assert [m["body"] for m in messages] == ["你好, PostgreSQL", "hello back", "sent once"]
    seqs = [e["seq"] for e in page["entries"]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gap-free

    resumed = await member.history(group["id"], after=first["seq"])
    assert [e["body"] for e in resumed["entries"] if e["kind"] == "message"] == [
        "hello back",
        "sent once",
    ]


async def test_concurrent_sends_on_postgres_get_distinct_gap_free_seqs(
    owner: QunzuClient, member: QunzuClient
) -> None:
    group = await group_with(owner, member)
    before = (await owner.history(group["id"]))["entries"][-1]["seq"]
    sent = await asyncio.gather(
        *((owner if i % 2 else member).send(group["id"], f"parallel {i}") for i in range(10))
    )
    assert sorted(m["seq"] for m in sent) == list(range(before + 1, before + 11))


async def test_a_lawful_access_request_and_a_referral_round_trip_on_postgres(
    pg_server: ServerThread, owner: QunzuClient, member: QunzuClient
) -> None:
    import io
    import json
    import zipfile
    from datetime import UTC, datetime, timedelta

    from qunzu.domain.models import PlatformRole
    from tests.factories import account_id, platform_user

    registrar = await platform_user(pg_server, PlatformRole.admin)
    second = await platform_user(pg_server, PlatformRole.senior_reviewer)
    try:
        group = await group_with(owner, member, name="调取 群")
        seq = (await member.send(group["id"], "证据 message"))["seq"]
        now = datetime.now(UTC)
        request = await registrar.register_access_request(
            {
                "authority": "Chaoyang Procuratorate",
                "authority_kind": "procuratorate",
                "legal_basis": "Criminal Procedure Law, section 54",
                "document_ref": "CY-1",
                "scope": {
                    "group_ids": [group["id"]],
                    "from": (now - timedelta(hours=1)).isoformat(),
                    "to": (now + timedelta(minutes=1)).isoformat(),
                    "data_classes": ["messages", "memberships"],
                },
            }
        )
        assert request["scope"]["group_ids"] == [group["id"]]
        await second.decide_access_request(request["id"], True, "Document checked by phone.")
        with zipfile.ZipFile(io.BytesIO(await second.export_access_request(request["id"]))) as z:
            messages = [json.loads(line) for line in z.read("messages.jsonl").splitlines()]
        assert [m["body"] for m in messages] == ["证据 message"]
        assert (await second.access_request(request["id"]))["exports"] == 1

        await owner.report_up(
            group["id"], "message", "fraud", "forged goods", seq=seq, to="authorities"
        )
        open_ = [r for r in await second.referrals() if r["group_id"] == group["id"]]
        assert [r["account_id"] for r in open_] == [account_id(member)]
    finally:
        await registrar.aclose()
        await second.aclose()
