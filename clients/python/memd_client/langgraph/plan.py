"""One ``batch`` of LangGraph operations as memd calls (a plan, see ``calls.py``).

Order, as in LangGraph's own stores: every read (``GetOp``, ``SearchOp``,
``ListNamespacesOp``) sees the store as it was before the batch, then the writes
(``PutOp``) are applied, the last one per (namespace, key) winning. Every operation is
checked before the first call, so a bad one (an invalid namespace or key, a value that
is not JSON, a wrong-sized embedding, an unknown filter operator) raises and changes
nothing. Writes go as one atomic Store and one Delete per memd namespace; a batch over
several namespaces is not atomic across them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
    validate_op_namespace,
)

from memd.errors import FailedPrecondition
from memd_client._types import NewMemory, StoreResult
from memd_client.langgraph import filters, values
from memd_client.langgraph.calls import Call, Plan
from memd_client.langgraph.namespaces import NamespaceCodec, list_namespaces
from memd_client.langgraph.search import search_plan
from memd_client.langgraph.settings import Settings


@dataclass(slots=True)
class _Write:
    name: str
    op: PutOp
    value: bytes = b""
    text: str = ""
    embed_text: str = ""  # the text to embed ("" for none)


def batch_plan(s: Settings, ops: Iterable[Op]) -> Plan[list[Result]]:
    """The plan of ``BaseStore.batch(ops)``: results in the order of ``ops``."""
    ops = list(ops)
    writes = _check(s, ops)
    results: list[Result] = [None] * len(ops)

    gets: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for i, op in enumerate(ops):
        if isinstance(op, GetOp):
            name = _name_or_none(s.codec, op.namespace)
            if name is not None and values.storable_key(op.key):
                gets[name, not op.refresh_ttl].append(i)
    calls = [
        Call("get", (name, [ops[i].key for i in idx]), {"peek": peek})  # type: ignore[union-attr]
        for (name, peek), idx in gets.items()
    ]
    needs_names = any(isinstance(op, SearchOp | ListNamespacesOp) for op in ops)
    if needs_names:
        calls.append(Call("stats"))
    replies = (yield calls) if calls else []
    for ((_, _), idx), found in zip(gets.items(), replies, strict=False):
        for i in idx:
            op = ops[i]
            assert isinstance(op, GetOp)
            memory = found.get(op.key)
            results[i] = None if memory is None else values.to_item(op.namespace, memory)

    if needs_names:
        # Stats lists every namespace the daemon knows, emptied ones too (until a
        # restart): only those holding memories count, as in LangGraph's database stores.
        names = [n for n, st in replies[-1].namespaces.items() if st.count > 0]
        for i, op in enumerate(ops):
            if isinstance(op, ListNamespacesOp):
                decoded = (ns for ns, _ in s.codec.under(names))
                results[i] = list_namespaces(op, decoded)
            elif isinstance(op, SearchOp):
                spaces = s.codec.under(names, op.namespace_prefix)
                results[i] = yield from search_plan(s, op, spaces)

    if writes:
        yield from _write_plan(s, writes)
    return results


def _name_or_none(codec: NamespaceCodec, namespace: Sequence[str]) -> str | None:
    # A namespace memd cannot name (too long) holds nothing: reads find nothing.
    try:
        return codec.encode(namespace)
    except InvalidNamespaceError:
        return None


def _check(s: Settings, ops: list[Op]) -> list[_Write]:
    """Validate every op; the writes to do (last put per namespace and key)."""
    writes: dict[tuple[tuple[str, ...], str], _Write] = {}
    for op in ops:
        validate_op_namespace(op)
        if isinstance(op, PutOp):
            writes[op.namespace, op.key] = _prepare(s, op)
        elif isinstance(op, SearchOp):
            if op.limit < 0 or op.offset < 0:
                raise ValueError(f"limit and offset must be >= 0, got {op.limit}, {op.offset}")
            filters.check(op.filter)
        elif isinstance(op, ListNamespacesOp):
            list_namespaces(op, ())  # checks limit, offset, max_depth
        elif not isinstance(op, GetOp):
            raise ValueError(f"Unknown operation type: {type(op)}")
    return list(writes.values())


def _prepare(s: Settings, op: PutOp) -> _Write:
    name = s.codec.encode(op.namespace)
    values.check_key(op.key)
    w = _Write(name, op)
    if op.value is None:
        return w
    values.ttl_ms(op.ttl)  # raises for a bad ttl
    w.value = values.dump_value(op.value)
    if op.index is not False:
        fields = s.fields if op.index is None else values.tokenize_fields(op.index)
        texts = values.indexed_texts(op.value, fields)
        w.text = values.memory_text(texts, op.key)
        w.embed_text = "\n".join(texts) if s.dims is not None else ""
    return w


def _write_plan(s: Settings, writes: list[_Write]) -> Plan[None]:
    to_embed = [w for w in writes if w.embed_text]
    vectors: list[list[float]] = []
    if to_embed:
        [vectors] = yield [Call("embed_documents", ([w.embed_text for w in to_embed],))]
        s.check_vectors(vectors, len(to_embed))
    embedding = {id(w): v for w, v in zip(to_embed, vectors, strict=True)}

    stores: dict[str, list[tuple[_Write, NewMemory]]] = defaultdict(list)
    deletes: dict[str, list[str]] = defaultdict(list)
    for w in writes:
        op = w.op
        if op.value is None:
            deletes[w.name].append(op.key)
            continue
        memory = NewMemory(
            key=op.key,
            text=w.text,
            value=w.value,
            embedding=embedding.get(id(w)),
            metadata=values.field_metadata(op.value),
            ttl_ms=values.ttl_ms(op.ttl),
            tier=s.tier,
        )
        stores[w.name].append((w, memory))
    calls = [
        Call("store", (name, [m for _, m in items]), {"atomic": True})
        for name, items in stores.items()
    ]
    calls += [Call("delete", (name, keys)) for name, keys in deletes.items()]
    replies = yield calls
    for (name, items), ack in zip(stores.items(), replies, strict=False):
        _check_ack(name, [w.op.key for w, _ in items], ack)


def _check_ack(name: str, keys: list[str], ack: StoreResult) -> None:
    # memd's near-duplicate dedup (off by default) can merge a new memory into a
    # similar one; the item would then not exist under its key.
    for key, merged in zip(keys, ack.merged_into, strict=False):
        if merged and merged != key:
            raise FailedPrecondition(
                f"memd merged the item {key!r} of {name!r} into {merged!r} as a near-duplicate;"
                " LangGraph stores need the daemon's dedup.near_threshold at 0 or"
                ' dedup.near_action = "flag"'
            )
