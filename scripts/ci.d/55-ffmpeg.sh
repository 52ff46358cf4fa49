# shellcheck shell=bash
# Sourced by .ci/run (under `set -euo pipefail`): ffmpeg and ffprobe, which `campaign check`
# probes videos with and the video tests make their tiny test videos with (tests/conftest.py
# make_video). Installs Debian's `ffmpeg` when either is missing and exports
# CAMPAIGN_TEST_REQUIRE_FFMPEG=1: in CI a missing ffmpeg fails those tests instead of
# skipping them.

_campaign_ffmpeg_setup() {
    if ! command -v ffprobe >/dev/null 2>&1 || ! command -v ffmpeg >/dev/null 2>&1; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -q
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ffmpeg
    fi
    export CAMPAIGN_TEST_REQUIRE_FFMPEG=1
}

_campaign_ffmpeg_setup
unset -f _campaign_ffmpeg_setup
