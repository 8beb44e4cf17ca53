"""Two API nodes, one PostgreSQL database, one bus: the deployment of docs/deployment.md.

Both nodes run in this process (a ``ServerThread`` each, with its own event loop),
share a fresh PostgreSQL database and one network bus (redis:// or nats://), and
share the identity key, as every node of a deployment must. The tests prove that
the timeline is one across nodes: live delivery crosses nodes, a stream resumes
on the other node from its cursors, concurrent posting through both nodes keeps
``seq`` gap-free, and a retried send is idempotent across nodes.

Runs when QUNZU_TEST_POSTGRES_URL and QUNZU_TEST_REDIS_URL / QUNZU_TEST_NATS_URL
are set; each missing one skips its tests, saying which variable to set.

The bus is at-most-once: a lost live event is repaired from storage when the
next event of the group arrives. So the tests assert what a client ends up with,
never how fast: a wait that meets silence "nudges" the group with one more
message posted through the *other* node (which repairs a lost tail, and proves
that something crossed the bus at all), and the nudges are left out of what is
compared. Every wait is bounded.

Redis pub/sub ignores the database number, so two runs sharing a bus server would
hear each other's ``group.<id>``: each module's nodes get a namespace of their own
(``QUNZU_BUS_NAMESPACE``), as two deployments sharing a server must.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from qunzu.bootstrap import migrate_database
from qunzu.client import EventStream, QunzuAPIError, QunzuClient, SessionEnded
from tests.factories import add_member, make_group, make_user
from tests.integration.databases import fresh_postgres_database, require_postgres
from tests.server import ServerThread
from tests.server import test_settings as settings_for_tests

Frame = dict[str, Any]
Nudge = Callable[[], Awaitable[int]]

TIMEOUT = 10.0  # any one HTTP call or stream connect
SILENCE = 2.0  # no event for this long: nudge the group
MAX_NUDGES = 3  # silences in a row before a wait gives up

BUSES = {"redis": "QUNZU_TEST_REDIS_URL", "nats": "QUNZU_TEST_NATS_URL"}


# ---- the two nodes ------------------------------------------------------------------------


@dataclass
class Nodes:
    a: ServerThread
    b: ServerThread
    bus_url: str


@pytest.fixture(scope="module", params=list(BUSES))
def bus_url(request: pytest.FixtureRequest) -> str:
    variable = BUSES[request.param]
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{request.param} bus not tested: set {variable} to run it")
    return url


@pytest.fixture(scope="module")
def nodes(bus_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    with fresh_postgres_database(require_postgres()) as database_url:
        migrate_dir = tmp_path_factory.mktemp("qunzu-migrate")
        asyncio.run(migrate_database(settings_for_tests(migrate_dir, database_url=database_url)))
        namespace = f"test-{uuid.uuid4().hex}"
        identity_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        started: list[ServerThread] = []
        try:
            for name in ("a", "b"):
                settings = settings_for_tests(
                    tmp_path_factory.mktemp(f"qunzu-node-{name}"),
                    database_url=database_url,
                    bus_url=bus_url,
                    bus_namespace=namespace,
                    identity_key=identity_key,
                    run_migrations=False,
                )
                started.append(ServerThread(settings).start())
            yield Nodes(started[0], started[1], bus_url)
        finally:
            for thread in started:
                thread.stop()


# ---- people, each reachable through either node -------------------------------------------


@dataclass
class Person:
    """One account, with a client on each node (same token: the nodes share the database)."""

    a: QunzuClient
    b: QunzuClient

    @property
    def id(self) -> int:
        assert self.a.account is not None
        return int(self.a.account["id"])

    @property
    def token(self) -> str:
        assert self.a.token is not None
        return self.a.token

    def on(self, node: ServerThread) -> QunzuClient:
        return self.a if self.a.base_url == node.url.rstrip("/") else self.b

    def stream(self, node: ServerThread, cursors: dict[int, int] | None = None) -> EventStream:
        return EventStream(node.url, self.token, cursors=cursors, auto_resume=False)


MakePerson = Callable[[str], Awaitable[Person]]


@pytest.fixture
async def people(nodes: Nodes) -> AsyncIterator[MakePerson]:
    made: list[QunzuClient] = []

    async def make(prefix: str) -> Person:
        # Registered through node A; the client on node B uses the same token.
        on_a = await make_user(nodes.a.url, prefix=prefix)
        made.append(on_a)
        on_b = QunzuClient(nodes.b.url, on_a.token, timeout=TIMEOUT)
        made.append(on_b)
        on_b.account = await on_b.me()  # node B knows the account and accepts its token
        assert on_b.account == on_a.account
        return Person(on_a, on_b)

    yield make
    for client in made:
        await client.aclose()


async def group_of(owner: Person, *members: Person) -> int:
    group = await make_group(owner.a)
    for member in members:
        await add_member(owner.a, group, member.a)
    return int(group["id"])


# ---- waiting for events, bounded and loss-tolerant ----------------------------------------

NUDGE = "nudge "


def nudger(sender: QunzuClient, gid: int) -> Nudge:
    """Post one more message to the group; a stream that lost a live tail repairs it then."""

    async def nudge() -> int:
        return int((await sender.send(gid, NUDGE + uuid.uuid4().hex))["seq"])

    return nudge


async def receive_through(stream: EventStream, gid: int, seq: int, nudge: Nudge) -> list[Frame]:
    """The group's events until the stream has delivered ``seq`` (and any nudges it posted).

    A silence of ``SILENCE`` seconds nudges; ``MAX_NUDGES`` silences in a row fail.
    """
    events: list[Frame] = []
    target, silences = seq, 0
    while stream.cursors.get(gid, 0) < target:
        try:
            frame = await stream.next_event(timeout=SILENCE)
        except TimeoutError:
            silences += 1
            if silences > MAX_NUDGES:
                raise AssertionError(
                    f"stream stuck at seq {stream.cursors.get(gid)} of group {gid}, "
                    f"waiting for {target}; {len(events)} events so far, the last "
                    f"{[e['seq'] for e in events[-10:]]}"
                ) from None
            target = max(target, await nudge())
            continue
        silences = 0
        if frame["group_id"] == gid:
            events.append(frame)
    return events


def messages(events: list[Frame]) -> list[tuple[int, str, int]]:
    """(seq, body, sender) of the messages, nudges left out."""
    return [
        (e["seq"], e["body"], e["sender_id"])
        for e in events
        if e["kind"] == "message" and not e["body"].startswith(NUDGE)
    ]


def assert_gap_free(events: list[Frame], after: int) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(after + 1, after + 1 + len(seqs))), seqs


async def full_history(client: QunzuClient, gid: int) -> list[Frame]:
    entries: list[Frame] = []
    after = 0
    while True:
        page = await client.history(gid, after=after, limit=200)
        if not page["entries"]:
            return entries
        entries.extend(page["entries"])
        after = page["entries"][-1]["seq"]


# ---- 1. live delivery crosses nodes -------------------------------------------------------


async def test_a_message_posted_on_one_node_reaches_a_stream_on_the_other(
    nodes: Nodes, people: MakePerson
) -> None:
    a, b = nodes.a.settings, nodes.b.settings
    assert a.resolved_database_url == b.resolved_database_url
    assert a.resolved_database_url.startswith("postgresql")
    assert a.bus_url == b.bus_url == nodes.bus_url and not a.bus_url.startswith("memory")
    alice, bob = await people("alice"), await people("bob")
    gid = await group_of(alice, bob)
    # Bob listens on node B, alice on node A; each posts through their own node.
    async with bob.stream(nodes.b) as bob_stream, alice.stream(nodes.a) as alice_stream:
        start = bob_stream.cursors[gid]
        assert alice_stream.cursors[gid] == start
        sent: list[tuple[int, str, int]] = []
        bob_got: list[Frame] = []
        alice_got: list[Frame] = []
        for round_ in range(3):
            # A -> B: posted through node A, awaited on bob's stream on node B.
            mine = await alice.on(nodes.a).send(gid, f"from A {round_}")
            sent.append((mine["seq"], f"from A {round_}", alice.id))
            bob_got += await receive_through(
                bob_stream, gid, mine["seq"], nudger(alice.on(nodes.a), gid)
            )
            # B -> A: posted through node B, awaited on alice's stream on node A.
            theirs = await bob.on(nodes.b).send(gid, f"from B {round_}")
            sent.append((theirs["seq"], f"from B {round_}", bob.id))
            alice_got += await receive_through(
                alice_stream, gid, theirs["seq"], nudger(bob.on(nodes.b), gid)
            )
        # Bob still owes his own last message; alice catches up with any nudge bob made.
        bob_got += await receive_through(
            bob_stream, gid, sent[-1][0], nudger(alice.on(nodes.a), gid)
        )
        alice_got += await receive_through(
            alice_stream, gid, bob_stream.cursors[gid], nudger(bob.on(nodes.b), gid)
        )
        assert bob_stream.duplicates == 0 and alice_stream.duplicates == 0

    # One timeline: the seqs handed out by the two nodes interleave in posting order...
    assert [seq for seq, _, _ in sent] == sorted({seq for seq, _, _ in sent})
    assert sent[0][0] == start + 1
    # ...and both streams, on different nodes, delivered every one of them, gap-free.
    assert messages(bob_got) == sent
    assert messages(alice_got) == sent
    assert_gap_free(bob_got, start)
    assert_gap_free(alice_got, start)
    # The REST history is the same through either node, and gap-free.
    via_a = await full_history(alice.on(nodes.a), gid)
    via_b = await full_history(alice.on(nodes.b), gid)
    assert via_a == via_b
    assert_gap_free(via_a, 0)
    assert [(e["seq"], e["body"]) for e in via_a if e["seq"] > start] == [
        (e["seq"], e["body"]) for e in alice_got
    ]


# ---- 2. resume on the other node ----------------------------------------------------------


async def test_a_stream_dropped_on_node_b_resumes_on_node_a_without_loss_or_duplicates(
    nodes: Nodes, people: MakePerson
) -> None:
    alice, bob = await people("alice"), await people("bob")
    gid = await group_of(alice, bob)
    post_a = nudger(alice.on(nodes.a), gid)
    post_b = nudger(alice.on(nodes.b), gid)

    async with bob.stream(nodes.b) as on_b:
        start = on_b.cursors[gid]
        for i in range(3):
            last = (await alice.on(nodes.a).send(gid, f"online {i}"))["seq"]
        online = await receive_through(on_b, gid, last, post_a)
    assert [b for _, b, _ in messages(online)] == [f"online {i}" for i in range(3)]
    assert_gap_free(online, start)
    cursors = dict(on_b.cursors)  # what the SDK resumes from
    assert cursors[gid] == online[-1]["seq"]

    offline = [(await alice.on(nodes.a).send(gid, f"offline {i}"))["seq"] for i in range(20)]
    assert offline == list(range(cursors[gid] + 1, cursors[gid] + 21))

    async def post_during_resume() -> list[int]:
        return [(await alice.on(nodes.b).send(gid, f"racing {i}"))["seq"] for i in range(10)]

    async with bob.stream(nodes.a, cursors=cursors) as on_a:
        ready = on_a.ready
        assert ready is not None and ready["cursors"][str(gid)] == cursors[gid]
        racing = asyncio.create_task(post_during_resume())
        racing_seqs = await asyncio.wait_for(racing, TIMEOUT * 2)
        replay = await receive_through(on_a, gid, racing_seqs[-1], post_b)
        # Live again: one more through node B, the first event after the replay.
        live = await alice.on(nodes.b).send(gid, "live again")
        after = await receive_through(on_a, gid, live["seq"], post_b)
        assert on_a.duplicates == 0

    assert_gap_free(replay + after, cursors[gid])
    assert [b for _, b, _ in messages(replay)] == [f"offline {i}" for i in range(20)] + [
        f"racing {i}" for i in range(10)
    ]
    assert messages(after) == [(live["seq"], "live again", alice.id)]


# ---- 3. concurrent posting through both nodes ---------------------------------------------

SENDERS_PER_NODE = 2
MESSAGES_EACH = 50


async def test_concurrent_posting_through_both_nodes_gives_one_gap_free_timeline(
    nodes: Nodes, people: MakePerson
) -> None:
    owner = await people("owner")
    senders = [await people(f"sender{i}") for i in range(2 * SENDERS_PER_NODE)]
    reader_a, reader_b = await people("reader_a"), await people("reader_b")
    gid = await group_of(owner, *senders, reader_a, reader_b)
    # Senders 0, 2... post through node A; 1, 3... through node B.
    through = [(s, nodes.a if i % 2 == 0 else nodes.b) for i, s in enumerate(senders)]
    total = len(senders) * MESSAGES_EACH

    async def post(sender: Person, node: ServerThread) -> list[Frame]:
        client = sender.on(node)
        return [await client.send(gid, f"{sender.id}:{n}") for n in range(MESSAGES_EACH)]

    async with reader_a.stream(nodes.a) as on_a, reader_b.stream(nodes.b) as on_b:
        start = on_a.cursors[gid]
        assert on_b.cursors[gid] == start
        posted = await asyncio.wait_for(
            asyncio.gather(*(post(s, n) for s, n in through)), TIMEOUT * 6
        )
        # (Read only now, so that no nudge can take a seq among the posted ones.)
        got_a = await receive_through(on_a, gid, start + total, nudger(owner.on(nodes.b), gid))
        got_b = await receive_through(on_b, gid, start + total, nudger(owner.on(nodes.a), gid))
        assert on_a.duplicates == 0 and on_b.duplicates == 0

    # Distinct, gap-free seqs across both nodes.
    seqs = sorted(m["seq"] for sent in posted for m in sent)
    assert seqs == list(range(start + 1, start + total + 1))
    # Each sender's messages keep their sending order.
    for (sender, _), sent in zip(through, posted, strict=True):
        assert [m["body"] for m in sent] == [f"{sender.id}:{n}" for n in range(MESSAGES_EACH)]
        assert [m["seq"] for m in sent] == sorted(m["seq"] for m in sent)
    expected = sorted((m["seq"], m["body"], m["sender_id"]) for sent in posted for m in sent)
    # Each reader, one per node, got every message exactly once, in seq order.
    for got in (got_a, got_b):
        assert_gap_free(got, start)
        assert messages(got) == expected


# ---- 4. idempotency across nodes ----------------------------------------------------------


async def test_a_send_retried_on_the_other_node_returns_the_original_and_stores_one(
    nodes: Nodes, people: MakePerson
) -> None:
    alice, bob = await people("alice"), await people("bob")
    gid = await group_of(alice, bob)
    txn = uuid.uuid4().hex
    path = f"/v1/groups/{gid}/messages"
    payload = {"body": "sent once", "client_txn_id": txn}

    async with alice.stream(nodes.b) as watching:
        start = watching.cursors[gid]
        first = await bob.on(nodes.a).request("POST", path, json=payload)
        retried = await bob.on(nodes.b).request("POST", path, json=payload)
        again = await bob.on(nodes.a).request("POST", path, json=payload)
        assert (first.status_code, retried.status_code, again.status_code) == (201, 200, 200)
        original = first.json()
        assert retried.json() == original == again.json()
        assert original["seq"] == start + 1 and original["client_txn_id"] == txn

        # The same id with another body is refused on either node.
        for node in (nodes.a, nodes.b):
            with pytest.raises(QunzuAPIError) as refused:
                await bob.on(node).send(gid, "something else", client_txn_id=txn)
            assert (refused.value.status, refused.value.code) == (409, "txn_id_reused")

        # The next message takes the next seq: the retries took none.
        following = await alice.on(nodes.b).send(gid, "following")
        assert following["seq"] == original["seq"] + 1
        got = await receive_through(watching, gid, following["seq"], nudger(bob.on(nodes.a), gid))
        assert watching.duplicates == 0

    assert_gap_free(got, start)
    assert messages(got) == [
        (original["seq"], "sent once", bob.id),
        (following["seq"], "following", alice.id),
    ]
    for node in (nodes.a, nodes.b):
        history = await full_history(alice.on(node), gid)
        assert [e["seq"] for e in history if e.get("client_txn_id") == txn] == [original["seq"]]
        assert [e["body"] for e in history].count("sent once") == 1


async def test_a_retry_racing_its_original_on_the_other_node_gets_the_original(
    nodes: Nodes, people: MakePerson
) -> None:
    alice, bob = await people("alice"), await people("bob")
    gid = await group_of(alice, bob)
    path = f"/v1/groups/{gid}/messages"
    sent: list[int] = []
    for i in range(20):
        # Both requests read the id as unused; the second waits on the group row's lock,
        # then meets the unique (sender, client_txn_id): it must answer as a retry.
        payload = {"body": f"raced {i}", "client_txn_id": uuid.uuid4().hex}
        answers = await asyncio.gather(
            bob.on(nodes.a).request("POST", path, json=payload),
            bob.on(nodes.b).request("POST", path, json=payload),
        )
        assert sorted(r.status_code for r in answers) == [200, 201]
        assert answers[0].json() == answers[1].json()
        sent.append(int(answers[0].json()["seq"]))
    history = await full_history(alice.on(nodes.a), gid)
    raced = [e for e in history if str(e.get("body", "")).startswith("raced ")]
    assert [e["seq"] for e in raced] == sent  # each stored once, in order
    assert [e["body"] for e in raced] == [f"raced {i}" for i in range(20)]


# ---- 5. a session ended on one node ends its streams on the other ---------------------------


async def test_a_token_revoked_through_node_a_closes_its_stream_on_node_b_within_a_second(
    people: MakePerson, nodes: Nodes
) -> None:
    alice = await people("alice")
    phone = await alice.a.issue_token("phone")
    async with (
        EventStream(nodes.b.url, phone["token"], auto_resume=False) as revoked,
        alice.stream(nodes.b) as kept,
    ):
        start = time.monotonic()
        await alice.a.revoke_token(phone["token_id"])
        with pytest.raises(SessionEnded) as ended:
            while True:
                await revoked.recv(timeout=TIMEOUT)
        elapsed = time.monotonic() - start
        assert (ended.value.close_code, ended.value.code) == (4401, "token_revoked")
        assert elapsed < 1.0, f"closed after {elapsed:.2f}s"
        pong = await kept.ping()
        assert (await kept.recv(timeout=TIMEOUT))["ref"] == pong
