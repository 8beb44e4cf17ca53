"""Sanctions take effect on every path (posting, joining, creating, managing): this module
fetches the sanctions in force now and asks the domain rule
(``domain.sanctions.check_sanctions_allow``; posting asks it through
``domain.posting.can_post``). Expiry needs no job: "in force" is
decided at the moment of the request."""

from __future__ import annotations

from qunzu.domain.credit import CreditReason
from qunzu.domain.models import EntryKind, GroupState
from qunzu.domain.rulebook import SanctionTarget
from qunzu.domain.sanctions import (
    CONTENT_MEASURES,
    PERSON_WIDE,
    Sanction,
    SanctionedPath,
    SanctionState,
    bind_person,
    check_identity_not_barred,
    check_sanctions_allow,
    check_tools_allowed,
)
from qunzu.services.context import ServiceContext
from qunzu.services.ledgers import record_credit
from qunzu.services.ports import UnitOfWork
from qunzu.services.timeline import append_entry


async def in_force(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int | None, account_id: int | None
) -> list[Sanction]:
    return await uow.reports.active_sanctions(ctx.clock.now(), group_id, account_id)


async def check_may_join(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    check_sanctions_allow(
        SanctionedPath.join_group, await in_force(ctx, uow, None, account_id), account_id
    )


async def check_may_create(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> None:
    check_sanctions_allow(
        SanctionedPath.create_group, await in_force(ctx, uow, None, account_id), account_id
    )


async def check_may_manage(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, group_id: int
) -> None:
    """Owner and admin tools are refused while management rights are suspended (Art. 11),
    and, where the rulebook says so, while posting in the group is suspended."""
    suspend_tools = ctx.rulebooks.in_force(ctx.clock.now()).suspend_tools_under_posting_suspension
    sanctions = await in_force(ctx, uow, group_id if suspend_tools else None, account_id)
    check_sanctions_allow(SanctionedPath.manage, sanctions, account_id, group_id, True)
    check_tools_allowed(sanctions, group_id, suspend_tools)


async def bind_the_person(ctx: ServiceContext, uow: UnitOfWork, sanction: Sanction) -> list[int]:
    """A person-wide measure on one account binds every other account of the same real
    identity for the same term: one twin sanction each (no second credit penalty).
    Returns the accounts newly bound."""
    if sanction.kind not in PERSON_WIDE or sanction.account_id is None:
        return []
    identity = await uow.identities.get(sanction.account_id)
    if identity is None:
        return []
    # The person, whichever key their accounts' indexes are under (crypto.fields rotation).
    context = f"identity:{sanction.account_id}:resident_id"
    indexes = ctx.cipher.blind_indexes(ctx.cipher.decrypt(identity.resident_id_enc, context))
    bound = []
    for account_id in await uow.identities.accounts_with(indexes):
        if account_id != sanction.account_id:
            await uow.reports.add_sanction(bind_person(sanction, account_id))
            bound.append(account_id)
    return bound


async def check_identity_free(
    ctx: ServiceContext, uow: UnitOfWork, blind_indexes: tuple[str, ...]
) -> None:
    """No account verifies an identity that a person-wide measure binds."""
    for account_id in await uow.identities.accounts_with(blind_indexes):
        check_identity_not_barred(await in_force(ctx, uow, None, account_id))


async def end_sanction(
    ctx: ServiceContext,
    uow: UnitOfWork,
    sanction: Sanction,
    state: SanctionState,
    reverse_credit: bool,
) -> None:
    """End a sanction (lifted or overturned) with its effects; a person-wide measure ends
    on every account of the person at once."""
    await _end_one(ctx, uow, sanction, state, reverse_credit)
    if sanction.kind in PERSON_WIDE:
        head = sanction.person_of or sanction.id
        primary = await uow.reports.get_sanction(head)
        family = [primary] if primary is not None else []
        family += await uow.reports.sanctions_bound_to(head)
        for other in family:
            if other.id != sanction.id and other.state is SanctionState.active:
                await _end_one(ctx, uow, other, state, reverse_credit)


async def take_down(
    ctx: ServiceContext, uow: UnitOfWork, group_id: int, seq: int, sanction: Sanction
) -> None:
    """The platform removes a reported message (a takedown): its place stays, marked as
    taken down by the platform, with the statement of reasons to its sender. The caller
    withdraws it from pins and indexes first (``threads.withdraw``)."""
    entry = await uow.timeline.get(group_id, seq)
    if entry is None or entry.kind is not EntryKind.message or entry.body is None:
        return  # already removed (by its managers, or recalled): nothing more to take
    removed = {"by": "platform", "sanction_id": sanction.id, "reason": sanction.facts}
    await uow.timeline.redact(group_id, seq, {**entry.data, "removed": removed})
    data = {"seq": seq, "reason": sanction.facts, "by_platform": True, "sanction_id": sanction.id}
    await append_entry(ctx, uow, group_id, EntryKind.message_removed, None, data=data)


async def _put_back(ctx: ServiceContext, uow: UnitOfWork, sanction: Sanction) -> None:
    """A takedown lifted or overturned: the message's text comes back from the case."""
    case = await uow.reports.get_case(sanction.case_id)
    if case is None or case.target.seq is None:
        return
    group_id, seq = case.target.group_id, case.target.seq
    entry = await uow.timeline.get(group_id, seq)
    removed = entry.data.get("removed") if entry is not None else None
    if entry is None or not isinstance(removed, dict) or removed.get("sanction_id") != sanction.id:
        return  # removed otherwise since (or never by this takedown): leave it
    kept = [e for e in await uow.reports.evidence(sanction.case_id) if e.seq == seq]
    if kept and kept[0].body is not None:
        data = {k: v for k, v in entry.data.items() if k != "removed"}
        await uow.timeline.restore(group_id, seq, kept[0].body, data)


async def _end_one(
    ctx: ServiceContext,
    uow: UnitOfWork,
    sanction: Sanction,
    state: SanctionState,
    reverse_credit: bool,
) -> None:
    await uow.reports.update_sanction(sanction.id, state=state)
    if sanction.kind in CONTENT_MEASURES:
        await _put_back(ctx, uow, sanction)
    if (
        sanction.target is SanctionTarget.group or sanction.kind in CONTENT_MEASURES
    ) and sanction.group_id is not None:
        if sanction.kind == "closure":
            await uow.groups.update(sanction.group_id, state=GroupState.active)
        await append_entry(
            ctx,
            uow,
            sanction.group_id,
            EntryKind.sanction_lifted,
            None,
            data={"sanction_id": sanction.id, "kind": sanction.kind, "state": state.value},
        )
    if reverse_credit and sanction.account_id is not None and sanction.credit_delta:
        await record_credit(
            ctx,
            uow,
            sanction.account_id,
            -sanction.credit_delta,
            CreditReason.sanction_reversed,
            source=f"sanction:{sanction.id}",
            # Dated at the penalty, so it cancels exactly what is left of it (domain.credit).
            at=sanction.starts_at,
        )
