"""The conversation repository on SQLite and PostgreSQL, held to the fake's answers:
mention counts past a cursor (with @all), @all uses since a time, recalled texts and
their purge, pins, nicknames."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from qunzu.domain.conversation import ALL_MEMBERS
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.fake_conversation import FakeConversation, FakeConversationTables
from tests.integration.test_storage import T0, accounts_and_group


class _FakeUow:
    """Just enough of a unit of work for ``FakeConversation``."""

    def __init__(self) -> None:
        self.state = self
        self.conversation_tables = FakeConversationTables()

    def state_for_write(self) -> Any:
        return self


async def _scenario(repo: Any, g: int, a: int, b: int) -> list[object]:
    await repo.add_mentions(g, 3, a, [b], T0)
    await repo.add_mentions(g, 5, a, [ALL_MEMBERS], T0 + timedelta(hours=1))
    await repo.add_mentions(g, 7, b, [ALL_MEMBERS, a], T0 + timedelta(hours=2))
    await repo.add_mentions(g, 8, a, [], T0)
    answers: list[object] = [
        await repo.count_mentions(g, b, 0),
        await repo.count_mentions(g, b, 3),
        await repo.count_mentions(g, b, 5),
        await repo.count_mentions(g, a, 0),
        await repo.mention_all_since(g, a, T0),
        await repo.mention_all_since(g, a, T0 + timedelta(minutes=61)),
        await repo.count_mentions(g, b, 0, 1),  # counted up to the cap only
    ]
    await repo.keep_recalled(g, 4, a, "oops", T0, T0 + timedelta(days=180))
    answers += [await repo.recalled_body(g, 4), await repo.recalled_body(g, 5)]
    answers += [await repo.purge_recalled(T0 + timedelta(days=179))]
    answers += [await repo.purge_recalled(T0 + timedelta(days=180)), await repo.recalled_body(g, 4)]
    await repo.pin(g, 9, a, T0 + timedelta(minutes=2))
    await repo.pin(g, 3, a, T0 + timedelta(minutes=1))
    answers += [[p[0] for p in await repo.pins(g)], await repo.unpin(g, 3), await repo.unpin(g, 3)]
    answers += [[p[0] for p in await repo.pins(g)]]
    await repo.set_nickname(g, a, "大哥", T0)
    await repo.set_nickname(g, a, "二哥", T0)
    await repo.set_nickname(g, b, "小妹", T0)
    await repo.set_nickname(g, b, None, T0)
    answers += [await repo.nicknames(g, [a, b, a]), await repo.nicknames(g, [])]
    return answers


async def test_the_conversation_repository_answers_as_the_fake_does(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        [a, b], group = await accounts_and_group(u, 2)
        got = await _scenario(u.conversation, group.id, a.id, b.id)
        await u.commit()
    want = await _scenario(FakeConversation(_FakeUow()), group.id, a.id, b.id)
    assert got == want
    assert got[:7] == [2, 1, 0, 1, 1, 0, 1]
