"""Operating the daemon: health, reflection, metrics, logs, listeners and configuration."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc

from .daemon import REPO, Daemon, StartDaemon, clean_env, sample

SERVING = health_pb2.HealthCheckResponse.SERVING


def test_health_is_serving_for_the_server_and_the_service(shared_daemon: Daemon) -> None:
    health = health_pb2_grpc.HealthStub(shared_daemon.channel)
    for service in ("", "memd.v1.MemoryService"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == SERVING


def test_reflection_describes_the_api(shared_daemon: Daemon) -> None:
    db = ProtoReflectionDescriptorDatabase(shared_daemon.channel)
    services = set(db.get_services())
    assert {"memd.v1.MemoryService", "grpc.health.v1.Health"} <= services
    pool = descriptor_pool.DescriptorPool(db)
    service = pool.FindServiceByName("memd.v1.MemoryService")
    assert {"Store", "StoreStream", "Retrieve", "Search", "List"} <= set(service.methods_by_name)
    assert pool.FindMessageTypeByName("memd.v1.NewMemory").fields_by_name["embedding"]


def test_reflection_resolves_method_names_like_ghz_asks(shared_daemon: Daemon) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(shared_daemon.channel)
    request = reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="memd.v1.MemoryService.Retrieve"
    )
    [response] = list(stub.ServerReflectionInfo(iter([request])))
    assert response.WhichOneof("message_response") == "file_descriptor_response"


def test_metrics_count_rpcs_items_and_memories(start_daemon: StartDaemon) -> None:
    d = start_daemon("--sweep-interval-s", "0.05")
    # Distinct texts: identical ones would be merged by dedup (on by default).
    items = [mpb.NewMemory(key=f"k{i}", text=f"t{i}") for i in range(30)]
    d.stub.Store(pb.StoreRequest(namespace="m", memories=items))
    d.stub.Store(pb.StoreRequest(namespace="m", memories=items[:10]))
    d.stub.Retrieve(pb.RetrieveRequest(namespace="m", keys=["k1", "k2", "nope"]))
    acks = list(
        d.stub.StoreStream(
            iter(
                [
                    pb.StoreRequest(
                        namespace="m2", memories=[mpb.NewMemory(key=f"s{i}", text=f"s{i}")]
                    )
                    for i in range(4)
                ]
            )
        )
    )
    assert len(acks) == 4
    deadline = time.monotonic() + 30
    while True:  # the sweeper runs in the background; wait until it has run once
        m = d.metrics()
        if sample(m, "memd_scheduler_runs_total", job="ttl_sweep", outcome="ok") or (
            time.monotonic() > deadline
        ):
            break
        time.sleep(0.05)
    assert sample(m, "grpc_server_handled_total", grpc_method="Store", grpc_code="OK") == 2
    assert sample(m, "grpc_server_started_total", grpc_method="Retrieve") == 1
    assert sample(m, "grpc_server_handling_seconds_count", grpc_method="Store", grpc_code="OK") == 2
    assert sample(m, "grpc_server_msg_received_total", grpc_method="StoreStream") == 4
    assert sample(m, "grpc_server_msg_sent_total", grpc_method="StoreStream") == 4
    # Unary Stores and the 4 stream messages (1 item each) go through the same handler.
    assert sample(m, "memd_batch_items_count", grpc_method="Store") == 6
    assert sample(m, "memd_batch_items_sum", grpc_method="Store") == 44
    assert (
        sum(
            sample(m, "memd_memories", tier=t)
            for t in ("working", "short_term", "long_term", "archive")
        )
        == 34
    )
    assert sample(m, "memd_misses_total") == 1
    assert sample(m, "memd_hits_total") >= 2
    assert sample(m, "memd_namespaces") == 2
    assert sample(m, "memd_lmdb_map_size_bytes") > sample(m, "memd_lmdb_map_used_bytes") > 0
    assert sample(m, "memd_scheduler_runs_total", job="ttl_sweep", outcome="ok") >= 1
    assert sample(m, "memd_build_info") == 1
    assert "memd_search_seconds" in m and "memd_expired" in m


def test_logs_are_one_json_object_per_line(start_daemon: StartDaemon) -> None:
    d = start_daemon("--log-level", "debug")
    d.stub.Retrieve(pb.RetrieveRequest(namespace="x", keys=["a"]))
    assert d.stop() == 0
    events = [json.loads(line) for line in d.lines]  # raises if any line is not JSON
    names = [e["event"] for e in events]
    assert names.index("listening") < names.index("draining") < names.index("stopped")
    assert any(e["event"] == "rpc" and e["method"].endswith("/Retrieve") for e in events)
    assert all({"ts", "level", "logger", "event"} <= set(e) for e in events)


def test_listens_on_tcp_and_a_unix_socket_at_once(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    sock = tmp_path / "memd.sock"
    d = start_daemon("--listen", "127.0.0.1:0", "--listen", f"unix://{sock}")
    assert f"unix://{sock}" in d.grpc_addresses
    with grpc.insecure_channel(f"unix://{sock}") as channel:
        pb_grpc.MemoryServiceStub(channel).Store(
            pb.StoreRequest(
                namespace="u", memories=[mpb.NewMemory(key="via-unix", text="via-unix")]
            )
        )
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace="u", keys=["via-unix"]))
    assert got.results[0].found


def test_a_port_in_use_fails_startup_instead_of_sharing_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "memd",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--metrics-listen",
                "off",
                "--data-dir",
                str(tmp_path / "d"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
        )
    assert proc.returncode == 1
    assert "startup failed" in proc.stderr and f"127.0.0.1:{port}" in proc.stderr


def print_config(*flags: str, env: dict[str, str] | None = None) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "memd", "serve", "--print-config", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(env),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_config_precedence_is_flags_then_env_then_file_then_defaults(tmp_path: Path) -> None:
    toml = tmp_path / "memd.toml"
    toml.write_text(
        'workers = 3\ndata_dir = "/from/toml"\nlog_format = "json"\n'
        '[engine]\ndurability = "nosync"\nmap_size_bytes = "1GiB"\n'
        "[tiers.working]\ncapacity = 7\n"
    )
    env = {
        "MEMD_CONFIG": str(toml),
        "MEMD_WORKERS": "5",
        "MEMD_DATA_DIR": "/from/env",
        "MEMD_LISTEN": "127.0.0.1:7000, unix:///tmp/m.sock",
    }
    cfg = print_config("--workers", "9", env=env)
    assert cfg["workers"] == 9  # flag beats env and file
    assert cfg["data_dir"] == "/from/env"  # env beats file
    assert cfg["log_format"] == "json"  # file beats default
    assert cfg["listen"] == ["127.0.0.1:7000", "unix:///tmp/m.sock"]
    engine = cfg["engine"]
    assert isinstance(engine, dict)
    assert engine["durability"] == "nosync" and engine["map_size_bytes"] == 1 << 30
    assert engine["tiers"][0]["capacity"] == 7
    assert print_config()["metrics_listen"] == "127.0.0.1:9464"  # default


def test_repeated_listen_flags_replace_the_env_list() -> None:
    cfg = print_config(
        "--listen",
        "127.0.0.1:1",
        "--listen",
        "unix:///tmp/a.sock",
        env={"MEMD_LISTEN": "127.0.0.1:2"},
    )
    assert cfg["listen"] == ["127.0.0.1:1", "unix:///tmp/a.sock"]


def test_bad_configuration_exits_2_with_a_message(tmp_path: Path) -> None:
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text("[engine]\ndurabilty = 'sync'\n")
    cases = [
        (["--workers", "many"], {}, "expected an integer"),
        (["--listen", "nowhere"], {}, "host:port"),
        ([], {"MEMD_ENGINE_DURABILITY": "sometimes"}, "MEMD_ENGINE_DURABILITY"),
        (["--config", str(bad_file)], {}, "unknown option 'engine.durabilty'"),
    ]
    for flags, env, message in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "memd", "serve", "--print-config", *flags],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(env),
        )
        assert proc.returncode == 2 and message in proc.stderr, (flags, env, proc.stderr)
