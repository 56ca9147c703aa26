# shellcheck shell=bash
# Helpers the Actions' step scripts source: step outputs and the job summary.

# set_output NAME VALUE: one single-line step output.
set_output() {
  printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"
}

# summarize FILE TITLE: append a Markdown report to the job summary, or say it is missing.
summarize() {
  if [ -s "$1" ]; then
    { cat "$1"; echo; } >> "$GITHUB_STEP_SUMMARY"
  else
    printf '## %s\n\n`%s` was not written: see the step log.\n\n' "$2" "$1" >> "$GITHUB_STEP_SUMMARY"
  fi
}
