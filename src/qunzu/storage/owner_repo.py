"""Owner tools, the duty-of-care ledger and read cursors: SQL implementations."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

from qunzu.domain.duty import DutyEvent, DutyEventKind
from qunzu.domain.models import GroupKind, GroupRole, GroupState, MembershipState
from qunzu.domain.owner_tools import AttendanceRow, Bar, GroupControls
from qunzu.storage import tables as t
from qunzu.storage.mapping import row_reader

# Read on every message send; built once.
_CONTROLS = select(t.group_controls).where(t.group_controls.c.group_id == bindparam("group_id"))


controls_of = row_reader(GroupControls)
"""A ``group_controls`` row as the model."""


class SqlOwnerTools:
    def __init__(self, conn: Any) -> None:
        self.c = conn

    async def get_rights(self, group_id: int, account_id: int) -> list[str]:
        r = t.admin_rights
        row = (
            await self.c.execute(
                select(r.c.rights).where(r.c.group_id == group_id, r.c.account_id == account_id)
            )
        ).first()
        return list(row[0]) if row else []

    async def put_rights(
        self, group_id: int, account_id: int, rights: list[str], by: int, at: datetime
    ) -> None:
        await self.delete_rights(group_id, account_id)
        await self.c.execute(
            t.admin_rights.insert().values(
                group_id=group_id,
                account_id=account_id,
                rights=sorted(rights),
                granted_by=by,
                granted_at=at,
            )
        )

    async def delete_rights(self, group_id: int, account_id: int) -> None:
        r = t.admin_rights
        await self.c.execute(
            r.delete().where(r.c.group_id == group_id, r.c.account_id == account_id)
        )

    async def get_mute(self, group_id: int, account_id: int) -> tuple[datetime, str] | None:
        m = t.mutes
        row = (
            await self.c.execute(
                select(m.c.until, m.c.reason).where(
                    m.c.group_id == group_id, m.c.account_id == account_id
                )
            )
        ).first()
        return (row.until, row.reason) if row else None

    async def put_mute(
        self, group_id: int, account_id: int, until: datetime, reason: str, by: int, at: datetime
    ) -> None:
        await self.delete_mute(group_id, account_id)
        await self.c.execute(
            t.mutes.insert().values(
                group_id=group_id, account_id=account_id, until=until, reason=reason, by=by, at=at
            )
        )

    async def delete_mute(self, group_id: int, account_id: int) -> None:
        m = t.mutes
        await self.c.execute(
            m.delete().where(m.c.group_id == group_id, m.c.account_id == account_id)
        )

    async def get_bar(self, group_id: int, account_id: int) -> datetime | None:
        """When the account was barred from rejoining the group, or None."""
        b = t.member_bars
        row = (
            await self.c.execute(
                select(b.c.at).where(b.c.group_id == group_id, b.c.account_id == account_id)
            )
        ).first()
        return row[0] if row else None

    async def put_bar(
        self, group_id: int, account_id: int, reason: str, by: int, at: datetime
    ) -> None:
        await self.delete_bar(group_id, account_id)
        await self.c.execute(
            t.member_bars.insert().values(
                group_id=group_id, account_id=account_id, reason=reason[:500], by=by, at=at
            )
        )

    async def delete_bar(self, group_id: int, account_id: int) -> bool:
        b = t.member_bars
        res = await self.c.execute(
            b.delete().where(b.c.group_id == group_id, b.c.account_id == account_id)
        )
        return bool(res.rowcount)

    async def list_bars(self, group_id: int, limit: int) -> list[Bar]:
        """The group's bars, the newest first."""
        b = t.member_bars
        rows = await self.c.execute(
            select(b.c.account_id, b.c.reason, b.c.by, b.c.at)
            .where(b.c.group_id == group_id)
            .order_by(b.c.at.desc(), b.c.account_id)
            .limit(limit)
        )
        return [Bar(group_id, r.account_id, r.reason, r.by, r.at) for r in rows]

    async def get_controls(self, group_id: int) -> GroupControls:
        row = (await self.c.execute(_CONTROLS, {"group_id": group_id})).first()
        if row is None:
            return GroupControls(group_id)
        return controls_of(row)

    async def put_controls(self, controls: GroupControls) -> None:
        gc = t.group_controls
        values = asdict(controls)
        values.pop("group_id")
        res = await self.c.execute(
            update(gc).where(gc.c.group_id == controls.group_id).values(**values)
        )
        if res.rowcount == 0:
            await self.c.execute(gc.insert().values(group_id=controls.group_id, **values))

    async def add_duty(self, group_id: int, event: DutyEvent) -> None:
        await self.c.execute(
            t.duty_ledger.insert().values(
                group_id=group_id,
                account_id=event.account_id,
                kind=event.kind.value,
                seq=event.seq,
                subject_id=event.subject_id,
                case_id=event.case_id,
                note=event.note[:500],
                at=event.at,
            )
        )

    async def duty_events(self, group_id: int, since: datetime | None = None) -> list[DutyEvent]:
        d = t.duty_ledger
        stmt = select(d).where(d.c.group_id == group_id)
        if since is not None:
            stmt = stmt.where(d.c.at >= since)
        rows = await self.c.execute(stmt.order_by(d.c.at, d.c.id))
        return [
            DutyEvent(
                r.at, DutyEventKind(r.kind), r.account_id, r.seq, r.subject_id, r.case_id, r.note
            )
            for r in rows
        ]

    async def get_read_cursor(self, group_id: int, account_id: int) -> int:
        rc = t.read_cursors
        row = (
            await self.c.execute(
                select(rc.c.seq).where(rc.c.group_id == group_id, rc.c.account_id == account_id)
            )
        ).first()
        return int(row[0]) if row else 0

    async def put_read_cursor(self, group_id: int, account_id: int, seq: int, at: datetime) -> None:
        rc = t.read_cursors
        res = await self.c.execute(
            update(rc)
            .where(rc.c.group_id == group_id, rc.c.account_id == account_id)
            .values(seq=seq, at=at)
        )
        if res.rowcount == 0:
            await self.c.execute(
                rc.insert().values(group_id=group_id, account_id=account_id, seq=seq, at=at)
            )

    async def attendance_rows(self, after_group_id: int, limit: int) -> list[AttendanceRow]:
        """Active ordinary groups with the last activity of their owner and admins."""
        g, ga, m, ma, gc = (
            t.groups,
            t.group_activity,
            t.memberships,
            t.member_activity,
            t.group_controls,
        )
        managers = (
            select(m.c.group_id, func.max(ma.c.last_active_at).label("managers_last"))
            .select_from(
                m.outerjoin(
                    ma, (ma.c.group_id == m.c.group_id) & (ma.c.account_id == m.c.account_id)
                )
            )
            .where(
                m.c.state == MembershipState.active.value,
                m.c.role.in_([GroupRole.owner.value, GroupRole.admin.value]),
            )
            .group_by(m.c.group_id)
            .subquery()
        )
        rows = await self.c.execute(
            select(
                g.c.id,
                g.c.owner_id,
                ga.c.last_activity_at,
                managers.c.managers_last,
                gc.c.unattended_since,
                gc.c.read_only_since,
            )
            .select_from(
                g.outerjoin(ga, ga.c.group_id == g.c.id)
                .outerjoin(managers, managers.c.group_id == g.c.id)
                .outerjoin(gc, gc.c.group_id == g.c.id)
            )
            .where(
                g.c.id > after_group_id,
                g.c.kind == GroupKind.group.value,
                g.c.state == GroupState.active.value,
            )
            .order_by(g.c.id)
            .limit(limit)
        )
        return [
            AttendanceRow(
                r.id,
                r.owner_id,
                r.last_activity_at,
                r.managers_last,
                r.unattended_since,
                r.read_only_since,
            )
            for r in rows
        ]
