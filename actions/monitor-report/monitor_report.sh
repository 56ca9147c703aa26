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

run_verdict monitor 4 decay-detected "Live performance" "${args[@]}"
