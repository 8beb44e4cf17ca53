"""A person's copy of their own data (PIPL article 45): request it, it is built in the
background, download it once within a day (domain.personal_data).

What it holds: the account, the identity as masked (never the ciphertexts), the service
agreement version accepted, every membership (left ones too), the person's own messages
in them (a removed one as removed), their reports and outcomes, the sanctions that
affect them and their appeals, and their sessions (tokens without their secrets).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from qunzu.domain.errors import NotFound
from qunzu.domain.models import EntryKind, Group, Membership
from qunzu.domain.personal_data import (
    EXPORT_TTL,
    STALE_BUILD,
    DataExport,
    ExportState,
    check_downloadable,
    check_may_request,
)
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import notify

FORMAT = "qunzu-personal-data/1"
PAGE = 500


async def do_request_export(ctx: ServiceContext, actor: Actor) -> DataExport:
    """Ask for a copy; the caller builds it in the background (``build_export``)."""
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        latest = await uow.exports.latest_for(actor.id)
        check_may_request(latest, await uow.exports.count_since(actor.id, now - EXPORT_TTL), now)
        return await uow.exports.add(DataExport(0, actor.id, ExportState.pending, now))


async def get_export(ctx: ServiceContext, actor: Actor, export_id: int) -> DataExport:
    """One of the caller's exports (anyone else's is not found)."""
    async with transaction(ctx, write=False) as uow:
        export = await uow.exports.get(export_id)
    if export is None or export.account_id != actor.id:
        raise NotFound("export_not_found", "No such export of yours.")
    now = ctx.clock.now()
    return dataclasses.replace(export, state=export.state_at(now))


def needs_build(export: DataExport, now: datetime) -> bool:
    """Pending and not being built (a build that died is taken up again)."""
    return export.state is ExportState.pending and now - export.requested_at >= STALE_BUILD


async def do_download_export(ctx: ServiceContext, actor: Actor, export_id: int) -> str:
    """The export's JSON, once: the content goes as it is handed over."""
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        export = await uow.exports.get(export_id)
        if export is None or export.account_id != actor.id:
            raise NotFound("export_not_found", "No such export of yours.")
        check_downloadable(export, now)
        content = await uow.exports.content(export_id) or ""
        done = dataclasses.replace(export, state=ExportState.downloaded, downloaded_at=now)
        await uow.exports.put(done, None)
    return content


async def build_export(ctx: ServiceContext, export_id: int) -> None:
    """Gather the person's data and store it; they are told it is ready."""
    async with transaction(ctx, write=False) as uow:
        export = await uow.exports.get(export_id)
        if export is None or export.state is not ExportState.pending:
            return
        document = await _gather(ctx, uow, export.account_id)
    content = json.dumps(document, ensure_ascii=False, default=str, indent=1)
    now = ctx.clock.now()
    async with transaction(ctx) as uow:
        ready = dataclasses.replace(
            export,
            state=ExportState.ready,
            ready_at=now,
            expires_at=now + EXPORT_TTL,
            size=len(content.encode()),
        )
        await uow.exports.put(ready, content)
        notify(uow, export.account_id, "data_export_ready", export_id=export_id)


async def _gather(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> dict[str, Any]:
    account = await uow.accounts.get(account_id)
    assert account is not None
    identity = await uow.identities.get(account_id)
    memberships = await uow.memberships.for_account(account_id, active_only=False)
    owned = [g.id for _, g in memberships if g.owner_id == account_id]
    return {
        "format": FORMAT,
        "generated_at": ctx.clock.now().isoformat(),
        "account": {
            "id": account.id,
            "handle": account.handle,
            "display_name": account.display_name,
            "created_at": account.created_at,
            "identity_verified": account.identity_verified,
        },
        "identity": None
        if identity is None
        else {
            "legal_name": identity.masked_name,
            "resident_id": identity.masked_resident_id,
            "phone": identity.masked_phone,
            "verified": identity.verified,
            "submitted_at": identity.submitted_at,
        },
        "consents": [
            {"agreement_version": v, "accepted_at": at}
            for v, at in await uow.accounts.acceptances(account_id)
        ],
        "groups": [_membership(m, g) for m, g in memberships],
        "messages": await _messages(uow, account_id, memberships),
        "reports": [_report(r, c) for r, c in await uow.reports.reports_by(account_id, 10_000)],
        "sanctions": [_plain(s) for s in await uow.reports.sanctions_affecting(account_id, owned)],
        "appeals": [_plain(a) for a in await uow.reports.appeals_by(account_id)],
        "sessions": [
            {
                "id": tok.id,
                "label": tok.label,
                "created_at": tok.created_at,
                "expires_at": tok.expires_at,
                "revoked_at": tok.revoked_at,
            }
            for tok in await uow.tokens.list_for(account_id)
        ],
    }


def _plain(obj: Any) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in dataclasses.asdict(obj).items()}


def _membership(m: Membership, g: Group) -> dict[str, Any]:
    return {
        "group_id": g.id,
        "group_number": g.number,
        "group_name": g.name,
        "role": m.role.value,
        "state": m.state.value,
        "joined_at": m.joined_at,
    }


def _report(report: Any, case: Any) -> dict[str, Any]:
    return {
        "id": report.id,
        "group_id": case.target.group_id,
        "target": case.target.kind.value,
        "category": report.category,
        "statement": report.statement,
        "created_at": report.created_at,
        "status": case.status.value,
        "decision": case.decision.value if case.decision else None,
    }


async def _messages(
    uow: UnitOfWork, account_id: int, memberships: list[tuple[Membership, Group]]
) -> list[dict[str, Any]]:
    """The person's own messages in each group they were in, within their window."""
    rows: list[dict[str, Any]] = []
    for m, g in memberships:
        after, upto = m.joined_seq, m.left_seq
        while page := await uow.timeline.after(g.id, after, PAGE, upto):
            after = page[-1].seq
            for e in page:
                if e.kind is EntryKind.message and e.sender_id == account_id:
                    rows.append(
                        {
                            "group_id": g.id,
                            "seq": e.seq,
                            "at": e.created_at,
                            "body": e.body,
                            "removed": e.body is None,
                        }
                    )
    return rows
