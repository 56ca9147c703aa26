#!/usr/bin/env bash
# Run the model gates as tests (`model-tests` verb: pytest tests/model with JUnit XML),
# put the gate table in the job summary, fail the step when a test or gate fails.
set -uo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

report=reports/model_tests.md
rm -f "$report"
status=0
python -m "$PACKAGE" model-tests --junit "$JUNIT" || status=$?

summarize "$report" "Model tests"
set_output junit "$JUNIT"
if [ "$status" -eq 0 ]; then set_output passed true; else set_output passed false; fi
exit "$status"
