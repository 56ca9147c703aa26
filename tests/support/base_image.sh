#!/usr/bin/env bash
# Make a local stand-in for python:3.11-slim, for podman, without a registry.
#
#   bash tests/support/base_image.sh          # ensure localhost/python-base:3.11
#
# Then: podman build --isolation chroot --format docker \
#         --build-arg BASE_IMAGE=localhost/python-base:3.11 ...
#
# Order: image already present -> exit; cached tarball -> podman load;
# otherwise debootstrap Debian bookworm + python3, import, save to the cache.
# Needs root and the Debian packages podman, runc, debootstrap.
#
# Environment:
#   CONTAINERS_CONF       podman's settings (default tests/support/containers.conf)
#   MLOPS_CACHE_DIR       cache directory (default ~/.cache/cookiecutter-mlops-gitops)
#   MLOPS_BASE_IMAGE      image name (default localhost/python-base:3.11)
#   MLOPS_DEBIAN_MIRROR   Debian mirror (default: the one apt uses here)
set -euo pipefail

IMAGE="${MLOPS_BASE_IMAGE:-localhost/python-base:3.11}"
CACHE_DIR="${MLOPS_CACHE_DIR:-$HOME/.cache/cookiecutter-mlops-gitops}"
CACHE_TAR="$CACHE_DIR/python-base-3.11.tar"
SUITE=bookworm
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
START=$SECONDS

log() { printf 'base_image: %s\n' "$*"; }
die() { printf 'base_image: error: %s\n' "$*" >&2; exit 1; }

command -v podman >/dev/null || die "podman missing (apt-get install -y podman runc debootstrap)"

# 1. podman reads the tests' settings, never the machine's (see containers.conf there).
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"

# 2. Already there.
if podman image exists "$IMAGE"; then
    log "$IMAGE already present (nothing to do, $((SECONDS - START))s)"
    exit 0
fi

mkdir -p "$CACHE_DIR"
# Serialise concurrent callers (parallel test runs) on the cache directory.
exec 9>"$CACHE_DIR/.python-base.lock"
flock 9
if podman image exists "$IMAGE"; then
    log "$IMAGE made by a concurrent run ($((SECONDS - START))s)"
    exit 0
fi

# 3. Restore from the cache.
if [[ -s $CACHE_TAR ]]; then
    if podman load -q -i "$CACHE_TAR" >/dev/null && podman image exists "$IMAGE"; then
        log "$IMAGE loaded from cache $CACHE_TAR ($((SECONDS - START))s)"
        exit 0
    fi
    log "cache $CACHE_TAR unusable, rebuilding" >&2
    rm -f "$CACHE_TAR"
fi

# 4. Build from Debian packages.
for tool in debootstrap chroot tar; do
    command -v "$tool" >/dev/null || die "$tool missing (apt-get install -y podman runc debootstrap)"
done

# The Debian mirror apt already uses on this machine (deb822 or one-line format).
debian_mirror() {
    local f line
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        while read -r line; do
            case $line in
                URIs:*/debian | URIs:*/debian/) line=${line#URIs:}; echo "${line// /}"; return ;;
            esac
        done <"$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        line=$(awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }' "$f")
        [[ -n $line ]] && { echo "$line"; return; }
    done
    echo http://deb.debian.org/debian
}
MIRROR="${MLOPS_DEBIAN_MIRROR:-$(debian_mirror)}"
MIRROR="${MIRROR%/}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/python-base.XXXXXX")
ROOTFS="$WORK/rootfs"
trap 'rm -rf "$WORK"' EXIT

debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

{
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    if [[ $MIRROR == */debian ]]; then echo "deb ${MIRROR}-security $SUITE-security main"; fi
} >"$ROOTFS/etc/apt/sources.list"

# Trust the same extra CAs as the host (the egress proxy here re-signs TLS);
# without them pip inside a build cannot reach PyPI.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
    chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1
fi

# Behave like python:3.11-slim: python on /usr/local/bin, pip allowed to
# install outside a venv (Debian marks the system Python PEP 668 managed).
ln -sf /usr/bin/python3 "$ROOTFS/usr/local/bin/python3"
ln -sf /usr/bin/python3 "$ROOTFS/usr/local/bin/python"
ln -sf /usr/bin/pip3 "$ROOTFS/usr/local/bin/pip"
rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
chroot "$ROOTFS" python3 -c 'import venv, ensurepip, ssl' \
    || die "python3 in the rootfs is incomplete"

chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/var/log/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* \
    "$ROOTFS"/tmp/* "$ROOTFS"/root/.cache
find "$ROOTFS"/usr/lib/python3* -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true

tar -C "$ROOTFS" --numeric-owner -c . | podman import -q \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    - "$IMAGE" >/dev/null

# podman save (docker-archive) keeps the ENV/CMD config; podman load restores
# it in a couple of seconds.
podman save -q -o "$CACHE_TAR.tmp" "$IMAGE"
mv -f "$CACHE_TAR.tmp" "$CACHE_TAR"

log "$IMAGE built from $MIRROR ($SUITE) and cached at $CACHE_TAR ($((SECONDS - START))s)"
