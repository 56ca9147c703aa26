# shellcheck shell=bash
# Helpers the Actions' step scripts source: step outputs, report fields and the job summary.
# (Python scripts write outputs with github_api.write_outputs.)

# set_output NAME VALUE: one single-line step output.
set_output() {
  printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"
}

# json_field FILE KEY: one top-level value of a JSON report (empty for null).
json_field() {
  python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))[sys.argv[2]]
print("" if value is None else value)' "$1" "$2"
}

# summarize FILE TITLE: append a Markdown report to the job summary, or say it is missing.
summarize() {
  if [ -s "$1" ]; then
    { cat "$1"; echo; } >> "$GITHUB_STEP_SUMMARY"
  else
    printf '## %s\n\n`%s` was not written: see the step log.\n\n' "$2" "$1" >> "$GITHUB_STEP_SUMMARY"
  fi
}
