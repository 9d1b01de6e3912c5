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
# buildah's chroot runtime first copies itself into a sealed memfd (runc's cloned-binary
# guard). Sealing fails with EBUSY while the kernel still holds a transient reference to
# one of the copy's pages, and buildah then exits 1 before the command has started: that,
# and only that, is retried (CI hit it once, 2026-12-02).
err=$(mktemp)
trap 'rm -f "$err"' EXIT
# tee is this shell's child, not buildah's, so leaf() below never mistakes it for the command.
exec {stderr_copy}> >(tee -a "$err" >&2)

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

for attempt in 1 2 3; do
    : >"$err"
    buildah run --isolation=chroot --network host "$@" 2>&"$stderr_copy" &
    runner=$!
    # `wait` returns early when a trapped signal arrives; wait again until buildah is gone.
    while :; do
        wait "$runner"
        code=$?
        kill -0 "$runner" 2>/dev/null || break
    done
    (( code == 0 )) && exit 0
    sleep 0.2  # let tee catch up with buildah's last words
    grep -q 'sealing memfd copy' "$err" || exit "$code"
    echo "run.sh: buildah could not start the command (attempt $attempt), retrying" >&2
done
exit "$code"
