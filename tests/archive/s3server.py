"""Start and stop a real S3-compatible server for the archive tests and bench.

The server is s3s-fs (installed by ``install_s3s.sh`` into ``.tools/``): buckets are
directories of its root and objects plain files, so a test can lose or corrupt an
object the way a disk or an operator would, and it checks every request's SigV4
signature against the access key and secret it is started with.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / ".tools" / "bin" / "s3s-fs"
ACCESS_KEY = "memd-test-access"
SECRET_KEY = "memd-test-secret-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Server:
    """One s3s-fs process serving ``root`` on a fixed port, restartable.

    Args:
        root: Directory holding the buckets (created, with ``bucket``).
        bucket: The bucket the daemon is given.
    """

    def __init__(self, root: Path, bucket: str = "memd-archive") -> None:
        if not BINARY.exists():
            raise RuntimeError(
                f"{BINARY} is missing: run `make s3-server` (tests/archive/install_s3s.sh)"
            )
        self.root = root
        self.bucket = bucket
        (root / bucket).mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = (root.parent / f"s3s-fs-{self.port}.log").open("ab")

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        """Start the server and wait until it accepts connections."""
        self._proc = subprocess.Popen(
            [
                str(BINARY),
                *("--host", "127.0.0.1", "--port", str(self.port)),
                *("--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY),
                str(self.root),
            ],
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"s3s-fs exited with {self._proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("s3s-fs did not start listening within 20 s")

    def stop(self) -> None:
        """Stop the server (its files stay)."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    def close(self) -> None:
        """Stop the server and close its log."""
        self.stop()
        self._log.close()

    def objects(self) -> list[Path]:
        """The object files in the bucket, oldest first (s3s-fs's own files left out)."""
        files = [
            p
            for p in (self.root / self.bucket).rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.parts[-2:])
        ]
        return sorted(files, key=lambda p: p.stat().st_mtime_ns)

    def daemon_flags(
        self, secrets: Path, key_file: Path, *extra: str, secret_key: str = SECRET_KEY
    ) -> list[str]:
        """``memd serve`` flags using this server (the secret written under ``secrets``)."""
        secret = secrets / "s3.secret"
        secret.write_text(secret_key + "\n")
        return [
            *("--archive-endpoint", self.endpoint, "--archive-bucket", self.bucket),
            *("--archive-access-key-id", ACCESS_KEY, "--archive-secret-key-file", str(secret)),
            *("--archive-key-file", str(key_file)),
            *extra,
        ]
