"""In-memory ``OwnerToolsRepository`` for the unit tests (mirrors storage/owner_repo.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from qunzu.domain.duty import DutyEvent
from qunzu.domain.models import GroupKind, GroupRole
from qunzu.domain.owner_tools import AttendanceRow, Bar, GroupControls


class FakeOwnerTables:
    def __init__(self) -> None:
        self.rights: dict[tuple[int, int], list[str]] = {}
        self.mutes: dict[tuple[int, int], tuple[datetime, str]] = {}
        self.controls: dict[int, GroupControls] = {}
        self.duty: list[tuple[int, DutyEvent]] = []
        self.cursors: dict[tuple[int, int], int] = {}
        self.bars: dict[tuple[int, int], tuple[str, int, datetime]] = {}

    def __copy__(self) -> FakeOwnerTables:
        other = FakeOwnerTables()
        other.rights = dict(self.rights)
        other.mutes = dict(self.mutes)
        other.controls = dict(self.controls)
        other.duty = list(self.duty)
        other.cursors = dict(self.cursors)
        other.bars = dict(self.bars)
        return other


class FakeOwnerTools:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    @property
    def t(self) -> FakeOwnerTables:
        return self._uow.state.owner_tables  # type: ignore[no-any-return]

    def _w(self) -> FakeOwnerTables:
        return self._uow.state_for_write().owner_tables  # type: ignore[no-any-return]

    async def get_rights(self, group_id: int, account_id: int) -> list[str]:
        return list(self.t.rights.get((group_id, account_id), []))

    async def put_rights(
        self, group_id: int, account_id: int, rights: list[str], by: int, at: datetime
    ) -> None:
        self._w().rights[(group_id, account_id)] = sorted(rights)

    async def delete_rights(self, group_id: int, account_id: int) -> None:
        self._w().rights.pop((group_id, account_id), None)

    async def get_mute(self, group_id: int, account_id: int) -> tuple[datetime, str] | None:
        return self.t.mutes.get((group_id, account_id))

    async def put_mute(
        self, group_id: int, account_id: int, until: datetime, reason: str, by: int, at: datetime
    ) -> None:
        self._w().mutes[(group_id, account_id)] = (until, reason)

    async def delete_mute(self, group_id: int, account_id: int) -> None:
        self._w().mutes.pop((group_id, account_id), None)

    async def get_bar(self, group_id: int, account_id: int) -> datetime | None:
        bar = self.t.bars.get((group_id, account_id))
        return bar[2] if bar is not None else None

    async def put_bar(
        self, group_id: int, account_id: int, reason: str, by: int, at: datetime
    ) -> None:
        self._w().bars[(group_id, account_id)] = (reason[:500], by, at)

    async def list_bars(self, group_id: int, limit: int) -> list[Bar]:
        bars = [
            Bar(g, a, reason, by, at)
            for (g, a), (reason, by, at) in self.t.bars.items()
            if g == group_id
        ]
        return sorted(bars, key=lambda b: (-b.at.timestamp(), b.account_id))[:limit]

    async def delete_bar(self, group_id: int, account_id: int) -> bool:
        return self._w().bars.pop((group_id, account_id), None) is not None

    async def get_controls(self, group_id: int) -> GroupControls:
        return self.t.controls.get(group_id, GroupControls(group_id))

    async def put_controls(self, controls: GroupControls) -> None:
        self._w().controls[controls.group_id] = controls

    async def add_duty(self, group_id: int, event: DutyEvent) -> None:
        self._w().duty.append((group_id, replace(event, note=event.note[:500])))

    async def duty_events(self, group_id: int, since: datetime | None = None) -> list[DutyEvent]:
        return sorted(
            (e for g, e in self.t.duty if g == group_id and (since is None or e.at >= since)),
            key=lambda e: e.at,
        )

    async def get_read_cursor(self, group_id: int, account_id: int) -> int:
        return self.t.cursors.get((group_id, account_id), 0)

    async def put_read_cursor(self, group_id: int, account_id: int, seq: int, at: datetime) -> None:
        self._w().cursors[(group_id, account_id)] = seq

    async def attendance_rows(self, after_group_id: int, limit: int) -> list[AttendanceRow]:
        s = self._uow.state
        rows = []
        for gid in sorted(g for g in s.groups if g > after_group_id):
            group = s.groups[gid]
            if group.kind is not GroupKind.group or not group.is_active:
                continue
            managers = [
                m.account_id
                for (g, _), m in s.memberships.items()
                if g == gid and m.is_active and m.role in (GroupRole.owner, GroupRole.admin)
            ]
            times = [s.member_activity[(gid, a)] for a in managers if (gid, a) in s.member_activity]
            activity = s.group_activity.get(gid)
            controls = self.t.controls.get(gid, GroupControls(gid))
            rows.append(
                AttendanceRow(
                    gid,
                    group.owner_id,
                    activity.last_activity_at if activity else None,
                    max(times) if times else None,
                    controls.unattended_since,
                    controls.read_only_since,
                )
            )
        return rows[:limit]
