#!/usr/bin/env bash
# Prints the path of a uv binary, installing the pinned version from PyPI into the cache
# when the machine has none (or another version).
set -euo pipefail
UV_VERSION=0.13.8
CACHE_DIR="${KCC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/contact-stad}"
if command -v uv >/dev/null && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
  command -v uv; exit 0
fi
tool="$CACHE_DIR/uv-$UV_VERSION"
if [ ! -x "$tool/bin/uv" ]; then
  echo "[setup] installing uv $UV_VERSION into $tool" >&2
  rm -rf "$tool"
  python3.11 -m venv "$tool" >&2
  "$tool/bin/pip" install -q "uv==$UV_VERSION" >&2
fi
echo "$tool/bin/uv"
