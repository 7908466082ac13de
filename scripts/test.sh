#!/usr/bin/env bash
# Everything CI checks: setup, lint, all tests including slow ones. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
echo "test: ruff check ."
.venv/bin/ruff check .
echo "test: pytest"
exec .venv/bin/python -m pytest -q "$@"
