#!/usr/bin/env bash
# Stop what start-appview.sh started, by the PIDs it recorded: the network, its redis-server;
# then drop its database and remove its folder.
#
#   scripts/bluesky/appview/stop-appview.sh "$CAMPAIGN_TEST_APPVIEW_DIR"
set -uo pipefail
run_dir="${1:-${CAMPAIGN_TEST_APPVIEW_DIR:-}}"
if [ -z "$run_dir" ] || [ ! -d "$run_dir" ]; then
    echo "bluesky-appview: nothing to stop ('${run_dir}')" >&2
    exit 0
fi
stop_pid() {
    local pid="$1"
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
for file in network.pid redis.pid; do
    [ -f "$run_dir/$file" ] && stop_pid "$(cat "$run_dir/$file")"
done
if [ -f "$run_dir/database" ] && [ -f "$run_dir/admin_url" ]; then
    psql "$(cat "$run_dir/admin_url")" -qAtc "DROP DATABASE IF EXISTS $(cat "$run_dir/database") WITH (FORCE)" >/dev/null \
        || echo "bluesky-appview: could not drop database $(cat "$run_dir/database")" >&2
fi
case "$run_dir" in
    */campaign-appview.*) rm -rf "$run_dir" ;;
esac
echo "bluesky-appview: stopped" >&2
