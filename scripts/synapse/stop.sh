#!/usr/bin/env bash
# Stop the Synapse that scripts/synapse/start.sh started in DATA (by its PID only) and remove
# DATA, unless --keep is given. Safe to call twice.
#
#   scripts/synapse/stop.sh DATA [--keep]
set -uo pipefail
data="${1:?usage: stop.sh DATA [--keep]}"
pid_file="$data/synapse.pid"
if [ -f "$pid_file" ]; then
    pid="$(cat "$pid_file")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pid_file"
fi
if [ "${2:-}" != "--keep" ]; then
    rm -rf "$data"
fi
exit 0
