#!/usr/bin/env bash
# Installs the gRPC load-test tools used by bench/grpc/run.py.
#
# ghz is a Go program; it is built from the Go module proxy with cgo off so the
# binary is static and needs nothing from the host but Go itself. The version is
# pinned: latency figures are only comparable across runs of the same ghz.
set -euo pipefail

GHZ_VERSION="${GHZ_VERSION:-v0.121.0}"
GOBIN="$(go env GOPATH)/bin"

# `ghz --version` says "dev" for go-installed builds; the module version is in the binary.
if [[ -x "$GOBIN/ghz" ]] && go version -m "$GOBIN/ghz" | grep -q "mod.*github.com/bojand/ghz.*${GHZ_VERSION}"; then
    echo "ghz ${GHZ_VERSION} already in $GOBIN"
else
    echo "installing ghz ${GHZ_VERSION} into $GOBIN"
    CGO_ENABLED=0 go install "github.com/bojand/ghz/cmd/ghz@${GHZ_VERSION}"
fi
go version -m "$GOBIN/ghz" | sed -n 3p
command -v taskset >/dev/null || echo "warning: taskset not found (util-linux); pinned runs will be skipped" >&2
