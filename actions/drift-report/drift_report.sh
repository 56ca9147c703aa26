#!/usr/bin/env bash
# Run the `drift` verb; exit 0 (no drift) and 3 (drift) are both results, 1 is an error.
# Writes the drift-detected output and puts reports/drift.md (or the error) in the job summary.
set -uo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

args=(--html-link "$HTML_LINK")
if [ -n "$CURRENT" ]; then args+=(--current "$CURRENT"); fi
if [ -n "$REFERENCE" ]; then args+=(--reference "$REFERENCE"); fi

errors="$(mktemp)"
status=0
python -m "$PACKAGE" drift "${args[@]}" 2> "$errors" || status=$?
cat "$errors" >&2

set_output report reports/drift.json
case "$status" in
  0) set_output drift-detected false ;;
  3) set_output drift-detected true ;;
  *)
    # No verdict, so no retraining: the reason goes where people look.
    { printf '## Data drift: the job could not run\n\n```\n'; cat "$errors"; printf '```\n\n'; } \
      >> "$GITHUB_STEP_SUMMARY"
    exit "$status"
    ;;
esac
summarize reports/drift.md "Data drift"
