#!/usr/bin/env bash
# Build the image with docker buildx, labelled with the commit and the model version;
# push it only when asked (else load it into the local image store); output its digest.
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

name="${IMAGE,,}"  # registries want lower-case names; github.repository may not be
metadata="$(mktemp)"
args=(buildx build --file "$DOCKERFILE" --metadata-file "$metadata"
  --label "org.opencontainers.image.revision=$REVISION"
  --label "org.opencontainers.image.source=$SOURCE"
  --label "org.opencontainers.image.version=${MODEL_VERSION:-unregistered}"
  --label "mlops.model.version=${MODEL_VERSION:-unregistered}")
refs=()
while IFS= read -r tag; do
  if [ -n "$tag" ]; then refs+=("$name:$tag"); args+=(--tag "$name:$tag"); fi
done < <(printf '%s\n' "$TAGS" | tr -s ', ' '\n')
if [ "${#refs[@]}" -eq 0 ]; then
  echo "build-image: no tags given: set the tags input (e.g. the commit SHA)." >&2
  exit 1
fi
while IFS= read -r build_arg; do
  if [ -n "$build_arg" ]; then args+=(--build-arg "$build_arg"); fi
done <<< "$BUILD_ARGS"
if [ "$PUSH" = "true" ]; then args+=(--push); else args+=(--load); fi

docker "${args[@]}" "$CONTEXT"

# buildx writes the manifest digest; a --load build on some drivers only the config's.
digest="$(python3 -c '
import json, sys
meta = json.load(open(sys.argv[1]))
print(meta.get("containerimage.digest") or meta.get("containerimage.config.digest") or "")
' "$metadata")"
if [ -z "$digest" ]; then
  echo "build-image: docker buildx wrote no image digest to its metadata file." >&2
  exit 1
fi
set_output digest "$digest"
set_output image "$name@$digest"
set_output tags "${refs[*]}"
{
  printf '## Image\n\n| | |\n|---|---|\n'
  printf '| image | `%s` |\n| digest | `%s` |\n| tags | %s |\n' "$name" "$digest" "${refs[*]}"
  printf '| pushed | %s |\n| commit | `%s` |\n' "$PUSH" "$REVISION"
  printf '| model version | %s |\n\n' "${MODEL_VERSION:-unregistered}"
} >> "$GITHUB_STEP_SUMMARY"
