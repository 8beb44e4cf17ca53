"""A person's copies of their own data (domain.personal_data)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import func, select

from qunzu.domain.personal_data import DataExport
from qunzu.storage import tables as t
from qunzu.storage.mapping import row_reader, row_values
from qunzu.storage.repositories import _Repo

_read = row_reader(DataExport)


class SqlDataExports(_Repo):
    async def add(self, export: DataExport) -> DataExport:
        x = t.data_exports
        q = x.insert().values(**row_values(export, exclude=("id",))).returning(x.c.id)
        return dataclasses.replace(export, id=(await self.c.execute(q)).scalar_one())

    async def get(self, export_id: int) -> DataExport | None:
        x = t.data_exports
        row = (await self.c.execute(select(x).where(x.c.id == export_id))).first()
        return _read(row) if row else None

    async def latest_for(self, account_id: int) -> DataExport | None:
        x = t.data_exports
        q = select(x).where(x.c.account_id == account_id).order_by(x.c.id.desc()).limit(1)
        row = (await self.c.execute(q)).first()
        return _read(row) if row else None

    async def count_since(self, account_id: int, since: datetime) -> int:
        x = t.data_exports
        q = select(func.count()).where(x.c.account_id == account_id, x.c.requested_at >= since)
        return int((await self.c.execute(q)).scalar_one())

    async def put(self, export: DataExport, content: str | None) -> None:
        x = t.data_exports
        values = row_values(export, exclude=("id",))
        await self.c.execute(
            x.update().where(x.c.id == export.id).values(content=content, **values)
        )

    async def content(self, export_id: int) -> str | None:
        x = t.data_exports
        return (await self.c.execute(select(x.c.content).where(x.c.id == export_id))).scalar()
