#!/usr/bin/env bash
# Generates the TypeScript protobuf and gRPC code for proto/memd/v1 into gen/.
#
#   ./generate.sh           regenerate gen/ (commit the result)      = npm run generate
#   ./generate.sh --check   regenerate into a temp dir, fail if gen/ differs (CI)
#                                                                     = npm run generate:check
#
# Needs Go (buf, run by ../buf-generate.sh) and `npm ci` (ts-proto's
# protoc-gen-ts_proto, pinned in package-lock.json).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
if [[ ! -x "$HERE/node_modules/.bin/protoc-gen-ts_proto" ]]; then
    echo "node_modules/.bin/protoc-gen-ts_proto missing: run \`npm ci\` first" >&2
    exit 1
fi
exec bash "$HERE/../buf-generate.sh" "$HERE" "$@"
