# shellcheck shell=bash
# Sourced by .ci/run (under `set -euo pipefail`): headless Chromium for
# tests/test_report_html_chromium.py, which renders the HTML report, takes a screenshot and
# prints it to PDF.
#
# Installs Debian's `chromium` when it is missing (a system package, nothing inside the
# clone) and exports CAMPAIGN_TEST_CHROMIUM plus CAMPAIGN_TEST_REQUIRE_CHROMIUM=1: in CI a
# missing browser fails the test instead of skipping it.
#
# Locally: `source scripts/ci.d/40-chromium.sh` in a bash shell, then run pytest from it.

_campaign_chromium_setup() {
    local binary=/usr/bin/chromium
    if [ ! -x "$binary" ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -q
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
    fi
    "$binary" --version >&2
    export CAMPAIGN_TEST_CHROMIUM="$binary"
    export CAMPAIGN_TEST_REQUIRE_CHROMIUM=1
}

_campaign_chromium_setup
unset -f _campaign_chromium_setup
