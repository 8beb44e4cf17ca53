"""The second-factor repository on SQLite and PostgreSQL: factors, the single-use TOTP
step, recovery codes, challenges and the wrong-code count behave as the fake promises."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qunzu.domain.errors import Conflict
from qunzu.domain.second_factor import Challenge, ChallengePurpose, FactorKind, SecondFactor
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.integration.test_storage import T0, new_account, unique


async def test_factors_round_trip_and_a_step_is_taken_once(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        owner = await new_account(u, "sf")
        totp = await u.second_factors.add(
            SecondFactor(0, owner.id, FactorKind.totp, "phone", T0, T0, secret_enc="v1:x")
        )
        key = await u.second_factors.add(
            SecondFactor(
                0,
                owner.id,
                FactorKind.passkey,
                "key",
                T0,
                T0,
                credential_id=unique("cred"),
                public_key="pk",
                sign_count=3,
            )
        )
        await u.accounts.update(owner.id, second_factor=True)
        await u.commit()
    async with uow() as u:
        assert await u.second_factors.list_for(owner.id) == [totp, key]
        assert await u.second_factors.by_credential(key.credential_id or "") == key
        assert (await u.accounts.get(owner.id)).second_factor  # type: ignore[union-attr]
        assert await u.second_factors.advance(totp.id, T0, 100, 0)
        assert not await u.second_factors.advance(totp.id, T0, 100, 0)  # the same step again
        assert await u.second_factors.advance(key.id, T0, 0, 9)
        await u.commit()
    async with uow(write=False) as u:
        again = await u.second_factors.get(totp.id)
        assert again is not None and again.last_step == 100
        assert (await u.second_factors.get(key.id)).sign_count == 9  # type: ignore[union-attr]


async def test_a_credential_id_is_registered_once(uow: SqlUnitOfWorkFactory) -> None:
    cred = unique("cred")
    async with uow() as u:
        owner = await new_account(u, "sf")
        factor = SecondFactor(0, owner.id, FactorKind.passkey, "k", T0, T0, credential_id=cred)
        await u.second_factors.add(factor)
        await u.commit()
    with pytest.raises(Conflict):
        async with uow() as u:
            await u.second_factors.add(factor)
            await u.commit()


async def test_recovery_codes_challenges_and_failures(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        owner = await new_account(u, "sf")
        await u.second_factors.replace_recovery_codes(owner.id, ["a", "b", "c"], T0)
        opened = await u.second_factors.add_challenge(
            Challenge(0, unique("h"), ChallengePurpose.login, owner.id, T0, "web", "nonce")
        )
        await u.second_factors.set_failures(owner.id, 2, T0 + timedelta(seconds=30))
        await u.commit()
    async with uow() as u:
        assert await u.second_factors.use_recovery_code(owner.id, "b", T0)
        assert not await u.second_factors.use_recovery_code(owner.id, "b", T0)
        assert await u.second_factors.recovery_codes_left(owner.id) == 2
        assert await u.second_factors.challenge(opened.handle_hash) == opened
        assert await u.second_factors.use_challenge(opened.id, T0)
        assert not await u.second_factors.use_challenge(opened.id, T0)
        assert await u.second_factors.failures(owner.id) == (2, T0 + timedelta(seconds=30))
        await u.second_factors.set_failures(owner.id, 0, None)
        assert await u.second_factors.failures(owner.id) == (0, None)
        await u.second_factors.replace_recovery_codes(owner.id, [], T0)
        assert await u.second_factors.recovery_codes_left(owner.id) == 0
        await u.commit()
