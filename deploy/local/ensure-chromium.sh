#!/usr/bin/env bash
# A headless Chromium for the `kcc report` screenshot test: Debian's package, installed only when
# no Chromium is on the PATH (idempotent, quiet). Needs root and apt-get; elsewhere it only warns,
# and the screenshot test says what is missing.
set -uo pipefail

for name in ${KCC_CHROMIUM:-} chromium chromium-browser google-chrome; do
  command -v "$name" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "[chromium] not found and not installable here (needs root and apt-get): install chromium for the report screenshot test" >&2
  exit 0
fi
echo "[chromium] installing Debian's chromium for the report screenshot test" >&2
export DEBIAN_FRONTEND=noninteractive
packages=(chromium fonts-dejavu-core)
for attempt in 1 2 3; do
  # The package lists of a fresh machine may be empty or stale: refresh them, then install.
  if apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
    exit 0
  fi
  sleep $((attempt * 5))  # another apt-get may hold the lock
done
echo "[chromium] apt-get install chromium failed; the report screenshot test will fail" >&2
exit 0
