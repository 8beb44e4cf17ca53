"""Real-name identity rules: GB 11643-1999 ID numbers, mobile numbers, masking."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qunzu.domain.errors import InvalidInput
from qunzu.domain.identity import (
    IdentityClaim,
    make_resident_id,
    mask_name,
    mask_phone,
    mask_resident_id,
    normalize_legal_name,
    normalize_phone,
    resident_id_check_char,
    validate_resident_id,
)

TODAY = date(2026, 1, 1)
WELL_KNOWN = "11010519491231002X"  # the example of GB 11643-1999 itself


def _with_check(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def _refusal(raw: str, today: date = TODAY) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_resident_id(raw, today)
    assert caught.value.code == "invalid_id_number"
    return caught.value


# ---- resident ID numbers -----------------------------------------------------------------


def test_the_standard_example_id_validates() -> None:
    assert validate_resident_id(WELL_KNOWN, TODAY) == WELL_KNOWN


def test_check_char_of_the_standard_example_is_x() -> None:
    assert resident_id_check_char(WELL_KNOWN[:17]) == "X"


@pytest.mark.parametrize(
    ("region", "born", "sequence"),
    [
        ("110101", date(1990, 3, 7), 123),
        ("310104", date(2000, 2, 29), 1),
        ("440305", date(1900, 1, 1), 999),
        ("820101", date(1975, 12, 31), 42),
    ],
)
def test_ids_built_by_make_resident_id_validate(region: str, born: date, sequence: int) -> None:
    number = make_resident_id(region, born, sequence)
    assert len(number) == 18
    assert validate_resident_id(number, TODAY) == number


def test_wrong_check_digit_is_refused() -> None:
    wrong = WELL_KNOWN[:17] + "0"
    assert "check digit" in _refusal(wrong).detail


def test_unknown_province_code_is_refused() -> None:
    assert "region" in _refusal(_with_check("990105" + "19491231002")).detail


def test_province_level_code_without_a_district_is_refused() -> None:
    assert "region" in _refusal(_with_check("110000" + "19491231002")).detail


def test_impossible_birth_date_february_30_is_refused() -> None:
    assert "not a date" in _refusal(_with_check("110105" + "19900230002")).detail


def test_birth_date_in_the_future_is_refused() -> None:
    tomorrow = TODAY + timedelta(days=1)
    future = make_resident_id("110105", tomorrow, 2)
    assert "out of range" in _refusal(future).detail


def test_birth_date_today_is_accepted() -> None:
    assert validate_resident_id(make_resident_id("110105", TODAY, 2), TODAY)


def test_birth_year_before_1900_is_refused() -> None:
    assert "out of range" in _refusal(make_resident_id("110105", date(1899, 12, 31), 2)).detail


def test_lowercase_x_is_normalised_to_uppercase() -> None:
    assert validate_resident_id(WELL_KNOWN.lower(), TODAY) == WELL_KNOWN


def test_full_width_digits_and_x_fold_to_ascii() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in WELL_KNOWN)
    assert validate_resident_id(full_width, TODAY) == WELL_KNOWN


@pytest.mark.parametrize("digits", ["١٩٤٩", "१९४९"], ids=["arabic-indic", "devanagari"])
def test_digits_of_other_scripts_are_refused(digits: str) -> None:
    _refusal(WELL_KNOWN[:6] + digits + WELL_KNOWN[10:])


def test_compatibility_digits_fold_to_ascii() -> None:
    assert validate_resident_id(WELL_KNOWN[:6] + "𝟏𝟗𝟒𝟗" + WELL_KNOWN[10:], TODAY) == WELL_KNOWN


def test_surrounding_whitespace_is_stripped_from_an_id() -> None:
    assert validate_resident_id(f"  {WELL_KNOWN}\n", TODAY) == WELL_KNOWN


@pytest.mark.parametrize(
    "raw",
    [
        WELL_KNOWN[:17],  # too short
        WELL_KNOWN + "1",  # too long
        "X" + WELL_KNOWN[1:],  # X only as the last character
        "1101051949-231002X",
        "",
    ],
)
def test_malformed_ids_are_refused(raw: str) -> None:
    assert "17 digits" in _refusal(raw).detail


_REGIONS = ["110101", "120102", "310104", "440305", "510107", "650102", "710101", "820101"]


@given(
    region=st.sampled_from(_REGIONS),
    born=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    sequence=st.integers(min_value=0, max_value=999),
)
def test_every_id_built_by_make_resident_id_validates(
    region: str, born: date, sequence: int
) -> None:
    number = make_resident_id(region, born, sequence)
    assert validate_resident_id(number, TODAY) == number


@given(
    region=st.sampled_from(_REGIONS),
    born=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    sequence=st.integers(min_value=0, max_value=999),
    position=st.integers(min_value=0, max_value=17),
    data=st.data(),
)
def test_changing_any_single_character_of_a_valid_id_fails_validation(
    region: str, born: date, sequence: int, position: int, data: st.DataObject
) -> None:
    number = make_resident_id(region, born, sequence)
    # Other scripts' digits (which ``int()`` reads and NFKC keeps) must not pass either.
    alphabet = ("0123456789X" if position == 17 else "0123456789") + "٣७"
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != number[position]]))
    altered = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(InvalidInput):
        validate_resident_id(altered, TODAY)


# ---- mobile numbers and names ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "+86 138 0013 8000",
        "0086 13800138000",
        "138-0013-8000",
        " 13800138000 ",
        "＋８６ １３８００１３８０００",  # full-width, as some input methods type it
    ],
)
def test_mobile_number_formats_normalise_to_eleven_digits(raw: str) -> None:
    assert normalize_phone(raw) == "13800138000"


@pytest.mark.parametrize(
    "raw",
    [
        "12800138000",
        "1380013800",
        "138001380001",
        "+1 415 555 0100",
        "1380013800a",
        "",
        "13٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits
    ],
)
def test_malformed_mobile_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_phone(raw)
    assert caught.value.code == "invalid_phone"


def test_legal_name_whitespace_is_collapsed() -> None:
    assert normalize_legal_name("  Zhang   San ") == "Zhang San"


@pytest.mark.parametrize("name", ["张三", "买买提·艾力", "O'Neil", "Jean-Luc Picard", "Li"])
def test_legal_names_of_letters_with_inner_punctuation_are_accepted(name: str) -> None:
    assert normalize_legal_name(name) == name


@pytest.mark.parametrize(
    "raw", ["张", "张三3", "x" * 41, "<b>张三</b>", "--", ". '", "张-", "·张三"]
)
def test_malformed_legal_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_legal_name(raw)
    assert caught.value.code == "invalid_legal_name"


# ---- masking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("买买提·艾力", "买*****"), ("张", "张*")],
)
def test_mask_name_shows_only_the_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_resident_id_keeps_four_digits_at_each_end() -> None:
    assert mask_resident_id("110101199003071234") == "1101**********1234"
    assert mask_resident_id(WELL_KNOWN) == "1101**********002X"


def test_mask_phone_keeps_prefix_and_last_four() -> None:
    assert mask_phone("13812345678") == "138****5678"


def test_identity_claim_parses_normalises_and_masks() -> None:
    claim = IdentityClaim.parse("张三", WELL_KNOWN.lower(), "+86 138 1234 5678", TODAY)
    assert claim == IdentityClaim("张三", WELL_KNOWN, "13812345678")
    assert claim.masked() == {
        "legal_name": "张*",
        "resident_id": "1101**********002X",
        "phone": "138****5678",
    }
