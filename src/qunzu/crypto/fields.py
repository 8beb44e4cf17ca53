"""Field encryption for identity data (AES-256-GCM), a keyed blind index, and a seal.

One master key (32 random bytes) yields three subkeys through HKDF: one encrypts
fields, one computes the blind index (HMAC-SHA256) that lets the platform count
accounts per real identity without storing the ID number in the clear, and one
seals the audit chain's head (HMAC-SHA256), so that whoever can write to the
database but does not hold the key cannot cut the audit log unseen. A fourth seeds the
Ed25519 key that signs exports handed to the authorities (services.lawful_access); its
public half is published so a recipient can check an export without any secret.
Ciphertexts are bound to their row and field through the associated data, so a
ciphertext copied to another account does not decrypt.

The field and blind-index keys rotate online (docs/identity.md): rotated keys are random
keys of their own (``QUNZU_IDENTITY_FIELD_KEYS``, oldest first, the last in use), each
named by a key id that every ciphertext carries as its prefix (``v1`` for the keys the
master yields). New ciphertexts and blind indexes use the newest key; every key on the
ring still decrypts, and lookups by blind index try the index under every key, so nothing
fails while old ciphertexts are re-encrypted in the background. The seal and the signing
key stay derived from the master.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class KeyMaterialError(ValueError):
    """The key material is missing or malformed."""


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def key_id(field_key: bytes) -> str:
    """A rotated key's id: ``k`` and 12 hex digits of a hash of it (never the key)."""
    return "k" + hashlib.sha256(b"qunzu field key id|" + field_key).hexdigest()[:12]


class FieldCipher:
    def __init__(self, master_key: bytes, field_keys: Sequence[bytes] = ()) -> None:
        if len(master_key) < 32:
            raise KeyMaterialError("The identity master key must be at least 32 bytes.")
        if any(len(k) < 32 for k in field_keys):
            raise KeyMaterialError("Every identity field key must be at least 32 bytes.")
        ring = [(_VERSION, master_key)] + [(key_id(k), k) for k in field_keys]
        # Each key on the ring: its AEAD and its blind-index key, by key id.
        self._aeads = {kid: AESGCM(_derive(k, b"qunzu identity fields v1")) for kid, k in ring}
        self._index_keys = {kid: _derive(k, b"qunzu identity blind index v1") for kid, k in ring}
        self.current_key_id = ring[-1][0]
        self._seal_key = _derive(master_key, b"qunzu audit head seal v1")
        self._signing_key = Ed25519PrivateKey.from_private_bytes(
            _derive(master_key, b"qunzu export signing v1")
        )

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key on the ring, oldest first; the last is in use."""
        return tuple(self._aeads)

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        aead = self._aeads[self.current_key_id]
        sealed = aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self.current_key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        kid, _, payload = token.partition(":")
        aead = self._aeads.get(kid)
        if aead is None:
            raise KeyMaterialError(f"No key {kid!r} on the identity key ring.")
        raw = base64.urlsafe_b64decode(payload)
        return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()

    def is_current(self, token: str) -> bool:
        """Whether a ciphertext is under the key in use (else the rekey job redoes it)."""
        return token.partition(":")[0] == self.current_key_id

    def blind_index(self, value: str) -> str:
        """The blind index under the key in use (what is stored for new identities)."""
        return self._index(self.current_key_id, value)

    def blind_indexes(self, value: str) -> tuple[str, ...]:
        """The blind index under every key on the ring, the one in use first: lookups
        match an identity whether or not it has been re-keyed yet."""
        ids = [self.current_key_id, *(k for k in self._index_keys if k != self.current_key_id)]
        return tuple(self._index(kid, value) for kid in ids)

    def _index(self, kid: str, value: str) -> str:
        return hmac.new(self._index_keys[kid], value.encode(), hashlib.sha256).hexdigest()

    def seal(self, message: str) -> str:
        return hmac.new(self._seal_key, message.encode(), hashlib.sha256).hexdigest()

    def sign(self, data: bytes) -> bytes:
        """An Ed25519 signature over ``data`` with the platform's export key."""
        return self._signing_key.sign(data)

    def signing_public_key(self) -> bytes:
        """The export key's public half (32 raw bytes)."""
        return self._signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


def load_or_create_key(key_b64: str | None, key_file: Path) -> bytes:
    """Key from settings if given; else from the key file, created with mode 0600 if absent."""
    if key_b64:
        try:
            key = base64.urlsafe_b64decode(key_b64.encode() + b"=" * (-len(key_b64) % 4))
        except ValueError as exc:
            raise KeyMaterialError("QUNZU_IDENTITY_KEY is not valid base64.") from exc
        if len(key) < 32:
            raise KeyMaterialError("QUNZU_IDENTITY_KEY must decode to at least 32 bytes.")
        return key
    if key_file.exists():
        key = base64.urlsafe_b64decode(key_file.read_bytes().strip())
        if len(key) < 32:
            raise KeyMaterialError(f"The key file {key_file} holds fewer than 32 bytes.")
        return key
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.urlsafe_b64encode(key))
    return key


def decode_field_keys(values: Sequence[str]) -> list[bytes]:
    """``QUNZU_IDENTITY_FIELD_KEYS`` entries (base64), oldest first."""
    keys = []
    for value in values:
        try:
            key = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
        except ValueError as exc:
            raise KeyMaterialError("An identity field key is not valid base64.") from exc
        keys.append(key)
    return keys
