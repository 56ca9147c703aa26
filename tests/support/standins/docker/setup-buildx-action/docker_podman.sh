#!/usr/bin/env bash
# `docker` on this machine: `docker buildx build ...` (what the build-image Action calls) run
# by podman, the builder here. It translates the flags the Action uses and writes buildx's
# --metadata-file. --load keeps the image in podman's store (digest: the image id, as buildx
# reports for drivers without a manifest). --push needs a `docker login` to the image's
# registry first (the login-action stand-in records it) and pushes each tag into the local
# registry folder STANDIN_REGISTRY (there is no registry here); the digest is the pushed
# manifest's. Anything else fails loudly.
set -euo pipefail

if [ "${1:-}" != "buildx" ] || [ "${2:-}" != "build" ]; then
  echo "docker_podman: only 'docker buildx build' is supported, got: $*" >&2
  exit 2
fi
shift 2
args=(build --isolation chroot --format docker)
metadata="" context="" push=false tags=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --tag) tags+=("$2"); args+=("$1" "$2"); shift 2 ;;
    --file | --label | --build-arg) args+=("$1" "$2"); shift 2 ;;
    --metadata-file) metadata="$2"; shift 2 ;;
    --load) shift ;;  # podman keeps what it builds in its local store
    --push) push=true; shift ;;
    -*) echo "docker_podman: unsupported flag $1" >&2; exit 2 ;;
    *) context="$1"; shift ;;
  esac
done
if [ "$push" = true ]; then
  for tag in "${tags[@]}"; do
    registry="${tag%%/*}"
    if [ ! -f "${STANDIN_DOCKER_LOGINS:-/nonexistent}/$registry" ]; then
      echo "ERROR: failed to push $tag: unauthorized: not logged in to $registry" >&2
      exit 1
    fi
  done
fi
iidfile="$(mktemp)"
podman "${args[@]}" --iidfile "$iidfile" "${context:?no build context given}"
key="containerimage.config.digest" digest="$(cat "$iidfile")"
if [ "$push" = true ]; then
  key="containerimage.digest"
  mkdir -p "${STANDIN_REGISTRY:?STANDIN_REGISTRY (the local registry folder) is not set}"
  for tag in "${tags[@]}"; do
    folder="$STANDIN_REGISTRY/${tag//[\/:]/_}"
    rm -rf "$folder"
    podman push --quiet --digestfile "$iidfile" "$tag" "dir:$folder"
    digest="$(cat "$iidfile")"
  done
fi
if [ -n "$metadata" ]; then
  printf '{"%s": "%s"}\n' "$key" "$digest" > "$metadata"
fi
