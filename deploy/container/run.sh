#!/usr/bin/env bash
# Run a command in a working container of memd's image, as `podman run` would, on a
# machine where only `buildah run --isolation=chroot` works (no OCI runtime can set up
# namespaces here): the tests' way to start the daemon from the image.
#
#   bash deploy/container/run.sh [BUILDAH_RUN_OPTION ...] CONTAINER -- COMMAND [ARG ...]
#
# The arguments are buildah run's; CONTAINER is a name from `buildah from
# localhost/memd:VERSION`. The command shares
# the host's network (--network host). SIGTERM and SIGINT are passed on to the command
# itself: buildah answers them by killing its child, which would skip memd's drain.
# The exit code is the command's.
set -uo pipefail
(( $# )) || { echo "usage: run.sh [OPTION ...] CONTAINER -- COMMAND [ARG ...]" >&2; exit 2; }
buildah run --isolation=chroot --network host "$@" &
runner=$!

# The command is the deepest process under buildah (buildah-chroot-runtime and
# buildah-chroot-exec sit between them, all in this PID namespace).
leaf() {
    local pid=$1 child
    while child=$(pgrep -P "$pid" | head -1) && [[ -n $child ]]; do pid=$child; done
    echo "$pid"
}
forward() {
    local pid
    pid=$(leaf "$runner")
    if [[ $pid != "$runner" ]]; then kill -s "$1" "$pid" 2>/dev/null; else kill -s "$1" "$runner"; fi
}
trap 'forward TERM' TERM
trap 'forward INT' INT

# `wait` returns early when a trapped signal arrives; wait again until buildah is gone.
while :; do
    wait "$runner"
    code=$?
    kill -0 "$runner" 2>/dev/null || exit "$code"
done
