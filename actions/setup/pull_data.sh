#!/usr/bin/env bash
# Bring the DVC-tracked data into the workspace with the project's `pull-data` verb:
# `dvc pull` (from the restored DVC cache or the remote), else, for the bundled example,
# regenerate it and check its md5; else fail saying to configure a shared remote.
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

log="$(mktemp)"
rm -f reports/pull-data.json  # never read an earlier run's
status=0
python -m "$PACKAGE" pull-data 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  printf '## Data\n\n```\n%s\n```\n\n' "$(cat "$log")" >> "$GITHUB_STEP_SUMMARY"
  exit "$status"
fi
# Where the data came from is in the verb's report, not in its wording (which may change in a
# project release the Actions do not know about).
source=""
if [ -f reports/pull-data.json ]; then source="$(json_field reports/pull-data.json source)"; fi
if [ -z "$source" ]; then
  echo "::warning::pull-data wrote no reports/pull-data.json (a project from before the verb" \
    "reported it?): the data-source output is empty."
fi
set_output data-source "$source"
