"""TOTP (RFC 6238) through pyotp, and the enrolment QR code (segno, SVG).

Codes are six digits over 30-second steps; one step either side is accepted for clock
drift, and the caller passes the last step it accepted so that a code is never taken
twice (RFC 6238 §5.2).
"""

from __future__ import annotations

from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def code_at(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, at: datetime, last_step: int | None) -> int | None:
    """The time step whose code is ``code``, if it is within the drift and later than
    ``last_step``; None for a wrong or replayed code."""
    totp = pyotp.TOTP(secret)
    now = step_of(at)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no external resource, CSP-safe)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2))
