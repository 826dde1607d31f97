#!/usr/bin/env bash
# Serve the page through nginx in front of N replicas on this machine: scripts/run-replicas.sh N
# (default 2). Installs the project first (as run-app.sh does); nginx must be installed (Debian's `nginx`).
# Every replica reads the one index directory (index/ unless IPT_QA_INDEX is set). nginx listens on
# 127.0.0.1:$PORT (8080), the replicas on $FIRST_PORT (7861) and up; logs and state in $RUN_DIR
# (.run/replicas). supervisord (installed with the project) runs them: a process that exits is started again
# with a back-off, logs are rotated by size, `supervisorctl -c .run/replicas/supervisord.conf status` shows
# them. Ctrl-C stops them all. A rebuild (`ipt-qa build`) reaches each replica by itself; `kill -HUP <pid it
# prints>` restarts the replicas one at a time (new code) without the page going down. Details: docs/scaling.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
exec python deploy/replicas.py "${1:-2}" "${@:2}"
