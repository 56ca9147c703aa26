#!/usr/bin/env bash
# Check the data against the contract (`validate-data`), put the report in the job
# summary, and fail the step when the data breaks the contract.
set -uo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

report=reports/data_check.md
rm -f "$report"  # never show a report left over from an earlier run
args=()
if [ -n "${DATA_PATH:-}" ]; then args+=(--data "$DATA_PATH"); fi

status=0
python -m "$PACKAGE" validate-data "${args[@]}" || status=$?

summarize "$report" "Data check"
set_output report "$report"
if [ "$status" -eq 0 ]; then set_output passed true; else set_output passed false; fi
exit "$status"
