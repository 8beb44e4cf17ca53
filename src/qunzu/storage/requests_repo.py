"""Invitations, join requests, ownership offers and the audit chain: SQL implementations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, text, update

from qunzu.crypto.audit_chain import GENESIS, audit_content, entry_hash
from qunzu.domain.models import (
    Invitation,
    JoinRequest,
    OwnershipOffer,
    RequestState,
)
from qunzu.services.ports import AuditCheckpoint, AuditHead, AuditRecord, HeadSealer
from qunzu.storage import convert
from qunzu.storage import tables as t
from qunzu.storage.repositories import _Repo


class SqlInvitations(_Repo):
    async def add(
        self,
        group_id: int,
        inviter_id: int,
        invitee_id: int,
        created_at: datetime,
        expires_at: datetime,
    ) -> Invitation:
        res = await self.c.execute(
            t.invitations.insert()
            .values(
                group_id=group_id,
                inviter_id=inviter_id,
                invitee_id=invitee_id,
                state=RequestState.pending.value,
                created_at=created_at,
                expires_at=expires_at,
            )
            .returning(t.invitations.c.id)
        )
        return Invitation(
            res.scalar_one(),
            group_id,
            inviter_id,
            invitee_id,
            RequestState.pending,
            created_at,
            expires_at,
        )

    async def get(self, invitation_id: int) -> Invitation | None:
        i = t.invitations
        row = (await self.c.execute(select(i).where(i.c.id == invitation_id))).first()
        return convert.invitation(row) if row else None

    async def pending_for(self, group_id: int, invitee_id: int) -> Invitation | None:
        i = t.invitations
        row = (
            await self.c.execute(
                select(i).where(
                    i.c.group_id == group_id,
                    i.c.invitee_id == invitee_id,
                    i.c.state == RequestState.pending.value,
                )
            )
        ).first()
        return convert.invitation(row) if row else None

    async def list_for_invitee(self, invitee_id: int) -> list[Invitation]:
        i = t.invitations
        rows = await self.c.execute(
            select(i)
            .where(i.c.invitee_id == invitee_id, i.c.state == RequestState.pending.value)
            .order_by(i.c.id)
        )
        return [convert.invitation(r) for r in rows]

    async def set_state(self, invitation_id: int, state: RequestState) -> None:
        i = t.invitations
        await self.c.execute(update(i).where(i.c.id == invitation_id).values(state=state.value))


class SqlJoinRequests(_Repo):
    async def add(
        self, group_id: int, account_id: int, note: str, rules_version: int, created_at: datetime
    ) -> JoinRequest:
        res = await self.c.execute(
            t.join_requests.insert()
            .values(
                group_id=group_id,
                account_id=account_id,
                note=note,
                rules_version=rules_version,
                state=RequestState.pending.value,
                created_at=created_at,
            )
            .returning(t.join_requests.c.id)
        )
        return JoinRequest(
            res.scalar_one(),
            group_id,
            account_id,
            note,
            RequestState.pending,
            created_at,
            rules_version,
        )

    async def get(self, request_id: int) -> JoinRequest | None:
        j = t.join_requests
        row = (await self.c.execute(select(j).where(j.c.id == request_id))).first()
        return convert.join_request(row) if row else None

    async def pending_for(self, group_id: int, account_id: int) -> JoinRequest | None:
        j = t.join_requests
        row = (
            await self.c.execute(
                select(j).where(
                    j.c.group_id == group_id,
                    j.c.account_id == account_id,
                    j.c.state == RequestState.pending.value,
                )
            )
        ).first()
        return convert.join_request(row) if row else None

    async def list_pending(self, group_id: int) -> list[JoinRequest]:
        j = t.join_requests
        rows = await self.c.execute(
            select(j)
            .where(j.c.group_id == group_id, j.c.state == RequestState.pending.value)
            .order_by(j.c.id)
        )
        return [convert.join_request(r) for r in rows]

    async def decide(self, request_id: int, state: RequestState, decided_by: int | None) -> None:
        j = t.join_requests
        await self.c.execute(
            update(j).where(j.c.id == request_id).values(state=state.value, decided_by=decided_by)
        )


class SqlOwnershipOffers(_Repo):
    async def add(
        self, group_id: int, from_id: int, to_id: int, created_at: datetime
    ) -> OwnershipOffer:
        res = await self.c.execute(
            t.ownership_offers.insert()
            .values(
                group_id=group_id,
                from_id=from_id,
                to_id=to_id,
                state=RequestState.pending.value,
                created_at=created_at,
            )
            .returning(t.ownership_offers.c.id)
        )
        return OwnershipOffer(
            res.scalar_one(), group_id, from_id, to_id, RequestState.pending, created_at
        )

    async def get(self, offer_id: int) -> OwnershipOffer | None:
        o = t.ownership_offers
        row = (await self.c.execute(select(o).where(o.c.id == offer_id))).first()
        return convert.offer(row) if row else None

    async def pending_for_group(self, group_id: int) -> OwnershipOffer | None:
        o = t.ownership_offers
        row = (
            await self.c.execute(
                select(o).where(o.c.group_id == group_id, o.c.state == RequestState.pending.value)
            )
        ).first()
        return convert.offer(row) if row else None

    async def set_state(self, offer_id: int, state: RequestState) -> None:
        o = t.ownership_offers
        await self.c.execute(update(o).where(o.c.id == offer_id).values(state=state.value))


class SqlAudit(_Repo):
    async def lock(self) -> None:
        if self.c.dialect.name == "postgresql":
            # One writer at a time extends the chain, or two entries would share a parent.
            # (SQLite's write transaction already excludes every other writer.)
            await self.c.execute(text("SELECT pg_advisory_xact_lock(7172017)"))

    async def append(
        self,
        at: datetime,
        actor_id: int,
        action: str,
        subject: str,
        detail: dict[str, Any],
        seal: HeadSealer,
    ) -> AuditRecord:
        a = t.audit_log
        if at.tzinfo is None:
            raise ValueError("naive datetime given to the audit log")
        # Hash the time as the database will give it back (UTC), or a clock in another
        # zone would make every honest entry look tampered with at verification.
        at = at.astimezone(UTC)
        await self.lock()
        head = await self.head()
        last = (await self.c.execute(select(a.c.hash).order_by(a.c.id.desc()).limit(1))).first()
        if last:
            prev = last[0]
        else:  # every entry purged (or none yet): go on from the checkpoint, if any
            checkpoint = await self.checkpoint()
            prev = checkpoint.last_hash if checkpoint else GENESIS
        content = audit_content(at, actor_id, action, subject, detail)
        digest = entry_hash(prev, content)
        res = await self.c.execute(
            a.insert()
            .values(
                at=at,
                actor_id=actor_id,
                action=action,
                subject=subject,
                detail=detail,
                prev_hash=prev,
                hash=digest,
            )
            .returning(a.c.id)
        )
        entry_id = res.scalar_one()
        count = (head.count if head else 0) + 1
        await self.put_head(AuditHead(count, entry_id, digest, seal(head, count, entry_id, digest)))
        return AuditRecord(entry_id, at, actor_id, action, subject, detail, prev, digest)

    async def scan(self, after_id: int, limit: int) -> list[AuditRecord]:
        a = t.audit_log
        rows = await self.c.execute(
            select(a).where(a.c.id > after_id).order_by(a.c.id).limit(limit)
        )
        return [
            AuditRecord(
                r.id, r.at, r.actor_id, r.action, r.subject, dict(r.detail), r.prev_hash, r.hash
            )
            for r in rows
        ]

    async def head(self) -> AuditHead | None:
        h = t.audit_head
        row = (await self.c.execute(select(h).where(h.c.id == 1))).first()
        return AuditHead(row.entries, row.last_id, row.last_hash, row.seal) if row else None

    async def put_head(self, head: AuditHead) -> None:
        h = t.audit_head
        values = {
            "entries": head.count,
            "last_id": head.last_id,
            "last_hash": head.last_hash,
            "seal": head.seal,
        }
        res = await self.c.execute(update(h).where(h.c.id == 1).values(**values))
        if res.rowcount == 0:  # the row was deleted: put it back, telling what it knows
            await self.c.execute(h.insert().values(id=1, **values))

    async def checkpoint(self) -> AuditCheckpoint | None:
        cp = t.audit_checkpoint
        row = (await self.c.execute(select(cp).where(cp.c.id == 1))).first()
        return AuditCheckpoint(row.dropped, row.last_id, row.last_hash, row.seal) if row else None

    async def put_checkpoint(self, checkpoint: AuditCheckpoint) -> None:
        cp = t.audit_checkpoint
        values = {
            "dropped": checkpoint.dropped,
            "last_id": checkpoint.last_id,
            "last_hash": checkpoint.last_hash,
            "seal": checkpoint.seal,
        }
        res = await self.c.execute(update(cp).where(cp.c.id == 1).values(**values))
        if res.rowcount == 0:
            await self.c.execute(cp.insert().values(id=1, **values))

    async def delete_through(self, last_id: int) -> int:
        a = t.audit_log
        res = await self.c.execute(delete(a).where(a.c.id <= last_id))
        return int(res.rowcount)
