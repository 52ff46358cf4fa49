# shellcheck shell=bash
# Sourced by .ci/run (under `set -euo pipefail`): the reference Bluesky PDS for
# tests/test_bluesky_pds.py.
#
# Installs @atproto/pds (with Node 22) into ~/.cache/campaign-scheduler/bluesky-pds when it is
# missing or its pins changed (never inside the clone; about 75-190 s the first time, nothing
# afterwards), starts it on a free loopback port with fresh data (about 3 s), and exports
# CAMPAIGN_TEST_PDS_* plus CAMPAIGN_TEST_REQUIRE_PDS=1, so that in CI a missing server fails the
# tests instead of skipping them. The server is stopped when the sourcing shell exits: the stop
# command runs first, then whatever EXIT trap was set before, with the exit status preserved.
#
# Locally: `source scripts/ci.d/20-bluesky-pds.sh` in a bash shell, then run pytest from it.

_campaign_pds_setup() {
    local root exports previous stop_command
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    "$root/scripts/bluesky/install-pds.sh" >/dev/null
    # Assigned on its own line so that a failed start stops CI (set -e) instead of evaluating
    # an empty string.
    exports="$("$root/scripts/bluesky/start-pds.sh")"
    eval "$exports"
    export CAMPAIGN_TEST_REQUIRE_PDS=1

    previous="$(_campaign_pds_exit_trap)"
    stop_command="$(printf '%q %q' "$root/scripts/bluesky/stop-pds.sh" "$CAMPAIGN_TEST_PDS_DIR")"
    trap -- "_campaign_pds_status=\$?; $stop_command || true; (exit \$_campaign_pds_status) && :${previous:+; $previous}" EXIT
}

# The command of the EXIT trap that is set now, or nothing.
_campaign_pds_exit_trap() {
    local listing
    listing="$(trap -p EXIT)"
    [ -n "$listing" ] || return 0
    eval "set -- $listing"  # trap -- 'COMMAND' EXIT
    printf '%s' "$3"
}

_campaign_pds_setup
unset -f _campaign_pds_setup _campaign_pds_exit_trap
