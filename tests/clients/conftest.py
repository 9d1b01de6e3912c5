"""Make ``clients/python`` importable: the client package is not installed into .venv."""

from __future__ import annotations

import sys
from pathlib import Path

CLIENT_SRC = str(Path(__file__).resolve().parents[2] / "clients" / "python")
if CLIENT_SRC not in sys.path:
    sys.path.insert(0, CLIENT_SRC)
