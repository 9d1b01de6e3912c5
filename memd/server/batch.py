"""BatchSearch conversions: the queries of a request (its pages are encoded in Rust).

A query is the request's ``shared`` SearchRequest with the fields the query sets put in
their place (``merged``): "set" is what protobuf's ``ListFields`` reports (a non-zero
scalar, a non-empty list or map, a present message or optional field), and a set list
or map replaces shared's whole value instead of being appended to it, which is what a
caller writing "these tags for this query" means.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from memd._pb.v1 import memory_service_pb2 as pb
from memd.errors import InvalidArgument
from memd.server import convert
from memd.types import SearchQuery

MAX_BATCH_QUERIES = 256
"""Most queries in one BatchSearch (the engine's ``MAX_BATCH_QUERIES``)."""

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
