"""Identity verifiers. The default checks format only, and says so."""

from __future__ import annotations

from qunzu.domain.identity import IdentityClaim
from qunzu.services.identity import VerificationResult


class FormatCheckVerifier:
    """Accepts any identity whose name, ID number (GB 11643 check digit, region,
    birth date) and mobile number are well-formed.

    It does NOT confirm that the person exists or that the phone is theirs. A
    production deployment configures a verifier that asks an authorised
    real-name provider (``QUNZU_IDENTITY_VERIFIER=module:Class``).
    """

    name = "format-check"

    async def verify(self, claim: IdentityClaim) -> VerificationResult:
        return VerificationResult(True, self.name, "format and check digit only")


class RejectAllVerifier:
    """Refuses every identity: for tests and for closing sign-ups temporarily."""

    name = "reject-all"

    async def verify(self, claim: IdentityClaim) -> VerificationResult:
        return VerificationResult(False, self.name, "Identity verification is closed.")
