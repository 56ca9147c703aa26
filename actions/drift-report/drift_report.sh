#!/usr/bin/env bash
# Run the `drift` verb; exit 0 (no drift) and 3 (drift) are both results, 1 is an error.
# Writes the drift-detected output and puts reports/drift.md (or the error) in the job summary.
set -uo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

args=(--html-link "$HTML_LINK")
if [ -n "$CURRENT" ]; then args+=(--current "$CURRENT"); fi
if [ -n "$REFERENCE" ]; then args+=(--reference "$REFERENCE"); fi

run_verdict drift 3 drift-detected "Data drift" "${args[@]}"
