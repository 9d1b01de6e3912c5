#!/usr/bin/env bash
# Installs nats-server, pinned, from its Go module into target/tools (or $1): the NATS
# JetStream cluster that memd's cluster mode runs on, for development and tests.
# Built with cgo off: a static binary needing nothing from the host but Go itself.
set -euo pipefail

VERSION="${NATS_SERVER_VERSION:-v2.15.2}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TOOLS="${1:-$ROOT/target/tools}"
mkdir -p "$TOOLS"
TOOLS="$(cd "$TOOLS" && pwd)"
if [[ -x "$TOOLS/nats-server" ]] && go version -m "$TOOLS/nats-server" | grep -q "mod[[:space:]]*github.com/nats-io/nats-server/v2[[:space:]]*${VERSION}[[:space:]]"; then
    echo "nats-server ${VERSION} already in $TOOLS"
    exit 0
fi
echo "installing nats-server ${VERSION} into $TOOLS"
GOBIN="$TOOLS" CGO_ENABLED=0 go install "github.com/nats-io/nats-server/v2@${VERSION}"
