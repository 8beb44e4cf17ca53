"""What any text a user sends may hold: one rule for every field, on every path.

Three kinds of text, each refusing what the one before it refuses and more:

- ``text`` (messages, statements, reasons, notes, passwords): no NUL (PostgreSQL
  refuses it in a text column, SQLite would store it) and no lone UTF-16 surrogate (not
  a character: it cannot be encoded as UTF-8, so no database or client can take it).
- ``prose`` (group rules, notices): also no bidirectional embedding, override or
  isolate controls, which can make shown text read differently from what is stored.
- ``line`` (names, labels, handles, identifiers): also no control characters at all
  (one line, nothing hidden). Display names stay stricter still (``accounts``).

The API's request models apply this to every text field (``api/schemas.py``); services
that take text from elsewhere ask ``text_problem`` themselves and answer with their own
codes.
"""

from __future__ import annotations

import re
from enum import StrEnum

from qunzu.domain.errors import InvalidInput


class TextKind(StrEnum):
    text = "text"
    prose = "prose"
    line = "line"


_NUL = "\x00"
_SURROGATES = "\ud800-\udfff"
# LRE, RLE, PDF, LRO, RLO (U+202A-U+202E) and LRI, RLI, FSI, PDI (U+2066-U+2069).
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_CONTROLS = "\x01-\x1f\x7f-\x9f"

_REFUSED = {
    TextKind.text: re.compile(f"[{_NUL}{_SURROGATES}]"),
    TextKind.prose: re.compile(f"[{_NUL}{_SURROGATES}{_BIDI_CONTROLS}]"),
    TextKind.line: re.compile(f"[{_NUL}{_CONTROLS}{_SURROGATES}{_BIDI_CONTROLS}]"),
}


def _what(ch: str) -> str:
    if ch == _NUL:
        return "a NUL character"
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X}), which is not a character"
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return f"a bidirectional control character (U+{code:04X})"
    return f"a control character (U+{code:04X})"


def text_problem(value: str, kind: TextKind = TextKind.text) -> str | None:
    """What ``value`` holds that text of this kind may not (e.g. "a NUL character"), or
    None when it is fine."""
    found = _REFUSED[kind].search(value)
    return None if found is None else _what(found.group())


def check_text(value: str, field: str, kind: TextKind = TextKind.text) -> str:
    """``value`` unchanged, or ``InvalidInput("invalid_text")`` naming the field and why."""
    problem = text_problem(value, kind)
    if problem is not None:
        raise InvalidInput("invalid_text", f"{field} cannot contain {problem}.", field=field)
    return value
