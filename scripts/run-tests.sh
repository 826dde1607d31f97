#!/usr/bin/env bash
# Install (first time) and run the whole test suite, browser tests included (Debian's chromium).
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
. scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
exec python -m pytest "$@"
