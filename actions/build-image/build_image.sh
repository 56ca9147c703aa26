#!/usr/bin/env bash
# Build the image with docker buildx, labelled with the commit and the model version;
# push it only when asked (else load it into the local image store); output its digest.
set -euo pipefail
# shellcheck source=../_lib/steps.sh
. "$GITHUB_ACTION_PATH/../_lib/steps.sh"

name="${IMAGE,,}"  # registries want lower-case names; github.repository may not be

# The project's `build-image --no-build` verb exported the model to bake in and wrote the
# Dockerfile's build args (MODEL_NAME, MODEL_VERSION, ...) to this report: use them.
report_args=()
if [ -f "$IMAGE_REPORT" ]; then
  while IFS= read -r arg; do report_args+=("$arg"); done < <(python3 -c '
import json, sys
for name, value in json.load(open(sys.argv[1])).get("build_args", {}).items():
    print(f"{name}={value}")
' "$IMAGE_REPORT")
fi
# The SBOM the verb wrote beside the model (copied into the image with it).
sbom=""
if [ -f "$IMAGE_REPORT" ]; then
  sbom="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("sbom", ""))' \
    "$IMAGE_REPORT")"
fi
if [ -n "$sbom" ] && [ -f "$sbom" ]; then
  set_output sbom "$sbom"
else
  echo "::warning::build-image: no SBOM in $IMAGE_REPORT: run the project's build-image --no-build first."
fi
version="${MODEL_VERSION:-}"
for arg in "${report_args[@]}"; do
  if [ -z "$version" ] && [ "${arg%%=*}" = MODEL_VERSION ]; then version="${arg#*=}"; fi
done
version="${version:-unregistered}"

metadata="$(mktemp)"
args=(buildx build --file "$DOCKERFILE" --metadata-file "$metadata"
  --label "org.opencontainers.image.revision=$REVISION"
  --label "org.opencontainers.image.source=$SOURCE"
  --label "org.opencontainers.image.version=$version"
  --label "ai.mlops.model.version=$version")
for arg in "${report_args[@]}"; do args+=(--build-arg "$arg"); done
args+=(--build-arg "REVISION=$REVISION" --build-arg "SOURCE=$SOURCE"
  --build-arg "MODEL_VERSION=$version")
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

# buildx writes the manifest digest: what a registry serves, so `name@digest` pulls it. A
# --load build on some drivers writes only the image config's digest, the local image id:
# no registry knows it, so it never becomes the `image` reference; it is `image-id` alone.
read -r digest image_id < <(python3 -c '
import json, sys
meta = json.load(open(sys.argv[1]))
print(meta.get("containerimage.digest") or "-", meta.get("containerimage.config.digest") or "-")
' "$metadata")
digest="${digest#-}" image_id="${image_id#-}"
if [ -z "$digest" ] && { [ "$PUSH" = "true" ] || [ -z "$image_id" ]; }; then
  echo "build-image: docker buildx wrote no manifest digest to its metadata file, so there is" \
    "no reference a registry can serve." >&2
  exit 1
fi
set_output digest "$digest"
set_output image "${digest:+$name@$digest}"
set_output image-id "$image_id"
set_output tags "${refs[*]}"
{
  printf '## Image\n\n| | |\n|---|---|\n'
  printf '| image | `%s` |\n| digest | `%s` |\n| image id | `%s` |\n| tags | %s |\n' \
    "$name" "${digest:-none: a local build}" "${image_id:--}" "${refs[*]}"
  printf '| pushed | %s |\n| commit | `%s` |\n' "$PUSH" "$REVISION"
  printf '| model version | %s |\n\n' "$version"
} >> "$GITHUB_STEP_SUMMARY"
