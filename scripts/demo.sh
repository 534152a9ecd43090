#!/usr/bin/env bash
# The README's demo command: set up a fresh machine (idempotent), then run the demo.
# Arguments go to the demo, e.g. `bash scripts/demo.sh --duration 300`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/.bin/node scripts/demo.ts "$@"
