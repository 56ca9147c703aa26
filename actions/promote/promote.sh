#!/usr/bin/env bash
# Re-pin deploy/$TO.yaml with the project's `promote` verb, then put the change in git:
# MODE=commit pushes a bot commit to $BASE_BRANCH (only from a run on it); MODE=pull-request
# force-pushes the branch promote/$TO and opens or updates its one pull request (open-pr's
# script). Either commit goes on top of the fetched $BASE_BRANCH, never the checkout.
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

case "$MODE" in
  commit | pull-request) ;;
  *) echo "promote: mode must be commit or pull-request, not '$MODE'." >&2; exit 1 ;;
esac
# Only a run of the base branch itself may write to it: a run dispatched from any other
# branch would otherwise put a pin that branch chose (and, before, its commits) on main.
if [ "$MODE" = commit ] && [ "${GITHUB_REF:-}" != "refs/heads/$BASE_BRANCH" ]; then
  echo "::error::promote: mode commit pushes to $BASE_BRANCH only from a run on" \
    "$BASE_BRANCH; this run is on ${GITHUB_REF:-an unknown ref}, so nothing was pinned or" \
    "pushed. Run the workflow from $BASE_BRANCH." >&2
  exit 1
fi
if [ -n "${TRACKING_URI:-}" ]; then export MLFLOW_TRACKING_URI="$TRACKING_URI"; fi
args=(--from "$FROM" --to "$TO")
if [ -n "${DIGEST:-}" ]; then args+=(--digest "$DIGEST"); fi
if [ -n "${OVERRIDE_REASON:-}" ]; then args+=(--override-reason "$OVERRIDE_REASON"); fi
python -m "$PACKAGE" promote "${args[@]}"

file="deploy/$TO.yaml"
body="reports/promote-$TO.md"
summarize "$body" "Promote to $TO"
read -r model version < <(python3 -c '
import json, sys
result = json.load(open(sys.argv[1]))
print(result["model"], result["version"])' "reports/promote-$TO.json")
set_output version "$version"
if git diff --quiet HEAD -- "$file"; then
  echo "$file already pins $model version $version: nothing to commit."
  set_output changed false
  exit 0
fi

# Commit as the Actions bot; authenticate pushes with the token in a header, never on disk.
eval "$(GITHUB_SERVER_URL="${SERVER_URL:-${GITHUB_SERVER_URL:-}}" \
  python3 "$GITHUB_ACTION_PATH/../_lib/git_bot.py")"

# The pin is one commit on top of the fetched base branch, built in a scratch index: never
# on the checked-out commit, whose other changes (a branch, a stale checkout) must not ride
# along to main.
pin_on_base() {  # MESSAGE -> prints the new commit (empty when the base pins it already)
  local base blob index tree
  git fetch --quiet --no-tags origin "refs/heads/$BASE_BRANCH"
  base="$(git rev-parse FETCH_HEAD)"
  blob="$(git hash-object -w -- "$file")"
  if [ "$(git rev-parse --quiet --verify "$base:$file" || true)" = "$blob" ]; then
    return 0
  fi
  index="$(mktemp -u "${RUNNER_TEMP:-/tmp}/promote-index.XXXXXX")"
  GIT_INDEX_FILE="$index" git read-tree "$base"
  GIT_INDEX_FILE="$index" git update-index --add --cacheinfo "100644,$blob,$file"
  tree="$(GIT_INDEX_FILE="$index" git write-tree)"
  rm -f "$index"
  git commit-tree "$tree" -p "$base" -m "$1"
}

if [ "$MODE" = commit ]; then
  # [skip ci]: a pin is not a change to test, and a push made with an App token must not
  # start CD again.
  for attempt in 1 2 3; do
    commit="$(pin_on_base "deploy: pin $TO to $model version $version [skip ci]")"
    if [ -z "$commit" ]; then
      echo "$BASE_BRANCH already pins $model version $version in $file: nothing to push."
      set_output changed false
      exit 0
    fi
    if git push --quiet origin "$commit:refs/heads/$BASE_BRANCH"; then break; fi
    if [ "$attempt" -eq 3 ]; then echo "promote: could not push to $BASE_BRANCH." >&2; exit 1; fi
    echo "promote: $BASE_BRANCH moved meanwhile; pinning again on top of it."
  done
  set_output changed true
  set_output commit "$commit"
  exit 0
fi

branch="promote/$TO"
commit="$(pin_on_base "Promote $model version $version to $TO")"
if [ -z "$commit" ]; then
  echo "$BASE_BRANCH already pins $model version $version in $file: no pull request needed."
  set_output changed false
  exit 0
fi
git push --quiet --force origin "$commit:refs/heads/$branch"
set_output changed true
set_output commit "$commit"
label_args=()
while IFS= read -r label; do
  if [ -n "$label" ]; then label_args+=(--label "$label"); fi
done < <(printf '%s\n' "$LABELS" | tr ',' '\n' | sed 's/^ *//; s/ *$//')
python3 "$GITHUB_ACTION_PATH/../open-pr/open_pr.py" --repo "$REPOSITORY" --head "$branch" \
  --base "$BASE_BRANCH" --title "Promote $model version $version to $TO" --body-file "$body" \
  "${label_args[@]}"
