"""Real-name identity (实名): validation and masking, Art. 6 (后台实名、前台自愿).

The platform holds a user's legal name, resident ID number and mobile number;
the public sees only a chosen display name. Everything here is pure: checking the
shape of an identity, never whether it belongs to a living person (that is the
job of an ``IdentityVerifier`` adapter).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from qunzu.domain.errors import InvalidInput

# GB 11643-1999: weights of the first 17 digits, and the check character for sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# Province-level prefixes of GB/T 2260 administrative division codes.
_PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83",
    }
)  # fmt: skip
# ASCII digits only: ``\d`` alone also matches other scripts' digits, which would give one
# identity many spellings (and many blind indexes). Full-width input is folded by NFKC first.
_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")
# Begins and ends with a letter, so punctuation alone ("--", "..") is not a name.
_NAME_RE = re.compile(
    r"^[\u3400-\u9fffA-Za-z][\u3400-\u9fff\u00b7\u2022A-Za-z .'-]{0,38}[\u3400-\u9fffA-Za-z]$"
)


def resident_id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalize_resident_id(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().upper()


def validate_resident_id(raw: str, today: date) -> str:
    """Return the normalised 18-character ID number, or raise ``InvalidInput``.

    Checks the character set, the province part of the region code, that the
    birth date is a real date not in the future, and the check character.
    """
    number = normalize_resident_id(raw)
    if not _ID_RE.match(number):
        raise InvalidInput(
            "invalid_id_number", "A resident ID number is 17 digits and a digit or X."
        )
    region = number[:6]
    if region[:2] not in _PROVINCE_CODES or region[2:] == "0000":
        raise InvalidInput("invalid_id_number", "The region code of the ID number is not valid.")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidInput(
            "invalid_id_number", "The birth date in the ID number is not a date."
        ) from None
    if born.year < 1900 or born > today:
        raise InvalidInput("invalid_id_number", "The birth date in the ID number is out of range.")
    if resident_id_check_char(number[:17]) != number[17]:
        raise InvalidInput("invalid_id_number", "The check digit of the ID number does not match.")
    return number


def normalize_phone(raw: str) -> str:
    """Return an 11-digit mainland mobile number, or raise ``InvalidInput``."""
    digits = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw).strip())
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _PHONE_RE.match(digits):
        raise InvalidInput("invalid_phone", "A mobile number is 11 digits starting with 13-19.")
    return digits


def normalize_legal_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not _NAME_RE.match(name):
        raise InvalidInput(
            "invalid_legal_name", "A legal name is 2 to 40 Chinese or Latin letters."
        )
    return name


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***: only the first character is shown."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_resident_id(number: str) -> str:
    """110101199003071234 -> 1101**********1234."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678."""
    return phone[:3] + "****" + phone[-4:]


@dataclass(frozen=True, slots=True)
class IdentityClaim:
    """A validated, normalised identity as a user submitted it."""

    legal_name: str
    resident_id: str
    phone: str

    @classmethod
    def parse(cls, legal_name: str, resident_id: str, phone: str, today: date) -> IdentityClaim:
        return cls(
            legal_name=normalize_legal_name(legal_name),
            resident_id=validate_resident_id(resident_id, today),
            phone=normalize_phone(phone),
        )

    def masked(self) -> dict[str, str]:
        return {
            "legal_name": mask_name(self.legal_name),
            "resident_id": mask_resident_id(self.resident_id),
            "phone": mask_phone(self.phone),
        }


def make_resident_id(region: str, born: date, sequence: int) -> str:
    """Build a valid ID number (for demo worlds and tests)."""
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_char(first17)
