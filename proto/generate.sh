#!/usr/bin/env bash
# Generates the Python code for proto/memd/v1 into OUT_DIR (default memd/_pb).
#
# protoc derives Python imports from proto import paths, so memory_service.proto's
# `import "memd/v1/memory.proto"` would become `from memd.v1 import memory_pb2`, which
# names our own `memd` package. We keep the canonical proto paths (other languages and
# reflection need them) and rewrite that one import prefix to `memd._pb.v1` instead.
# Output depends only on the .proto files and the pinned grpcio-tools version, so
# `make proto-check` can regenerate into a temp dir and diff.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
OUT="${1:-$ROOT/memd/_pb}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"  # absolute: we cd into proto/ below

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$ROOT/proto"
"$PY" -m grpc_tools.protoc -I . \
    --python_out="$work" --pyi_out="$work" --grpc_python_out="$work" \
    memd/v1/*.proto

mkdir -p "$OUT/v1"
rm -f "$OUT"/v1/*_pb2*.py "$OUT"/v1/*_pb2*.pyi
for f in "$work"/memd/v1/*; do
    sed -e 's/^from memd\.v1 import /from memd._pb.v1 import /' "$f" >"$OUT/v1/$(basename "$f")"
done
printf '"""Generated protobuf and gRPC code for memd.v1 (make proto). Do not edit."""\n' \
    >"$OUT/__init__.py"
printf '"""memd.v1 messages and service stubs, generated from proto/memd/v1."""\n' \
    >"$OUT/v1/__init__.py"
