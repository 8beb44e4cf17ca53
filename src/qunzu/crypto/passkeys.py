"""WebAuthn ceremonies (passkeys) through the ``webauthn`` package.

The server keeps only each credential's id, public key and signature counter; it never
sees a private key. Options go to the browser as JSON; the browser's answer comes back as
JSON and is verified here against the challenge, the relying party id and the origin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidCBORData,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)


class PasskeyRefused(ValueError):
    """The browser's answer does not verify (wrong challenge, origin, signature, counter)."""


@dataclass(frozen=True, slots=True)
class NewCredential:
    credential_id: str  # base64url
    public_key: str  # base64url COSE key
    sign_count: int


def b64(raw: bytes) -> str:
    return bytes_to_base64url(raw)


def unb64(text: str) -> bytes:
    return base64url_to_bytes(text)


def registration_options(
    rp_id: str,
    rp_name: str,
    user_id: bytes,
    user_name: str,
    display_name: str,
    challenge: bytes,
    existing: list[str],
) -> dict[str, Any]:
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_id=user_id,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        # Discoverable, so the same passkey can also sign in without the handle.
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=unb64(c)) for c in existing],
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def authentication_options(rp_id: str, challenge: bytes, allowed: list[str]) -> dict[str, Any]:
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        allow_credentials=[PublicKeyCredentialDescriptor(id=unb64(c)) for c in allowed],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


_BAD = (
    InvalidRegistrationResponse,
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidCBORData,
    ValueError,
    KeyError,
    TypeError,
)


def verify_registration(
    credential: dict[str, Any], challenge: bytes, rp_id: str, origin: str
) -> NewCredential:
    try:
        done = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except _BAD as exc:
        raise PasskeyRefused(str(exc)) from exc
    return NewCredential(b64(done.credential_id), b64(done.credential_public_key), done.sign_count)


def credential_id_of(credential: dict[str, Any]) -> str:
    raw = credential.get("rawId") or credential.get("id")
    if not isinstance(raw, str) or not 1 <= len(raw) <= 1400:
        raise PasskeyRefused("The credential has no id.")
    try:
        return b64(unb64(raw))
    except _BAD as exc:
        raise PasskeyRefused("The credential id is not base64url.") from exc


def verify_assertion(
    credential: dict[str, Any],
    challenge: bytes,
    rp_id: str,
    origin: str,
    public_key: str,
    sign_count: int,
) -> int:
    """The authenticator's new signature counter; a counter that went back (a cloned
    authenticator) is refused by the library as any other bad assertion."""
    try:
        done = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=unb64(public_key),
            credential_current_sign_count=sign_count,
        )
    except _BAD as exc:
        raise PasskeyRefused(str(exc)) from exc
    return done.new_sign_count
