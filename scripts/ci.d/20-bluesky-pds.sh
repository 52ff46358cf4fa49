# shellcheck shell=bash
# Sourced by .ci/run (under `set -euo pipefail`): real Bluesky servers for the integration tests.
#
# * The reference PDS (@atproto/pds, with Node 22) for tests/test_bluesky_pds.py.
# * A local AT Protocol network with the Bluesky AppView (@atproto/dev-env) for
#   tests/test_bluesky_appview.py (metrics). It uses a new database on the PostgreSQL server
#   that .ci/run has started, and its own redis-server.
#
# Both are installed under ~/.cache/campaign-scheduler/ when missing or when their pins changed
# (never inside the clone; about 1.5 + 2 minutes the first time, nothing afterwards), started
# on free loopback ports with fresh data (about 3 s and 5 s), and announced through
# CAMPAIGN_TEST_PDS_* and CAMPAIGN_TEST_APPVIEW_* plus CAMPAIGN_TEST_REQUIRE_PDS=1 and
# CAMPAIGN_TEST_REQUIRE_APPVIEW=1, so that in CI a missing server fails the tests instead of
# skipping them. They are stopped when the sourcing shell exits: the stop commands run first,
# then whatever EXIT trap was set before, with the exit status preserved.
#
# Locally: `source scripts/ci.d/20-bluesky-pds.sh` in a bash shell, then run pytest from it.

_campaign_bluesky_setup() {
    local root exports previous stop_command
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    "$root/scripts/bluesky/install-pds.sh" >/dev/null
    "$root/scripts/bluesky/appview/install-appview.sh" >/dev/null

    # Each start is assigned on its own line so that a failure stops CI (set -e) instead of
    # evaluating an empty string; each stop is registered as soon as its server runs.
    exports="$("$root/scripts/bluesky/start-pds.sh")"
    eval "$exports"
    export CAMPAIGN_TEST_REQUIRE_PDS=1
    stop_command="$(printf '%q %q' "$root/scripts/bluesky/stop-pds.sh" "$CAMPAIGN_TEST_PDS_DIR")"
    _campaign_bluesky_on_exit "$stop_command"

    exports="$("$root/scripts/bluesky/appview/start-appview.sh")"
    eval "$exports"
    export CAMPAIGN_TEST_REQUIRE_APPVIEW=1
    stop_command="$(printf '%q %q' "$root/scripts/bluesky/appview/stop-appview.sh" \
        "$CAMPAIGN_TEST_APPVIEW_DIR")"
    _campaign_bluesky_on_exit "$stop_command"
}

# Run COMMAND on exit, before the EXIT trap that is set now (which still gets the exit status).
_campaign_bluesky_on_exit() {
    local command="$1" listing previous=""
    listing="$(trap -p EXIT)"
    if [ -n "$listing" ]; then
        eval "set -- $listing"  # trap -- 'COMMAND' EXIT
        previous="$3"
    fi
    trap -- "_campaign_bluesky_status=\$?; $command || true; (exit \$_campaign_bluesky_status) && :${previous:+; $previous}" EXIT
}

_campaign_bluesky_setup
unset -f _campaign_bluesky_setup _campaign_bluesky_on_exit
