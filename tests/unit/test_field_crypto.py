"""Field encryption for identity data, the blind index, and the key file."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from qunzu.crypto.fields import FieldCipher, KeyMaterialError, load_or_create_key

KEY = bytes(range(32))
CONTEXT = "identity:1:resident_id"


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(KEY)


def test_encrypt_then_decrypt_returns_the_plaintext(cipher: FieldCipher) -> None:
    token = cipher.encrypt("11010519491231002X", CONTEXT)
    assert cipher.decrypt(token, CONTEXT) == "11010519491231002X"


def test_unicode_plaintext_round_trips(cipher: FieldCipher) -> None:
    assert cipher.decrypt(cipher.encrypt("欧阳娜娜", CONTEXT), CONTEXT) == "欧阳娜娜"


def test_ciphertext_does_not_contain_the_plaintext(cipher: FieldCipher) -> None:
    token = cipher.encrypt("11010519491231002X", CONTEXT)
    assert token.startswith("v1:")
    assert "11010519491231002X" not in token
    assert b"11010519491231002X" not in base64.urlsafe_b64decode(token[3:])


def test_two_encryptions_of_the_same_value_differ(cipher: FieldCipher) -> None:
    assert cipher.encrypt("13800138000", CONTEXT) != cipher.encrypt("13800138000", CONTEXT)


@pytest.mark.parametrize(
    "other_context",
    ["identity:2:resident_id", "identity:1:phone", "identity:1:resident_id "],
)
def test_ciphertext_is_bound_to_its_context(cipher: FieldCipher, other_context: str) -> None:
    token = cipher.encrypt("11010519491231002X", CONTEXT)
    with pytest.raises(InvalidTag):
        cipher.decrypt(token, other_context)


def test_ciphertext_does_not_decrypt_under_another_key(cipher: FieldCipher) -> None:
    token = cipher.encrypt("secret", CONTEXT)
    with pytest.raises(InvalidTag):
        FieldCipher(os.urandom(32)).decrypt(token, CONTEXT)


def test_a_flipped_ciphertext_byte_is_detected(cipher: FieldCipher) -> None:
    raw = bytearray(base64.urlsafe_b64decode(cipher.encrypt("secret", CONTEXT)[3:]))
    raw[-1] ^= 1
    with pytest.raises(InvalidTag):
        cipher.decrypt("v1:" + base64.urlsafe_b64encode(bytes(raw)).decode(), CONTEXT)


def test_an_unknown_ciphertext_version_is_refused(cipher: FieldCipher) -> None:
    token = cipher.encrypt("secret", CONTEXT)
    with pytest.raises(KeyMaterialError):
        cipher.decrypt("v9:" + token[3:], CONTEXT)


def test_a_short_master_key_is_refused() -> None:
    with pytest.raises(KeyMaterialError):
        FieldCipher(b"x" * 31)


def test_blind_index_is_deterministic_for_one_key(cipher: FieldCipher) -> None:
    assert cipher.blind_index("11010519491231002X") == FieldCipher(KEY).blind_index(
        "11010519491231002X"
    )


def test_blind_index_depends_on_the_value(cipher: FieldCipher) -> None:
    assert cipher.blind_index("11010519491231002X") != cipher.blind_index("110105194912310029")


def test_blind_index_depends_on_the_key(cipher: FieldCipher) -> None:
    other = FieldCipher(bytes(reversed(range(32))))
    assert cipher.blind_index("11010519491231002X") != other.blind_index("11010519491231002X")


def test_blind_index_is_not_a_plain_hash_of_the_value(cipher: FieldCipher) -> None:
    value = "11010519491231002X"
    assert cipher.blind_index(value) != hashlib.sha256(value.encode()).hexdigest()


# ---- the key file ------------------------------------------------------------------------


def test_load_or_create_key_creates_a_0600_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "identity.key"
    key = load_or_create_key(None, key_file)
    assert len(key) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert base64.urlsafe_b64decode(key_file.read_bytes()) == key


def test_load_or_create_key_reuses_an_existing_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "identity.key"
    first = load_or_create_key(None, key_file)
    before = key_file.read_bytes()
    assert load_or_create_key(None, key_file) == first
    assert key_file.read_bytes() == before


def test_a_key_from_settings_wins_over_the_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "identity.key"
    configured = os.urandom(32)
    encoded = base64.urlsafe_b64encode(configured).decode().rstrip("=")
    assert load_or_create_key(encoded, key_file) == configured
    assert not key_file.exists()


def test_a_short_key_from_settings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError):
        load_or_create_key(base64.urlsafe_b64encode(b"x" * 16).decode(), tmp_path / "k")


def test_a_short_key_file_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "identity.key"
    key_file.write_bytes(base64.urlsafe_b64encode(b"x" * 16))
    with pytest.raises(KeyMaterialError):
        load_or_create_key(None, key_file)
