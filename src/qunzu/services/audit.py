"""Audit entries (firm rule: every privileged action writes one in its own transaction)."""

from __future__ import annotations

from typing import Any

from qunzu.crypto.audit_chain import ChainLink, ChainReport, ChainVerifier, audit_content
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import AuditRecord, UnitOfWork

# The actor of what the server does by itself (its periodic jobs): no account has id 0.
# ``None`` stays the operator at the command line (records.py).
SYSTEM_ACTOR_ID = 0


async def record(
    ctx: ServiceContext,
    uow: UnitOfWork,
    actor_id: int | None,
    action: str,
    subject: str,
    **detail: Any,
) -> AuditRecord:
    """Append an audit entry inside the caller's transaction: no entry, no action."""
    return await uow.audit.append(ctx.clock.now(), actor_id, action, subject, detail)


async def verify_audit_chain(ctx: ServiceContext, page: int = 5000) -> ChainReport:
    """Walk the whole chain in id order, a page at a time; name the first broken entry."""
    verifier = ChainVerifier()
    after = 0
    async with transaction(ctx, write=False) as uow:
        while True:
            batch = await uow.audit.scan(after, page)
            if not batch:
                break
            for rec in batch:
                content = audit_content(rec.at, rec.actor_id, rec.action, rec.subject, rec.detail)
                if not verifier.feed(ChainLink(rec.id, rec.prev_hash, rec.hash, content)):
                    return verifier.report()
            after = batch[-1].id
    return verifier.report()


async def list_audit(ctx: ServiceContext, after_id: int, limit: int) -> list[AuditRecord]:
    async with transaction(ctx, write=False) as uow:
        return await uow.audit.scan(after_id, limit)
