"""Requests from the authorities (依法调取) and the referral outbox.

An officer registers a request (authority, legal basis, document, scope); a second officer
approves or refuses it (four eyes, domain.lawful_access); an approved request holds its
scope (legal hold) and produces scoped exports signed with the platform's Ed25519 key: a
zip with one JSON-lines file per data class and a manifest naming each file's SHA-256,
the manifest signed. Closing the request releases the hold. Every step is audited.

Referrals to the authorities (an owner's report up, a reviewer's ``refer_to_authority``)
wait in one outbox; an officer records how each was passed on and closes it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from qunzu.domain.audit import AuditAction, check_not_self
from qunzu.domain.errors import InvalidInput, NotFound
from qunzu.domain.lawful_access import (
    AccessRequest,
    AccessScope,
    AuthorityKind,
    DataClass,
    Referral,
    ReferralState,
    RequestState,
    check_closable,
    check_decidable,
    check_exportable,
    check_four_eyes,
    check_referral_open,
    check_scope,
)
from qunzu.domain.models import EntryKind, PlatformRole
from qunzu.domain.rulebook import Tier
from qunzu.domain.text import text_problem
from qunzu.services import governance
from qunzu.services.actor import Principal
from qunzu.services.audit import privileged
from qunzu.services.context import ServiceContext
from qunzu.services.ports import UnitOfWork

# Who works requests from the authorities: the platform's legal officers.
LAWFUL_OFFICERS = (PlatformRole.admin, PlatformRole.senior_reviewer)
# Who may read the register (not the exports): the officers and the auditors.
LAWFUL_READERS = (*LAWFUL_OFFICERS, PlatformRole.auditor)
# Who works the referral outbox.
REFERRAL_OFFICERS = (PlatformRole.admin, PlatformRole.senior_reviewer)
EXPORT_PAGE = 500


@dataclass(frozen=True, slots=True)
class NewRequest:
    authority: str
    authority_kind: AuthorityKind
    legal_basis: str
    document_ref: str
    scope: AccessScope
    private_tier_basis: str | None = None


@dataclass(frozen=True, slots=True)
class SignedExport:
    """A scoped export: the zip, its manifest and the manifest's Ed25519 signature."""

    request_id: int
    archive: bytes
    manifest: dict[str, Any]
    signature_b64: str
    public_key_b64: str


def _clean(value: str | None, field: str, minimum: int, maximum: int) -> str:
    text = " ".join((value or "").split())
    if len(text) < minimum or len(text) > maximum:
        raise InvalidInput(f"invalid_{field}", f"{field} takes {minimum} to {maximum} characters.")
    problem = text_problem(text)
    if problem is not None:
        raise InvalidInput(f"invalid_{field}", f"{field} cannot contain {problem}.")
    return text


def public_key_b64(ctx: ServiceContext) -> str:
    """The export key's public half, for recipients to check signatures."""
    return base64.b64encode(ctx.cipher.signing_public_key()).decode()


async def do_register_request(
    ctx: ServiceContext, actor: Principal, new: NewRequest
) -> AccessRequest:
    """Register a request from an authority; it waits for a second officer's decision."""
    now = ctx.clock.now()
    async with privileged(
        ctx, actor, LAWFUL_OFFICERS, AuditAction.lawful_register, "access_request:new"
    ) as act:
        basis = new.private_tier_basis
        basis = _clean(basis, "private_tier_basis", 5, 1000) if basis else None
        check_scope(new.scope, basis, now)
        request = await act.uow.lawful.add_request(
            AccessRequest(
                id=0,
                authority=_clean(new.authority, "authority", 2, 200),
                authority_kind=new.authority_kind,
                legal_basis=_clean(new.legal_basis, "legal_basis", 5, 1000),
                document_ref=_clean(new.document_ref, "document_ref", 1, 200),
                private_tier_basis=basis,
                scope=dataclasses.replace(
                    new.scope,
                    account_ids=tuple(sorted(set(new.scope.account_ids))),
                    group_ids=tuple(sorted(set(new.scope.group_ids))),
                    data_classes=tuple(dict.fromkeys(new.scope.data_classes)),
                ),
                state=RequestState.registered,
                registered_by=actor.id,
                registered_at=now,
            )
        )
        act.subject = f"access_request:{request.id}"
        act.note(authority_kind=request.authority_kind.value, document_ref=request.document_ref)
    return request


async def _load(uow: UnitOfWork, request_id: int) -> AccessRequest:
    request = await uow.lawful.get_request(request_id)
    if request is None:
        raise NotFound("access_request_not_found", "No such request.")
    return request


async def do_decide_request(
    ctx: ServiceContext, actor: Principal, request_id: int, approve: bool, note: str
) -> AccessRequest:
    """Approve or refuse a registered request: never by the officer who registered it.
    Approval puts the scope under a legal hold until the request is closed."""
    action = AuditAction.lawful_approve if approve else AuditAction.lawful_refuse
    async with privileged(
        ctx, actor, LAWFUL_OFFICERS, action, f"access_request:{request_id}"
    ) as act:
        note = _clean(note, "note", 5, 1000)
        request = await _load(act.uow, request_id)
        check_four_eyes(request, actor.id)
        check_decidable(request)
        decided = dataclasses.replace(
            request,
            state=RequestState.approved if approve else RequestState.refused,
            decided_by=actor.id,
            decided_at=ctx.clock.now(),
            decision_note=note,
        )
        await act.uow.lawful.update_request(decided)
        act.note(note=note[:500])
    return decided


async def do_close_request(
    ctx: ServiceContext, actor: Principal, request_id: int, note: str
) -> AccessRequest:
    """Close a request: its legal hold ends."""
    async with privileged(
        ctx, actor, LAWFUL_OFFICERS, AuditAction.lawful_close, f"access_request:{request_id}"
    ) as act:
        note = _clean(note, "note", 5, 1000)
        request = await _load(act.uow, request_id)
        check_closable(request)
        closed = dataclasses.replace(request, state=RequestState.closed, closed_at=ctx.clock.now())
        await act.uow.lawful.update_request(closed)
        act.note(note=note[:500])
    return closed


async def list_requests(
    ctx: ServiceContext,
    actor: Principal,
    state: RequestState | None,
    after_id: int,
    limit: int,
) -> list[AccessRequest]:
    """The register of requests, oldest first. Audited."""
    async with privileged(
        ctx, actor, LAWFUL_READERS, AuditAction.lawful_list, "access_requests", write=False
    ) as act:
        found = await act.uow.lawful.list_requests(state, after_id, limit)
        act.note(count=len(found))
    return found


async def get_request(ctx: ServiceContext, actor: Principal, request_id: int) -> AccessRequest:
    async with privileged(
        ctx,
        actor,
        LAWFUL_READERS,
        AuditAction.lawful_list,
        f"access_request:{request_id}",
        write=False,
    ) as act:
        return await _load(act.uow, request_id)


async def do_export_request(ctx: ServiceContext, actor: Principal, request_id: int) -> SignedExport:
    """Build the scoped export of an approved, open request and sign its manifest."""
    async with privileged(
        ctx, actor, LAWFUL_OFFICERS, AuditAction.lawful_export, f"access_request:{request_id}"
    ) as act:
        request = await _load(act.uow, request_id)
        check_exportable(request)
        files = await _collect(ctx, act.uow, request, actor.id)
        await act.uow.lawful.update_request(
            dataclasses.replace(request, exports=request.exports + 1)
        )
        manifest = _manifest(request, files, ctx.clock.now().isoformat())
        act.note(files={name: len(lines) for name, lines in files.items()})
    return _sign(ctx, request.id, files, manifest)


def _jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows).encode()


def _manifest(
    request: AccessRequest, files: dict[str, list[dict[str, Any]]], at: str
) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "authority": request.authority,
        "authority_kind": request.authority_kind.value,
        "legal_basis": request.legal_basis,
        "document_ref": request.document_ref,
        "private_tier_basis": request.private_tier_basis,
        "period": {"from": request.scope.start.isoformat(), "to": request.scope.end.isoformat()},
        "accounts": list(request.scope.account_ids),
        "groups": list(request.scope.group_ids),
        "data_classes": [d.value for d in request.scope.data_classes],
        "approved_by": request.decided_by,
        "exported_at": at,
        "export_number": request.exports + 1,
        "files": {
            f"{name}.jsonl": {
                "sha256": hashlib.sha256(_jsonl(rows)).hexdigest(),
                "records": len(rows),
            }
            for name, rows in files.items()
        },
    }


def _sign(
    ctx: ServiceContext,
    request_id: int,
    files: dict[str, list[dict[str, Any]]],
    manifest: dict[str, Any],
) -> SignedExport:
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2).encode()
    signature = base64.b64encode(ctx.cipher.sign(manifest_bytes)).decode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in files.items():
            archive.writestr(f"{name}.jsonl", _jsonl(rows))
        archive.writestr("manifest.json", manifest_bytes)
        archive.writestr("manifest.sig", signature + "\n")
        archive.writestr("public_key.b64", public_key_b64(ctx) + "\n")
    return SignedExport(request_id, buffer.getvalue(), manifest, signature, public_key_b64(ctx))


async def _collect(
    ctx: ServiceContext, uow: UnitOfWork, request: AccessRequest, officer_id: int
) -> dict[str, list[dict[str, Any]]]:
    scope = request.scope
    classes = set(scope.data_classes)
    files: dict[str, list[dict[str, Any]]] = {}
    if DataClass.accounts in classes:
        accounts = await uow.accounts.get_many(list(scope.account_ids))
        files["accounts"] = [
            {
                "account_id": a.id,
                "handle": a.handle,
                "display_name": a.display_name,
                "created_at": a.created_at,
                "disabled": a.disabled,
            }
            for a in accounts.values()
        ]
    if DataClass.identity in classes:
        files["identity"] = await _identities(ctx, uow, scope.account_ids, officer_id)
    if DataClass.memberships in classes:
        files["memberships"] = await _memberships(uow, scope)
    if classes & {DataClass.messages, DataClass.private_messages}:
        files["messages"] = await _messages(ctx, uow, request)
    if DataClass.sanctions in classes:
        files["sanctions"] = await _sanctions(uow, scope)
    return files


async def _identities(
    ctx: ServiceContext, uow: UnitOfWork, account_ids: tuple[int, ...], officer_id: int
) -> list[dict[str, Any]]:
    rows = []
    for account_id in account_ids:
        check_not_self(officer_id, account_id)
        rec = await uow.identities.get(account_id)
        if rec is None:
            continue

        def unseal(value: str, field: str, account_id: int = account_id) -> str:
            return ctx.cipher.decrypt(value, f"identity:{account_id}:{field}")

        rows.append(
            {
                "account_id": account_id,
                "legal_name": unseal(rec.legal_name_enc, "legal_name"),
                "resident_id": unseal(rec.resident_id_enc, "resident_id"),
                "phone": unseal(rec.phone_enc, "phone"),
                "verified": rec.verified,
                "submitted_at": rec.submitted_at,
            }
        )
    return rows


async def _memberships(uow: UnitOfWork, scope: AccessScope) -> list[dict[str, Any]]:
    rows = []
    for account_id in scope.account_ids:
        for m, group in await uow.memberships.for_account(account_id, active_only=False):
            rows.append(
                {
                    "account_id": account_id,
                    "group_id": group.id,
                    "group_number": group.number,
                    "role": m.role.value,
                    "state": m.state.value,
                    "joined_at": m.joined_at,
                }
            )
    return rows


async def _scoped_groups(uow: UnitOfWork, scope: AccessScope) -> set[int]:
    groups = set(scope.group_ids)
    for account_id in scope.account_ids:
        groups.update(g.id for _, g in await uow.memberships.for_account(account_id, False))
    return groups


async def _messages(
    ctx: ServiceContext, uow: UnitOfWork, request: AccessRequest
) -> list[dict[str, Any]]:
    """Messages in the period: every message of a named group, and a named account's own
    messages elsewhere. Private-tier groups only on a basis naming them (P1)."""
    scope = request.scope
    want_private = DataClass.private_messages in scope.data_classes
    want_other = DataClass.messages in scope.data_classes
    named_groups, named_accounts = set(scope.group_ids), set(scope.account_ids)
    rows: list[dict[str, Any]] = []
    for group_id in sorted(await _scoped_groups(uow, scope)):
        group = await uow.groups.get(group_id)
        if group is None:
            continue
        private = governance.compute_tier(ctx, group) is Tier.private
        if (private and not want_private) or (not private and not want_other):
            continue
        after = 0
        while page := await uow.timeline.after(group_id, after, EXPORT_PAGE):
            after = page[-1].seq
            for e in page:
                if e.kind is not EntryKind.message or not scope.start <= e.created_at < scope.end:
                    continue
                if group_id not in named_groups and e.sender_id not in named_accounts:
                    continue
                rows.append(
                    {
                        "group_id": group_id,
                        "group_number": group.number,
                        "private_tier": private,
                        "seq": e.seq,
                        "sender_id": e.sender_id,
                        "at": e.created_at,
                        "body": e.body,
                        "data": e.data,
                    }
                )
    return rows


async def _sanctions(uow: UnitOfWork, scope: AccessScope) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for s in await uow.reports.sanctions_between(scope.start, scope.end):
        if s.account_id in scope.account_ids or s.group_id in scope.group_ids:
            seen[s.id] = {
                "sanction_id": s.id,
                "case_id": s.case_id,
                "measure": s.kind,
                "account_id": s.account_id,
                "group_id": s.group_id,
                "article": s.article,
                "facts": s.facts,
                "starts_at": s.starts_at,
                "ends_at": s.ends_at,
                "state": s.state.value,
            }
    return list(seen.values())


async def list_referrals(
    ctx: ServiceContext,
    actor: Principal,
    state: ReferralState | None,
    after_id: int,
    limit: int,
) -> list[Referral]:
    """The outbox of matters passed on to the authorities, oldest first. Audited."""
    async with privileged(
        ctx, actor, REFERRAL_OFFICERS, AuditAction.referral_list, "referrals", write=False
    ) as act:
        found = await act.uow.lawful.list_referrals(state, after_id, limit)
        act.note(count=len(found))
    return found


async def do_close_referral(
    ctx: ServiceContext, actor: Principal, referral_id: int, outcome: str
) -> Referral:
    """Record how a referral was passed on (to whom, reference) and close it."""
    async with privileged(
        ctx, actor, REFERRAL_OFFICERS, AuditAction.referral_close, f"referral:{referral_id}"
    ) as act:
        outcome = _clean(outcome, "outcome", 5, 1000)
        referral = await act.uow.lawful.get_referral(referral_id)
        if referral is None:
            raise NotFound("referral_not_found", "No such referral.")
        check_referral_open(referral)
        closed = dataclasses.replace(
            referral,
            state=ReferralState.closed,
            closed_by=actor.id,
            closed_at=ctx.clock.now(),
            outcome=outcome,
        )
        await act.uow.lawful.update_referral(closed)
        act.note(outcome=outcome[:500])
    return closed
