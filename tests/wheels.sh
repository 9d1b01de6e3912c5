#!/usr/bin/env bash
# What `pip install` of the two wheels gives a user: installs dist/memd_daemon-*.whl and
# dist/memd_client-*.whl into a new venv outside the source tree (cwd elsewhere, no
# PYTHONPATH), runs `memd serve` from it and the client against it: store, retrieve and
# search one memory over a Unix socket.
#
#   bash tests/wheels.sh [DIST_DIR]     (make wheel-test builds the wheels first)
set -euo pipefail
dist=$(cd "${1:-$(dirname "$0")/../dist}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/memd-wheels.XXXXXX")
pid=
cleanup() {
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
unset PYTHONPATH VIRTUAL_ENV PYTHONHOME
cd "$work"

shopt -s nullglob
daemon=("$dist"/memd_daemon-*.whl)
client=("$dist"/memd_client-*.whl)
if (( ${#daemon[@]} != 1 || ${#client[@]} != 1 )); then
    echo "wheels.sh: want one memd_daemon and one memd_client wheel in $dist" >&2
    ls -l "$dist" >&2
    exit 1
fi
python3 -m venv venv
venv/bin/pip install -q --disable-pip-version-check "${daemon[0]}" "${client[0]}"

venv/bin/memd serve --data-dir data --listen "unix://$work/memd.sock" \
    --metrics-listen 127.0.0.1:0 2> serve.log &
pid=$!

venv/bin/python - "$work" <<'EOF'
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import memd
import memd_client
from memd_client import Client

work = Path(sys.argv[1])
for module in (memd, memd_client):  # from the wheels, not a source tree
    assert Path(module.__file__).is_relative_to(work / "venv"), module.__file__
assert version("memd-daemon") == version("memd-client"), (
    version("memd-daemon"), version("memd-client"))

sock = work / "memd.sock"
deadline = time.monotonic() + 30
while not sock.exists():
    assert time.monotonic() < deadline, (work / "serve.log").read_text()
    time.sleep(0.1)
with Client(f"unix://{sock}") as client:
    client.store("wheels:test", [{"key": "tea", "text": "the user likes green tea"}])
    assert client.get("wheels:test", ["tea"])["tea"].text == "the user likes green tea"
    assert [hit.memory.key for hit in client.search("wheels:test", "tea")] == ["tea"]
cli = subprocess.run([work / "venv/bin/memd", "--version"], capture_output=True, text=True)
assert version("memd-daemon") in cli.stdout, (cli.stdout, cli.stderr)
print(f"wheels.sh: memd-daemon {version('memd-daemon')} and memd-client serve and answer")
EOF

