"""The service agreement and user convention: what is in force, and who accepted which version.

The document lives beside the rulebook (policies/agreement.toml, domain/agreement.py).
Acceptance is recorded per version; ``needs_agreement`` is true until the account has
accepted the version in force, so a new version is asked for at the next sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qunzu.domain.agreement import AgreementVersion, check_version, needs_acceptance
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext, transaction


def agreement_in_force(ctx: ServiceContext) -> AgreementVersion:
    return ctx.agreements.in_force(ctx.clock.now())


def check_offered(ctx: ServiceContext, version: int) -> None:
    """Refuse an acceptance of any version but the one in force (a page read too long ago)."""
    check_version(version, agreement_in_force(ctx))


async def accepted_version(ctx: ServiceContext, account_id: int) -> int | None:
    async with transaction(ctx, write=False) as uow:
        return await uow.accounts.agreement_version(account_id)


async def needs_agreement(ctx: ServiceContext, actor: Actor) -> bool:
    return needs_acceptance(await accepted_version(ctx, actor.id), agreement_in_force(ctx))


async def do_accept_agreement(ctx: ServiceContext, account_id: int, version: int) -> int:
    """Record that the account accepted ``version`` (the one in force, which they read)."""
    current = agreement_in_force(ctx)
    check_version(version, current)
    async with transaction(ctx) as uow:
        if (await uow.accounts.agreement_version(account_id) or 0) < version:
            await uow.accounts.accept_agreement(account_id, version, ctx.clock.now())
    return version


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent record: which version of the service agreement (with the user
    convention and the privacy terms) the account accepted, and when."""

    version: int
    title_zh: str
    title_en: str
    effective_from: datetime
    accepted_at: datetime


async def list_consents(ctx: ServiceContext, actor: Actor) -> list[Consent]:
    async with transaction(ctx, write=False) as uow:
        accepted = await uow.accounts.acceptances(actor.id)
    versions = {v.version: v for v in ctx.agreements.versions}
    return [
        Consent(n, versions[n].title.zh, versions[n].title.en, versions[n].effective_from, at)
        for n, at in accepted
        if n in versions
    ]
