#!/usr/bin/env bash
# Re-pin deploy/$TO.yaml with the project's `promote` verb, then put the change in git:
# MODE=commit pushes a bot commit to $BASE_BRANCH; MODE=pull-request force-pushes the
# branch promote/$TO and opens or updates its one pull request (open-pr's script).
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

case "$MODE" in
  commit | pull-request) ;;
  *) echo "promote: mode must be commit or pull-request, not '$MODE'." >&2; exit 1 ;;
esac
if [ -n "${TRACKING_URI:-}" ]; then export MLFLOW_TRACKING_URI="$TRACKING_URI"; fi
args=(--from "$FROM" --to "$TO")
if [ -n "${DIGEST:-}" ]; then args+=(--digest "$DIGEST"); fi
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
export GIT_AUTHOR_NAME="github-actions[bot]" GIT_COMMITTER_NAME="github-actions[bot]"
export GIT_AUTHOR_EMAIL="41898282+github-actions[bot]@users.noreply.github.com"
export GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
if [ -n "${GITHUB_TOKEN:-}" ]; then
  basic="$(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 -w0)"
  echo "::add-mask::$basic"
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${SERVER_URL:-https://github.com}/.extraheader"
  export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic"
fi

if [ "$MODE" = commit ]; then
  # [skip ci]: a pin is not a change to test, and a push made with an App token must not
  # start CD again.
  git commit --quiet -m "deploy: pin $TO to $model version $version [skip ci]" -- "$file"
  for attempt in 1 2 3; do
    if git push --quiet origin "HEAD:refs/heads/$BASE_BRANCH"; then break; fi
    if [ "$attempt" -eq 3 ]; then echo "promote: could not push to $BASE_BRANCH." >&2; exit 1; fi
    git pull --quiet --rebase origin "$BASE_BRANCH"  # someone pushed first: go on top
  done
  set_output changed true
  set_output commit "$(git rev-parse HEAD)"
  exit 0
fi

branch="promote/$TO"
git switch --quiet -C "$branch"
git commit --quiet -m "Promote $model version $version to $TO" -- "$file"
git push --quiet --force origin "HEAD:refs/heads/$branch"
set_output changed true
set_output commit "$(git rev-parse HEAD)"
label_args=()
while IFS= read -r label; do
  if [ -n "$label" ]; then label_args+=(--label "$label"); fi
done < <(printf '%s\n' "$LABELS" | tr ',' '\n' | sed 's/^ *//; s/ *$//')
python3 "$GITHUB_ACTION_PATH/../open-pr/open_pr.py" --repo "$REPOSITORY" --head "$branch" \
  --base "$BASE_BRANCH" --title "Promote $model version $version to $TO" --body-file "$body" \
  "${label_args[@]}"
