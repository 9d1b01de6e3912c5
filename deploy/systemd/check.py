"""Check the systemd unit and its drop-in without a running systemd.

Run with the Python that has memd installed (``make deploy-test`` does)::

    .venv/bin/python deploy/systemd/check.py

1. ``systemd-analyze verify`` of ``memd.service`` alone and with ``shared.conf`` as a
   drop-in. verify exits 0 even for an unknown key or a bad value (it only warns), so
   any output at all is a failure. ExecStart's ``/opt/memd/bin/memd`` does not exist
   here: the copy checked points it at this Python's ``memd`` script.
2. ``systemd-analyze security --offline=true``: the exposure score must stay at or
   below ``MAX_EXPOSURE`` (0-100 scale; 15 is shown as "1.5 OK").
3. The ``MEMD_*`` settings: every name is one memd documents in ``--help``, memd
   parses the values (``serve --print-config``), and ``TimeoutStopSec`` covers
   ``MEMD_GRACE_S`` + ``MEMD_SNAPSHOT_BUDGET_S`` + 5 s.
4. ``MemoryDenyWriteExecute=yes``: memd runs under the kernel's equivalent
   (``prctl(PR_SET_MDWE)``, which refuses writable+executable memory like systemd's
   seccomp filter does) and serves Store, Retrieve and Search with compression.

Exit code 0 when everything holds, 1 otherwise (each problem printed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
UNIT = HERE / "memd.service"
DROP_IN = HERE / "shared.conf"
INSTALLED_MEMD = "/opt/memd/bin/memd"
MAX_EXPOSURE = 15
CREDENTIALS = "/run/credentials/memd.service"
ENV_NAME = re.compile(r"\bMEMD_[A-Z0-9_]*[A-Z0-9]\b")

problems: list[str] = []


def fail(message: str) -> None:
    """Record a problem; the script exits 1 at the end if there is any."""
    problems.append(message)
    print(f"FAIL: {message}", flush=True)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output as text.

    Commands run in ``/``, so ``python -m memd`` is the installed memd, never a
    ``memd/`` folder that happens to be in the current directory.
    """
    return subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=120, check=False, cwd="/"
    )


def unit_copy(directory: Path, with_drop_in: bool) -> Path:
    """Copy the unit (ExecStart pointed at this Python's memd) and maybe the drop-in."""
    memd = Path(sys.executable).parent / "memd"
    text = UNIT.read_text()
    if f"ExecStart={INSTALLED_MEMD} " not in text:
        fail(f"ExecStart no longer runs {INSTALLED_MEMD}: update check.py and the README")
    unit = directory / "memd.service"
    unit.write_text(text.replace(f"ExecStart={INSTALLED_MEMD} ", f"ExecStart={memd} "))
    if with_drop_in:
        (directory / "memd.service.d").mkdir()
        shutil.copy(DROP_IN, directory / "memd.service.d" / "shared.conf")
    return unit


def check_systemd(analyze: str, unit: Path, label: str) -> None:
    """systemd-analyze verify (silent) and security (under the threshold)."""
    verify = run(analyze, "verify", str(unit))
    output = (verify.stdout + verify.stderr).strip()
    if verify.returncode != 0 or output:
        fail(f"systemd-analyze verify ({label}) exit {verify.returncode}:\n{output}")
    else:
        print(f"ok: systemd-analyze verify ({label})")
    security = run(analyze, "security", "--offline=true", f"--threshold={MAX_EXPOSURE}", str(unit))
    level = re.search(r"Overall exposure level for \S+: (.*)", security.stdout)
    summary = level.group(1) if level else "(no score printed)"
    if security.returncode != 0:
        fail(
            f"systemd-analyze security ({label}): {summary}, above {MAX_EXPOSURE / 10}\n"
            f"{security.stderr.strip()}"
        )
    else:
        print(f"ok: systemd-analyze security ({label}): {summary}")


# The hardening the README promises, line for line (the security score alone moves
# too little when one of them goes: MemoryDenyWriteExecute=no costs 0.1).
REQUIRED = {
    "DynamicUser": "yes",
    "StateDirectory": "memd",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter": "@system-service",
    "MemoryDenyWriteExecute": "yes",
    "KillSignal": "SIGTERM",
}


def check_required() -> None:
    """Each REQUIRED directive is set once, to its value."""
    for key, value in REQUIRED.items():
        found = directives(UNIT, key)
        if found != [value]:
            fail(f"memd.service: want exactly {key}={value}, found {found}")
    print(f"ok: memd.service sets the {len(REQUIRED)} required hardening directives")


def directives(path: Path, key: str) -> list[str]:
    """The values of every ``key=`` line of a unit file, in order."""
    out = []
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            out.append(value.strip())
    return out


def unit_env(files: list[Path]) -> dict[str, str]:
    """The Environment= assignments of the files, later ones winning, %d resolved."""
    env: dict[str, str] = {}
    for path in files:
        for value in directives(path, "Environment"):
            name, _, val = value.partition("=")
            env[name] = val.replace("%d", CREDENTIALS)
    return env


def known_env() -> set[str]:
    """Every MEMD_* variable memd's own --help documents for ``serve``."""
    out = run(sys.executable, "-m", "memd", "serve", "--help")
    names = set(ENV_NAME.findall(out.stdout))
    if out.returncode != 0 or not {"MEMD_LISTEN", "MEMD_DATA_DIR"} <= names:
        fail(f"memd serve --help did not list its variables (exit {out.returncode})")
    return names


def check_env(files: list[Path], label: str, known: set[str]) -> dict[str, str]:
    """Names known, values parsed by memd, stop timeout above the drain."""
    env = unit_env(files)
    for name in env:
        if name not in known:
            fail(f"{label}: {name} is not a memd option (memd ignores unknown MEMD_* names)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEMD_")}
    out = run(sys.executable, "-m", "memd", "serve", "--print-config", env={**clean, **env})
    if out.returncode != 0:
        fail(f"{label}: memd rejects the settings: {out.stderr.strip()}")
        return env
    cfg = json.loads(out.stdout)
    want = {
        "listen": env["MEMD_LISTEN"].split(","),
        "data_dir": env["MEMD_DATA_DIR"],
        "backup_dir": env.get("MEMD_BACKUP_DIR", ""),
        "auth": env.get("MEMD_AUTH", "off"),
        "admin_token_file": env.get("MEMD_ADMIN_TOKEN_FILE", ""),
        "tls_cert": env.get("MEMD_TLS_CERT", ""),
    }
    for key, value in want.items():
        if cfg[key] != value:
            fail(f"{label}: memd resolved {key} = {cfg[key]!r}, want {value!r}")
    for path in ("data_dir", "backup_dir"):
        if not str(cfg[path]).startswith("/var/lib/memd/"):
            fail(f"{label}: {path} {cfg[path]!r} is outside StateDirectory (read-only there)")
    stop = directives(UNIT, "TimeoutStopSec")
    # The stop: the RPC grace period, then the search snapshot's budget, then a margin
    # for closing LMDB; a SIGKILL before the snapshot is written costs a rebuild.
    need = cfg["grace_s"] + cfg["snapshot_budget_s"] + 5
    if not stop or float(stop[-1].rstrip("s")) < need:
        fail(
            f"{label}: TimeoutStopSec {stop} must cover MEMD_GRACE_S ({cfg['grace_s']}) + "
            f"MEMD_SNAPSHOT_BUDGET_S ({cfg['snapshot_budget_s']}) + 5 s"
        )
    print(f"ok: MEMD_* settings ({label}): {len(env)} known, parsed by memd")
    return env


MDWE_RUNNER = textwrap.dedent("""
    import ctypes, os, runpy, sys
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_MDWE): {os.strerror(ctypes.get_errno())}")
    sys.argv = ["memd", "serve"]
    runpy.run_module("memd", run_name="__main__")
""")


def check_mdwe(env: dict[str, str]) -> None:
    """Serve real work under PR_SET_MDWE, the kernel's MemoryDenyWriteExecute."""
    sys.path.insert(0, str(ROOT / "clients" / "python"))
    from memd_client import Client  # the client is not installed: from the source tree

    with tempfile.TemporaryDirectory() as tmp:
        sock = f"unix://{tmp}/memd.sock"
        daemon_env = {k: v for k, v in os.environ.items() if not k.startswith("MEMD_")}
        daemon_env |= env | {
            "MEMD_LISTEN": sock,
            "MEMD_DATA_DIR": f"{tmp}/store",
            "MEMD_BACKUP_DIR": f"{tmp}/backups",
            "MEMD_METRICS_LISTEN": "off",
        }
        log = Path(tmp) / "memd.log"
        with log.open("w") as out:
            daemon = subprocess.Popen(
                [sys.executable, "-c", MDWE_RUNNER],
                env=daemon_env,
                stdout=out,
                stderr=out,
                cwd="/",
            )
        try:
            deadline = time.monotonic() + 60
            while not Path(f"{tmp}/memd.sock").exists():
                if daemon.poll() is not None or time.monotonic() > deadline:
                    fail(f"memd under PR_SET_MDWE did not start:\n{log.read_text()}")
                    return
                time.sleep(0.2)
            with Client(sock) as client:
                value = b"the user likes tea; " * 100  # lz4-compressed in LONG_TERM
                stored = client.store(
                    "deploy:mdwe",
                    [
                        {"text": f"tea {i}", "value": value, "embedding": [1.0, i], "tier": 3}
                        for i in range(200)
                    ],
                )
                got = client.get("deploy:mdwe", stored.keys[:5])
                hits = list(client.search("deploy:mdwe", "tea"))
            values = [m.value if m else None for m in got.values()]
            if len(stored.keys) != 200 or values != [value] * 5 or not hits:
                fail("memd under PR_SET_MDWE: Store, Retrieve or Search came back wrong")
            else:
                print("ok: memd serves under PR_SET_MDWE (MemoryDenyWriteExecute)")
        finally:
            daemon.terminate()
            if daemon.wait(timeout=60) != 0:
                fail(f"memd under PR_SET_MDWE exited {daemon.returncode}:\n{log.read_text()}")


def main() -> int:
    """Run every check; print each result."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        fail("systemd-analyze not found (Debian: apt-get install systemd)")
    else:
        for with_drop_in, label in ((False, "memd.service"), (True, "+ shared.conf")):
            with tempfile.TemporaryDirectory() as tmp:
                check_systemd(analyze, unit_copy(Path(tmp), with_drop_in), label)
    check_required()
    known = known_env()
    env = check_env([UNIT], "memd.service", known)
    check_env([UNIT, DROP_IN], "+ shared.conf", known)
    check_mdwe(env)
    print(f"systemd: {len(problems)} problem(s)" if problems else "systemd: all checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
