"""A Transfer across partitions, step by step, against single-node Transfer.

The saga's steps (``memd/cluster/transfer.py``, ``transfer_steps.py``) run here on two
real engines, one holding the source namespace and one the target (two partitions'
stores), and single-node ``Engine.transfer`` runs on a third holding both: the same
requests must give the same reports and leave the same memories, field by field. The
cluster test (``tests/cluster/transfer_cases.py``) runs the same steps through the
replicated logs of a real cluster.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest

import memd
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.transfer import out_entry, read_source
from memd.cluster.transfer_steps import apply_transfer_in, apply_transfer_out
from memd.errors import AlreadyExists, InvalidArgument, MemdError
from memd.server.ops import transfer, transfer_response
from memd.types import NewMemory, Tier

SRC, DST = "team/source", "team/target"
FIELDS = (
    "key text value embedding tags metadata importance priority ttl_ms tier expires_at_ms "
    "created_ms updated_ms last_access_ms access_count version context"
).split()


def vec(*xs: float) -> bytes:
    return struct.pack(f"<{len(xs)}f", *xs)


def seed(source: memd.Engine, target: memd.Engine, clock: Any) -> None:
    """The source: vectors of dimension 3, a TTL, history, tags; the target: one
    memory under a key the source also has, with dimension 2."""
    source.put_many(
        SRC,
        [
            NewMemory(key="a", text="alpha", embedding=vec(1, 0, 0), tags=["x"], importance=0.9),
            NewMemory(key="b", text="beta", value=b"\x00\x01", metadata={"type": "fact"}),
            NewMemory(key="c", text="gamma", embedding=vec(0, 1, 0), tier=Tier.LONG_TERM),
            NewMemory(key="d", text="delta", ttl_ms=5_000, context="before"),
            NewMemory(key="e", text="short-lived", ttl_ms=100),
        ],
    )
    clock.advance(50)
    source.get_many(SRC, ["a", "a", "b"])  # access statistics travel with the memory
    source.put_many(SRC, [NewMemory(key="b", text="beta v2", value=b"\x02")])  # version 2
    target.put_many(DST, [NewMemory(key="a", text="theirs", embedding=vec(0.5, 0.5))])
    clock.advance(200)  # "e" has expired, unswept


def contents(engine: memd.Engine, namespace: str) -> dict[str, dict[str, Any]]:
    page = engine.list(namespace, limit=1000)
    return {m.key: {f: getattr(m, f) for f in FIELDS} for m in page.items}


def saga(source: memd.Engine, target: memd.Engine, req: pb.TransferRequest, now: int) -> Any:
    """Steps (a), (b) and (c) as the cluster runs them, each replica's part on its engine."""
    step_b = read_source(source, req, now)
    done = apply_transfer_in(target, step_b.SerializeToString(), 10_000, now, ("p-dst", 1))
    step_c = out_entry(req, step_b, done)
    if step_c is not None:
        deleted = apply_transfer_out(source, step_c.SerializeToString(), now, ("p-src", 1))
        done.report.kept_changed = len(step_c.keys) - sum(deleted)
    return done.report


def both_ways(
    make_engine: Callable[..., memd.Engine], tmp_path: Any, clock: Any, req: pb.TransferRequest
) -> tuple[Any, Any, tuple[memd.Engine, memd.Engine, memd.Engine]]:
    """Run ``req`` on one engine (single node) and as a saga over two; both outcomes."""
    single = make_engine(path=tmp_path / "single")
    source = make_engine(path=tmp_path / "source")
    target = make_engine(path=tmp_path / "target")
    seed(single, single, clock)
    clock.now_ms -= 250
    seed(source, target, clock)
    outcome: list[Any] = []
    for run in (
        lambda: transfer_response(transfer(single, req)),
        lambda: saga(source, target, req, clock()),
    ):
        try:
            outcome.append(run())
        except MemdError as exc:
            outcome.append(type(exc))
    return outcome[0], outcome[1], (single, source, target)


CASES = {
    "copy keys, skip": pb.TransferRequest(
        keys=["a", "b", "c", "d", "e", "zz", "b"], on_conflict=pb.TRANSFER_CONFLICT_SKIP
    ),
    "move whole, overwrite, dimension skip": pb.TransferRequest(
        whole_namespace=True,
        move=True,
        on_conflict=pb.TRANSFER_CONFLICT_OVERWRITE,
        on_dimension_mismatch=pb.TRANSFER_DIMENSION_SKIP,
    ),
    "move whole, overwrite, drop embedding": pb.TransferRequest(
        whole_namespace=True,
        move=True,
        on_conflict=pb.TRANSFER_CONFLICT_OVERWRITE,
        on_dimension_mismatch=pb.TRANSFER_DIMENSION_DROP_EMBEDDING,
    ),
    "move keys, conflict fails": pb.TransferRequest(keys=["b", "a"], move=True),
    "copy, dimension fails": pb.TransferRequest(
        keys=["a", "c"], on_conflict=pb.TRANSFER_CONFLICT_SKIP
    ),
    "move, nothing to move": pb.TransferRequest(
        keys=["a", "e"], move=True, on_conflict=pb.TRANSFER_CONFLICT_SKIP
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_the_saga_reports_and_leaves_what_a_single_node_does(
    name: str, make_engine: Callable[..., memd.Engine], tmp_path: Any, clock: Any
) -> None:
    req = pb.TransferRequest()
    req.CopyFrom(CASES[name])
    req.namespace, req.target_namespace = SRC, DST
    expected, got, (single, source, target) = both_ways(make_engine, tmp_path, clock, req)
    assert got == expected
    assert contents(source, SRC) == contents(single, SRC)
    assert contents(target, DST) == contents(single, DST)
    if not isinstance(expected, type):
        assert got.kept_changed == 0


def test_errors_are_the_single_nodes(
    make_engine: Callable[..., memd.Engine], tmp_path: Any, clock: Any
) -> None:
    _, got, _ = both_ways(
        make_engine,
        tmp_path,
        clock,
        pb.TransferRequest(namespace=SRC, target_namespace=DST, keys=["a"]),
    )
    assert got is AlreadyExists
    _, got, _ = both_ways(
        make_engine,
        tmp_path / "2",
        clock,
        pb.TransferRequest(
            namespace=SRC, target_namespace=DST, keys=["c"], on_conflict=pb.TRANSFER_CONFLICT_SKIP
        ),
    )
    assert got is InvalidArgument


def test_a_write_racing_the_move_is_not_deleted(
    make_engine: Callable[..., memd.Engine], tmp_path: Any, clock: Any
) -> None:
    source = make_engine(path=tmp_path / "source")
    target = make_engine(path=tmp_path / "target")
    seed(source, target, clock)
    req = pb.TransferRequest(
        namespace=SRC,
        target_namespace=DST,
        keys=["b", "c", "d"],
        move=True,
        on_dimension_mismatch=pb.TRANSFER_DIMENSION_DROP_EMBEDDING,
    )
    now = clock()
    step_b = read_source(source, req, now)  # (a)
    clock.advance(10)
    source.put_many(SRC, [NewMemory(key="d", text="delta, rewritten meanwhile")])  # the race
    done = apply_transfer_in(target, step_b.SerializeToString(), 10_000, clock(), ("p-dst", 1))
    step_c = out_entry(req, step_b, done)
    assert step_c is not None and list(step_c.keys) == ["b", "c", "d"]
    deleted = apply_transfer_out(source, step_c.SerializeToString(), clock(), ("p-src", 1))
    assert deleted == [True, True, False]
    left = contents(source, SRC)
    assert set(left) == {"a", "d"}
    assert left["d"]["text"] == "delta, rewritten meanwhile" and left["d"]["version"] == 2
    assert contents(target, DST)["d"]["text"] == "delta"  # the copy as read in (a)
    assert source.applied("p-src") == 1 and target.applied("p-dst") == 1
