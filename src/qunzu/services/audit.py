"""Audit entries, and the one way to do a privileged thing.

Firm rule: every privileged action writes exactly one audit entry, and the entry
commits with the action or neither happens. A service does a privileged thing
with ``privileged``, never by checking a role and writing an entry by hand::

    async with privileged(ctx, actor, SENIORS, AuditAction.credit_lock, f"account:{a}") as act:
        ...  # act.uow is the unit of work; act.note(previous=...) adds to the entry

``privileged`` checks the role first (a refusal writes nothing and opens nothing),
runs the block in a unit of work, and on success appends the entry in that same
unit of work before it commits; a block that raises rolls back and leaves no
entry. A read that may run long (walking the whole audit log) passes
``write=False``: the block reads in a read-only unit of work and the entry is
written right after it, before the caller gets anything back, so there is still
no result without an entry.

Periodic jobs and the command line act as ``SYSTEM`` (services.actor), never as
nobody. The log is a hash chain with a sealed head (crypto.audit_chain).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qunzu.crypto.audit_chain import (
    GENESIS,
    ChainLink,
    ChainReport,
    ChainVerifier,
    audit_content,
    checkpoint_message,
    head_message,
)
from qunzu.domain.audit import AuditAction
from qunzu.domain.errors import Conflict, InvalidInput
from qunzu.domain.models import PlatformRole
from qunzu.services.actor import Principal, require_platform_role
from qunzu.services.context import FieldCipherLike, ServiceContext, transaction
from qunzu.services.ports import (
    AuditCheckpoint,
    AuditHead,
    AuditRecord,
    HeadSealer,
    UnitOfWork,
)

# Who reads and checks the audit log itself.
AUDITORS = (PlatformRole.auditor, PlatformRole.admin)
AUDIT_LOG = "audit_log"  # the subject of entries about the log itself


@dataclass
class PrivilegedAct:
    """What a ``privileged`` block works with: its unit of work and the entry to come."""

    uow: UnitOfWork
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)

    def note(self, **detail: Any) -> None:
        """Add to the audit entry what only the action itself learns (counts, ids)."""
        self.detail.update(detail)


@asynccontextmanager
async def privileged(
    ctx: ServiceContext,
    actor: Principal,
    roles: Sequence[PlatformRole],
    action: AuditAction,
    subject: str,
    *,
    write: bool = True,
    **detail: Any,
) -> AsyncIterator[PrivilegedAct]:
    """Authorise, act and audit as one: see the module's docstring."""
    require_platform_role(actor, *roles)
    if write:
        async with transaction(ctx) as uow:
            act = PrivilegedAct(uow, subject, dict(detail))
            yield act
            await record(ctx, uow, actor, action, act.subject, **act.detail)
        return
    async with transaction(ctx, write=False) as uow:
        act = PrivilegedAct(uow, subject, dict(detail))
        yield act
    async with transaction(ctx) as uow:
        await record(ctx, uow, actor, action, act.subject, **act.detail)


async def record(
    ctx: ServiceContext,
    uow: UnitOfWork,
    actor: Principal,
    action: AuditAction,
    subject: str,
    **detail: Any,
) -> AuditRecord:
    """Append an audit entry inside the caller's unit of work: no entry, no action.

    Use ``privileged`` for a privileged action; this is for what a use case does inside
    one, and for what periodic jobs do as ``SYSTEM``. A name outside ``AuditAction`` is
    refused (ValueError) before anything is written, whatever the caller's types say.
    """
    name = AuditAction(action).value
    return await uow.audit.append(
        ctx.clock.now(), actor.id, name, subject, detail, head_sealer(ctx.cipher)
    )


# ---- the head's seal ------------------------------------------------------------------------


_NO_HEAD = "the chain's head is missing"


def _seal_of(cipher: FieldCipherLike, count: int, last_id: int, last_hash: str) -> str:
    return cipher.seal(head_message(count, last_id, last_hash))


def _head_problem(cipher: FieldCipherLike, head: AuditHead | None) -> str | None:
    """Why the head cannot be trusted, or None. Unsealed is sound only for an empty log."""
    if head is None:
        return _NO_HEAD
    if head.seal is None:
        if head.count == 0 and head.last_hash == GENESIS:
            return None
        return "the chain's head is not sealed (seal it with `qunzu audit seal`)"
    expected = _seal_of(cipher, head.count, head.last_id, head.last_hash)
    if not hmac.compare_digest(head.seal, expected):
        return "the chain's head does not match its seal"
    return None


def head_sealer(cipher: FieldCipherLike) -> HeadSealer:
    """Seals each new head, but only when the head it extends is sound: a head changed
    outside qunzu stays unsealed through later appends, so verification keeps saying so."""

    def seal(previous: AuditHead | None, count: int, last_id: int, last_hash: str) -> str | None:
        if _head_problem(cipher, previous) is not None:
            return None
        return _seal_of(cipher, count, last_id, last_hash)

    return seal


# ---- reading and checking the log -----------------------------------------------------------


def _link(rec: AuditRecord) -> ChainLink:
    content = audit_content(rec.at, rec.actor_id, rec.action, rec.subject, rec.detail)
    return ChainLink(rec.id, rec.prev_hash, rec.hash, content)


def _checkpoint_problem(cipher: FieldCipherLike, cp: AuditCheckpoint | None) -> str | None:
    if cp is None:
        return None
    expected = cipher.seal(checkpoint_message(cp.dropped, cp.last_id, cp.last_hash))
    if not hmac.compare_digest(cp.seal, expected):
        return "the purge checkpoint does not match its seal"
    return None


def _verifier_from(cp: AuditCheckpoint | None) -> ChainVerifier:
    """A verifier that starts where purges left the chain (the genesis when never purged)."""
    if cp is None:
        return ChainVerifier()
    return ChainVerifier(cp.last_hash, cp.dropped, cp.last_id)


async def _walk(uow: UnitOfWork, page: int) -> tuple[ChainVerifier, AuditHead | None]:
    """Feed every link, a page at a time, and read the head once the end is reached.

    The walk starts at the purge checkpoint, if any. The head is read after the entries,
    so it covers every entry the walk saw; if it moved on meanwhile (a concurrent
    append), the walk reads on up to it.
    """
    verifier = _verifier_from(await uow.audit.checkpoint())
    after = verifier.last_id
    head: AuditHead | None = None
    while True:
        batch = await uow.audit.scan(after, page)
        if not all(verifier.feed(_link(rec)) for rec in batch):
            return verifier, await uow.audit.head()
        if batch:
            after = batch[-1].id
            continue
        fresh = await uow.audit.head()
        if fresh is None or fresh.last_id <= after or fresh == head:
            return verifier, fresh
        head = fresh


async def _check(ctx: ServiceContext, uow: UnitOfWork, page: int) -> ChainReport:
    problem = _checkpoint_problem(ctx.cipher, await uow.audit.checkpoint())
    if problem is not None:
        return ChainReport(False, 0, None, problem)
    verifier, head = await _walk(uow, page)
    if head is None:
        links = verifier.report()
        return links if not links.ok else ChainReport(False, links.checked, None, _NO_HEAD)
    report = verifier.against_head(head.count, head.last_id, head.last_hash)
    problem = _head_problem(ctx.cipher, head)
    if report.ok and problem is not None:
        return ChainReport(False, report.checked, None, problem, head.count)
    return report


async def verify_audit_chain(
    ctx: ServiceContext, actor: Principal, page: int = 5000
) -> ChainReport:
    """Walk the whole chain in id order, a page at a time, and hold its end against the
    sealed head; name the first broken entry. The check itself is audited, with its
    outcome, so a failed verification stays on record."""
    async with privileged(
        ctx, actor, AUDITORS, AuditAction.audit_verify, AUDIT_LOG, write=False
    ) as act:
        report = await _check(ctx, act.uow, page)
        act.note(
            ok=report.ok,
            checked=report.checked,
            expected=report.expected,
            first_broken_id=report.first_broken_id,
            reason=report.reason,
        )
    return report


async def list_audit(
    ctx: ServiceContext, actor: Principal, after_id: int = 0, limit: int = 100
) -> list[AuditRecord]:
    """Entries after ``after_id``, oldest first. Reading the log is itself audited."""
    if not 1 <= limit <= 1000 or after_id < 0:
        raise InvalidInput("invalid_page", "limit is 1 to 1000, after_id 0 or more.")
    async with privileged(
        ctx, actor, AUDITORS, AuditAction.audit_read, AUDIT_LOG, write=False
    ) as act:
        entries = await act.uow.audit.scan(after_id, limit)
        act.note(after_id=after_id, entries=len(entries))
    return entries


async def do_seal_audit_head(ctx: ServiceContext, actor: Principal) -> ChainReport:
    """Seal the head at the chain's end as it stands: for a log whose head is not sealed
    (one written before heads were kept) or, after an incident has been looked into, to
    accept the chain as it now is. Refused while the links themselves are broken. The
    entry records the head it replaced, so nothing is accepted silently."""
    roles = (PlatformRole.admin,)
    async with privileged(ctx, actor, roles, AuditAction.audit_seal, AUDIT_LOG) as act:
        await act.uow.audit.lock()
        problem = _checkpoint_problem(ctx.cipher, await act.uow.audit.checkpoint())
        if problem is not None:
            raise Conflict(
                "audit_chain_broken", f"A head is only sealed over sound links: {problem}."
            )
        verifier, previous = await _walk(act.uow, 5000)
        links = verifier.report()
        if not links.ok:
            raise Conflict(
                "audit_chain_broken",
                f"Entry {links.first_broken_id} does not fit the chain ({links.reason}); "
                "a head is only sealed over sound links.",
            )
        count = verifier.checked + verifier.dropped
        head = AuditHead(
            count,
            verifier.last_id,
            verifier.expected_prev,
            _seal_of(ctx.cipher, count, verifier.last_id, verifier.expected_prev),
        )
        await act.uow.audit.put_head(head)
        act.note(
            entries=head.count,
            replaced={
                "entries": previous.count if previous else None,
                "last_id": previous.last_id if previous else None,
                "problem": _head_problem(ctx.cipher, previous),
            },
        )
    return ChainReport(True, head.count, expected=head.count)


# ---- purging old entries (services.retention) ---------------------------------------------


async def purge_entries(ctx: ServiceContext, uow: UnitOfWork, before: datetime, limit: int) -> int:
    """Drop up to ``limit`` of the oldest entries written before ``before``, never the
    chain's last one, after checking that each fits the chain; then move the sealed
    checkpoint to the last one dropped, in the same transaction. A broken chain is not
    purged (``audit_chain_broken``): what is dropped must have been sound."""
    await uow.audit.lock()
    checkpoint = await uow.audit.checkpoint()
    problem = _checkpoint_problem(ctx.cipher, checkpoint)
    if problem is not None:
        raise Conflict("audit_chain_broken", f"Not purged: {problem}.")
    verifier = _verifier_from(checkpoint)
    head = await uow.audit.head()
    if head is None:
        return 0
    taken: list[AuditRecord] = []
    for rec in await uow.audit.scan(verifier.last_id, limit):
        if rec.at >= before or rec.id >= head.last_id:
            break
        if not verifier.feed(_link(rec)):
            report = verifier.report()
            raise Conflict(
                "audit_chain_broken",
                f"Not purged: entry {report.first_broken_id} does not fit ({report.reason}).",
            )
        taken.append(rec)
    if not taken:
        return 0
    last = taken[-1]
    dropped = verifier.dropped + len(taken)
    seal = ctx.cipher.seal(checkpoint_message(dropped, last.id, last.hash))
    await uow.audit.delete_through(last.id)
    await uow.audit.put_checkpoint(AuditCheckpoint(dropped, last.id, last.hash, seal))
    return len(taken)


async def count_purgeable_entries(uow: UnitOfWork, before: datetime, page: int = 5000) -> int:
    """How many entries ``purge_entries`` would drop (a dry run)."""
    checkpoint = await uow.audit.checkpoint()
    head = await uow.audit.head()
    if head is None:
        return 0
    after, count = (checkpoint.last_id if checkpoint else 0), 0
    while batch := await uow.audit.scan(after, page):
        for rec in batch:
            if rec.at >= before or rec.id >= head.last_id:
                return count
            count += 1
        after = batch[-1].id
    return count
