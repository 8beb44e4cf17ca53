"""The service agreement (versions, acceptance, asking again) and the overview services
the web pages read (unread counts, the last message, what stands before posting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qunzu.domain.agreement import AgreementSet, AgreementVersion, parse_agreements
from qunzu.domain.errors import Conflict, InvalidInput
from qunzu.domain.rulebook import Text
from qunzu.services import agreement, overview
from qunzu.services.groups import do_set_rules
from qunzu.services.messaging import do_open_direct, do_send_message
from qunzu.services.owner_tools import do_mark_read, do_mute_member, do_set_slow_mode
from tests.fakes import frozen_clock, make_ctx
from tests.unit.world import add_member, make_group, register, users

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def version(n: int, start: datetime) -> AgreementVersion:
    return AgreementVersion(n, start, Text(f"协议 {n}", f"Agreement {n}"), Text("正文", "Text"))


def test_the_packaged_agreement_parses_with_both_languages() -> None:
    ctx = make_ctx()
    current = ctx.agreements.in_force(datetime.now(UTC))
    assert current.version >= 1
    assert current.text.zh and current.text.en
    assert current.title.zh != current.title.en


def test_the_version_in_force_is_the_newest_that_has_begun() -> None:
    book = AgreementSet([version(2, T0 + timedelta(days=30)), version(1, T0)])
    assert book.in_force(T0 + timedelta(days=1)).version == 1
    assert book.in_force(T0 + timedelta(days=30)).version == 2


def test_an_agreement_file_without_offsets_is_refused() -> None:
    text = """
[[versions]]
version = 1
effective_from = 2026-01-01T00:00:00
title = { zh = "甲", en = "A" }
text = { zh = "甲", en = "A" }
"""
    with pytest.raises(InvalidInput) as caught:
        parse_agreements(text)
    assert caught.value.code == "invalid_agreement"


async def test_a_new_account_needs_the_agreement_until_it_accepts() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    assert await agreement.needs_agreement(ctx, alice)
    current = agreement.agreement_in_force(ctx)
    await agreement.do_accept_agreement(ctx, alice.id, current.version)
    assert not await agreement.needs_agreement(ctx, alice)
    assert await agreement.accepted_version(ctx, alice.id) == current.version


async def test_a_new_version_asks_again_and_a_stale_one_is_refused() -> None:
    ctx = make_ctx()
    clock = frozen_clock(ctx)
    ctx.agreements = AgreementSet([version(1, T0), version(2, clock.now() + timedelta(days=1))])
    alice = await register(ctx, "alice")
    await agreement.do_accept_agreement(ctx, alice.id, 1)
    assert not await agreement.needs_agreement(ctx, alice)
    clock.advance(timedelta(days=2))
    assert await agreement.needs_agreement(ctx, alice)
    with pytest.raises(Conflict) as caught:
        await agreement.do_accept_agreement(ctx, alice.id, 1)
    assert caught.value.code == "agreement_version_stale"
    await agreement.do_accept_agreement(ctx, alice.id, 2)
    assert not await agreement.needs_agreement(ctx, alice)
    assert await agreement.accepted_version(ctx, alice.id) == 2


async def test_the_inbox_counts_unread_entries_after_the_read_cursor() -> None:
    ctx = make_ctx()
    alice, bob = await users(ctx, "alice", "bob")
    direct = await do_open_direct(ctx, alice, "bob")
    for i in range(3):
        await do_send_message(ctx, alice, direct.id, f"hi {i}", f"t{i}")
    (item,) = await overview.list_inbox(ctx, bob)
    assert item.unread == 4  # the conversation's start and three messages
    assert item.last is not None and item.last.body == "hi 2"
    assert item.peer is not None and item.peer.id == alice.id
    await do_mark_read(ctx, bob, direct.id, item.last.seq)
    (item,) = await overview.list_inbox(ctx, bob)
    assert item.unread == 0


async def test_the_inbox_shows_the_last_message_not_a_later_event() -> None:

    ctx = make_ctx()
    (alice,) = await users(ctx, "alice")
    group = await make_group(ctx, alice)
    await do_send_message(ctx, alice, group.id, "the last word", "w1")
    await do_set_rules(ctx, alice, group.id, "be kind")
    (item,) = await overview.list_inbox(ctx, alice)
    assert item.last is not None and item.last.body == "the last word"


async def test_the_posting_view_names_new_rules_a_mute_and_the_slow_mode_wait() -> None:

    ctx = make_ctx()
    owner, member = await users(ctx, "owner", "member")
    group = await make_group(ctx, owner)
    await add_member(ctx, owner, group.id, member)
    await do_set_slow_mode(ctx, owner, group.id, 30)
    await do_send_message(ctx, member, group.id, "first", "m1")
    view = await overview.get_posting_view(ctx, member, group.id)
    assert 0 < view.slow_mode_wait <= 30
    assert not view.rules_pending
    await do_set_rules(ctx, owner, group.id, "new rules")
    await do_mute_member(ctx, owner, group.id, member.id, 10, "calm down")
    view = await overview.get_posting_view(ctx, member, group.id)
    assert view.rules_pending
    assert view.rules is not None and view.rules.text == "new rules"
    assert view.muted_until is not None and view.mute_reason == "calm down"
    owner_view = await overview.get_posting_view(ctx, owner, group.id)
    assert owner_view.is_manager and owner_view.slow_mode_wait == 0
