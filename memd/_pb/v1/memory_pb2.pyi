from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_UNSPECIFIED: _ClassVar[Tier]
    TIER_WORKING: _ClassVar[Tier]
    TIER_SHORT_TERM: _ClassVar[Tier]
    TIER_LONG_TERM: _ClassVar[Tier]
    TIER_ARCHIVE: _ClassVar[Tier]
TIER_UNSPECIFIED: Tier
TIER_WORKING: Tier
TIER_SHORT_TERM: Tier
TIER_LONG_TERM: Tier
TIER_ARCHIVE: Tier

class NewMemory(_message.Message):
    __slots__ = ("key", "text", "value", "embedding", "tags", "metadata", "importance", "priority", "ttl_ms", "tier", "history", "context")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    key: str
    text: str
    value: bytes
    embedding: bytes
    tags: _containers.RepeatedScalarFieldContainer[str]
    metadata: _containers.ScalarMap[str, str]
    importance: float
    priority: int
    ttl_ms: int
    tier: Tier
    history: MemoryHistory
    context: str
    def __init__(self, key: _Optional[str] = ..., text: _Optional[str] = ..., value: _Optional[bytes] = ..., embedding: _Optional[bytes] = ..., tags: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., importance: _Optional[float] = ..., priority: _Optional[int] = ..., ttl_ms: _Optional[int] = ..., tier: _Optional[_Union[Tier, str]] = ..., history: _Optional[_Union[MemoryHistory, _Mapping]] = ..., context: _Optional[str] = ...) -> None: ...

class MemoryHistory(_message.Message):
    __slots__ = ("created_ms", "updated_ms", "last_access_ms", "access_count", "version", "expires_at_ms")
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESS_MS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    created_ms: int
    updated_ms: int
    last_access_ms: int
    access_count: int
    version: int
    expires_at_ms: int
    def __init__(self, created_ms: _Optional[int] = ..., updated_ms: _Optional[int] = ..., last_access_ms: _Optional[int] = ..., access_count: _Optional[int] = ..., version: _Optional[int] = ..., expires_at_ms: _Optional[int] = ...) -> None: ...

class Memory(_message.Message):
    __slots__ = ("key", "text", "value", "embedding", "tags", "metadata", "importance", "priority", "ttl_ms", "tier", "namespace", "expires_at_ms", "created_ms", "updated_ms", "last_access_ms", "access_count", "version", "context")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESS_MS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    key: str
    text: str
    value: bytes
    embedding: bytes
    tags: _containers.RepeatedScalarFieldContainer[str]
    metadata: _containers.ScalarMap[str, str]
    importance: float
    priority: int
    ttl_ms: int
    tier: Tier
    namespace: str
    expires_at_ms: int
    created_ms: int
    updated_ms: int
    last_access_ms: int
    access_count: int
    version: int
    context: str
    def __init__(self, key: _Optional[str] = ..., text: _Optional[str] = ..., value: _Optional[bytes] = ..., embedding: _Optional[bytes] = ..., tags: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., importance: _Optional[float] = ..., priority: _Optional[int] = ..., ttl_ms: _Optional[int] = ..., tier: _Optional[_Union[Tier, str]] = ..., namespace: _Optional[str] = ..., expires_at_ms: _Optional[int] = ..., created_ms: _Optional[int] = ..., updated_ms: _Optional[int] = ..., last_access_ms: _Optional[int] = ..., access_count: _Optional[int] = ..., version: _Optional[int] = ..., context: _Optional[str] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("index", "code", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    code: int
    message: str
    def __init__(self, index: _Optional[int] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class RetrieveResult(_message.Message):
    __slots__ = ("key", "found", "memory")
    KEY_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    key: str
    found: bool
    memory: Memory
    def __init__(self, key: _Optional[str] = ..., found: _Optional[bool] = ..., memory: _Optional[_Union[Memory, _Mapping]] = ...) -> None: ...

class TierStats(_message.Message):
    __slots__ = ("tier", "count", "capacity", "bytes", "counters", "value_bytes", "stored_value_bytes", "compressed", "importance_avg", "created_avg_ms")
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TIER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    VALUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORED_VALUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    COMPRESSED_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCE_AVG_FIELD_NUMBER: _ClassVar[int]
    CREATED_AVG_MS_FIELD_NUMBER: _ClassVar[int]
    tier: Tier
    count: int
    capacity: int
    bytes: int
    counters: _containers.ScalarMap[str, int]
    value_bytes: int
    stored_value_bytes: int
    compressed: int
    importance_avg: float
    created_avg_ms: int
    def __init__(self, tier: _Optional[_Union[Tier, str]] = ..., count: _Optional[int] = ..., capacity: _Optional[int] = ..., bytes: _Optional[int] = ..., counters: _Optional[_Mapping[str, int]] = ..., value_bytes: _Optional[int] = ..., stored_value_bytes: _Optional[int] = ..., compressed: _Optional[int] = ..., importance_avg: _Optional[float] = ..., created_avg_ms: _Optional[int] = ...) -> None: ...

class NamespaceStats(_message.Message):
    __slots__ = ("namespace", "dimension", "misses", "tiers", "vectors", "vectors_pending", "graph_nodes", "vector_bytes", "vector_quantization")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_PENDING_FIELD_NUMBER: _ClassVar[int]
    GRAPH_NODES_FIELD_NUMBER: _ClassVar[int]
    VECTOR_BYTES_FIELD_NUMBER: _ClassVar[int]
    VECTOR_QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    dimension: int
    misses: int
    tiers: _containers.RepeatedCompositeFieldContainer[TierStats]
    vectors: int
    vectors_pending: int
    graph_nodes: int
    vector_bytes: int
    vector_quantization: str
    def __init__(self, namespace: _Optional[str] = ..., dimension: _Optional[int] = ..., misses: _Optional[int] = ..., tiers: _Optional[_Iterable[_Union[TierStats, _Mapping]]] = ..., vectors: _Optional[int] = ..., vectors_pending: _Optional[int] = ..., graph_nodes: _Optional[int] = ..., vector_bytes: _Optional[int] = ..., vector_quantization: _Optional[str] = ...) -> None: ...
