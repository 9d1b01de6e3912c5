"""Start a real ``memd serve`` for tests: the one launcher of the Python, Go and TypeScript tests.

The daemon listens on ephemeral ports (127.0.0.1:0, metrics too) and reports what it
bound in its JSON "listening" log event, which is how the launcher finds the addresses:
no port is guessed, so no two tests (or a stale daemon) can collide. The server never
sets SO_REUSEPORT, so a port in use fails the bind instead of being shared.

Python tests use the ``Daemon`` class (``tests/server/daemon.py`` re-exports it). Other
languages run this file as a program, with the repository's ``.venv/bin/python``::

    python tests/daemon_launcher.py [--data-dir DIR] [--no-unix] [--auth] [--tls]
        [--default-embedding] [--token NAME=GRANTS]... [-- MEMD_SERVE_FLAGS...]

It starts ``python -m memd serve`` (or see ``MEMD_TEST_SERVE_PREFIX`` below) on a fresh
temporary directory (the data in ``DIR/data`` unless ``--data-dir`` is given, a Unix
socket ``DIR/memd.sock`` next to 127.0.0.1:0 unless ``--no-unix``; the flags after
``--`` are passed on and a ``--listen`` among them replaces the default listeners),
waits until the daemon logs "listening" and its health is SERVING, and prints one JSON
line on stdout::

    {"event": "ready", "pid": 123, "tcp": "127.0.0.1:41234", "unix": "unix:///tmp/.../memd.sock",
     "grpc": [...], "metrics": "127.0.0.1:41235", "data_dir": "...", "tmp_dir": "...",
     "admin_token": "memd_...", "tokens": {"NAME": "memd_..."},
     "ca_cert": ".../tls/ca.pem", "client_cert": ".../tls/client.pem", "client_key": "...",
     "node_id": "", "peers": []}

(``tcp`` or ``unix`` is ``""`` when the daemon has no such listener). Access control
and TLS (issue 10), each off unless asked for:

- ``--auth``: ``--auth required`` with a fresh random admin token in ``DIR/admin.token``
  (``--admin-token-file``); ``admin_token`` is its secret.
- ``--cluster``: the daemon is the one node of a cluster over one JetStream nats-server
  (``daemon_cluster.py``; ``make nats-server`` installs it), ready once it owns every
  partition: it checks the ``memd-namespace`` header and answers follower-read bounds.
  ``--cluster-peers N`` adds N nodes over the same nats-server (``memd-peer-1``...),
  listed in the ready line's ``peers`` (``node_id``, ``tcp``, ``pid``, ``metrics``; the
  launched daemon's own id is ``node_id``). The launched node is then drained: the
  peers own every partition, and it forwards every call it gets (a client routing to
  the owners skips it). A test may kill -9 a peer by its pid; the other takes over.
- ``--tls``: a new CA, server certificate (127.0.0.1, ::1, localhost) and client
  certificate in ``DIR/tls`` (``daemon_tls.py``), and mutual TLS (``--tls-cert``,
  ``--tls-key``, ``--tls-client-ca``) on the TCP listeners; the daemon keeps Unix sockets
  plaintext (guarded by file permissions). Connect with ``ca_cert`` as the trust root and
  ``client_cert``/``client_key`` as the client's certificate.
- ``--token NAME=GRANTS`` (repeatable; implies ``--auth``): once the daemon is ready, the
  launcher creates a token labelled NAME with AuthService/CreateToken and reports its
  secret in ``tokens``. GRANTS is ``PATTERN=ACTIONS`` items separated by ``;``, ACTIONS
  a comma-separated subset of read, write, delete, admin:
  ``--token agent-a='team:a/*=read,write,delete;shared=read'``.

``MEMD_TEST_SERVE_PREFIX``, if set, is the command (shell words) that runs ``memd``
instead of this Python's ``-m memd``: ``make image-test`` points it at the container
image (``deploy/container/run.sh ... CONTAINER -- memd``), so the same tests run against
the daemon in the image. Paths the tests pass (data, socket, certificates) must then
exist in the container too, which is why run.sh is given ``-v /tmp:/tmp``.

Fields not in use are ``""`` (``{}`` for ``tokens``). The readiness check (health)
needs no token, over TLS it presents the client certificate. The daemon's log
(JSON lines) is copied to stderr as it comes. The launcher then runs until its stdin
closes (so the daemon goes away with the test process that started it) or it gets
SIGTERM or SIGINT; then it stops the daemon gracefully (SIGTERM; SIGKILL after
``--grace`` seconds), removes the temporary directory (never a ``--data-dir``), prints
``{"event": "exited", "code": N}`` and exits 0 when the daemon exited 0. When the daemon
fails to start it prints nothing on stdout, the reason and the log on stderr, and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from memd._pb.v1 import auth_service_pb2 as auth_pb
from memd._pb.v1 import auth_service_pb2_grpc as auth_grpc
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from daemon_cluster import OneNats, Peers
    from daemon_tls import TlsFiles

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
ACTIONS = ("read", "write", "delete", "admin")


def memd_command() -> list[str]:
    """The words that run ``memd``: ``MEMD_TEST_SERVE_PREFIX``, or this Python's ``-m memd``."""
    prefix = os.environ.get("MEMD_TEST_SERVE_PREFIX", "")
    return shlex.split(prefix) if prefix else [sys.executable, "-m", "memd"]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without MEMD_* settings, plus ``extra``.

    With Python's fault handler on: a daemon that hangs on stop is sent SIGABRT, which
    writes every thread's stack to its stderr (``Daemon.stop``).
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEMD_")}
    return {**base, "PYTHONFAULTHANDLER": "1", **(extra or {})}


def refused_start(data_dir: Path, *args: str) -> str:
    """Run ``memd serve`` with ``args``, which must refuse to start; its stderr.

    On a free loopback port without metrics; a daemon that starts by mistake runs
    into the 60 s timeout, which fails the test.
    """
    proc = subprocess.run(
        [
            *(*memd_command(), "serve", "--data-dir", str(data_dir)),
            *("--listen", "127.0.0.1:0", "--metrics-listen", "off", *args),
        ],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0, proc.stderr
    return proc.stderr


def wait_for(
    what: str, check: Callable[[], bool], timeout: float = 30.0, every: float = 0.05
) -> None:
    """Poll ``check`` every ``every`` seconds until it is true, for ``timeout`` at most."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({timeout} s)")
        time.sleep(every)


def new_token() -> str:
    """A random secret shaped like the daemon's tokens: ``memd_`` and 43 base64url chars."""
    return "memd_" + secrets.token_urlsafe(32)


def parse_grants(spec: str) -> list[tuple[str, list[str]]]:
    """``"team:a/*=read,write;shared=read"`` -> ``[("team:a/*", ["read", "write"]), ...]``.

    Raises:
        ValueError: An item without ``=``, or an action not in ``ACTIONS``.
    """
    grants: list[tuple[str, list[str]]] = []
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        pattern, eq, actions = item.rpartition("=")
        names = [a.strip().lower() for a in actions.split(",") if a.strip()]
        bad = [a for a in names if a not in ACTIONS]
        if not eq or not pattern or not names or bad:
            raise ValueError(f"grant {item!r}: want PATTERN=ACTION[,ACTION...] of {ACTIONS}")
        grants.append((pattern, names))
    if not grants:
        raise ValueError(f"no grants in {spec!r}")
    return grants


class Daemon:
    """One ``memd serve`` process (``memd_command``), ready (listening, SERVING) once built.

    Args:
        data_dir: The store directory.
        *args: Extra ``memd serve`` flags. Without a ``--listen`` among them the daemon
            listens on 127.0.0.1:0; without ``--metrics-listen``, metrics on 127.0.0.1:0.
        env: Extra environment variables (MEMD_* from the outer environment are dropped).
        echo: Also copy every daemon log line to this stream (the launcher: stderr).
        auth: Run with ``--auth required`` and a new admin token (``admin_token``).
        tls: Generate a CA and certificates (``tls_files``) and run with mutual TLS.
        tokens: Name -> grants spec (see ``parse_grants``); each becomes a token made
            with the admin token once the daemon is ready, its secret in ``tokens``.
            Implies ``auth``.
        secrets_dir: Where ``admin.token`` and ``tls/`` go; default a new temporary
            directory, removed by ``close``/``stop``.
        default_embedding: Keep the daemon's default embedder. Otherwise, unless the
            flags set ``--embed-backend``, the daemon runs with ``--embed-backend none``:
            tests that are not about embedding spend no model time on their texts.

    ``channel`` (and ``stub`` over it) reaches ``address`` with the daemon's TLS client
    certificate and, with auth, the admin token; ``connect(token)`` opens others.
    """

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        echo: TextIO | None = None,
        auth: bool = False,
        tls: bool = False,
        tokens: Mapping[str, str] | None = None,
        secrets_dir: Path | None = None,
        default_embedding: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self._echo = echo
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._own_secrets = secrets_dir is None and (auth or tls or bool(tokens))
        if self._own_secrets:
            secrets_dir = Path(tempfile.mkdtemp(prefix="memd-secrets-"))
        self.admin_token = ""
        self.tokens: dict[str, str] = {}
        self.tls_files: TlsFiles | None = None
        self.secrets_dir = secrets_dir
        security: list[str] = []
        if auth or tokens:
            assert secrets_dir is not None
            self.admin_token = new_token()
            token_file = secrets_dir / "admin.token"
            token_file.write_text(self.admin_token + "\n")
            token_file.chmod(0o600)
            security += ["--auth", "required", "--admin-token-file", str(token_file)]
        if tls:
            assert secrets_dir is not None
            from daemon_tls import make_tls  # needs `cryptography` (the dev extra)

            self.tls_files = make_tls(secrets_dir / "tls")
            security += self.tls_files.serve_flags()
        keep = default_embedding or any(a.startswith("--embed-backend") for a in self.args)
        embed = [] if keep else ["--embed-backend", "none"]
        listen = [] if "--listen" in self.args else ["--listen", "127.0.0.1:0"]
        metrics = [] if "--metrics-listen" in self.args else ["--metrics-listen", "127.0.0.1:0"]
        if env and "MEMD_TEST_SERVE_PREFIX" in os.environ:
            # The container gets only its image's environment and run.sh's -e options.
            raise AssertionError("env= is not passed into MEMD_TEST_SERVE_PREFIX's container")
        cmd = [
            *memd_command(),
            "serve",
            "--data-dir",
            str(data_dir),
            "--log-format",
            "json",
            *listen,
            *metrics,
            *security,
            *embed,
            *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_logs, daemon=True)
        self._reader.start()
        try:
            ready = self.wait_event("listening")
        except AssertionError:
            self.close()
            raise
        self.grpc_addresses: list[str] = ready["grpc"]
        self.metrics_address: str = ready.get("metrics") or ""
        self.tcp = next((a for a in self.grpc_addresses if not a.startswith("unix:")), "")
        self.unix = next((a for a in self.grpc_addresses if a.startswith("unix:")), "")
        self.address = self.tcp or self.unix
        self.channel = self.connect(self.admin_token or None)
        self.stub = pb_grpc.MemoryServiceStub(self.channel)
        try:
            self.wait_serving()
            for name, spec in (tokens or {}).items():
                self.tokens[name] = self.create_token(name, parse_grants(spec))
        except (AssertionError, ValueError):
            self.close()
            raise

    def connect(self, token: str | None = None, address: str | None = None) -> grpc.Channel:
        """A new channel to ``address`` (default: ``self.address``) sending ``token``.

        Over TLS (TCP only: the daemon's Unix sockets stay plaintext) it trusts the test
        CA and presents the client certificate. A token on a plaintext channel rides on
        local credentials (loopback and Unix sockets only): gRPC sends call credentials
        only over a channel it considers secure.
        """
        target = address or self.address
        creds: grpc.ChannelCredentials | None = None
        if self.tls_files is not None and not target.startswith("unix"):
            f = self.tls_files
            creds = grpc.ssl_channel_credentials(
                f.ca_cert.read_bytes(), f.client_key.read_bytes(), f.client_cert.read_bytes()
            )
        if token is not None:
            if creds is None:
                kind = grpc.LocalConnectionType.UDS if target.startswith("unix") else None
                creds = grpc.local_channel_credentials(kind or grpc.LocalConnectionType.LOCAL_TCP)
            creds = grpc.composite_channel_credentials(
                creds, grpc.access_token_call_credentials(token)
            )
        if creds is None:
            return grpc.insecure_channel(target)
        return grpc.secure_channel(target, creds)

    def create_token(self, label: str, grants: Sequence[tuple[str, Sequence[str]]]) -> str:
        """Make a token with the admin token (AuthService/CreateToken); returns its secret.

        ``grants`` are ``(pattern, actions)`` pairs, actions named as in ``ACTIONS``.
        """
        request = auth_pb.CreateTokenRequest(
            label=label,
            grants=[
                auth_pb.Grant(
                    namespace=pattern,
                    actions=[auth_pb.Action.Value(f"ACTION_{a.upper()}") for a in actions],
                )
                for pattern, actions in grants
            ],
        )
        try:
            reply = auth_grpc.AuthServiceStub(self.channel).CreateToken(request, timeout=30)
        except grpc.RpcError as exc:
            raise AssertionError(f"CreateToken {label!r}: {exc}; log:\n" + self.log()) from None
        secret: str = reply.token
        return secret

    def _read_logs(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if self._echo is not None:
                self._echo.write(line)
                self._echo.flush()
            try:
                doc = json.loads(line)
            except ValueError:
                continue  # asserted by tests that check the log format
            self.events.append(doc)
            self._queue.put(doc)
        self._queue.put(None)

    def wait_event(self, name: str, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Wait for log event ``name``; fails if the process exits first."""
        for doc in self.events:
            if doc.get("event") == name:
                return doc
        while True:
            try:
                doc = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {name!r} event; log:\n" + self.log()) from None
            if doc is None:
                raise AssertionError(f"daemon exited before {name!r}; log:\n" + self.log())
            if doc.get("event") == name:
                return doc

    def wait_serving(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the gRPC health check (service "") answers SERVING (without a token)."""
        with self.connect() as channel:
            health = health_pb2_grpc.HealthStub(channel)
            try:
                reply = health.Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=timeout, wait_for_ready=True
                )
            except grpc.RpcError as exc:
                raise AssertionError(f"health check failed: {exc}; log:\n" + self.log()) from None
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise AssertionError(f"health is {reply.status}, not SERVING; log:\n" + self.log())

    def log(self) -> str:
        """Everything the daemon wrote to stderr so far."""
        return "\n".join(self.lines)

    def metrics(self) -> dict[str, list[Any]]:
        """Scrape /metrics and parse it: family name -> samples."""
        with urllib.request.urlopen(f"http://{self.metrics_address}/metrics", timeout=10) as r:
            text = r.read().decode()
        return {f.name: f.samples for f in text_string_to_metric_families(text)}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        self._close_channel()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Say where it hangs: the fault handler dumps every thread's stack on SIGABRT.
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self._reap()
            raise AssertionError(
                f"the daemon did not exit within {timeout} s of signal {sig}; its stacks "
                "(SIGABRT) and log:\n" + self.log()
            ) from None
        self._reap()
        return code

    def _close_channel(self) -> None:
        channel = getattr(self, "channel", None)
        if channel is not None:
            channel.close()

    def _reap(self) -> None:
        # The reader ends at EOF once the process is gone; then the pipe can be closed.
        self._reader.join(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        if self._own_secrets and self.secrets_dir is not None:
            shutil.rmtree(self.secrets_dir, ignore_errors=True)

    def close(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Make sure the process is gone (teardown): SIGTERM, then SIGKILL after ``timeout``.

        Returns:
            The exit code (negative: the signal that ended it).
        """
        self._close_channel()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reap()
        return self.proc.returncode


def sample(families: dict[str, list[Any]], name: str, **labels: str) -> float:
    """The value of the sample ``name`` whose labels include ``labels`` (0 if none)."""
    candidates = {name, name.removesuffix("_total")}
    for suffix in ("_count", "_sum", "_bucket"):
        candidates.add(name.removesuffix(suffix))
    total = 0.0
    for family in candidates:
        for s in families.get(family, []):
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


StartDaemon = Callable[..., Daemon]
"""``start_daemon(*flags, data_dir=None, env=None, default_embedding=False) -> Daemon``."""


# --- the program ----------------------------------------------------------------------------


def _parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    flags: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, flags = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(
        prog="daemon_launcher.py",
        description="Start memd serve for a test; print its addresses as one JSON line.",
        epilog="Flags after -- are passed to `memd serve`.",
    )
    parser.add_argument("--data-dir", type=Path, help="the store (default: a new temp dir)")
    parser.add_argument("--no-unix", action="store_true", help="TCP only, no Unix socket")
    parser.add_argument(
        "--grace", type=float, default=STOP_TIMEOUT_S, help="seconds from SIGTERM to SIGKILL"
    )
    parser.add_argument("--auth", action="store_true", help="--auth required, new admin token")
    parser.add_argument("--tls", action="store_true", help="mutual TLS with new certificates")
    parser.add_argument(
        "--cluster", action="store_true", help="a one-node cluster over one nats-server"
    )
    parser.add_argument(
        "--cluster-peers",
        type=int,
        default=0,
        metavar="N",
        help="with --cluster: N more nodes over the same nats-server, owning every "
        "partition (the launched node is drained; listed as peers)",
    )
    parser.add_argument(
        "--default-embedding",
        action="store_true",
        help="keep the daemon's default embedder (else --embed-backend none)",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="NAME=GRANTS",
        help="make a token (implies --auth); GRANTS: 'ns-a/*=read,write;other=read'",
    )
    opts = parser.parse_args(argv)
    tokens: dict[str, str] = {}
    for item in opts.token:
        name, eq, spec = item.partition("=")
        try:
            if not (name and eq):
                raise ValueError("want NAME=GRANTS")
            parse_grants(spec)
        except ValueError as exc:
            parser.error(f"--token {item!r}: {exc}")
        tokens[name] = spec
    opts.tokens = tokens
    return opts, flags


def _tls_paths(files: TlsFiles | None) -> dict[str, str]:
    """The ready line's certificate paths ("" without TLS)."""
    return {
        "ca_cert": str(files.ca_cert) if files else "",
        "client_cert": str(files.client_cert) if files else "",
        "client_key": str(files.client_key) if files else "",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the launcher program (see the module docstring)."""
    opts, flags = _parse(sys.argv[1:] if argv is None else argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tmp = Path(tempfile.mkdtemp(prefix="memd-test-"))
    nats: OneNats | None = None
    peers: Peers | None = None
    try:
        data_dir = opts.data_dir.resolve() if opts.data_dir else tmp / "data"
        advertise = ""
        if "--listen" not in flags:
            if opts.cluster_peers:  # the other nodes dial it: a known port
                from daemon_cluster import free_port

                advertise = f"127.0.0.1:{free_port()}"
            flags = ["--listen", advertise or "127.0.0.1:0", *flags]
            if not opts.no_unix:
                flags += ["--listen", f"unix://{tmp / 'memd.sock'}"]
        if opts.cluster:
            from daemon_cluster import OneNats, Peers, drain_to_peers, wait_owned

            nats = OneNats(tmp)
            flags += nats.serve_flags(advertise=advertise)
        try:
            daemon = Daemon(
                data_dir,
                *flags,
                echo=sys.stderr,
                auth=opts.auth,
                tls=opts.tls,
                tokens=opts.tokens,
                secrets_dir=tmp,
                default_embedding=opts.default_embedding,
            )
            if nats is not None and opts.cluster_peers:
                peers = Peers(nats, opts.cluster_peers, tmp, partial(Daemon, echo=sys.stderr))
            if nats is not None:
                wait_owned(daemon.channel)
            if peers is not None:
                drain_to_peers(daemon.channel)
        except AssertionError as exc:
            print(f"daemon_launcher: memd did not start: {exc}", file=sys.stderr)
            return 1
        ready = {
            "event": "ready",
            "pid": daemon.proc.pid,
            "tcp": daemon.tcp,
            "unix": daemon.unix,
            "grpc": daemon.grpc_addresses,
            "metrics": daemon.metrics_address,
            "data_dir": str(data_dir),
            "tmp_dir": str(tmp),
            "admin_token": daemon.admin_token,
            "tokens": daemon.tokens,
            **_tls_paths(daemon.tls_files),
            "node_id": "memd-test" if opts.cluster else "",
            "peers": peers.ready() if peers else [],
        }
        print(json.dumps(ready), flush=True)

        def watch_stdin() -> None:
            for _ in sys.stdin:
                pass
            stop.set()

        def watch_daemon() -> None:
            daemon.proc.wait()
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        threading.Thread(target=watch_daemon, daemon=True).start()
        while not stop.wait(0.5):
            pass
        code = daemon.close(opts.grace)
        print(json.dumps({"event": "exited", "code": code}), flush=True)
        return 0 if code == 0 else 1
    finally:
        if peers is not None:
            peers.close()
        if nats is not None:
            nats.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
