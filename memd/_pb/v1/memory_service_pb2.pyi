from memd._pb.v1 import memory_pb2 as _memory_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LifecycleJob(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIFECYCLE_JOB_UNSPECIFIED: _ClassVar[LifecycleJob]
    LIFECYCLE_JOB_CONSOLIDATE: _ClassVar[LifecycleJob]
    LIFECYCLE_JOB_POLICIES: _ClassVar[LifecycleJob]

class CosineScale(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COSINE_SCALE_UNSPECIFIED: _ClassVar[CosineScale]
    COSINE_SCALE_NONE: _ClassVar[CosineScale]
    COSINE_SCALE_MINMAX: _ClassVar[CosineScale]
    COSINE_SCALE_ZSCORE: _ClassVar[CosineScale]

class PatternSyntax(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PATTERN_SYNTAX_UNSPECIFIED: _ClassVar[PatternSyntax]
    PATTERN_SYNTAX_GLOB: _ClassVar[PatternSyntax]
    PATTERN_SYNTAX_REGEX: _ClassVar[PatternSyntax]

class SearchMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_MODE_UNSPECIFIED: _ClassVar[SearchMode]
    SEARCH_MODE_KEYWORD: _ClassVar[SearchMode]
    SEARCH_MODE_SEMANTIC: _ClassVar[SearchMode]
    SEARCH_MODE_HYBRID: _ClassVar[SearchMode]
    SEARCH_MODE_PATTERN: _ClassVar[SearchMode]

class Fusion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FUSION_UNSPECIFIED: _ClassVar[Fusion]
    FUSION_WEIGHTED: _ClassVar[Fusion]
    FUSION_RRF: _ClassVar[Fusion]

class TransferConflict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_CONFLICT_UNSPECIFIED: _ClassVar[TransferConflict]
    TRANSFER_CONFLICT_FAIL: _ClassVar[TransferConflict]
    TRANSFER_CONFLICT_SKIP: _ClassVar[TransferConflict]
    TRANSFER_CONFLICT_OVERWRITE: _ClassVar[TransferConflict]

class TransferDimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_DIMENSION_UNSPECIFIED: _ClassVar[TransferDimension]
    TRANSFER_DIMENSION_FAIL: _ClassVar[TransferDimension]
    TRANSFER_DIMENSION_SKIP: _ClassVar[TransferDimension]
    TRANSFER_DIMENSION_DROP_EMBEDDING: _ClassVar[TransferDimension]
LIFECYCLE_JOB_UNSPECIFIED: LifecycleJob
LIFECYCLE_JOB_CONSOLIDATE: LifecycleJob
LIFECYCLE_JOB_POLICIES: LifecycleJob
COSINE_SCALE_UNSPECIFIED: CosineScale
COSINE_SCALE_NONE: CosineScale
COSINE_SCALE_MINMAX: CosineScale
COSINE_SCALE_ZSCORE: CosineScale
PATTERN_SYNTAX_UNSPECIFIED: PatternSyntax
PATTERN_SYNTAX_GLOB: PatternSyntax
PATTERN_SYNTAX_REGEX: PatternSyntax
SEARCH_MODE_UNSPECIFIED: SearchMode
SEARCH_MODE_KEYWORD: SearchMode
SEARCH_MODE_SEMANTIC: SearchMode
SEARCH_MODE_HYBRID: SearchMode
SEARCH_MODE_PATTERN: SearchMode
FUSION_UNSPECIFIED: Fusion
FUSION_WEIGHTED: Fusion
FUSION_RRF: Fusion
TRANSFER_CONFLICT_UNSPECIFIED: TransferConflict
TRANSFER_CONFLICT_FAIL: TransferConflict
TRANSFER_CONFLICT_SKIP: TransferConflict
TRANSFER_CONFLICT_OVERWRITE: TransferConflict
TRANSFER_DIMENSION_UNSPECIFIED: TransferDimension
TRANSFER_DIMENSION_FAIL: TransferDimension
TRANSFER_DIMENSION_SKIP: TransferDimension
TRANSFER_DIMENSION_DROP_EMBEDDING: TransferDimension

class StoreRequest(_message.Message):
    __slots__ = ("namespace", "memories", "atomic", "batch_id")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    MEMORIES_FIELD_NUMBER: _ClassVar[int]
    ATOMIC_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    memories: _containers.RepeatedCompositeFieldContainer[_memory_pb2.NewMemory]
    atomic: bool
    batch_id: int
    def __init__(self, namespace: _Optional[str] = ..., memories: _Optional[_Iterable[_Union[_memory_pb2.NewMemory, _Mapping]]] = ..., atomic: _Optional[bool] = ..., batch_id: _Optional[int] = ...) -> None: ...

class StoreResponse(_message.Message):
    __slots__ = ("keys", "versions", "tiers", "errors", "batch_id", "merged_into", "similar_to")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_INTO_FIELD_NUMBER: _ClassVar[int]
    SIMILAR_TO_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    versions: _containers.RepeatedScalarFieldContainer[int]
    tiers: _containers.RepeatedScalarFieldContainer[_memory_pb2.Tier]
    errors: _containers.RepeatedCompositeFieldContainer[_memory_pb2.ItemError]
    batch_id: int
    merged_into: _containers.RepeatedScalarFieldContainer[str]
    similar_to: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., versions: _Optional[_Iterable[int]] = ..., tiers: _Optional[_Iterable[_Union[_memory_pb2.Tier, str]]] = ..., errors: _Optional[_Iterable[_Union[_memory_pb2.ItemError, _Mapping]]] = ..., batch_id: _Optional[int] = ..., merged_into: _Optional[_Iterable[str]] = ..., similar_to: _Optional[_Iterable[str]] = ...) -> None: ...

class RetrieveRequest(_message.Message):
    __slots__ = ("namespace", "keys", "peek")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    PEEK_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    peek: bool
    def __init__(self, namespace: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ..., peek: _Optional[bool] = ...) -> None: ...

class RetrieveResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_memory_pb2.RetrieveResult]
    def __init__(self, results: _Optional[_Iterable[_Union[_memory_pb2.RetrieveResult, _Mapping]]] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("namespace", "keys")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("deleted", "deleted_count")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted: _containers.RepeatedScalarFieldContainer[bool]
    deleted_count: int
    def __init__(self, deleted: _Optional[_Iterable[bool]] = ..., deleted_count: _Optional[int] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("namespace", "tier", "page_size", "page_token", "reverse", "created_after_ms", "created_before_ms")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REVERSE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    tier: _memory_pb2.Tier
    page_size: int
    page_token: str
    reverse: bool
    created_after_ms: int
    created_before_ms: int
    def __init__(self, namespace: _Optional[str] = ..., tier: _Optional[_Union[_memory_pb2.Tier, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., reverse: _Optional[bool] = ..., created_after_ms: _Optional[int] = ..., created_before_ms: _Optional[int] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("memories", "next_page_token")
    MEMORIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    memories: _containers.RepeatedCompositeFieldContainer[_memory_pb2.Memory]
    next_page_token: str
    def __init__(self, memories: _Optional[_Iterable[_Union[_memory_pb2.Memory, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("namespaces", "map_size_bytes", "map_used_bytes")
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    MAP_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAP_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedCompositeFieldContainer[_memory_pb2.NamespaceStats]
    map_size_bytes: int
    map_used_bytes: int
    def __init__(self, namespaces: _Optional[_Iterable[_Union[_memory_pb2.NamespaceStats, _Mapping]]] = ..., map_size_bytes: _Optional[int] = ..., map_used_bytes: _Optional[int] = ...) -> None: ...

class SweepRequest(_message.Message):
    __slots__ = ("max_items",)
    MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
    max_items: int
    def __init__(self, max_items: _Optional[int] = ...) -> None: ...

class SweepResponse(_message.Message):
    __slots__ = ("expired", "more")
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    expired: int
    more: bool
    def __init__(self, expired: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...

class BackupRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class BackupResponse(_message.Message):
    __slots__ = ("path", "bytes", "node_copies")
    PATH_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    NODE_COPIES_FIELD_NUMBER: _ClassVar[int]
    path: str
    bytes: int
    node_copies: _containers.RepeatedCompositeFieldContainer[NodeBackup]
    def __init__(self, path: _Optional[str] = ..., bytes: _Optional[int] = ..., node_copies: _Optional[_Iterable[_Union[NodeBackup, _Mapping]]] = ...) -> None: ...

class NodeBackup(_message.Message):
    __slots__ = ("node_id", "path", "bytes")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    path: str
    bytes: int
    def __init__(self, node_id: _Optional[str] = ..., path: _Optional[str] = ..., bytes: _Optional[int] = ...) -> None: ...

class ListNamespacesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNamespacesResponse(_message.Message):
    __slots__ = ("namespaces",)
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespaces: _Optional[_Iterable[str]] = ...) -> None: ...

class DropNamespaceRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class DropNamespaceResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class RunLifecycleRequest(_message.Message):
    __slots__ = ("namespace", "jobs", "dry_run", "max_actions")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    MAX_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    jobs: _containers.RepeatedScalarFieldContainer[LifecycleJob]
    dry_run: bool
    max_actions: int
    def __init__(self, namespace: _Optional[str] = ..., jobs: _Optional[_Iterable[_Union[LifecycleJob, str]]] = ..., dry_run: _Optional[bool] = ..., max_actions: _Optional[int] = ...) -> None: ...

class LifecycleAction(_message.Message):
    __slots__ = ("namespace", "key", "rule", "action", "from_tier", "to_tier", "retention")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FROM_TIER_FIELD_NUMBER: _ClassVar[int]
    TO_TIER_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    key: str
    rule: str
    action: str
    from_tier: _memory_pb2.Tier
    to_tier: _memory_pb2.Tier
    retention: float
    def __init__(self, namespace: _Optional[str] = ..., key: _Optional[str] = ..., rule: _Optional[str] = ..., action: _Optional[str] = ..., from_tier: _Optional[_Union[_memory_pb2.Tier, str]] = ..., to_tier: _Optional[_Union[_memory_pb2.Tier, str]] = ..., retention: _Optional[float] = ...) -> None: ...

class LifecycleCount(_message.Message):
    __slots__ = ("rule", "action", "count")
    RULE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    rule: str
    action: str
    count: int
    def __init__(self, rule: _Optional[str] = ..., action: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class RunLifecycleResponse(_message.Message):
    __slots__ = ("actions", "scanned", "skipped", "more", "demoted_by_capacity", "counts", "dry_run")
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SCANNED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    DEMOTED_BY_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    actions: _containers.RepeatedCompositeFieldContainer[LifecycleAction]
    scanned: int
    skipped: int
    more: bool
    demoted_by_capacity: int
    counts: _containers.RepeatedCompositeFieldContainer[LifecycleCount]
    dry_run: bool
    def __init__(self, actions: _Optional[_Iterable[_Union[LifecycleAction, _Mapping]]] = ..., scanned: _Optional[int] = ..., skipped: _Optional[int] = ..., more: _Optional[bool] = ..., demoted_by_capacity: _Optional[int] = ..., counts: _Optional[_Iterable[_Union[LifecycleCount, _Mapping]]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ScoreWeights(_message.Message):
    __slots__ = ("relevance", "recency", "frequency", "importance")
    RELEVANCE_FIELD_NUMBER: _ClassVar[int]
    RECENCY_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    relevance: float
    recency: float
    frequency: float
    importance: float
    def __init__(self, relevance: _Optional[float] = ..., recency: _Optional[float] = ..., frequency: _Optional[float] = ..., importance: _Optional[float] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("namespace", "query", "phrase", "embedding", "limit", "tiers", "tags_all", "tags_any", "metadata", "min_importance", "max_importance", "created_after_ms", "created_before_ms", "accessed_after_ms", "accessed_before_ms", "weights", "recency_half_life_ms", "count_access", "explain", "mode", "fusion", "recency_from_created", "pattern", "pattern_syntax", "pattern_ignore_case", "exact", "include_embedding", "fuzzy", "keyword_weight", "cosine_scale", "rrf_depth")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PHRASE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    TAGS_ALL_FIELD_NUMBER: _ClassVar[int]
    TAGS_ANY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MIN_IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    MAX_IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    ACCESSED_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    ACCESSED_BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    RECENCY_HALF_LIFE_MS_FIELD_NUMBER: _ClassVar[int]
    COUNT_ACCESS_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    RECENCY_FROM_CREATED_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    PATTERN_SYNTAX_FIELD_NUMBER: _ClassVar[int]
    PATTERN_IGNORE_CASE_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    FUZZY_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    COSINE_SCALE_FIELD_NUMBER: _ClassVar[int]
    RRF_DEPTH_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    query: str
    phrase: str
    embedding: bytes
    limit: int
    tiers: _containers.RepeatedScalarFieldContainer[_memory_pb2.Tier]
    tags_all: _containers.RepeatedScalarFieldContainer[str]
    tags_any: _containers.RepeatedScalarFieldContainer[str]
    metadata: _containers.ScalarMap[str, str]
    min_importance: float
    max_importance: float
    created_after_ms: int
    created_before_ms: int
    accessed_after_ms: int
    accessed_before_ms: int
    weights: ScoreWeights
    recency_half_life_ms: int
    count_access: bool
    explain: bool
    mode: SearchMode
    fusion: Fusion
    recency_from_created: bool
    pattern: str
    pattern_syntax: PatternSyntax
    pattern_ignore_case: bool
    exact: bool
    include_embedding: bool
    fuzzy: bool
    keyword_weight: float
    cosine_scale: CosineScale
    rrf_depth: int
    def __init__(self, namespace: _Optional[str] = ..., query: _Optional[str] = ..., phrase: _Optional[str] = ..., embedding: _Optional[bytes] = ..., limit: _Optional[int] = ..., tiers: _Optional[_Iterable[_Union[_memory_pb2.Tier, str]]] = ..., tags_all: _Optional[_Iterable[str]] = ..., tags_any: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., min_importance: _Optional[float] = ..., max_importance: _Optional[float] = ..., created_after_ms: _Optional[int] = ..., created_before_ms: _Optional[int] = ..., accessed_after_ms: _Optional[int] = ..., accessed_before_ms: _Optional[int] = ..., weights: _Optional[_Union[ScoreWeights, _Mapping]] = ..., recency_half_life_ms: _Optional[int] = ..., count_access: _Optional[bool] = ..., explain: _Optional[bool] = ..., mode: _Optional[_Union[SearchMode, str]] = ..., fusion: _Optional[_Union[Fusion, str]] = ..., recency_from_created: _Optional[bool] = ..., pattern: _Optional[str] = ..., pattern_syntax: _Optional[_Union[PatternSyntax, str]] = ..., pattern_ignore_case: _Optional[bool] = ..., exact: _Optional[bool] = ..., include_embedding: _Optional[bool] = ..., fuzzy: _Optional[bool] = ..., keyword_weight: _Optional[float] = ..., cosine_scale: _Optional[_Union[CosineScale, str]] = ..., rrf_depth: _Optional[int] = ...) -> None: ...

class ScoreExplain(_message.Message):
    __slots__ = ("relevance", "recency", "frequency", "importance", "bm25", "cosine")
    RELEVANCE_FIELD_NUMBER: _ClassVar[int]
    RECENCY_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    BM25_FIELD_NUMBER: _ClassVar[int]
    COSINE_FIELD_NUMBER: _ClassVar[int]
    relevance: float
    recency: float
    frequency: float
    importance: float
    bm25: float
    cosine: float
    def __init__(self, relevance: _Optional[float] = ..., recency: _Optional[float] = ..., frequency: _Optional[float] = ..., importance: _Optional[float] = ..., bm25: _Optional[float] = ..., cosine: _Optional[float] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("memory", "score", "explain")
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    memory: _memory_pb2.Memory
    score: float
    explain: ScoreExplain
    def __init__(self, memory: _Optional[_Union[_memory_pb2.Memory, _Mapping]] = ..., score: _Optional[float] = ..., explain: _Optional[_Union[ScoreExplain, _Mapping]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ...) -> None: ...

class BatchSearchRequest(_message.Message):
    __slots__ = ("namespace", "shared", "queries")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    shared: SearchRequest
    queries: _containers.RepeatedCompositeFieldContainer[SearchRequest]
    def __init__(self, namespace: _Optional[str] = ..., shared: _Optional[_Union[SearchRequest, _Mapping]] = ..., queries: _Optional[_Iterable[_Union[SearchRequest, _Mapping]]] = ...) -> None: ...

class BatchSearchResponse(_message.Message):
    __slots__ = ("query_index", "hits")
    QUERY_INDEX_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    query_index: int
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    def __init__(self, query_index: _Optional[int] = ..., hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ...) -> None: ...

class TransferRequest(_message.Message):
    __slots__ = ("namespace", "target_namespace", "keys", "whole_namespace", "move", "on_conflict", "on_dimension_mismatch")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    WHOLE_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    MOVE_FIELD_NUMBER: _ClassVar[int]
    ON_CONFLICT_FIELD_NUMBER: _ClassVar[int]
    ON_DIMENSION_MISMATCH_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    target_namespace: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    whole_namespace: bool
    move: bool
    on_conflict: TransferConflict
    on_dimension_mismatch: TransferDimension
    def __init__(self, namespace: _Optional[str] = ..., target_namespace: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ..., whole_namespace: _Optional[bool] = ..., move: _Optional[bool] = ..., on_conflict: _Optional[_Union[TransferConflict, str]] = ..., on_dimension_mismatch: _Optional[_Union[TransferDimension, str]] = ...) -> None: ...

class TransferResponse(_message.Message):
    __slots__ = ("transferred", "overwritten", "dropped_embeddings", "skipped_existing", "skipped_dimension", "missing", "demoted_by_capacity", "kept_changed")
    TRANSFERRED_FIELD_NUMBER: _ClassVar[int]
    OVERWRITTEN_FIELD_NUMBER: _ClassVar[int]
    DROPPED_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_EXISTING_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    DEMOTED_BY_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    KEPT_CHANGED_FIELD_NUMBER: _ClassVar[int]
    transferred: int
    overwritten: int
    dropped_embeddings: int
    skipped_existing: int
    skipped_dimension: int
    missing: int
    demoted_by_capacity: int
    kept_changed: int
    def __init__(self, transferred: _Optional[int] = ..., overwritten: _Optional[int] = ..., dropped_embeddings: _Optional[int] = ..., skipped_existing: _Optional[int] = ..., skipped_dimension: _Optional[int] = ..., missing: _Optional[int] = ..., demoted_by_capacity: _Optional[int] = ..., kept_changed: _Optional[int] = ...) -> None: ...

class ClearRequest(_message.Message):
    __slots__ = ("namespace", "tier")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    tier: _memory_pb2.Tier
    def __init__(self, namespace: _Optional[str] = ..., tier: _Optional[_Union[_memory_pb2.Tier, str]] = ...) -> None: ...

class ClearResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...
