#!/usr/bin/env bash
# Installs the gRPC command-line tools, pinned: grpcurl (calls the daemon by hand, as in
# the README) and ghz (the load generator of bench/grpc/run.py). `make tools` runs it.
#
# Both are Go programs built from the Go module proxy with cgo off, so the binaries are
# static and need nothing from the host but Go itself. The versions are pinned: ghz
# latency figures are only comparable across runs of the same ghz.
set -euo pipefail

GHZ_VERSION="${GHZ_VERSION:-v0.121.0}"
GRPCURL_VERSION="${GRPCURL_VERSION:-v1.9.4}"
GOBIN="$(go env GOPATH)/bin"

# install NAME PACKAGE VERSION: go install PACKAGE@VERSION unless GOBIN/NAME is that build.
install() {
    local name=$1 package=$2 version=$3 module
    module=$(cut -d/ -f1-3 <<<"$package")
    # `--version` says "dev" for go-installed builds; the module version is in the binary.
    if [[ -x "$GOBIN/$name" ]] && go version -m "$GOBIN/$name" | grep -q "mod[[:space:]]*${module}[[:space:]]*${version}[[:space:]]"; then
        echo "$name ${version} already in $GOBIN"
    else
        echo "installing $name ${version} into $GOBIN"
        CGO_ENABLED=0 go install "${package}@${version}"
    fi
    go version -m "$GOBIN/$name" | sed -n 3p
}

install ghz github.com/bojand/ghz/cmd/ghz "$GHZ_VERSION"
install grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION"
command -v taskset >/dev/null || echo "warning: taskset not found (util-linux); pinned runs will be skipped" >&2
case ":$PATH:" in
    *":$GOBIN:"*) ;;
    *) echo "note: $GOBIN is not on PATH; add it, or call $GOBIN/grpcurl and $GOBIN/ghz" >&2 ;;
esac
