#!/usr/bin/env bash
# Installs the S3-compatible server the archive tests run against: s3s-fs (Apache-2.0,
# the s3s project's file-system backend), pinned, built from crates.io into .tools/.
# Why this one: docs/archive.md ("The test server"). Idempotent: a second run with the
# same version does nothing.
set -euo pipefail
VERSION=0.14.1 # the newest that builds with the pinned toolchain's rustc (1.95)
ROOT="$(cd "$(dirname "$0")/../.." && pwd)/.tools"
STAMP="$ROOT/s3s-fs-$VERSION.installed"
if [ -x "$ROOT/bin/s3s-fs" ] && [ -e "$STAMP" ]; then
    exit 0
fi
echo "installing s3s-fs $VERSION into $ROOT (cargo install, a few minutes once)"
cargo install s3s-fs --version "$VERSION" --features binary --locked --root "$ROOT" --quiet
rm -f "$ROOT"/s3s-fs-*.installed
touch "$STAMP"
