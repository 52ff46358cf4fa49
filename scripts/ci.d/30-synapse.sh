# shellcheck shell=bash
# Sourced by .ci/run (under `set -euo pipefail`): a real Synapse for tests/test_matrix_synapse.py.
#
# Installs Synapse into ~/.cache/campaign-scheduler/synapse when it is missing (never inside the
# clone), starts it on a free loopback port with throwaway data, seeds a user and a room, and
# exports CAMPAIGN_TEST_SYNAPSE_* plus CAMPAIGN_TEST_REQUIRE_SYNAPSE=1 (in CI a missing server
# fails the test instead of skipping it). The server is stopped when the sourcing shell exits:
# the stop command is added in front of any EXIT trap already set, which still runs after it.
#
# Locally: `source scripts/ci.d/30-synapse.sh` in a bash shell, then run pytest from it.

_campaign_synapse_setup() {
    local root python data previous stop_command
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    python="$("$root/scripts/synapse/install.sh")"
    data="$("$root/scripts/synapse/start.sh" "$python")"
    # shellcheck source=/dev/null
    source "$data/env.sh"
    export CAMPAIGN_TEST_REQUIRE_SYNAPSE=1

    previous="$(_campaign_synapse_exit_trap)"
    stop_command="$(printf '%q %q' "$root/scripts/synapse/stop.sh" "$data")"
    # Keep the exit status for the trap that was there before (it may report or use it).
    trap -- "_campaign_synapse_status=\$?; $stop_command >&2 || true; (exit \$_campaign_synapse_status) && :${previous:+; $previous}" EXIT
}

# The command of the EXIT trap currently set, or nothing.
_campaign_synapse_exit_trap() {
    local listing
    listing="$(trap -p EXIT)"
    [ -n "$listing" ] || return 0
    eval "set -- $listing"  # trap -- 'COMMAND' EXIT
    printf '%s' "$3"
}

_campaign_synapse_setup
unset -f _campaign_synapse_setup _campaign_synapse_exit_trap
