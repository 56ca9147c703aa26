#!/usr/bin/env bash
# Deploy one environment with the project's `deploy` verb, put its report in the job
# summary, and turn reports/deploy-<env>.json into step outputs. The verb does the work
# (and the rollback); this script only sets up credentials and reports.
set -uo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

report="reports/deploy-$ENVIRONMENT"
rm -f "$report.json" "$report.md"  # never report a deployment of an earlier run
if [ -n "${TRACKING_URI:-}" ]; then export MLFLOW_TRACKING_URI="$TRACKING_URI"; fi
if [ -n "${KUBECONFIG_DATA:-}" ]; then
  kubeconfig="$(mktemp "${RUNNER_TEMP:-/tmp}/kubeconfig.XXXXXX")"  # mktemp: mode 600
  trap 'rm -f "$kubeconfig"' EXIT
  # base64 (the usual secret) when it decodes to a kubeconfig, else the plain file
  if ! { printf '%s' "$KUBECONFIG_DATA" | base64 -d > "$kubeconfig" 2>/dev/null \
    && grep -q '^apiVersion:' "$kubeconfig"; }; then
    printf '%s\n' "$KUBECONFIG_DATA" > "$kubeconfig"
  fi
  export KUBECONFIG="$kubeconfig"
fi

status=0
python -m "$PACKAGE" deploy --env "$ENVIRONMENT" || status=$?

summarize "$report.md" "Deploy $ENVIRONMENT"
set_output report "$report.md"
if [ -f "$report.json" ]; then
  set_output version "$(json_field "$report.json" version)"
  set_output previous-version "$(json_field "$report.json" previous_version)"
  set_output outcome "$(json_field "$report.json" outcome)"
else
  set_output outcome refused
fi
exit "$status"
