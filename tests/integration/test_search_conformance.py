"""One conformance suite for the message search engines: SQLite FTS5 (on the loop and on
aiosqlite's thread) and PostgreSQL's GIN ``tsvector`` (tests/integration/conftest.py).

Every expectation is a brute-force scan of the same messages: a Chinese query is a plain
substring test on the body, a Latin one a case-insensitive word-prefix test; the
engine must answer exactly that, newest first, never outside the searcher's groups and
visible window, never removed text, never a 500 on query syntax.
"""

from __future__ import annotations

import itertools
import os
import re

import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.bus.memory import MemoryBus
from qunzu.domain.clock import FrozenClock
from qunzu.domain.errors import Forbidden, InvalidInput
from qunzu.domain.search import matches, parse_query
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.membership import do_leave
from qunzu.services.messaging import do_send_message
from qunzu.services.owner_tools import do_remove_message
from qunzu.services.search import SearchPage, search_messages
from qunzu.storage import search_repo
from qunzu.storage.migrate import alembic_config
from qunzu.storage.uow import SqlUnitOfWorkFactory
from qunzu.verification import FormatCheckVerifier
from tests.fakes import FakePasswordHasher, run_blocking
from tests.integration.test_storage import CIPHER, T0
from tests.rulebooks import generous_rulebooks
from tests.unit.world import add_member, group_of, users

CORPUS = [
    "今晚一起吃晚饭吧",
    "明天上午开会，别迟到",
    "美国人民的友谊",
    "人民币汇率",
    "晚，饭",  # punctuation between: neither 晚饭 nor a pair across it
    "美国，国人",  # 美国人 must not match across the comma
    "Zoom meeting at 3pm",
    "MEETING notes for the team",
    "ＺＯＯＭ 会议 at 10",  # full-width Latin folds to zoom
    "100% sure, a_b and 50_off",
    'she said "hi" OR NEAR(a b) * done',
    "开会开会开会",
    "Straße und Meet-up",
    "小明说晚饭后开会",
    "开会 meeting 改到三点",
]

CJK_QUERIES = ["晚饭", "开会", "美国人民", "美国人", "人民", "国人", "晚饭后开会", "会议", "小明"]
LATIN_QUERIES = ["zoom", "MEET", "meeting", "100", "3pm", "notes team", "strasse", "up"]
MIXED_QUERIES = ["zoom 会议", "开会 meeting", "晚饭 开会"]
HOSTILE_QUERIES = [
    '"hi"',
    "hi*",
    "hi OR near",
    "NEAR(a b)",
    "a_b",
    "100%",
    "50_off",
    "' OR 1=1 --",
    "AND",
    "said^2",
    "{near}",
    "(col:hi)",
]


_handles = itertools.count()


def h(base: str) -> str:
    """A handle of its own: on PostgreSQL the module shares one database."""
    return f"{base}{next(_handles)}x{os.getpid()}"


def _latin_words(text: str) -> list[str]:
    return [w.casefold() for w in re.findall(r"[^\W_]+", text)]


def brute_force(query: str, body: str) -> bool:
    """The oracle, written apart from domain/search.py's own rule."""
    for term in query.split():
        if re.fullmatch(r"[\u4e00-\u9fff]+", term):
            if term not in body:
                return False
            continue
        folded = "".join(ch if ord(ch) < 0xFF00 else chr(ord(ch) - 0xFEE0) for ch in body)
        words = _latin_words(folded.replace("ß", "ss"))
        pieces = _latin_words(term)
        if not all(any(w.startswith(p) for w in words) for p in pieces):
            return False
    return True


@pytest.fixture(params=["indexed", "pending"])
def ctx(
    request: pytest.FixtureRequest, uow: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> ServiceContext:
    """On SQLite, every message moved into FTS5 at once ("indexed") or none ("pending"):
    both must answer alike (storage/search_repo.py)."""
    monkeypatch.setattr(search_repo, "BATCH", 1 if request.param == "indexed" else 10**9)
    return ServiceContext(
        uow=uow,
        bus=MemoryBus(),
        clock=FrozenClock(T0),
        cipher=CIPHER,
        hasher=FakePasswordHasher(),
        verifier=FormatCheckVerifier(),
        run_blocking=run_blocking,
        rulebooks=generous_rulebooks(),
    )


async def find(ctx: ServiceContext, actor: Actor, q: str, **options: int) -> SearchPage:
    ctx.search_rate.events.clear()  # the rate limit has its own test
    return await search_messages(ctx, actor, q, **options)  # type: ignore[arg-type]


async def everything(ctx: ServiceContext, actor: Actor, q: str, limit: int = 50) -> list[int]:
    seqs: list[int] = []
    before: int | None = None
    while True:
        page = await find(ctx, actor, q, limit=limit, **({"before": before} if before else {}))
        seqs.extend(r.seq for r in page.results)
        if page.next_before is None:
            return seqs
        before = page.next_before


async def post_corpus(ctx: ServiceContext, actor: Actor, group_id: int) -> dict[int, str]:
    sent = {}
    for i, body in enumerate(CORPUS):
        result = await do_send_message(ctx, actor, group_id, body, f"c{group_id}-{i}")
        sent[result.entry.seq] = body
    return sent


@pytest.mark.parametrize("q", CJK_QUERIES + LATIN_QUERIES + MIXED_QUERIES)
async def test_every_query_finds_exactly_what_brute_force_finds_newest_first(
    ctx: ServiceContext, q: str
) -> None:
    (owner, _), group = await group_of(ctx, h("owner"), h("member"))
    sent = await post_corpus(ctx, owner, group.id)
    expected = sorted((seq for seq, body in sent.items() if brute_force(q, body)), reverse=True)
    assert await everything(ctx, owner, q) == expected
    assert expected, f"the corpus should hold {q!r}"


async def test_two_character_chinese_words_are_found_inside_longer_text(
    ctx: ServiceContext,
) -> None:
    (owner,), group = await group_of(ctx, h("owner"))
    await do_send_message(ctx, owner, group.id, "今晚一起吃晚饭吧", "a")
    await do_send_message(ctx, owner, group.id, "下午三点开会", "b")
    page = await find(ctx, owner, "晚饭")
    assert [r.seq for r in page.results] != []
    assert "".join(s.text for s in page.results[0].snippet if s.hit) == "晚饭"
    assert len((await find(ctx, owner, "开会")).results) == 1


@pytest.mark.parametrize("q", HOSTILE_QUERIES)
async def test_query_syntax_and_wildcards_are_literal_and_never_fail(
    ctx: ServiceContext, q: str
) -> None:
    (owner,), group = await group_of(ctx, h("owner"))
    sent = await post_corpus(ctx, owner, group.id)
    try:
        query = parse_query(q, 2, 64, 8)
    except InvalidInput:
        return  # refused with a code is an answer too (e.g. nothing but punctuation)
    seqs = await everything(ctx, owner, q)
    assert seqs == sorted((s for s, b in sent.items() if matches(query, b)), reverse=True)


async def test_only_groups_the_searcher_belongs_to_are_searched(ctx: ServiceContext) -> None:
    (owner, member), group = await group_of(ctx, h("owner"), h("member"))
    (stranger,), other = await group_of(ctx, h("stranger"))
    await do_send_message(ctx, owner, group.id, "周末一起吃晚饭", "in")
    await do_send_message(ctx, stranger, other.id, "别的群也吃晚饭", "out")
    assert [r.group_id for r in (await find(ctx, member, "晚饭")).results] == [group.id]
    assert [r.group_id for r in (await find(ctx, stranger, "晚饭")).results] == [other.id]
    with pytest.raises(Forbidden):
        await find(ctx, member, "晚饭", group_id=other.id)


async def test_messages_before_joining_and_between_leaving_and_rejoining_stay_hidden(
    ctx: ServiceContext,
) -> None:
    (owner,), group = await group_of(ctx, h("owner"))
    (member,) = await users(ctx, h("member"))
    await do_send_message(ctx, owner, group.id, "早期的晚饭计划", "before-join")
    await add_member(ctx, owner, group.id, member)
    seen = await do_send_message(ctx, owner, group.id, "入群后的晚饭计划", "after-join")
    assert [r.seq for r in (await find(ctx, member, "晚饭")).results] == [seen.entry.seq]

    await do_leave(ctx, member, group.id)
    assert (await find(ctx, member, "晚饭")).results == []  # former members search nothing
    await do_send_message(ctx, owner, group.id, "离开期间的晚饭计划", "while-away")
    await add_member(ctx, owner, group.id, member)
    back = await do_send_message(ctx, owner, group.id, "回来后的晚饭计划", "back")
    assert [r.seq for r in (await find(ctx, member, "晚饭")).results] == [back.entry.seq]


async def test_a_removed_message_is_never_returned(ctx: ServiceContext) -> None:
    (owner,), group = await group_of(ctx, h("owner"))
    kept = await do_send_message(ctx, owner, group.id, "晚饭在家吃", "kept")
    gone = await do_send_message(ctx, owner, group.id, "晚饭的秘密地址", "gone")
    await do_remove_message(ctx, owner, group.id, gone.entry.seq, "privacy")
    assert [r.seq for r in (await find(ctx, owner, "晚饭")).results] == [kept.entry.seq]
    assert (await find(ctx, owner, "秘密")).results == []


async def test_text_taken_away_without_forget_is_still_never_returned(
    ctx: ServiceContext,
) -> None:
    (owner,), group = await group_of(ctx, h("owner"))
    gone = await do_send_message(ctx, owner, group.id, "晚饭的秘密地址", "gone")
    async with ctx.uow() as uow:  # a path that forgot to call uow.search.forget
        await uow.timeline.redact(group.id, gone.entry.seq, {"removed": {"by": owner.id}})
        await uow.commit()
    assert (await find(ctx, owner, "秘密")).results == []


async def test_pages_are_stable_while_new_messages_arrive(ctx: ServiceContext) -> None:
    (owner,), group = await group_of(ctx, h("owner"))
    sent = [
        (await do_send_message(ctx, owner, group.id, f"第{i}次开会 notes", f"m{i}")).entry.seq
        for i in range(25)
    ]
    first = await find(ctx, owner, "开会", limit=10)
    await do_send_message(ctx, owner, group.id, "新的开会通知", "late")
    assert first.next_before is not None
    second = await find(ctx, owner, "开会", limit=10, before=first.next_before)
    assert second.next_before is not None
    third = await find(ctx, owner, "开会", limit=10, before=second.next_before)
    pages = [r.seq for p in (first, second, third) for r in p.results]
    assert pages == sorted(sent, reverse=True)
    assert third.next_before is None


async def test_results_say_group_author_and_time(ctx: ServiceContext) -> None:
    (owner,), group = await group_of(ctx, h("owner"), name="周末群")
    sent = await do_send_message(ctx, owner, group.id, "Zoom meeting tonight", "z")
    (hit,) = (await find(ctx, owner, "zoom")).results
    assert (hit.group_id, hit.group_name, hit.seq) == (group.id, "周末群", sent.entry.seq)
    assert (hit.sender_id, hit.sender_name) == (owner.id, owner.account.display_name)
    assert hit.created_at == sent.entry.created_at


async def test_migration_0016_indexes_the_messages_already_kept(
    ctx: ServiceContext, engine: AsyncEngine
) -> None:
    (owner,), group = await group_of(ctx, h("owner"))
    old = await do_send_message(ctx, owner, group.id, "迁移前的晚饭", "old")
    gone = await do_send_message(ctx, owner, group.id, "迁移前删掉的晚饭", "gone")
    await do_remove_message(ctx, owner, group.id, gone.entry.seq, "privacy")

    def rebuild(conn: Connection) -> None:
        command.downgrade(alembic_config(conn), "0010")
        command.upgrade(alembic_config(conn), "head")

    async with engine.begin() as conn:
        await conn.run_sync(rebuild)
    assert [r.seq for r in (await find(ctx, owner, "晚饭")).results] == [old.entry.seq]
    after = await do_send_message(ctx, owner, group.id, "迁移后的晚饭", "new")
    seqs = [r.seq for r in (await find(ctx, owner, "晚饭")).results]
    assert seqs == [after.entry.seq, old.entry.seq]


async def test_moving_pending_rows_into_fts5_changes_no_answer(
    ctx: ServiceContext, uow: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_repo, "BATCH", 10**9)
    (owner,), group = await group_of(ctx, h("owner"))
    sent = await post_corpus(ctx, owner, group.id)
    gone = next(seq for seq, body in sent.items() if "晚饭" in body)
    await do_remove_message(ctx, owner, group.id, gone, "privacy")  # a pending row forgotten
    before = {q: await everything(ctx, owner, q, limit=3) for q in CJK_QUERIES + LATIN_QUERIES}
    async with uow() as u:
        if isinstance(u.search, search_repo.SqliteSearch):
            assert await u.search.flush() > 0
        await u.commit()
    after = {q: await everything(ctx, owner, q, limit=3) for q in CJK_QUERIES + LATIN_QUERIES}
    assert after == before
    assert gone not in after["晚饭"]
