#!/usr/bin/env bash
# Install (first time) and run the whole test suite, browser tests included (Debian's chromium, axe-core).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null
  else
    echo "run-tests: /usr/bin/chromium missing; install it with: sudo apt-get install -y chromium" >&2
  fi
fi
# axe-core for the browser test's accessibility check: the locked version from the npm registry, into
# tests/a11y/node_modules (gitignored).
if [ ! -f tests/a11y/node_modules/axe-core/axe.min.js ]; then
  if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q npm >/dev/null
  fi
  npm ci --prefix tests/a11y --no-audit --no-fund >/dev/null
fi
# nginx for tests/deploy (replicas behind a load balancer); without it those tests are skipped.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null; }
  else
    echo "run-tests: nginx missing (tests/deploy will be skipped); install it with: sudo apt-get install -y nginx" >&2
  fi
fi
. scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
# The tests index the corpus in temporary folders; build (or update) index/ too, so that the first
# run-app.sh afterwards starts at once instead of building it. A broken corpus is left for the tests to report.
ipt-qa build >/dev/null || echo "run-tests: ipt-qa build failed; the tests will say why" >&2
# Lint and types first (configured in pyproject.toml): a finding fails the run before the tests start.
ruff check --quiet .
mypy
# Two workers (pytest-xdist; -n 0 runs in one process): each builds its own real index once per session.
exec python -m pytest -n "${PYTEST_WORKERS:-auto}" "$@"
