"""Requests from the authorities and the referral outbox (domain.lawful_access)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select

from qunzu.domain.lawful_access import (
    AccessRequest,
    AccessScope,
    AuthorityKind,
    DataClass,
    Referral,
    ReferralState,
    RequestState,
)
from qunzu.storage import tables as t
from qunzu.storage.mapping import row_reader, row_values
from qunzu.storage.repositories import _Repo

_read_referral = row_reader(Referral)


def _request(row: Any) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        authority=row.authority,
        authority_kind=AuthorityKind(row.authority_kind),
        legal_basis=row.legal_basis,
        document_ref=row.document_ref,
        private_tier_basis=row.private_tier_basis,
        scope=AccessScope(
            account_ids=tuple(row.account_ids),
            group_ids=tuple(row.group_ids),
            start=row.period_start,
            end=row.period_end,
            data_classes=tuple(DataClass(d) for d in row.data_classes),
        ),
        state=RequestState(row.state),
        registered_by=row.registered_by,
        registered_at=row.registered_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        exports=row.exports,
        closed_at=row.closed_at,
    )


def _request_values(r: AccessRequest) -> dict[str, Any]:
    values = row_values(r, exclude=("id", "scope"))
    values.update(
        account_ids=list(r.scope.account_ids),
        group_ids=list(r.scope.group_ids),
        period_start=r.scope.start,
        period_end=r.scope.end,
        data_classes=[d.value for d in r.scope.data_classes],
    )
    return values


class SqlLawfulAccess(_Repo):
    async def add_request(self, request: AccessRequest) -> AccessRequest:
        ar = t.access_requests
        q = ar.insert().values(**_request_values(request)).returning(ar.c.id)
        return dataclasses.replace(request, id=(await self.c.execute(q)).scalar_one())

    async def get_request(self, request_id: int) -> AccessRequest | None:
        ar = t.access_requests
        row = (await self.c.execute(select(ar).where(ar.c.id == request_id))).first()
        return _request(row) if row else None

    async def update_request(self, request: AccessRequest) -> None:
        ar = t.access_requests
        await self.c.execute(
            ar.update().where(ar.c.id == request.id).values(**_request_values(request))
        )

    async def list_requests(
        self, state: RequestState | None, after_id: int, limit: int
    ) -> list[AccessRequest]:
        ar = t.access_requests
        q = select(ar).where(ar.c.id > after_id).order_by(ar.c.id).limit(limit)
        if state is not None:
            q = q.where(ar.c.state == state.value)
        return [_request(r) for r in await self.c.execute(q)]

    async def requests_between(self, start: datetime, end: datetime) -> list[AccessRequest]:
        ar = t.access_requests
        q = select(ar).where(ar.c.registered_at >= start, ar.c.registered_at < end)
        return [_request(r) for r in await self.c.execute(q.order_by(ar.c.id))]

    async def add_referral(self, referral: Referral) -> Referral:
        rf = t.referrals
        q = rf.insert().values(**row_values(referral, exclude=("id",))).returning(rf.c.id)
        return dataclasses.replace(referral, id=(await self.c.execute(q)).scalar_one())

    async def get_referral(self, referral_id: int) -> Referral | None:
        rf = t.referrals
        row = (await self.c.execute(select(rf).where(rf.c.id == referral_id))).first()
        return _read_referral(row) if row else None

    async def update_referral(self, referral: Referral) -> None:
        rf = t.referrals
        values = row_values(referral, exclude=("id",))
        await self.c.execute(rf.update().where(rf.c.id == referral.id).values(**values))

    async def list_referrals(
        self, state: ReferralState | None, after_id: int, limit: int
    ) -> list[Referral]:
        rf = t.referrals
        q = select(rf).where(rf.c.id > after_id).order_by(rf.c.id).limit(limit)
        if state is not None:
            q = q.where(rf.c.state == state.value)
        return [_read_referral(r) for r in await self.c.execute(q)]
