#!/usr/bin/env bash
# Creates .venv (if missing, made by a Python older than 3.11, or without pip: what a `python3 -m venv` that
# failed leaves, on Debian or Ubuntu without python3-venv) and installs this checkout; `setup.sh dev`
# adds the development tools (tests, lint, types: ~150 MB more). PYTHON=/path/to/python3.12 picks the
# interpreter; else python3, or a python3.1x on PATH when python3 is older than 3.11 (macOS's is 3.9,
# Ubuntu 22.04's 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."

recent() { # recent PYTHON: whether it runs and is 3.11 or newer
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

if [ -z "${PYTHON:-}" ]; then
  for candidate in python3 python3.11 python3.12 python3.13 python3.14; do
    if command -v "$candidate" >/dev/null && recent "$candidate"; then
      PYTHON=$candidate
      break
    fi
  done
fi
if [ -n "${PYTHON:-}" ] && ! command -v "$PYTHON" >/dev/null; then
  echo "setup: PYTHON=$PYTHON is not a program here; give the path of a Python 3.11 (or newer)." >&2
  exit 1
fi
if [ -z "${PYTHON:-}" ] || ! recent "$PYTHON"; then
  if command -v "${PYTHON:-python3}" >/dev/null; then
    found=$("${PYTHON:-python3}" --version 2>&1 | head -n 1 || true)
    found=${found:-"${PYTHON:-python3}, whose --version fails"}
  else
    found="no python3 on PATH"
  fi
  echo "setup: zilliz-refresh-mcp needs Python 3.11 or newer; found: $found." \
    "Install one, then run again with PYTHON=/path/to/python3.11 (or newer)." >&2
  exit 1
fi

if [ -e .venv ] && ! recent .venv/bin/python; then # an older Python's, or one whose Python is gone
  echo "setup: .venv was made by $(.venv/bin/python --version 2>/dev/null || echo "a Python no longer there");" \
    "making it again with $PYTHON" >&2
  rm -rf .venv
elif [ -e .venv ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then # else pip fails there forever
  echo "setup: .venv has no pip (left by a python3 -m venv that failed?); making it again with $PYTHON" >&2
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: installing into .venv with $("$PYTHON" --version 2>&1) (about a minute the first time)" >&2
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv # half made, without pip: the next run starts afresh
    version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    echo "setup: $PYTHON -m venv failed (see above); on Debian or Ubuntu, install its venv module" \
      "(sudo apt install python$version-venv), then run this again." >&2
    exit 1
  fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip
case "${1:-}" in
  dev) target='.[dev]' ;;
  '') target='.' ;;
  *) echo "setup: unknown argument '$1' (dev, or none)" >&2; exit 2 ;;
esac
.venv/bin/python -m pip install --quiet -e "$target"
