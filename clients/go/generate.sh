#!/usr/bin/env bash
# Generates the Go protobuf and gRPC code for proto/memd/v1 into clients/go/gen.
#
#   ./generate.sh           regenerate gen/ (commit the result)
#   ./generate.sh --check   regenerate into a temp dir and fail if gen/ differs (CI)
#
# Needs only Go: buf and the two plugins run at pinned versions with `go run
# pkg@version` (see ../buf-generate.sh). protoc-gen-go and protoc-gen-go-grpc are pinned
# in buf.gen.yaml (v1.36.6, v1.5.1), matching google.golang.org/protobuf in go.mod and
# grpc's SupportPackageIsVersion9.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
exec bash "$HERE/../buf-generate.sh" "$HERE" "$@"
