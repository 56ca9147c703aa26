#!/usr/bin/env bash
# .venv from the project's lock file: kept as restored from the cache when it works, else
# created with uv (the version the lock pins, its cache restored by setup-uv), every file
# checked against the lock's hashes. Relocatable, so the cached copy works in a job whose
# workspace lies elsewhere (its scripts find their Python relative to themselves). The
# project itself comes after (project.sh): it is not part of the cached environment.
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

if [ ! -f "$LOCK_FILE" ]; then
  echo "setup: $LOCK_FILE not found in $PWD: run the action in the generated project's root." >&2
  exit 1
fi
venv="$PWD/.venv"
if [ "${RESTORED:-}" = "true" ]; then
  if "$venv/bin/python" -c "" 2>/dev/null; then
    echo "setup: .venv restored from the cache for $LOCK_FILE; nothing to install."
    set_output restored true
    exit 0
  fi
  echo "::warning::setup: the cached .venv has no working Python (its interpreter moved?):" \
    "installing it again."
  rm -rf "$venv"
fi
python="${PYTHON:-python3}"
uv venv --quiet --relocatable --allow-existing --python "$python" "$venv"
# Every file checked against the lock's hashes; the build backend comes from the lock too.
uv pip install --quiet --python "$venv/bin/python" --require-hashes --requirements "$LOCK_FILE"
set_output restored false
