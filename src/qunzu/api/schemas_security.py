"""Bodies of the second-factor routes (enrolment and the second step of a log-in)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from qunzu.api.schemas import In, Line, Out, Text

Code = Annotated[str, StringConstraints(min_length=1, max_length=16)]
ChallengeHandle = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Credential = Annotated[
    dict[str, Any], Field(description="The browser's PublicKeyCredential as JSON")
]


class ChallengeOut(BaseModel):
    """The password was right and the account has a second factor: send one of
    ``methods`` with this challenge to ``POST /v1/sessions/second-factor`` (or
    ``/v1/sessions/passkey``) before ``expires_at``."""

    second_factor_required: bool = True
    challenge: str
    expires_at: datetime
    methods: list[str]


class SecondStepIn(In):
    challenge: ChallengeHandle
    code: Code | None = Field(default=None, examples=["123456"])
    recovery_code: Code | None = Field(default=None, examples=["ABCDE-FGHJK"])


class PasskeyOptionsIn(In):
    """Leave ``challenge`` out for a passwordless log-in by a discoverable passkey."""

    challenge: ChallengeHandle | None = None


class PasskeyOptionsOut(BaseModel):
    challenge: str
    options: dict[str, Any]


class PasskeyLoginIn(In):
    challenge: ChallengeHandle
    credential: Credential


class PasskeyRegisterIn(In):
    challenge: ChallengeHandle
    credential: Credential
    label: Line = Field(default="", max_length=64)


class TotpStartIn(In):
    label: Line = Field(default="", max_length=64, examples=["phone"])


class TotpStartOut(BaseModel):
    """Shown once. Scan ``qr_svg`` (or type ``secret``), then confirm with a code."""

    factor_id: int
    secret: str
    otpauth_uri: str
    qr_svg: str


class CodeIn(In):
    code: Code


class ProofIn(In):
    """A fresh proof that the holder is here: a current code, or the password."""

    code: Code | None = None
    password: Text | None = Field(default=None, min_length=1, max_length=256)


class FactorOut(Out):
    id: int
    kind: str
    label: str
    created_at: datetime
    last_used_at: datetime | None


class SecurityOut(BaseModel):
    second_factor: bool
    factors: list[FactorOut]
    recovery_codes_left: int


class EnrolledOut(BaseModel):
    """``recovery_codes`` is shown once, with the first factor; keep them offline."""

    factor: FactorOut
    recovery_codes: list[str] | None


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]
