#!/usr/bin/env bash
# pdftotext (Debian's poppler-utils) for the answer-letter test, which reads the PDF back as a
# citizen's reader would. Installed only when missing (idempotent, quiet); needs root and apt-get,
# elsewhere it only warns and the letter test says what is missing.
set -uo pipefail

command -v pdftotext >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "[pdftotext] not found and not installable here (needs root and apt-get): install poppler-utils for the letter test" >&2
  exit 0
fi
echo "[pdftotext] installing Debian's poppler-utils for the answer-letter test" >&2
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  # The package lists of a fresh machine may be empty or stale: refresh them, then install.
  if apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends poppler-utils >/dev/null 2>&1; then
    exit 0
  fi
  sleep $((attempt * 5))  # another apt-get may hold the lock
done
echo "[pdftotext] apt-get install poppler-utils failed; the answer-letter test will fail" >&2
exit 0
