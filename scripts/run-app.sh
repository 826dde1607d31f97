#!/usr/bin/env bash
# Install (first time), build the index if it is missing or stale, and open the page on http://127.0.0.1:7860
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh
exec ipt-qa serve "$@"
