"""Client frames of the event stream, read exactly as HTTP bodies are.

The same size bound (``QUNZU_MAX_REQUEST_BYTES``), the same JSON reading
(``jsonwire.loads``: nesting bounded), the same request model (``SendFrame`` is a
``MessageIn``), and so the same problem for the same mistake: ``413
payload_too_large``, ``400 malformed_json``, ``422 validation_error`` with the fields
named. Only ``unknown_frame`` (400) has no HTTP twin: a frame names its own type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from qunzu.api import jsonwire
from qunzu.api.errors import ProblemFields, problem_of, validation_problem
from qunzu.api.schemas import FrameRef, PingFrame, SendFrame
from qunzu.domain.errors import InvalidInput

_FRAMES: dict[str, type[PingFrame] | type[SendFrame]] = {"ping": PingFrame, "send": SendFrame}
_REF: TypeAdapter[Any] = TypeAdapter(FrameRef | None)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A frame answered with an ``error`` frame: the problem, and the frame's own ``ref``."""

    problem: ProblemFields
    ref: object = None


def read_frame(raw: str, max_bytes: int) -> PingFrame | SendFrame | Refusal:
    # len() counts characters, each at least one byte: encode only when it could matter.
    if len(raw) > max_bytes or (
        len(raw) * 4 > max_bytes and len(raw.encode("utf-8", "surrogatepass")) > max_bytes
    ):
        detail = f"The frame is larger than {max_bytes} bytes."
        return Refusal((413, "payload_too_large", detail, {"limit": max_bytes}))
    try:
        doc = jsonwire.loads(raw)
    except json.JSONDecodeError as exc:  # not JSON, or nested too deep
        return Refusal((400, "malformed_json", f"The frame is not valid JSON ({exc.msg}).", {}))
    if not isinstance(doc, dict):  # as an HTTP body that is not an object
        not_object = [{"loc": (), "msg": "A frame is a JSON object.", "type": "dict_type"}]
        return Refusal(validation_problem(not_object, located=False))
    kind = doc.get("type")
    model = _FRAMES.get(kind) if isinstance(kind, str) else None
    if model is None:
        unknown = InvalidInput("unknown_frame", "Frame types: ping, send.")
        return Refusal(problem_of(unknown), _ref_of(doc))
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        return Refusal(validation_problem(exc.errors(), located=False), _ref_of(doc))


def _ref_of(doc: dict[str, Any]) -> object:
    """The frame's ``ref`` to echo, when it is one (a refused frame still gets its own)."""
    try:
        return _REF.validate_python(doc.get("ref"))
    except ValidationError:
        return None
