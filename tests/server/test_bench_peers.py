"""bench/peers runs end to end without its heavy peers: memd alone, on a few hundred memories.

The benchmark's figures are not asserted (speed is shown by the benchmark itself); what
is checked is that the harness measures what it says: a real daemon ingests, answers
every query kind, returns the stored texts, and the JSON holds those rows. ChromaDB and
Redis are not installed by ``make install``, so they are not started here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_memd_alone_small_run(tmp_path: Path) -> None:
    out = tmp_path / "peers.json"
    cmd = [sys.executable, "-m", "bench.peers", "--peers", "memd", "--n", "400", "--rounds", "1"]
    cmd += ["--queries", "20", "--gets", "30", "--stores", "10", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "| vector top-10 p50 |" in proc.stdout
    report = json.loads(out.read_text())
    (fig,) = report["rounds"]["memd"]
    assert fig["ingest"]["per_s"] > 0
    # Under 10 000 vectors memd scans exactly: its top 10 is NumPy's.
    assert fig["vector"]["recall_at_10"] >= 0.99
    assert fig["keyword"]["mean_hits"] > 0
    assert fig["rss_bytes"] > 0 and fig["disk_bytes"] > 0
    rows = {r["row"]: r for r in report["rows"]}
    assert rows["get by key p50"]["memd"] > 0


def test_ratios_say_who_leads() -> None:
    sys.path.insert(0, str(REPO))
    from bench.peers import table

    def fig(rate: float, get_ms: float) -> dict[str, object]:
        return {"ingest": {"per_s": rate}, "get": {"p50_ms": get_ms}}

    rounds = {
        "memd": [fig(100.0, 1.0), fig(300.0, 3.0), fig(200.0, 2.0)],
        "peer": [fig(50.0, 0.5), fig(50.0, 0.5), fig(50.0, 0.5)],
    }
    rows = {r["row"]: r for r in table.rows(rounds)}
    ingest, get = rows["ingest (bulk, acknowledged)"], rows["get by key p50"]
    assert ingest["memd"] == 200.0 and ingest["memd/peer"] == 4.0 and ingest["memd_leads_peer"]
    assert get["memd/peer"] == 4.0 and not get["memd_leads_peer"]
    assert rows["vector top-10 p50"]["memd"] is None
    text = table.render(table.rows(rounds), ["memd", "peer"])
    assert "| ingest (bulk, acknowledged) | higher | 200 /s | 50 /s | 4 ✓ |" in text
