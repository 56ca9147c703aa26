#!/usr/bin/env bash
# Create .venv from the project's lock file with uv (the version the lock pins, its cache
# restored by setup-uv), every file checked against the lock's hashes,
# install the project itself without dependencies (the lock pins them all), and put
# .venv/bin on PATH for the job's later steps.
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

if [ ! -f "$LOCK_FILE" ]; then
  echo "setup: $LOCK_FILE not found in $PWD: run the action in the generated project's root." >&2
  exit 1
fi
python="${PYTHON:-python3}"
venv="$PWD/.venv"
uv venv --quiet --allow-existing --python "$python" "$venv"
# Every file checked against the lock's hashes; the build backend comes from the lock too.
uv pip install --quiet --python "$venv/bin/python" --require-hashes --requirements "$LOCK_FILE"
uv pip install --quiet --python "$venv/bin/python" --no-deps --no-build-isolation --editable .

echo "$venv/bin" >> "$GITHUB_PATH"
echo "VIRTUAL_ENV=$venv" >> "$GITHUB_ENV"
set_output python "$venv/bin/python"
printf '## Environment\n\n`%s` from `%s` (%s).\n\n' ".venv" "$LOCK_FILE" \
  "$("$venv/bin/python" --version)" >> "$GITHUB_STEP_SUMMARY"
