#!/usr/bin/env bash
# The agent desktop's npm dependencies (test-only: axe-core for the accessibility scan), from
# frontend/package-lock.json; quiet and idempotent: `npm ci` runs only when the lock changed.
# Nothing is fetched at test time: the browser tests read frontend/node_modules.
set -euo pipefail
frontend="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../frontend" && pwd)"
marker="$frontend/node_modules/.installed-lock"
if [ -f "$marker" ] && cmp -s "$frontend/package-lock.json" "$marker"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "[frontend] npm not found: install Node.js 18+ for the desktop's accessibility test (axe-core)" >&2
  exit 0
fi
(cd "$frontend" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
cp "$frontend/package-lock.json" "$marker"
