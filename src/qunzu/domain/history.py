"""Reading a timeline: which page a member asked for, within what they may see."""

from __future__ import annotations

from dataclasses import dataclass

from qunzu.domain.errors import Forbidden, InvalidInput
from qunzu.domain.models import Group, Membership
from qunzu.domain.permissions import visible_periods


@dataclass(frozen=True, slots=True)
class PageQuery:
    """Entries to read: forward after ``after`` up to ``last``, or backward before
    ``before`` down to ``first`` (exactly one of ``after`` and ``before`` is set), only
    inside ``periods`` (the member's own membership periods, oldest first)."""

    first: int
    last: int
    after: int | None
    before: int | None
    periods: tuple[tuple[int, int], ...] = ()

    def forward(self) -> list[tuple[int, int]]:
        """(after, upto) reads, oldest period first, for a forward page."""
        assert self.after is not None
        return [(max(self.after, a - 1), b) for a, b in self.periods if b > self.after]

    def backward(self) -> list[tuple[int, int]]:
        """(before, floor) reads, newest period first, for a backward page."""
        assert self.before is not None
        return [(min(self.before, b + 1), a) for a, b in reversed(self.periods) if a < self.before]


def history_page(
    group: Group,
    membership: Membership | None,
    after: int | None,
    before: int | None,
    limit: int,
    page_max: int,
) -> PageQuery:
    """A page after or before a ``seq`` (not both), the newest by default, clipped to the
    member's own membership periods; a former member still reads up to their leaving."""
    if after is not None and before is not None:
        raise InvalidInput("invalid_cursor", "Give either after or before, not both.")
    if not 1 <= limit <= page_max:
        raise InvalidInput("invalid_limit", f"limit is 1 to {page_max}.")
    if membership is None:
        raise Forbidden("not_a_member", "You are not a member of this group.")
    periods = tuple(visible_periods(membership, group))
    first, last = periods[0][0], periods[-1][1]
    if after is not None:
        if after < 0 or after > group.last_seq:
            raise InvalidInput(
                "invalid_cursor", "No such position in this group.", last_seq=group.last_seq
            )
        return PageQuery(first, last, max(after, first - 1), None, periods)
    if before is None:
        return PageQuery(first, last, None, last + 1, periods)
    if before < 1 or before > group.last_seq + 1:
        raise InvalidInput(
            "invalid_cursor", "No such position in this group.", last_seq=group.last_seq
        )
    return PageQuery(first, last, None, min(before, last + 1), periods)
