"""Reading a timeline: which page a member asked for, within what they may see."""

from __future__ import annotations

from dataclasses import dataclass

from qunzu.domain.errors import Forbidden, InvalidInput
from qunzu.domain.models import Group, Membership
from qunzu.domain.permissions import visible_window


@dataclass(frozen=True, slots=True)
class PageQuery:
    """Entries to read: forward after ``after`` up to ``last``, or backward before
    ``before`` down to ``first`` (exactly one of ``after`` and ``before`` is set)."""

    first: int
    last: int
    after: int | None
    before: int | None


def history_page(
    group: Group,
    membership: Membership | None,
    after: int | None,
    before: int | None,
    limit: int,
    page_max: int,
) -> PageQuery:
    """A page after or before a ``seq`` (not both), the newest by default, clipped to the
    member's visible window; a former member still reads up to their leaving."""
    if after is not None and before is not None:
        raise InvalidInput("invalid_cursor", "Give either after or before, not both.")
    if not 1 <= limit <= page_max:
        raise InvalidInput("invalid_limit", f"limit is 1 to {page_max}.")
    if membership is None:
        raise Forbidden("not_a_member", "You are not a member of this group.")
    first, last = visible_window(membership, group)
    if after is not None:
        if after < 0 or after > group.last_seq:
            raise InvalidInput(
                "invalid_cursor", "No such position in this group.", last_seq=group.last_seq
            )
        return PageQuery(first, last, max(after, first - 1), None)
    if before is None:
        return PageQuery(first, last, None, last + 1)
    if before < 1 or before > group.last_seq + 1:
        raise InvalidInput(
            "invalid_cursor", "No such position in this group.", last_seq=group.last_seq
        )
    return PageQuery(first, last, None, min(before, last + 1))
