#!/usr/bin/env bash
# Stop a PDS started by start-pds.sh, by the PID it recorded, and remove its data folder.
#
#   scripts/bluesky/stop-pds.sh "$CAMPAIGN_TEST_PDS_DIR"
set -uo pipefail
run_dir="${1:-${CAMPAIGN_TEST_PDS_DIR:-}}"
if [ -z "$run_dir" ] || [ ! -f "$run_dir/pds.pid" ]; then
    echo "bluesky-pds: nothing to stop (no pds.pid in '${run_dir}')" >&2
    exit 0
fi
pid="$(cat "$run_dir/pds.pid")"
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
    fi
fi
case "$run_dir" in
    */campaign-pds.*) rm -rf "$run_dir" ;;
esac
echo "bluesky-pds: stopped $pid" >&2
