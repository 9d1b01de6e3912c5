#!/usr/bin/env bash
# `make image`: build memd's container image with podman, without a Docker engine or an
# image registry (as on this project's machines and CI).
#
#   bash deploy/container/build.sh WHEEL_DIR [TAG]
#
# 1. Installs Debian's podman, buildah and mmdebstrap if they are missing (root, apt).
# 2. Builds the base image once: a minimal Debian bookworm root filesystem with its
#    python3 (3.11) and venv, made by mmdebstrap from Debian's packages and imported as
#    localhost/memd-base:bookworm. Users building for themselves keep the Containerfile's
#    default, the official python:3.11-slim-bookworm image.
# 3. Builds deploy/container/Containerfile with `podman build --isolation=chroot` on that
#    base, from the memd-daemon wheel already in WHEEL_DIR (WHEEL_FROM=prebuilt), so the
#    Rust core is compiled once per run, by maturin, outside the image.
# 4. Prints the image's size, the base's, and the difference (the issue's target: at most
#    150 MB over the base).
#
# The host's CA bundle is mounted for the build's pip only (this network intercepts TLS);
# it does not stay in the image. Set MEMD_IMAGE_REBUILD_BASE=1 to rebuild the base.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
wheels=$(cd "${1:?usage: build.sh WHEEL_DIR [TAG]}" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/rust_core/Cargo.toml" | head -1)
tag=${2:-localhost/memd:$version}
base=localhost/memd-base:bookworm
ca=/etc/ssl/certs/ca-certificates.crt

need=()
for tool in podman buildah mmdebstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if (( ${#need[@]} )); then
    echo "build.sh: installing ${need[*]} from Debian" >&2
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends podman buildah mmdebstrap uidmap >/dev/null
fi

if [[ ${MEMD_IMAGE_REBUILD_BASE:-} == 1 ]] || ! podman image exists "$base"; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "build.sh: building $base with mmdebstrap (Debian bookworm, python3)" >&2
    # Documentation, man pages and locales are left out: nothing in a daemon reads them.
    mmdebstrap --quiet --variant=minbase --mode=root \
        --include=python3,python3-venv,ca-certificates \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
        bookworm "$tmp/base.tar" http://deb.debian.org/debian
    podman import --quiet --change 'CMD ["python3"]' "$tmp/base.tar" "$base" >/dev/null
fi

shopt -s nullglob
found=("$wheels"/memd_daemon-*.whl)
if (( ${#found[@]} != 1 )); then
    echo "build.sh: want one memd_daemon wheel in $wheels (make wheels)" >&2
    exit 1
fi

cert_args=()
if [[ -r $ca ]]; then
    cert_args=(--volume "$ca:/run/build-ca.crt:ro" --build-arg PIP_CERT=/run/build-ca.crt)
fi
podman build --quiet --isolation=chroot --network host --format docker \
    --file "$repo/deploy/container/Containerfile" \
    --build-arg BASE_IMAGE="$base" --build-arg WHEEL_FROM=prebuilt \
    --build-arg VERSION="$version" --build-context wheels="$wheels" \
    "${cert_args[@]}" --tag "$tag" "$repo" >/dev/null
podman image prune --force >/dev/null  # the build's intermediate stages

size=$(podman image inspect --format '{{.Size}}' "$tag")
base_size=$(podman image inspect --format '{{.Size}}' "$base")
python3 - "$tag" "$size" "$base" "$base_size" <<'PY'
import sys
tag, size, base, base_size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
mb = 1e6
print(f"build.sh: {tag}: {size / mb:.1f} MB uncompressed; base {base}: {base_size / mb:.1f} MB;"
      f" memd adds {(size - base_size) / mb:.1f} MB")
PY
