#!/usr/bin/env bash
# Generates the Go protobuf and gRPC code for proto/memd/v1 into clients/go/gen.
#
#   ./generate.sh           regenerate gen/ (commit the result)
#   ./generate.sh --check   regenerate into a temp dir and fail if gen/ differs (CI)
#
# Needs only Go: buf (the compiler driving the plugins, no protoc) and the two plugins
# are run at pinned versions with `go run pkg@version`, fetched from the Go module
# proxy and cached in the Go build cache. Output depends only on proto/ and these pins.
set -euo pipefail

BUF_VERSION=v1.75.0
# protoc-gen-go and protoc-gen-go-grpc are pinned in buf.gen.yaml (v1.36.6, v1.5.1),
# matching google.golang.org/protobuf in go.mod and grpc's SupportPackageIsVersion9.

HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"

gen() { # gen OUT_DIR: regenerate into OUT_DIR (replaced)
    local out="$1" work
    work="$(mktemp -d)"
    # buf resolves the template's relative paths (the ../../proto input) from the cwd.
    go run "github.com/bufbuild/buf/cmd/buf@${BUF_VERSION}" \
        generate --template buf.gen.yaml -o "$work"
    rm -rf "$out"
    mkdir -p "$(dirname "$out")"
    mv "$work/gen" "$out"
    rm -rf "$work"
}

case "${1:-}" in
    "")
        gen "$HERE/gen"
        echo "generated $HERE/gen"
        ;;
    --check)
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        gen "$tmp/gen"
        diff -r "$HERE/gen" "$tmp/gen"
        echo "clients/go/gen matches proto/"
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac
