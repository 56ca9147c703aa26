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

# run_verdict VERB FOUND OUTPUT TITLE [ARG...]: run a verb whose exit status is a verdict: 0
# (nothing found) or FOUND (found) set the step output OUTPUT to false or true, and its
# reports/VERB.md goes to the job summary; any other status is an error, whose message goes
# there instead (no verdict, so nothing downstream acts), and is returned.
run_verdict() {
  local verb="$1" found="$2" output="$3" title="$4" errors status=0
  shift 4
  errors="$(mktemp)"
  python -m "$PACKAGE" "$verb" "$@" 2> "$errors" || status=$?
  cat "$errors" >&2
  set_output report "reports/$verb.json"
  case "$status" in
    0) set_output "$output" false ;;
    "$found") set_output "$output" true ;;
    *)
      { printf '## %s: the job could not run\n\n```\n' "$title"; cat "$errors"; printf '```\n\n'; } \
        >> "$GITHUB_STEP_SUMMARY"
      return "$status"
      ;;
  esac
  summarize "reports/$verb.md" "$title"
}
