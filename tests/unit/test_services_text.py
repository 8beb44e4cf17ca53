"""Services that take text from any caller (not only the HTTP models) ask the one text rule
(``domain/text.py``) and answer with their own codes."""

from __future__ import annotations

import pytest

from qunzu.domain.errors import InvalidInput
from qunzu.domain.models import GroupCategory
from qunzu.services.accounts import do_issue_token
from qunzu.services.groups import do_create_group, do_set_rules, do_update_group, search_groups
from qunzu.services.membership import do_remove_member, do_request_join
from qunzu.services.owner_tools import do_pin_notice
from tests.fakes import make_ctx
from tests.unit.world import add_member, make_group, users

RLO, NUL, LONE = "\u202e", "\x00", "\ud800"


async def refused_code(call: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        await call  # type: ignore[misc]
    return caught.value.code


@pytest.mark.parametrize("bad", [RLO, NUL, LONE])
async def test_names_rules_notices_and_labels_refuse_bidi_controls_nul_and_surrogates(
    bad: str,
) -> None:
    ctx = make_ctx()
    (alice,) = await users(ctx, "alice")
    group = await make_group(ctx, alice)
    text = f"txt{bad}.exe"
    cases = [
        (do_create_group(ctx, alice, text, GroupCategory.friends), "invalid_group_name"),
        (do_update_group(ctx, alice, group.id, name=text), "invalid_group_name"),
        (do_set_rules(ctx, alice, group.id, text), "invalid_rules"),
        (do_pin_notice(ctx, alice, group.id, text), "invalid_notice"),
        (do_issue_token(ctx, alice, text), "invalid_label"),
    ]
    for call, code in cases:
        assert await refused_code(call) == code


@pytest.mark.parametrize("bad", [NUL, LONE])
async def test_notes_and_reasons_refuse_nul_and_surrogates_but_not_bidi(bad: str) -> None:
    ctx = make_ctx()
    alice, bob, carol = await users(ctx, "alice", "bob", "carol")
    group = await make_group(ctx, alice)
    await add_member(ctx, alice, group.id, bob)
    assert await refused_code(do_request_join(ctx, carol, group.id, f"hi{bad}")) == "invalid_note"
    reason = f"spam{bad}"
    assert await refused_code(do_remove_member(ctx, alice, group.id, bob.id, reason)) == (
        "invalid_reason"
    )
    removed = await do_remove_member(ctx, alice, group.id, bob.id, f"שלום {RLO}spam")
    assert removed.account_id == bob.id


async def test_a_search_for_text_no_name_can_hold_finds_nothing() -> None:
    ctx = make_ctx()
    (alice,) = await users(ctx, "alice")
    group = await make_group(ctx, alice, name="open group", discoverable=True)
    assert [g.id for g in await search_groups(ctx, "open", 10, 0)] == [group.id]
    for query in ("open\x00", f"open{RLO}", "open\x07"):
        assert await search_groups(ctx, query, 10, 0) == []
