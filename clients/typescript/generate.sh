#!/usr/bin/env bash
# Generates the TypeScript protobuf and gRPC code for proto/memd/v1 into gen/.
#
#   ./generate.sh           regenerate gen/ (commit the result)      = npm run generate
#   ./generate.sh --check   regenerate into a temp dir, fail if gen/ differs (CI)
#                                                                     = npm run generate:check
#
# Needs Go (buf, the compiler driving the plugin, no protoc: `go run buf@version`, from
# the Go module proxy and cached in the Go build cache) and `npm ci` (ts-proto's
# protoc-gen-ts_proto, pinned in package-lock.json). Output depends only on proto/
# and these pins.
set -euo pipefail

BUF_VERSION=v1.75.0

HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE"

if [[ ! -x node_modules/.bin/protoc-gen-ts_proto ]]; then
    echo "node_modules/.bin/protoc-gen-ts_proto missing: run \`npm ci\` first" >&2
    exit 1
fi

gen() { # gen OUT_DIR: regenerate into OUT_DIR (replaced)
    local out="$1" work
    work="$(mktemp -d)"
    # buf resolves the template's relative paths (../../proto, ./node_modules) from the cwd.
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
        echo "clients/typescript/gen matches proto/"
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac
