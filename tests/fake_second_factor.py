"""``SecondFactorRepository`` on dictionaries, mirroring storage/second_factor_repo.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qunzu.domain.errors import Conflict
from qunzu.domain.second_factor import Challenge, SecondFactor

if TYPE_CHECKING:
    from tests.fakes import FakeState, FakeUnitOfWork


class FakeSecondFactors:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def s(self) -> FakeState:
        return self._uow.state

    def _w(self) -> FakeState:
        return self._uow.state_for_write()

    async def add(self, factor: SecondFactor) -> SecondFactor:
        s = self._w()
        if factor.credential_id and any(
            f.credential_id == factor.credential_id for f in s.second_factors.values()
        ):
            raise Conflict("duplicate", "second_factors.credential_id")
        factor = replace(factor, id=self._uow.store.next_id("second_factors"))
        s.second_factors[factor.id] = factor
        return factor

    async def get(self, factor_id: int) -> SecondFactor | None:
        return self.s.second_factors.get(factor_id)

    async def by_credential(self, credential_id: str) -> SecondFactor | None:
        found = (f for f in self.s.second_factors.values() if f.credential_id == credential_id)
        return next(found, None)

    async def list_for(self, account_id: int) -> list[SecondFactor]:
        return sorted(
            (f for f in self.s.second_factors.values() if f.account_id == account_id),
            key=lambda f: f.id,
        )

    async def update(self, factor_id: int, **fields: Any) -> None:
        s = self._w()
        if factor_id in s.second_factors:
            s.second_factors[factor_id] = replace(s.second_factors[factor_id], **fields)

    async def advance(self, factor_id: int, at: datetime, step: int, sign_count: int) -> bool:
        found = self.s.second_factors.get(factor_id)
        if found is None or (step and found.last_step is not None and found.last_step >= step):
            return False
        self._w().second_factors[factor_id] = replace(
            found, last_used_at=at, last_step=step or found.last_step, sign_count=sign_count
        )
        return True

    async def delete(self, factor_id: int) -> None:
        self._w().second_factors.pop(factor_id, None)

    async def replace_recovery_codes(
        self, account_id: int, code_hashes: Sequence[str], at: datetime
    ) -> None:
        s = self._w()
        for key in [k for k, v in s.recovery_codes.items() if v[0] == account_id]:
            del s.recovery_codes[key]
        for h in code_hashes:
            s.recovery_codes[self._uow.store.next_id("recovery_codes")] = (account_id, h, None)

    async def use_recovery_code(self, account_id: int, code_hash: str, at: datetime) -> bool:
        for key, (owner, h, used) in self.s.recovery_codes.items():
            if owner == account_id and h == code_hash and used is None:
                self._w().recovery_codes[key] = (owner, h, at)
                return True
        return False

    async def recovery_codes_left(self, account_id: int) -> int:
        return sum(1 for a, _, u in self.s.recovery_codes.values() if a == account_id and not u)

    async def add_challenge(self, challenge: Challenge) -> Challenge:
        s = self._w()
        challenge = replace(challenge, id=self._uow.store.next_id("second_factor_challenges"))
        s.challenges[challenge.id] = challenge
        return challenge

    async def challenge(self, handle_hash: str) -> Challenge | None:
        found = (c for c in self.s.challenges.values() if c.handle_hash == handle_hash)
        return next(found, None)

    async def use_challenge(self, challenge_id: int, at: datetime) -> bool:
        found = self.s.challenges.get(challenge_id)
        if found is None or found.used_at is not None:
            return False
        self._w().challenges[challenge_id] = replace(found, used_at=at)
        return True

    async def failures(self, account_id: int) -> tuple[int, datetime | None]:
        return self.s.second_factor_failures.get(account_id, (0, None))

    async def set_failures(
        self, account_id: int, failures: int, blocked_until: datetime | None
    ) -> None:
        s = self._w()
        if failures == 0:
            s.second_factor_failures.pop(account_id, None)
        else:
            s.second_factor_failures[account_id] = (failures, blocked_until)
