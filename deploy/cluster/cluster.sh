#!/usr/bin/env bash
# A memd cluster on loopback, for development and tests: three nats-server processes
# forming one JetStream cluster, and three memd nodes joined to it.
#
#   cluster.sh up              start everything (installs nats-server if missing); waits
#                              until every memd node is SERVING
#   cluster.sh down            stop everything this script started (pid files)
#   cluster.sh status          which processes run
#   cluster.sh node-up N       (re)start memd node N (1-4; `up` starts 1-3, a fourth
#                              node joins later), e.g. after kill -9
#   cluster.sh node-down N     stop memd node N gracefully (SIGTERM: it hands its
#                              partitions over, then exits)
#   cluster.sh nats-up N       (re)start NATS server N (1-3)
#
# Environment: CLUSTER_DIR (state, logs, pid files; default target/cluster),
# CLUSTER_PORT_BASE (default 14200: NATS clients on +1..+3, NATS routes +11..+13,
# memd gRPC +21..+24, memd metrics +31..+34), CLUSTER_LEASE_S (3), CLUSTER_PARTITIONS
# (16), MEMD (the memd executable; default .venv/bin/memd), MEMD_ARGS (more flags).
# Only processes whose pid this script recorded are ever signalled.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${CLUSTER_DIR:-$ROOT/target/cluster}"
BASE="${CLUSTER_PORT_BASE:-14200}"
LEASE="${CLUSTER_LEASE_S:-3}"
PARTITIONS="${CLUSTER_PARTITIONS:-16}"
MEMD="${MEMD:-$ROOT/.venv/bin/memd}"
NATS="${NATS_SERVER:-$ROOT/target/tools/nats-server}"
mkdir -p "$DIR"

nats_urls() {
    echo "nats://127.0.0.1:$((BASE + 1)),nats://127.0.0.1:$((BASE + 2)),nats://127.0.0.1:$((BASE + 3))"
}

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

nats_up() {
    local n=$1 pidfile="$DIR/nats-$1.pid"
    if running "$pidfile"; then return; fi
    local routes="nats://127.0.0.1:$((BASE + 11)),nats://127.0.0.1:$((BASE + 12)),nats://127.0.0.1:$((BASE + 13))"
    "$NATS" -a 127.0.0.1 -p $((BASE + n)) -n "nats-$n" -js -sd "$DIR/nats-$n" \
        --cluster_name memd --cluster "nats://127.0.0.1:$((BASE + 10 + n))" --routes "$routes" \
        >>"$DIR/nats-$n.log" 2>&1 &
    echo $! >"$pidfile"
}

node_up() {
    local n=$1 pidfile="$DIR/memd-$1.pid"
    if running "$pidfile"; then return; fi
    # shellcheck disable=SC2086  # MEMD_ARGS is a list of flags
    "$MEMD" serve --listen "127.0.0.1:$((BASE + 20 + n))" --data-dir "$DIR/memd-$n" \
        --metrics-listen "127.0.0.1:$((BASE + 30 + n))" --embed-backend none \
        --cluster "$(nats_urls)" --cluster-node-id "memd-$n" \
        --cluster-lease-s "$LEASE" --cluster-partitions "$PARTITIONS" ${MEMD_ARGS:-} \
        >>"$DIR/memd-$n.log" 2>&1 &
    echo $! >"$pidfile"
}

wait_serving() {
    local n=$1 deadline=$((SECONDS + 90))
    until "$MEMD" health --target "127.0.0.1:$((BASE + 20 + n))" --timeout 1 >/dev/null 2>&1; do
        if ! running "$DIR/memd-$n.pid"; then
            echo "memd node $n exited; see $DIR/memd-$n.log" >&2
            tail -5 "$DIR/memd-$n.log" >&2
            return 1
        fi
        if ((SECONDS > deadline)); then
            echo "memd node $n not serving after 90 s; see $DIR/memd-$n.log" >&2
            return 1
        fi
        sleep 0.2
    done
}

stop_pid() {
    local pidfile=$1
    if running "$pidfile"; then
        local pid
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
    up)
        [[ -x "$NATS" ]] || bash "$ROOT/deploy/cluster/install-nats.sh" "$(dirname "$NATS")"
        for n in 1 2 3; do nats_up "$n"; done
        for n in 1 2 3; do node_up "$n"; done
        for n in 1 2 3; do wait_serving "$n"; done
        echo "memd cluster up: gRPC 127.0.0.1:$((BASE + 21)),$((BASE + 22)),$((BASE + 23)); NATS $(nats_urls)"
        ;;
    down)
        # All memd nodes at once (each hands its partitions over and drains its RPCs:
        # one at a time, that took seconds each), then the NATS servers.
        for n in 1 2 3 4; do
            if running "$DIR/memd-$n.pid"; then kill -TERM "$(cat "$DIR/memd-$n.pid")" 2>/dev/null || true; fi
        done
        for n in 1 2 3 4; do stop_pid "$DIR/memd-$n.pid"; done
        for n in 1 2 3; do stop_pid "$DIR/nats-$n.pid"; done
        echo "memd cluster down"
        ;;
    status)
        for name in memd-1 memd-2 memd-3 memd-4 nats-1 nats-2 nats-3; do
            if running "$DIR/$name.pid"; then echo "$name running (pid $(cat "$DIR/$name.pid"))"
            else echo "$name stopped"; fi
        done
        ;;
    node-up) node_up "$2" && wait_serving "$2" ;;
    node-down) stop_pid "$DIR/memd-$2.pid" ;;
    nats-up) nats_up "$2" ;;
    *)
        sed -n '2,19p' "$0" >&2
        exit 2
        ;;
esac
