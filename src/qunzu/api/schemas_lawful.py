"""Bodies of the lawful-access and referral routes (api/routers/lawful.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import Field

from qunzu.api.schemas import IdInt, In, Line, Out, Prose
from qunzu.domain.lawful_access import (
    MAX_SCOPE_IDS,
    AccessRequest,
    AuthorityKind,
    DataClass,
    ReferralSource,
    ReferralState,
    RequestState,
)


class AccessScopeIn(In):
    account_ids: list[IdInt] = Field(default_factory=list, max_length=MAX_SCOPE_IDS)
    group_ids: list[IdInt] = Field(default_factory=list, max_length=MAX_SCOPE_IDS)
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    data_classes: list[DataClass] = Field(min_length=1, max_length=len(DataClass))


class AccessRequestIn(In):
    authority: Line = Field(max_length=200)
    authority_kind: AuthorityKind
    legal_basis: Prose = Field(max_length=1000)
    document_ref: Line = Field(max_length=200)
    private_tier_basis: Prose | None = Field(default=None, max_length=1000)
    scope: AccessScopeIn


class DecisionIn(In):
    approve: bool
    note: Prose = Field(max_length=1000)


class NoteIn(In):
    note: Prose = Field(max_length=1000)


class OutcomeIn(In):
    outcome: Prose = Field(max_length=1000)


class AccessScopeOut(Out):
    account_ids: list[int]
    group_ids: list[int]
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    data_classes: list[DataClass]


class AccessRequestOut(Out):
    id: int
    authority: str
    authority_kind: AuthorityKind
    legal_basis: str
    document_ref: str
    private_tier_basis: str | None
    scope: AccessScopeOut
    state: RequestState
    registered_by: int
    registered_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str | None
    exports: int
    closed_at: datetime | None
    legal_hold: bool

    @classmethod
    def of(cls, obj: AccessRequest) -> Self:
        out = cls.model_validate({**_fields(obj), "legal_hold": obj.holds})
        return out


def _fields(obj: AccessRequest) -> dict[str, object]:
    return {name: getattr(obj, name) for name in AccessRequest.__dataclass_fields__}


class ReferralOut(Out):
    id: int
    source: ReferralSource
    group_id: int
    case_id: int | None
    account_id: int | None
    summary: str
    created_at: datetime
    state: ReferralState
    closed_by: int | None
    closed_at: datetime | None
    outcome: str | None


class SigningKeyOut(Out):
    algorithm: str = "Ed25519"
    public_key_b64: str
