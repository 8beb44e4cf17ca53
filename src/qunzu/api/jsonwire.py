"""JSON as it comes off the wire, read the same way for HTTP bodies and WebSocket frames.

``loads`` is ``json.loads`` with a nesting bound: no request qunzu takes nests deeper
than a few levels, and without a bound a deeply nested document costs the decoder
its recursion limit (``RecursionError``: a 500 over HTTP, a dropped WebSocket). Both
paths read JSON with it: HTTP routes through ``StrictJSONRoute`` (every router uses
it), WebSocket frames in ``api/realtime.py``; either way a refusal is ``400
malformed_json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

MAX_JSON_DEPTH = 32

# A JSON string, escapes included: its brackets are text, not structure.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Opening brackets as 1, closing ones as 0, everything else dropped.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\x00\x00")
_NOT_BRACKET = bytes(set(range(256)) - set(b"[]{}"))


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests arrays and objects more than ``limit`` deep (brackets inside
    strings do not count). Malformed text is otherwise left for the decoder to refuse.

    Only the brackets are walked, and only when there are more than ``limit`` of them:
    at worst (a body of nothing but brackets) about as long as ``json.loads`` takes to
    build what they describe."""
    if text.count("[") + text.count("{") <= limit:
        return False  # the usual case: too few brackets to nest that deep
    structure = _STRING.sub("", text).encode("utf-8", "surrogatepass")
    depth = 0
    for opening in structure.translate(_STEPS, _NOT_BRACKET):
        if opening:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def loads(data: str | bytes) -> Any:
    """``json.loads``, raising ``json.JSONDecodeError`` for nesting past MAX_JSON_DEPTH too."""
    # Latin-1 never fails and keeps every ASCII byte where it was: brackets, quotes and
    # backslashes of UTF-8 (or UTF-16) JSON are found where they are.
    text = data if isinstance(data, str) else data.decode("latin-1")
    if too_deep(text):
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", text, 0)
    return json.loads(data)


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is read by ``loads`` (FastAPI reads it with ``json.loads``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict
