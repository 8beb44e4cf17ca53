"""Rows to domain models: one reader per model, derived from its fields (storage/mapping.py)."""

from __future__ import annotations

from typing import Any

from qunzu.domain.models import (
    Account,
    ApiToken,
    Group,
    GroupRules,
    Invitation,
    JoinRequest,
    Membership,
    OwnershipOffer,
    ResetCode,
    TimelineEntry,
)
from qunzu.storage.mapping import row_reader


class Prefixed:
    """A row whose columns were labelled ``prefix + name`` (a join), read by plain names."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)


account = row_reader(Account)
token = row_reader(ApiToken)
reset_code = row_reader(ResetCode)
group = row_reader(Group)
membership = row_reader(Membership)
rules = row_reader(GroupRules)
entry = row_reader(TimelineEntry)
invitation = row_reader(Invitation)
join_request = row_reader(JoinRequest)
offer = row_reader(OwnershipOffer)
