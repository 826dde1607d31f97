#!/usr/bin/env bash
# Create .venv and install the project with its pinned dependencies (idempotent: skipped when
# pyproject.toml has not changed since the last install). Sourced by run-app.sh and run-tests.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The project needs Python 3.11 or newer (pyproject.toml). Choose another interpreter with PYTHON=..., e.g.
# PYTHON=python3.12 bash scripts/run-app.sh; an existing .venv keeps the interpreter it was made with.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! command -v "$PY" >/dev/null 2>&1; then
    echo "setup: $PY not found; install Python 3.11+ or name one with PYTHON=/path/to/python3.11" >&2
    exit 2
  fi
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: $("$PY" -V 2>&1) is too old (3.11+ needed); name another with PYTHON=python3.11 (or newer)" >&2
    exit 2
  fi
  "$PY" -m venv .venv
elif ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: .venv was made with $(.venv/bin/python -V 2>&1), older than 3.11; remove .venv and rerun" \
       "(with PYTHON=python3.11 or newer)" >&2
  exit 2
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=.venv/.ipt-qa-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python -m pip install -q --upgrade pip
  # torch first and exactly: the CPU wheel of 2.13.0 is served here; a looser pin pulls a multi-GB CUDA build.
  python -m pip install -q "torch==2.13.0"
  python -m pip install -q -e ".[test]"
  echo "$want" > "$stamp"
fi
