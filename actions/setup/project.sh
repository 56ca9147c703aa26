#!/usr/bin/env bash
# Install the project into .venv without dependencies (the lock pins them all), editable,
# and put .venv/bin on PATH for the job's later steps.
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

venv="$PWD/.venv"
uv pip install --quiet --python "$venv/bin/python" --no-deps --no-build-isolation --editable .

echo "$venv/bin" >> "$GITHUB_PATH"
echo "VIRTUAL_ENV=$venv" >> "$GITHUB_ENV"
set_output python "$venv/bin/python"
how="installed from"
if [ "${RESTORED:-}" = "true" ]; then how="restored from the cache, for"; fi
printf '## Environment\n\n`%s` %s `%s` (%s).\n\n' ".venv" "$how" "$LOCK_FILE" \
  "$("$venv/bin/python" --version)" >> "$GITHUB_STEP_SUMMARY"
