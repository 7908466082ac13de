#!/usr/bin/env bash
# Sets up if needed, then runs the interpres CLI; with no arguments, the web server:
#   scripts/run.sh                      (interpres serve: open http://127.0.0.1:8000/)
#   scripts/run.sh translate ../shared/audio/es_leopard_test.wav --to en,fr --out out/demo --fast
# No cd here: relative paths in the arguments mean what they mean where you typed them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Setup's messages go to stderr so the CLI's stdout stays clean for pipes.
"$root/scripts/setup.sh" >&2
if [ $# -eq 0 ]; then
  set -- serve
fi
exec "$root/.venv/bin/interpres" "$@"
