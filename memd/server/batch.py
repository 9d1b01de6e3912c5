"""BatchSearch conversions: the queries of a request, and its pages of tagged hits.

A query is the request's ``shared`` SearchRequest with the fields the query sets put in
their place (``merged``): "set" is what protobuf's ``ListFields`` reports (a non-zero
scalar, a non-empty list or map, a present message or optional field), and a set list
or map replaces shared's whole value instead of being appended to it, which is what a
caller writing "these tags for this query" means.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.descriptor import FieldDescriptor

from memd import _core
from memd._pb.v1 import memory_service_pb2 as pb
from memd.errors import InvalidArgument
from memd.server import convert
from memd.types import SearchQuery

MAX_BATCH_QUERIES = 256
"""Most queries in one BatchSearch (the engine's ``MAX_BATCH_QUERIES``)."""

PAGE_OVERHEAD = 8
"""Bytes a BatchSearchResponse spends besides its hits: the query index (tag and a
varint of at most 5 bytes) with room to spare."""

_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_KIND: dict[str, str] = {
    f.name: (
        ("map" if f.type == _MESSAGE and f.message_type.GetOptions().map_entry else "list")
        if f.is_repeated
        else ("message" if f.type == _MESSAGE else "scalar")
    )
    for f in pb.SearchRequest.DESCRIPTOR.fields
}
"""SearchRequest field name -> how a query's value replaces shared's."""


def merged(shared: pb.SearchRequest, query: pb.SearchRequest) -> pb.SearchRequest:
    """``shared`` with every field ``query`` sets replaced by the query's value."""
    out = pb.SearchRequest()
    out.CopyFrom(shared)
    for field, value in query.ListFields():
        name = field.name
        kind = _KIND[name]
        if kind == "scalar":
            setattr(out, name, value)
        elif kind == "message":
            getattr(out, name).CopyFrom(value)
        else:  # lists and maps: the query's replaces shared's, not appended to it
            out.ClearField(name)
            target = getattr(out, name)
            if kind == "map":
                target.update(value)
            else:
                target.extend(value)
    return out


def batch_queries(req: pb.BatchSearchRequest) -> list[tuple[SearchQuery, bool]]:
    """The engine query of each search of a request, with its ``explain`` flag.

    Raises:
        InvalidArgument: Too many queries, or a query (named by its index) that names
            another namespace or that ``convert.search_query`` refuses.
    """
    if len(req.queries) > MAX_BATCH_QUERIES:
        raise InvalidArgument(
            f"{len(req.queries)} queries in one batch; the limit is {MAX_BATCH_QUERIES}"
        )
    namespace = req.namespace
    if req.shared.namespace not in ("", namespace):
        raise InvalidArgument(
            f"shared names namespace {req.shared.namespace!r}, not the batch's {namespace!r}"
        )
    out = []
    for i, query in enumerate(req.queries):
        if query.namespace not in ("", namespace):
            raise InvalidArgument(
                f"query {i}: namespace {query.namespace!r} is not the batch's {namespace!r}; "
                "a batch searches one namespace"
            )
        one = merged(req.shared, query)
        one.namespace = namespace
        try:
            out.append((convert.search_query(one), one.explain))
        except InvalidArgument as exc:
            raise InvalidArgument(f"query {i}: {exc}") from None
    return out


def batch_pages(
    results: Sequence[Sequence[_core.Hit]], explains: Sequence[bool], max_bytes: int
) -> list[pb.BatchSearchResponse]:
    """Every query's hits in pages tagged with its index, in query order.

    A query without hits gets one empty page, so each index appears at least once. All
    pages are built before the first is sent (see ``convert.search_pages``).
    """
    pages: list[pb.BatchSearchResponse] = []
    for i, (hits, explain) in enumerate(zip(results, explains, strict=True)):

        def page(batch: list[pb.SearchHit], i: int = i) -> pb.BatchSearchResponse:
            return pb.BatchSearchResponse(query_index=i, hits=batch)

        mine = convert.hit_pages(hits, explain, max_bytes - PAGE_OVERHEAD, page)
        pages.extend(mine or [pb.BatchSearchResponse(query_index=i)])
    return pages
