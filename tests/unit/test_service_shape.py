"""The shape docs/architecture.md promises for the services: short functions that load, ask
the domain, persist, audit and publish."""

from __future__ import annotations

import ast
from pathlib import Path

import qunzu.services

SERVICES = Path(qunzu.services.__file__).parent
MAX_LINES = 60


def test_no_service_function_is_longer_than_sixty_lines() -> None:
    long = []
    for path in sorted(SERVICES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert long == [], "split these: a rule belongs in the domain, a step in a helper"
