"""Writer for the crash test: stores batches forever and reports each acknowledgement.

    python tests/crash_writer.py DIR DURABILITY RUN

Prints ``ready`` once the engine is open, then one line per call, only after the call
returned (so whatever the parent reads was acknowledged before the process died):

- ``put RUN SEQ`` for a committed batch ``batch(RUN, SEQ)``: it overwrites ``BATCH``
  of ``SLOTS`` rotating keys (so the store stays small while the writer runs for
  ever), sets ``counter`` to ``RUN:SEQ``, and every 4th batch adds a key ``doomed-…``;
- ``del KEY`` after that doomed key was deleted.

Every fifth key is written to WORKING and the tiers are small, so batches keep
demoting memories down to ARCHIVE (compressed): a kill can land in any kind of write.
"""

from __future__ import annotations

import sys

import memd
from memd import EngineOptions, NewMemory, Tier, TierOptions

NS = "crash"
BATCH = 20
SLOTS = 2_000
TIERS = (TierOptions(40), TierOptions(80), TierOptions(160), TierOptions(0))


def options(durability: str) -> EngineOptions:
    return EngineOptions(durability=durability, tiers=TIERS)  # type: ignore[arg-type]


def slot_key(slot: int) -> str:
    return f"slot-{slot:05d}"


def doomed_key(run: int, seq: int) -> str | None:
    return f"doomed-{run}-{seq}" if seq % 4 == 0 else None


def batch(run: int, seq: int) -> dict[str, bytes]:
    """key -> value of batch ``seq`` of ``run`` (without the counter)."""
    out = {}
    for i in range(BATCH):
        slot = (seq * BATCH + i) % SLOTS
        out[slot_key(slot)] = f"{slot}:{run}:{seq};".encode() * 5  # compressible
    doomed = doomed_key(run, seq)
    if doomed:
        out[doomed] = b"doomed"
    return out


def main() -> None:
    path, durability, run = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine = memd.Engine(path, options(durability))
    print("ready", flush=True)
    seq = 0
    while True:
        items = [
            NewMemory(key=k, value=v, tier=Tier.WORKING if i % 5 == 0 else Tier.UNSPECIFIED)
            for i, (k, v) in enumerate(batch(run, seq).items())
        ]
        items.append(NewMemory(key="counter", value=f"{run}:{seq}".encode()))
        engine.put_many(NS, items)
        print(f"put {run} {seq}", flush=True)
        doomed = doomed_key(run, seq)
        if doomed:
            assert engine.delete_many(NS, [doomed]) == [True]
            print(f"del {doomed}", flush=True)
        seq += 1


if __name__ == "__main__":
    main()
