# shellcheck shell=bash
# Sourced by .ci/run (under `set -euo pipefail`): the DejaVu fonts that
# scripts/render_campaign_images.py draws the campaign images with, for
# tests/test_campaign_images.py. Installs Debian's `fonts-dejavu-core` when it is missing and
# exports CAMPAIGN_TEST_REQUIRE_FONTS=1: in CI missing fonts fail the test instead of skipping it.

_campaign_fonts_setup() {
    if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -q
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-dejavu-core
    fi
    export CAMPAIGN_TEST_REQUIRE_FONTS=1
}

_campaign_fonts_setup
unset -f _campaign_fonts_setup
