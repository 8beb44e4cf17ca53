"""``domain/text.py``: the one rule for text, by kind."""

from __future__ import annotations

import pytest

from qunzu.domain.errors import InvalidInput
from qunzu.domain.text import TextKind, check_text, text_problem

T, P, L = TextKind.text, TextKind.prose, TextKind.line


@pytest.mark.parametrize(
    ("value", "refused_in"),
    [
        ("plain 你好 שלום 🙂", set()),
        ("two\nlines\tand a tab", {L}),
        ("a\x00b", {T, P, L}),
        ("a\ud800b", {T, P, L}),
        ("\udfff", {T, P, L}),
        ("exe.\u202etxt", {P, L}),  # right-to-left override
        ("\u202a\u202b\u202c\u202d", {P, L}),  # embeddings and the pop
        ("\u2066x\u2069", {P, L}),  # isolates
        ("bell\x07", {L}),
        ("del\x7f", {L}),
        ("c1\x85", {L}),
        ("\u200f mark", set()),  # a directional mark is not an override
    ],
)
def test_what_each_kind_refuses(value: str, refused_in: set[TextKind]) -> None:
    for kind in TextKind:
        assert (text_problem(value, kind) is not None) == (kind in refused_in), (kind, value)


def test_the_problem_names_the_character() -> None:
    assert text_problem("a\x00") == "a NUL character"
    assert text_problem("\ud83d") == "a lone surrogate (U+D83D), which is not a character"
    assert text_problem("\u202e", P) == "a bidirectional control character (U+202E)"
    assert text_problem("\x1b", L) == "a control character (U+001B)"


def test_a_paired_surrogate_is_a_character_not_a_problem() -> None:
    decoded = "\ud83d\ude00".encode("utf-16", "surrogatepass").decode("utf-16")
    assert decoded == "😀" and text_problem(decoded, L) is None


def test_check_text_returns_the_value_or_raises_invalid_text_naming_the_field() -> None:
    assert check_text("fine", "statement") == "fine"
    with pytest.raises(InvalidInput) as caught:
        check_text("a\x00", "statement")
    assert (caught.value.code, caught.value.extra) == ("invalid_text", {"field": "statement"})
    assert caught.value.detail == "statement cannot contain a NUL character."
