"""The message path's one read: group, membership, controls, mute, last post, sanctions,
retry.

A send used to take seven look-ups (retry, group, membership, sanctions in force,
controls, mute, and the last post under slow mode), each a round trip through
SQLAlchemy that costs more than SQLite takes to answer it. Here they are one statement,
built once; sanctions are only tested for existence (the rare sender they touch is then
read in full). A retry's original entry comes with the same row, so a retry is looked
up once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select

from qunzu.domain.owner_tools import GroupControls
from qunzu.domain.posting import PostingState
from qunzu.domain.sanctions import SanctionState, SanctionTarget
from qunzu.storage import convert
from qunzu.storage import tables as t
from qunzu.storage.fastsql import prebuilt
from qunzu.storage.owner_repo import controls_of

_G, _M, _C, _MU, _MA, _S, _T = (
    t.groups,
    t.memberships.alias("m"),
    t.group_controls.alias("gc"),
    t.mutes.alias("mu"),
    t.member_activity.alias("ma"),
    t.sanctions,
    t.timeline.alias("tl"),
)
_NOW = bindparam("now", type_=t.UTCDateTime())
_ACCOUNT: Any = bindparam("account_id")


def _sanction_in_force(*where: Any) -> Any:
    return exists().where(
        *where,
        _S.c.state == SanctionState.active.value,
        _S.c.starts_at <= _NOW,
        or_(_S.c.ends_at.is_(None), _S.c.ends_at > _NOW),
    )


_POSTING_STATE = prebuilt(
    select(
        _G,
        _M.c.group_id.label("m_group_id"),
        _M.c.account_id.label("m_account_id"),
        _M.c.role.label("m_role"),
        _M.c.state.label("m_state"),
        _M.c.joined_at.label("m_joined_at"),
        _M.c.joined_seq.label("m_joined_seq"),
        _M.c.left_seq.label("m_left_seq"),
        _M.c.accepted_rules_version.label("m_accepted_rules_version"),
        _M.c.earlier.label("m_earlier"),
        _C.c.group_id.label("c_group_id"),
        _C.c.mute_all.label("c_mute_all"),
        _C.c.slow_mode_seconds.label("c_slow_mode_seconds"),
        _C.c.notice_text.label("c_notice_text"),
        _C.c.notice_by.label("c_notice_by"),
        _C.c.notice_at.label("c_notice_at"),
        _C.c.unattended_since.label("c_unattended_since"),
        _C.c.read_only_since.label("c_read_only_since"),
        _MU.c.until.label("mute_until"),
        _MA.c.last_active_at.label("last_active_at"),
        or_(
            _sanction_in_force(_S.c.group_id == _G.c.id, _S.c.target == SanctionTarget.group.value),
            _sanction_in_force(_S.c.account_id == _ACCOUNT),
        ).label("sanctioned"),
        *(column.label("t_" + column.name) for column in _T.c),
    )
    .select_from(
        _G.outerjoin(_M, and_(_M.c.group_id == _G.c.id, _M.c.account_id == _ACCOUNT))
        .outerjoin(_C, _C.c.group_id == _G.c.id)
        .outerjoin(_MU, and_(_MU.c.group_id == _G.c.id, _MU.c.account_id == _ACCOUNT))
        .outerjoin(_MA, and_(_MA.c.group_id == _G.c.id, _MA.c.account_id == _ACCOUNT))
        # The sender's entry with this client_txn_id, in whichever group (unique index).
        .outerjoin(
            _T,
            and_(_T.c.sender_id == _ACCOUNT, _T.c.client_txn_id == bindparam("client_txn_id")),
        )
    )
    .where(_G.c.id == bindparam("group_id"))
)


class SqlPosting:
    def __init__(self, conn: Any) -> None:
        self.c = conn

    async def load(
        self, group_id: int, account_id: int, client_txn_id: str, now: datetime
    ) -> PostingState | None:
        row = (
            await self.c.execute(
                _POSTING_STATE,
                {
                    "group_id": group_id,
                    "account_id": account_id,
                    "client_txn_id": client_txn_id,
                    "now": now,
                },
            )
        ).first()
        if row is None:
            return None
        controls = (
            GroupControls(row.id)
            if row.c_group_id is None
            else controls_of(convert.Prefixed(row, "c_"))
        )
        return PostingState(
            group=convert.group(row),
            membership=(
                convert.membership(convert.Prefixed(row, "m_"))
                if row.m_account_id is not None
                else None
            ),
            controls=controls,
            mute_until=row.mute_until,
            last_active_at=row.last_active_at,
            sanctions_in_force=bool(row.sanctioned),
            previous=(
                convert.entry(convert.Prefixed(row, "t_")) if row.t_seq is not None else None
            ),
        )
