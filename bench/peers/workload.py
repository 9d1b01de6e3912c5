"""The workload every system runs, and what the runner measures around it.

Memories: ``n`` of them, keys ``m0000000``..., a 25-word text each and a 384-d unit
vector from ``bench/ann_bench.py``'s clustered set (topics, decaying variance
spectrum: what sentence embeddings look like). Words are drawn from a 10 000-word
made-up vocabulary with a Zipf-like law (weight 1/(rank + 10)), so some words are
common and most are rare, as in text; keyword queries are single words of rank 100 to
1 000 (tens to hundreds of matches at 10 000 memories).

Exact ground truth (NumPy, cosine = dot on unit vectors) is the top 10 of every query
vector over the ingested memories; recall@10 is measured against it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from ann_bench import truth, vectors

Array = np.ndarray[Any, Any]
WORDS = 25
VOCAB = 10_000
BATCH = 1_000
K = 10
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


@dataclass
class Workload:
    """What every system stores and is asked (same data, same order)."""

    keys: list[str]
    texts: list[str]
    vecs: Array  # (n, 384) float32, unit rows
    queries: Array  # (nq, 384) query vectors
    truth: Array  # (nq, 10) exact top-10 row indexes
    words: list[str]  # keyword queries
    get_keys: list[str]  # keys read one by one
    extra: list[tuple[str, str, Array]] = field(default_factory=list)  # single stores

    @property
    def n(self) -> int:
        return len(self.keys)


def vocabulary() -> list[str]:
    """10 000 distinct made-up words of two to four syllables (deterministic)."""
    rng = np.random.default_rng(11)
    seen: dict[str, None] = {}
    while len(seen) < VOCAB:
        parts = rng.integers(0, len(SYLLABLES), size=rng.integers(2, 5))
        seen.setdefault("".join(SYLLABLES[p] for p in parts), None)
    return list(seen)


def build(n: int, nq: int, ngets: int, nstores: int, seed: int = 7) -> Workload:
    """The workload of ``n`` memories, ``nq`` vector and keyword queries, ``ngets`` reads
    and ``nstores`` single stores."""
    x, q = vectors("clustered", n + nstores, nq, seed)
    vocab = vocabulary()
    rng = np.random.default_rng(seed + 1)
    weights = 1.0 / (np.arange(VOCAB) + 10.0)
    picks = rng.choice(VOCAB, size=(n + nstores, WORDS), p=weights / weights.sum())
    texts = [" ".join(vocab[w] for w in row) for row in picks]
    keys = [f"m{i:07}" for i in range(n + nstores)]
    words = [vocab[int(w)] for w in rng.integers(100, 1000, size=nq)]
    get_keys = [keys[int(i)] for i in rng.integers(0, n, size=ngets)]
    extra = [(keys[i], texts[i], x[i]) for i in range(n, n + nstores)]
    return Workload(keys[:n], texts[:n], x[:n], q, truth(x[:n], q), words, get_keys, extra)


def recall(found: list[list[int]], want: Array) -> float:
    """Mean recall@10 of the returned row indexes against the exact top 10."""
    hits = sum(len(set(f[:K]) & set(w.tolist())) for f, w in zip(found, want, strict=True))
    return hits / (len(want) * K)


class Peer(Protocol):
    """One running system behind its own Python client."""

    name: str
    data_dir: Path
    keyword_note: str  # "" when keyword search is ranked, else what it really is

    def pids(self) -> list[int]: ...
    def ingest(self, keys: list[str], texts: list[str], vecs: Array) -> None: ...
    def store_one(self, key: str, text: str, vec: Array) -> None: ...
    def get(self, key: str) -> str | None: ...
    def vector(self, q: Array) -> list[str] | None: ...
    def keyword(self, word: str) -> list[str] | None: ...
    def info(self) -> dict[str, Any]: ...
    def close(self) -> None: ...

    def wait_built(self, timeout: float) -> bool:
        """Wait until the server reports its vector index complete; False when it
        cannot report it (the caller then falls back to ``wait_idle``)."""
        ...


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1 (for servers that cannot report theirs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_bin(name: str, first: Path, hint: str) -> str:
    """``first`` if it exists, else ``name`` on PATH; else exit with ``hint``."""
    found = str(first) if first.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: {hint}")
    return found


class Server:
    """A peer's server process on a new directory under ``work`` and a free port: started
    by ``start`` (``argv(data_dir, port)``), ready once it accepts TCP connections, its
    output in ``work/NAME-PORT.log``; ``stop`` ends it (SIGTERM, SIGKILL after 30 s)."""

    def __init__(self, name: str, work: Path) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
        self.port = free_port()
        self.log_path = work / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, argv: list[str], timeout: float) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{argv[0]} exited: {self.log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{argv[0]}: nothing on port {self.port} after {timeout:.0f} s")

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def tree(pids: list[int]) -> list[int]:
    """``pids`` and all their descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], list(pids)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_bytes(pids: list[int]) -> int:
    """Resident set of the process trees (VmRSS summed)."""
    total = 0
    for p in tree(pids):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the process trees so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pids):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


def wait_idle(pids: list[int], timeout: float = 600.0) -> float:
    """Seconds until the server uses under 5 % of a core over half a second: background
    index building after the last acknowledged write (Chroma's log compaction) is done.
    Chroma does not expose that over its client, hence the proxy; memd reports it
    (``Peer.wait_built``)."""
    t0 = time.perf_counter()
    last = cpu_seconds(pids)
    while time.perf_counter() - t0 < timeout:
        time.sleep(0.5)
        now = cpu_seconds(pids)
        if now - last < 0.025:
            return time.perf_counter() - t0 - 0.5
        last = now
    return time.perf_counter() - t0


def disk_bytes(path: Path) -> int:
    """Bytes allocated under ``path`` (like ``du``: sparse files count what they use)."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                continue
    return total
