# shellcheck shell=bash
# Sourced by .ci/run (under `set -euo pipefail`): a deeper run of tests/test_fuzz_inputs.py
# (damaged drafts, campaign and config files, time expressions through the CLI) than the 10
# examples per test a local run uses.
#
# Locally: `source scripts/ci.d/50-fuzz.sh` in a bash shell, then run pytest from it.

export CAMPAIGN_TEST_FUZZ_EXAMPLES="${CAMPAIGN_TEST_FUZZ_EXAMPLES:-60}"
