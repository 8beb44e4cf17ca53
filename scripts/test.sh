#!/usr/bin/env bash
# Install qunzu with its test dependencies into .venv and run the whole test suite.
# Backends: tests for PostgreSQL, Redis and NATS run when QUNZU_TEST_POSTGRES_URL,
# QUNZU_TEST_REDIS_URL and QUNZU_TEST_NATS_URL are set, and are skipped (saying so) otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# The layering contracts (docs/architecture.md) before the tests.
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
