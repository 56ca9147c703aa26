#!/usr/bin/env bash
# `dvc repro`, then the metrics and params diff against the base branch as Markdown in
# the job summary (and reports/metrics_diff.md for the PR comment).
set -uo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

targets=()
if [ -n "${TARGETS:-}" ]; then read -r -a targets <<< "$TARGETS"; fi

if ! dvc repro "${targets[@]}"; then
  {
    printf '## dvc repro failed\n\nSee the step log. '
    printf 'When a model gate failed, its table follows.\n\n'
  } >> "$GITHUB_STEP_SUMMARY"
  if [ -s reports/gates.md ]; then summarize reports/gates.md "Model gates"; fi
  exit 1
fi

lock=0
git diff --quiet -- dvc.lock || lock=$?  # 1: changed; anything else: git itself failed
case "$lock" in
  0) set_output lock-changed false ;;
  1)
    set_output lock-changed true
    printf '`dvc.lock` changed: the committed results were stale. Run `dvc repro` and commit.\n\n' \
      >> "$GITHUB_STEP_SUMMARY"
    ;;
  *)
    echo "dvc-repro: git could not compare dvc.lock with the commit (git diff exit $lock):" \
      "run in a git checkout of the project." >&2
    exit 1
    ;;
esac

base="${BASE:-}"
if [ -z "$base" ] && [ -n "${GITHUB_BASE_REF:-}" ]; then base="origin/$GITHUB_BASE_REF"; fi
if [ -z "$base" ]; then
  printf '## dvc repro\n\nPipeline reproduced. No base branch to compare with.\n\n' \
    >> "$GITHUB_STEP_SUMMARY"
  set_output diff-report ""
  exit 0
fi

report=reports/metrics_diff.md
rm -f "$report"
python -m "$PACKAGE" metrics-diff --base "$base" || exit 1
summarize "$report" "Metrics and params diff"
set_output diff-report "$report"
