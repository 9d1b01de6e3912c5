"""The spans of BatchSearch, Transfer and Clear (docs/tracing.md)."""

from __future__ import annotations

import json

from memd_client import Client

from .conftest import StartTraced


def test_batch_search_transfer_and_clear_spans(start_traced: StartTraced) -> None:
    daemon = start_traced(record_content=True)
    with Client(daemon.target) as client:
        client.store("src", [{"key": "a", "text": "green tea"}, {"key": "b", "text": "coffee"}])
        hits = client.batch_search("src", ["tea", {"pattern": "*ee"}, "nothing"])
        client.transfer("src", "dst", ["a", "missing"], move=True)
        client.clear("dst")
    batch, transfer, clear = (
        daemon.span("BatchSearch"),
        daemon.span("Transfer"),
        daemon.span("Clear"),
    )
    assert (batch.name, transfer.name, clear.name) == (
        "search_memory",
        "upsert_memory",
        "delete_memory",
    )
    b = dict(batch.attributes or {})
    assert b["gen_ai.memory.store.id"] == "src"
    assert b["gen_ai.memory.record.count"] == sum(len(h) for h in hits) == 2
    assert b["gen_ai.memory.query.text"] == "tea\n*ee\nnothing"
    assert {r["id"] for r in json.loads(str(b["gen_ai.memory.records"]))} == {"a", "b"}
    t = dict(transfer.attributes or {})
    assert t["gen_ai.memory.store.id"] == "dst", "the store a transfer writes"
    assert t["gen_ai.memory.record.count"] == 1
    c = dict(clear.attributes or {})
    assert (c["gen_ai.memory.store.id"], c["gen_ai.memory.record.count"]) == ("dst", 1)
