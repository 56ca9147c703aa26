#!/usr/bin/env bash
# Cluster credentials for the kubernetes target, two commands:
#   check       the cloud is one we know and its settings are there (before any login)
#   kubeconfig  after the cloud's login Action: a kubeconfig for $CLUSTER built with the
#               cloud's CLI, in a mode-600 file under RUNNER_TEMP, exported as KUBECONFIG
#               for the deploy step. Its credentials are the login's: short-lived, no secret.
set -euo pipefail

fail() { echo "::error::deploy: $*" >&2; exit 1; }

case "${1:-}" in
  check)
    case "$CLOUD" in
      none) exit 0 ;;
      aws | gcp | azure) ;;
      *) fail "cloud must be none, aws, gcp or azure, not '$CLOUD'." ;;
    esac
    if [ -n "${KUBECONFIG_DATA:-}" ]; then
      fail "cloud $CLOUD logs in by OIDC: pass no kubeconfig (that is the cloud none choice)."
    fi
    missing=()
    [ -n "$CLUSTER" ] || missing+=(cluster)
    [ -n "$LOCATION" ] || missing+=(cluster-location)
    [ -n "$IDENTITY" ] || missing+=(cloud-identity)
    if ((${#missing[@]})); then
      fail "cloud $CLOUD needs the inputs ${missing[*]} (the generated workflows read the" \
        "environment variables CLUSTER_NAME, CLUSTER_LOCATION and CLOUD_IDENTITY)."
    fi
    ;;
  kubeconfig)
    file="$(mktemp "${RUNNER_TEMP:-/tmp}/kubeconfig.XXXXXX")"  # mktemp: mode 600
    case "$CLOUD" in
      aws) aws eks update-kubeconfig --name "$CLUSTER" --region "$LOCATION" --kubeconfig "$file" ;;
      gcp) KUBECONFIG="$file" gcloud container clusters get-credentials "$CLUSTER" \
             --location "$LOCATION" ;;
      azure)
        az aks get-credentials --name "$CLUSTER" --resource-group "$LOCATION" --file "$file" \
          --overwrite-existing
        # AKS with Microsoft Entra ID: kubectl gets its token from the az login above.
        if command -v kubelogin >/dev/null; then
          kubelogin convert-kubeconfig --login azurecli --kubeconfig "$file"
        fi
        ;;
      *) fail "cloud must be aws, gcp or azure here, not '$CLOUD'." ;;
    esac
    grep -q '^apiVersion:' "$file" || fail "the $CLOUD CLI wrote no kubeconfig for $CLUSTER."
    echo "KUBECONFIG=$file" >> "$GITHUB_ENV"
    echo "Cluster credentials for $CLUSTER ($CLOUD, $LOCATION): short-lived, from the OIDC login."
    ;;
  *) fail "cluster_login.sh: say check or kubeconfig." ;;
esac
