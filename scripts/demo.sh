#!/usr/bin/env bash
# Install qunzu into .venv and run the demo: SQLite, in-process bus, a demo world.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/qunzu demo "$@"
