"""Uploads and the messages that reference them (``uploads``, ``message_attachments``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select

from qunzu.domain.attachments import AttachmentKind, Upload
from qunzu.storage import tables as t
from qunzu.storage.repositories import _Repo


def _upload(row: Any) -> Upload:
    return Upload(
        id=row.id,
        owner_id=row.owner_id,
        created_at=row.created_at,
        name=row.name,
        kind=AttachmentKind(row.kind),
        mime=row.mime,
        size=row.size,
        sha256=row.sha256,
        thumb_sha256=row.thumb_sha256,
        width=row.width,
        height=row.height,
        duration_ms=row.duration_ms,
    )


class SqlUploads(_Repo):
    async def add(self, upload: Upload) -> Upload:
        u = t.uploads
        values = {
            "owner_id": upload.owner_id,
            "created_at": upload.created_at,
            "name": upload.name,
            "kind": upload.kind.value,
            "mime": upload.mime,
            "size": upload.size,
            "sha256": upload.sha256,
            "thumb_sha256": upload.thumb_sha256,
            "width": upload.width,
            "height": upload.height,
            "duration_ms": upload.duration_ms,
        }
        new_id = (await self.c.execute(insert(u).values(**values).returning(u.c.id))).scalar_one()
        return _upload(type("Row", (), {"id": new_id, **values})())

    async def get(self, upload_id: int) -> Upload | None:
        u = t.uploads
        row = (await self.c.execute(select(u).where(u.c.id == upload_id))).first()
        return _upload(row) if row else None

    async def get_many(self, upload_ids: Sequence[int]) -> dict[int, Upload]:
        u = t.uploads
        rows = await self.c.execute(select(u).where(u.c.id.in_(list(upload_ids))))
        return {r.id: _upload(r) for r in rows}

    async def attach(self, upload_ids: Sequence[int], group_id: int, seq: int) -> None:
        rows = [{"upload_id": i, "group_id": group_id, "seq": seq} for i in upload_ids]
        await self.c.execute(insert(t.message_attachments), rows)

    async def references(self, upload_id: int) -> list[tuple[int, int]]:
        ma = t.message_attachments
        rows = await self.c.execute(
            select(ma.c.group_id, ma.c.seq).where(ma.c.upload_id == upload_id).limit(1000)
        )
        return [(r.group_id, r.seq) for r in rows]

    async def referenced(self, upload_ids: Sequence[int]) -> set[int]:
        ma = t.message_attachments
        rows = await self.c.execute(
            select(ma.c.upload_id).where(ma.c.upload_id.in_(list(upload_ids))).distinct()
        )
        return {r.upload_id for r in rows}

    async def unreferenced_before(self, before: datetime, limit: int) -> list[Upload]:
        u, ma = t.uploads, t.message_attachments
        used = select(ma.c.upload_id).where(ma.c.upload_id == u.c.id).exists()
        rows = await self.c.execute(
            select(u).where(u.c.created_at < before, ~used).order_by(u.c.id).limit(limit)
        )
        return [_upload(r) for r in rows]

    async def delete(self, upload_id: int) -> None:
        await self.c.execute(delete(t.uploads).where(t.uploads.c.id == upload_id))

    async def uses_of(self, sha256: str) -> int:
        u = t.uploads
        query = select(func.count()).where(or_(u.c.sha256 == sha256, u.c.thumb_sha256 == sha256))
        return int((await self.c.execute(query)).scalar_one())

    async def in_evidence(self, group_id: int, seq: int) -> bool:
        c, e = t.cases, t.evidence
        query = (
            select(e.c.case_id)
            .join(c, c.c.id == e.c.case_id)
            .where(c.c.group_id == group_id, e.c.seq == seq)
            .limit(1)
        )
        return (await self.c.execute(query)).first() is not None

    async def for_messages(self, group_id: int, seqs: Sequence[int]) -> dict[int, list[Upload]]:
        u, ma = t.uploads, t.message_attachments
        rows = await self.c.execute(
            select(ma.c.seq, u)
            .join(u, u.c.id == ma.c.upload_id)
            .where(ma.c.group_id == group_id, ma.c.seq.in_(list(seqs)))
            .order_by(ma.c.seq, u.c.id)
        )
        out: dict[int, list[Upload]] = {}
        for row in rows:
            out.setdefault(row.seq, []).append(_upload(row))
        return out
