"""memd against its peers (ChromaDB, Redis), each through its own Python client.

Run from the repository root: ``.venv/bin/python -m bench.peers`` (see ``run.py``).
Importing the package puts the modules it borrows on ``sys.path``: ``bench/`` (the
clustered vectors of ``ann_bench.py``), ``tests/`` (``daemon_launcher.Daemon``, the one
way a daemon is started for tests and benchmarks) and ``clients/python`` (memd's
client, as the tests import it).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for sub in ("bench", "tests", "clients/python"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))
