#!/usr/bin/env bash
# Bring the DVC-tracked data into the workspace with the project's `pull-data` verb:
# `dvc pull` (from the restored DVC cache or the remote), else, for the bundled example,
# regenerate it and check its md5; else fail saying to configure a shared remote.
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

log="$(mktemp)"
status=0
python -m "$PACKAGE" pull-data 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  printf '## Data\n\n```\n%s\n```\n\n' "$(cat "$log")" >> "$GITHUB_STEP_SUMMARY"
  exit "$status"
fi
if grep -q 'regenerated' "$log"; then set_output data-source regenerated; else set_output data-source pulled; fi
