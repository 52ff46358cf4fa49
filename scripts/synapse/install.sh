#!/usr/bin/env bash
# Install Synapse (the Matrix reference homeserver, from PyPI) into its own venv outside the
# clone, for tests/test_matrix_synapse.py. Idempotent: a venv whose pins match
# scripts/synapse/requirements.txt is left alone, so only the first run downloads anything.
#
#   scripts/synapse/install.sh        # prints the venv's python
#
# CAMPAIGN_SYNAPSE_HOME overrides the location (default ~/.cache/campaign-scheduler/synapse);
# PIP_CACHE_DIR defaults to ~/.cache/campaign-scheduler/pip so downloads stay outside the clone.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="$here/requirements.txt"
home="${CAMPAIGN_SYNAPSE_HOME:-$HOME/.cache/campaign-scheduler/synapse}"
venv="$home/venv"
stamp="$venv/.requirements"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/campaign-scheduler/pip}"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
    echo "$venv/bin/python"
    exit 0
fi

started=$(date +%s)
mkdir -p "$home"
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv" >&2
# pip's own warnings go to a log; it is shown only when the install fails.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
    2>"$home/pip.log" || { cat "$home/pip.log" >&2; exit 1; }
"$venv/bin/python" -c "import synapse; print('installed Synapse', synapse.__version__)" >&2
cp "$requirements" "$stamp"
echo "Synapse venv ready in $(( $(date +%s) - started )) s: $venv" >&2
echo "$venv/bin/python"
