"""Real-name identity (Art. 6, 后台实名、前台自愿).

The platform keeps the identity encrypted and shows it only masked. Reading it
in full is a platform privilege that needs a stated reason and writes an audit
entry in the same transaction; without the entry there is no read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from qunzu.domain.audit import AuditAction, check_not_self
from qunzu.domain.credit import CreditReason
from qunzu.domain.errors import Conflict, InvalidInput, NotFound
from qunzu.domain.identity import IdentityClaim
from qunzu.domain.models import PlatformRole
from qunzu.domain.text import text_problem
from qunzu.services.actor import Actor
from qunzu.services.audit import privileged
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.enforcement import check_identity_free
from qunzu.services.ledgers import record_credit
from qunzu.services.ports import IdentityRecord


@dataclass(frozen=True, slots=True)
class VerificationResult:
    verified: bool
    provider: str
    note: str = ""


class IdentityVerifier(Protocol):
    """Checks that a claimed identity is real. A provider plugs in by configuration."""

    name: str

    async def verify(self, claim: IdentityClaim) -> VerificationResult: ...


@dataclass(frozen=True, slots=True)
class MaskedIdentity:
    legal_name: str
    resident_id: str
    phone: str
    verified: bool
    verifier: str
    submitted_at: str


@dataclass(frozen=True, slots=True)
class FullIdentity:
    account_id: int
    legal_name: str
    resident_id: str
    phone: str
    verified: bool
    verifier: str


def _masked(rec: IdentityRecord) -> MaskedIdentity:
    return MaskedIdentity(
        rec.masked_name,
        rec.masked_resident_id,
        rec.masked_phone,
        rec.verified,
        rec.verifier,
        rec.submitted_at.isoformat(),
    )


def _sealed_record(
    ctx: ServiceContext,
    account_id: int,
    claim: IdentityClaim,
    index: str,
    result: VerificationResult,
) -> IdentityRecord:
    """The identity as stored: each field encrypted under its own context, plus masks."""

    def seal(value: str, field: str) -> str:
        return ctx.cipher.encrypt(value, f"identity:{account_id}:{field}")

    masked = claim.masked()
    return IdentityRecord(
        account_id=account_id,
        blind_index=index,
        legal_name_enc=seal(claim.legal_name, "legal_name"),
        resident_id_enc=seal(claim.resident_id, "resident_id"),
        phone_enc=seal(claim.phone, "phone"),
        masked_name=masked["legal_name"],
        masked_resident_id=masked["resident_id"],
        masked_phone=masked["phone"],
        verified=True,
        verifier=result.provider,
        verification_note=result.note[:255],
        submitted_at=ctx.clock.now(),
    )


async def do_submit_identity(
    ctx: ServiceContext, actor: Actor, legal_name: str, resident_id: str, phone: str
) -> MaskedIdentity:
    claim = IdentityClaim.parse(legal_name, resident_id, phone, ctx.clock.now().date())
    result: VerificationResult = await ctx.verifier.verify(claim)
    if not result.verified:
        raise InvalidInput(
            "identity_rejected", result.note or "The identity could not be verified."
        )
    index = ctx.cipher.blind_index(claim.resident_id)
    indexes = ctx.cipher.blind_indexes(claim.resident_id)  # under every key on the ring
    account_id = actor.id
    async with transaction(ctx) as uow:
        existing = await uow.identities.get(account_id)
        if existing is not None and existing.verified:
            if existing.blind_index in indexes:
                raise Conflict("identity_already_verified", "Your identity is already verified.")
            raise Conflict(
                "identity_already_verified",
                "This account already holds a verified identity; ask the platform to change it.",
            )
        await check_identity_free(ctx, uow, indexes)
        held = await uow.identities.count_accounts_with(indexes, excluding=account_id)
        # The rulebook sets the rule (Art. 6); a deployment's setting may only be stricter.
        book_limit = ctx.rulebooks.in_force(ctx.clock.now()).accounts_per_identity
        limit = min(ctx.limits.max_accounts_per_identity, book_limit)
        if held >= limit:
            raise Conflict(
                "identity_account_limit",
                f"One real identity may hold at most {limit} accounts.",
                limit=limit,
            )

        record = _sealed_record(ctx, account_id, claim, index, result)
        await uow.identities.put(record)
        await uow.accounts.update(account_id, identity_verified=True)
        policy = ctx.rulebooks.in_force(ctx.clock.now()).credit
        await record_credit(
            ctx,
            uow,
            account_id,
            policy.inputs.identity_verified,
            CreditReason.identity_verified,
            article="art-6",
            source=f"identity:{result.provider}",
        )
    return _masked(record)


async def get_masked_identity(ctx: ServiceContext, actor: Actor) -> MaskedIdentity:
    async with transaction(ctx, write=False) as uow:
        rec = await uow.identities.get(actor.id)
    if rec is None:
        raise NotFound("identity_not_submitted", "You have not submitted an identity.")
    return _masked(rec)


IDENTITY_READERS = (PlatformRole.admin, PlatformRole.senior_reviewer)


async def do_read_identity(
    ctx: ServiceContext, actor: Actor, account_id: int, reason: str
) -> FullIdentity:
    """Decrypt another account's identity for a platform officer. Audited in the same
    transaction."""
    reason = " ".join(reason.split())
    async with privileged(
        ctx,
        actor,
        IDENTITY_READERS,
        AuditAction.identity_read,
        f"account:{account_id}",
        reason=reason[:500],
    ) as act:
        check_not_self(actor.id, account_id)
        if len(reason) < 5:
            raise InvalidInput("reason_required", "State why you need to read this identity.")
        problem = text_problem(reason)
        if problem is not None:
            raise InvalidInput("invalid_reason", f"A reason cannot contain {problem}.")
        rec = await act.uow.identities.get(account_id)
        if rec is None:
            raise NotFound("identity_not_submitted", "That account has no identity on file.")

        def unseal(value: str, field: str) -> str:
            return ctx.cipher.decrypt(value, f"identity:{account_id}:{field}")

        full = FullIdentity(
            account_id=account_id,
            legal_name=unseal(rec.legal_name_enc, "legal_name"),
            resident_id=unseal(rec.resident_id_enc, "resident_id"),
            phone=unseal(rec.phone_enc, "phone"),
            verified=rec.verified,
            verifier=rec.verifier,
        )
    return full


# ---- key rotation (crypto.fields): re-encrypt under the key in use --------------------------

REKEY_BATCH = 200
_FIELDS = ("legal_name", "resident_id", "phone")


def _rekeyed(ctx: ServiceContext, rec: IdentityRecord) -> IdentityRecord | None:
    """The record under the key in use, or None when it already is."""
    encs = {f: getattr(rec, f"{f}_enc") for f in _FIELDS}
    plain = {f: ctx.cipher.decrypt(v, f"identity:{rec.account_id}:{f}") for f, v in encs.items()}
    index = ctx.cipher.blind_index(plain["resident_id"])
    if index == rec.blind_index and all(ctx.cipher.is_current(v) for v in encs.values()):
        return None

    def seal(field: str) -> str:
        return ctx.cipher.encrypt(plain[field], f"identity:{rec.account_id}:{field}")

    return replace(
        rec,
        blind_index=index,
        legal_name_enc=seal("legal_name"),
        resident_id_enc=seal("resident_id"),
        phone_enc=seal("phone"),
    )


async def rekey_identities(ctx: ServiceContext, batch: int = REKEY_BATCH) -> dict[str, int]:
    """Re-encrypt every identity not yet under the key in use, and re-key its blind
    index, in short batches (the ``identity_rekey`` job). Reads and verifications work
    throughout: every key on the ring decrypts, lookups try every key's index."""
    checked = rekeyed = after = 0
    while True:
        async with transaction(ctx) as uow:
            records = await uow.identities.scan(after, batch)
            for rec in records:
                fresh = _rekeyed(ctx, rec)
                if fresh is not None:
                    await uow.identities.put(fresh)
                    rekeyed += 1
        checked += len(records)
        if len(records) < batch:
            return {"checked": checked, "rekeyed": rekeyed}
        after = records[-1].account_id
