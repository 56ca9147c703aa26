#!/usr/bin/env bash
# Run the `monitor` verb; exit 0 (healthy) and 4 (decay) are both results, 1 is an error.
# Writes the decay-detected output and puts reports/monitor.md (or the error) in the job summary.
set -uo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

args=()
if [ -n "$PREDICTIONS" ]; then args+=(--predictions "$PREDICTIONS"); fi
if [ -n "$OUTCOMES" ]; then args+=(--outcomes "$OUTCOMES"); fi
if [ -n "$ENVIRONMENT" ]; then args+=(--environment "$ENVIRONMENT"); fi

errors="$(mktemp)"
status=0
python -m "$PACKAGE" monitor "${args[@]}" 2> "$errors" || status=$?
cat "$errors" >&2

set_output report reports/monitor.json
case "$status" in
  0) set_output decay-detected false ;;
  4) set_output decay-detected true ;;
  *)
    # No verdict, so no retraining: the reason goes where people look.
    { printf '## Live performance: the job could not run\n\n```\n'; cat "$errors"; printf '```\n\n'; } \
      >> "$GITHUB_STEP_SUMMARY"
    exit "$status"
    ;;
esac
summarize reports/monitor.md "Live performance"
