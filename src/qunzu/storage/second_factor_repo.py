"""Second factors, recovery codes, sign-in challenges and wrong-code counts (0013)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, true, update

from qunzu.domain.second_factor import Challenge, SecondFactor
from qunzu.storage import tables as t
from qunzu.storage.mapping import enum_values, row_reader
from qunzu.storage.repositories import _Repo

_factor = row_reader(SecondFactor)
_challenge = row_reader(Challenge)


class SqlSecondFactors(_Repo):
    async def add(self, factor: SecondFactor) -> SecondFactor:
        values = enum_values({k: v for k, v in asdict(factor).items() if k != "id"})
        res = await self.c.execute(
            t.second_factors.insert().values(**values).returning(t.second_factors.c.id)
        )
        return SecondFactor(**{**asdict(factor), "id": res.scalar_one()})

    async def get(self, factor_id: int) -> SecondFactor | None:
        sf = t.second_factors
        row = (await self.c.execute(select(sf).where(sf.c.id == factor_id))).first()
        return _factor(row) if row else None

    async def by_credential(self, credential_id: str) -> SecondFactor | None:
        sf = t.second_factors
        row = (await self.c.execute(select(sf).where(sf.c.credential_id == credential_id))).first()
        return _factor(row) if row else None

    async def list_for(self, account_id: int) -> list[SecondFactor]:
        sf = t.second_factors
        rows = await self.c.execute(
            select(sf).where(sf.c.account_id == account_id).order_by(sf.c.id)
        )
        return [_factor(r) for r in rows]

    async def update(self, factor_id: int, **fields: Any) -> None:
        sf = t.second_factors
        await self.c.execute(update(sf).where(sf.c.id == factor_id).values(**fields))

    async def advance(self, factor_id: int, at: datetime, step: int, sign_count: int) -> bool:
        sf = t.second_factors
        fresh = or_(sf.c.last_step.is_(None), sf.c.last_step < step) if step else true()
        res = await self.c.execute(
            update(sf)
            .where(sf.c.id == factor_id, fresh)
            .values(last_used_at=at, last_step=step or sf.c.last_step, sign_count=sign_count)
        )
        return bool(res.rowcount)

    async def delete(self, factor_id: int) -> None:
        await self.c.execute(delete(t.second_factors).where(t.second_factors.c.id == factor_id))

    async def replace_recovery_codes(
        self, account_id: int, code_hashes: Sequence[str], at: datetime
    ) -> None:
        rc = t.recovery_codes
        await self.c.execute(delete(rc).where(rc.c.account_id == account_id))
        if code_hashes:
            await self.c.execute(
                rc.insert(),
                [{"account_id": account_id, "code_hash": h, "created_at": at} for h in code_hashes],
            )

    async def use_recovery_code(self, account_id: int, code_hash: str, at: datetime) -> bool:
        rc = t.recovery_codes
        row = (
            await self.c.execute(
                select(rc.c.id).where(
                    rc.c.account_id == account_id,
                    rc.c.code_hash == code_hash,
                    rc.c.used_at.is_(None),
                )
            )
        ).first()
        if row is None:
            return False
        res = await self.c.execute(
            update(rc).where(rc.c.id == row.id, rc.c.used_at.is_(None)).values(used_at=at)
        )
        return bool(res.rowcount)

    async def recovery_codes_left(self, account_id: int) -> int:
        rc = t.recovery_codes
        res = await self.c.execute(
            select(func.count())
            .select_from(rc)
            .where(rc.c.account_id == account_id, rc.c.used_at.is_(None))
        )
        return int(res.scalar_one())

    async def add_challenge(self, challenge: Challenge) -> Challenge:
        ch = t.second_factor_challenges
        values = enum_values({k: v for k, v in asdict(challenge).items() if k != "id"})
        res = await self.c.execute(ch.insert().values(**values).returning(ch.c.id))
        return Challenge(**{**asdict(challenge), "id": res.scalar_one()})

    async def challenge(self, handle_hash: str) -> Challenge | None:
        ch = t.second_factor_challenges
        row = (await self.c.execute(select(ch).where(ch.c.handle_hash == handle_hash))).first()
        return _challenge(row) if row else None

    async def use_challenge(self, challenge_id: int, at: datetime) -> bool:
        ch = t.second_factor_challenges
        res = await self.c.execute(
            update(ch).where(ch.c.id == challenge_id, ch.c.used_at.is_(None)).values(used_at=at)
        )
        return bool(res.rowcount)

    async def failures(self, account_id: int) -> tuple[int, datetime | None]:
        fl = t.second_factor_failures
        row = (await self.c.execute(select(fl).where(fl.c.account_id == account_id))).first()
        return (int(row.failures), row.blocked_until) if row else (0, None)

    async def set_failures(
        self, account_id: int, failures: int, blocked_until: datetime | None
    ) -> None:
        fl = t.second_factor_failures
        if failures == 0:
            await self.c.execute(delete(fl).where(fl.c.account_id == account_id))
            return
        values = {"failures": failures, "blocked_until": blocked_until}
        res = await self.c.execute(update(fl).where(fl.c.account_id == account_id).values(values))
        if res.rowcount == 0:
            await self.c.execute(fl.insert().values(account_id=account_id, **values))
