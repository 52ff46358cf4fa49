#!/usr/bin/env bash
# Install mastodon-mock (a third-party mock of the Mastodon client API, from PyPI) into its own
# venv outside the clone, for tests/test_mastodon_mock.py. Idempotent: an existing venv whose
# pins match tests/mastodon-mock-requirements.txt is left alone.
#
#   scripts/install-mastodon-mock.sh        # prints the path of the mastodon_mock executable
#
# MASTODON_MOCK_HOME overrides the location (default ~/.cache/campaign-scheduler/mastodon-mock);
# PIP_CACHE_DIR defaults to ~/.cache/campaign-scheduler/pip so downloads stay outside the clone.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$here/tests/mastodon-mock-requirements.txt"
home="${MASTODON_MOCK_HOME:-$HOME/.cache/campaign-scheduler/mastodon-mock}"
venv="$home/venv"
stamp="$venv/.requirements"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/campaign-scheduler/pip}"

if [ -x "$venv/bin/mastodon_mock" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
    echo "$venv/bin/mastodon_mock"
    exit 0
fi

mkdir -p "$home"
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
cp "$requirements" "$stamp"
echo "$venv/bin/mastodon_mock"
