#!/usr/bin/env bash
# `make image-test`: the container image built by `make image`, tested two ways:
# - tests/image/: the image as shipped (configuration, user, volume, healthcheck, label);
# - the Python client's conformance tests (tests/clients/) against the daemon started
#   from the image: tests/daemon_launcher.py runs `memd` through deploy/container/run.sh
#   (MEMD_TEST_SERVE_PREFIX) in one working container, with the host's /tmp mounted so
#   the tests' data directories, sockets and certificates are where they put them. It
#   runs as root there, since pytest's temporary directories are private to root.
#
#   bash tests/image.sh IMAGE
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
image=${1:?usage: image.sh IMAGE}
ctr=$(buildah from --pull-never "$image")
trap 'buildah rm "$ctr" >/dev/null' EXIT
cd "$repo"
export MEMD_TEST_IMAGE=$image
.venv/bin/pytest -q -p no:cacheprovider tests/image
MEMD_TEST_SERVE_PREFIX="bash deploy/container/run.sh --user 0:0 --volume /tmp:/tmp $ctr -- memd" \
    .venv/bin/pytest -q -p no:cacheprovider tests/clients
