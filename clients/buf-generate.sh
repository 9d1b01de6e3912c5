#!/usr/bin/env bash
# Shared by every client's generate.sh: runs buf (the compiler driving the plugins; no
# protoc) with CLIENT_DIR/buf.gen.yaml to regenerate CLIENT_DIR/gen from proto/memd/v1.
#
#   buf-generate.sh CLIENT_DIR           regenerate CLIENT_DIR/gen (commit the result)
#   buf-generate.sh CLIENT_DIR --check   regenerate into a temp dir, fail if gen/ differs
#
# buf runs at a pinned version with `go run pkg@version` (Go module proxy, cached in the
# Go build cache), so the output depends only on proto/, this pin and the plugin pins.
set -euo pipefail

BUF_VERSION=v1.75.0

CLIENT="$(cd "${1:?usage: $0 CLIENT_DIR [--check]}" && pwd)"
NAME="clients/$(basename "$CLIENT")"
cd "$CLIENT"

gen() { # gen OUT_DIR: regenerate into OUT_DIR (replaced)
    local out="$1" work
    work="$(mktemp -d)"
    # buf resolves the template's relative paths (../../proto, local plugins) from the cwd.
    go run "github.com/bufbuild/buf/cmd/buf@${BUF_VERSION}" \
        generate --template buf.gen.yaml -o "$work"
    rm -rf "$out"
    mkdir -p "$(dirname "$out")"
    mv "$work/gen" "$out"
    rm -rf "$work"
}

case "${2:-}" in
    "")
        gen "$CLIENT/gen"
        echo "generated $NAME/gen"
        ;;
    --check)
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        gen "$tmp/gen"
        diff -r "$CLIENT/gen" "$tmp/gen"
        echo "$NAME/gen matches proto/"
        ;;
    *)
        echo "usage: $0 CLIENT_DIR [--check]" >&2
        exit 2
        ;;
esac
