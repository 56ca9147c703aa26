#!/usr/bin/env bash
# Run a command with no network but loopback, e.g. `make test-fast`:
#
#   bash tests/support/offline.sh python -m pytest -m "not network ..."
#
# The command runs in a new network namespace (only `lo`, brought up), so the machine's
# network is untouched. Root makes the namespace directly, keeping real user ids (tests that
# drop to `nobody` need them); anyone else gets it inside a new user namespace. A test that
# reaches a package index or a mirror fails there: mark it `network`. Where namespaces are
# not allowed (some containers), it says so and runs the command as it is.
set -euo pipefail
unshare=(unshare --net)
[ "$(id -u)" -eq 0 ] || unshare=(unshare --user --map-root-user --net)
if command -v ip >/dev/null && "${unshare[@]}" true 2>/dev/null; then
  exec "${unshare[@]}" bash -c 'ip link set lo up && exec "$@"' offline "$@"
fi
echo "offline.sh: no network namespace here (unshare, ip): running with the network." >&2
exec "$@"
