#!/usr/bin/env bash
# A `docker` for tests: runs `docker buildx build ...` (what the build-image Action calls)
# with podman, the builder this machine has. It translates the flags the Action uses and
# writes buildx's --metadata-file with the image id as `containerimage.config.digest`,
# which is what buildx reports for a --load build on drivers without a manifest digest.
# Anything else (push included: there is no registry here) fails loudly.
set -euo pipefail

if [ "${1:-}" != "buildx" ] || [ "${2:-}" != "build" ]; then
  echo "docker_podman: only 'docker buildx build' is supported, got: $*" >&2
  exit 2
fi
shift 2
args=(build --isolation chroot --format docker)
metadata=""
context=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --file | --tag | --label | --build-arg) args+=("$1" "$2"); shift 2 ;;
    --metadata-file) metadata="$2"; shift 2 ;;
    --load) shift ;;  # podman keeps what it builds in its local store
    --push) echo "docker_podman: no registry here, cannot --push" >&2; exit 2 ;;
    -*) echo "docker_podman: unsupported flag $1" >&2; exit 2 ;;
    *) context="$1"; shift ;;
  esac
done
iidfile="$(mktemp)"
podman "${args[@]}" --iidfile "$iidfile" "${context:?no build context given}"
if [ -n "$metadata" ]; then
  printf '{"containerimage.config.digest": "%s"}\n' "$(cat "$iidfile")" > "$metadata"
fi
