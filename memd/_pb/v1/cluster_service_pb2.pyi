from memd._pb.v1 import memory_pb2 as _memory_pb2
from memd._pb.v1 import memory_service_pb2 as _memory_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoreDatabase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORE_DATABASE_UNSPECIFIED: _ClassVar[StoreDatabase]
    STORE_DATABASE_NAMESPACES: _ClassVar[StoreDatabase]
    STORE_DATABASE_MEMORIES: _ClassVar[StoreDatabase]
    STORE_DATABASE_VECTORS: _ClassVar[StoreDatabase]
    STORE_DATABASE_VECTOR_FREE: _ClassVar[StoreDatabase]
STORE_DATABASE_UNSPECIFIED: StoreDatabase
STORE_DATABASE_NAMESPACES: StoreDatabase
STORE_DATABASE_MEMORIES: StoreDatabase
STORE_DATABASE_VECTORS: StoreDatabase
STORE_DATABASE_VECTOR_FREE: StoreDatabase

class ClusterRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterNode(_message.Message):
    __slots__ = ("id", "address", "live", "draining", "ready")
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    id: str
    address: str
    live: bool
    draining: bool
    ready: bool
    def __init__(self, id: _Optional[str] = ..., address: _Optional[str] = ..., live: _Optional[bool] = ..., draining: _Optional[bool] = ..., ready: _Optional[bool] = ...) -> None: ...

class PartitionPlacement(_message.Message):
    __slots__ = ("partition", "owner", "followers", "epoch", "lease_until_ms")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    FOLLOWERS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LEASE_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    partition: int
    owner: str
    followers: _containers.RepeatedScalarFieldContainer[str]
    epoch: int
    lease_until_ms: int
    def __init__(self, partition: _Optional[int] = ..., owner: _Optional[str] = ..., followers: _Optional[_Iterable[str]] = ..., epoch: _Optional[int] = ..., lease_until_ms: _Optional[int] = ...) -> None: ...

class ClusterResponse(_message.Message):
    __slots__ = ("node_id", "partition_count", "partitions", "nodes")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    partition_count: int
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionPlacement]
    nodes: _containers.RepeatedCompositeFieldContainer[ClusterNode]
    def __init__(self, node_id: _Optional[str] = ..., partition_count: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[PartitionPlacement, _Mapping]]] = ..., nodes: _Optional[_Iterable[_Union[ClusterNode, _Mapping]]] = ...) -> None: ...

class DrainRequest(_message.Message):
    __slots__ = ("node_id", "resume")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    resume: bool
    def __init__(self, node_id: _Optional[str] = ..., resume: _Optional[bool] = ...) -> None: ...

class DrainResponse(_message.Message):
    __slots__ = ("node_id", "released", "draining")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    released: int
    draining: bool
    def __init__(self, node_id: _Optional[str] = ..., released: _Optional[int] = ..., draining: _Optional[bool] = ...) -> None: ...

class TouchEntry(_message.Message):
    __slots__ = ("namespaces",)
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedCompositeFieldContainer[TouchNamespace]
    def __init__(self, namespaces: _Optional[_Iterable[_Union[TouchNamespace, _Mapping]]] = ...) -> None: ...

class TouchNamespace(_message.Message):
    __slots__ = ("namespace", "accesses")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    ACCESSES_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    accesses: _containers.RepeatedCompositeFieldContainer[KeyAccess]
    def __init__(self, namespace: _Optional[str] = ..., accesses: _Optional[_Iterable[_Union[KeyAccess, _Mapping]]] = ...) -> None: ...

class KeyAccess(_message.Message):
    __slots__ = ("key", "count", "times_ms", "promote_from", "promote_for_importance")
    KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TIMES_MS_FIELD_NUMBER: _ClassVar[int]
    PROMOTE_FROM_FIELD_NUMBER: _ClassVar[int]
    PROMOTE_FOR_IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    key: str
    count: int
    times_ms: _containers.RepeatedScalarFieldContainer[int]
    promote_from: _memory_pb2.Tier
    promote_for_importance: bool
    def __init__(self, key: _Optional[str] = ..., count: _Optional[int] = ..., times_ms: _Optional[_Iterable[int]] = ..., promote_from: _Optional[_Union[_memory_pb2.Tier, str]] = ..., promote_for_importance: _Optional[bool] = ...) -> None: ...

class TransferInRequest(_message.Message):
    __slots__ = ("namespace", "transfer", "memories", "missing")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    MEMORIES_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    transfer: _memory_service_pb2.TransferRequest
    memories: _containers.RepeatedCompositeFieldContainer[_memory_pb2.Memory]
    missing: int
    def __init__(self, namespace: _Optional[str] = ..., transfer: _Optional[_Union[_memory_service_pb2.TransferRequest, _Mapping]] = ..., memories: _Optional[_Iterable[_Union[_memory_pb2.Memory, _Mapping]]] = ..., missing: _Optional[int] = ...) -> None: ...

class TransferInResponse(_message.Message):
    __slots__ = ("report", "landed")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    LANDED_FIELD_NUMBER: _ClassVar[int]
    report: _memory_service_pb2.TransferResponse
    landed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, report: _Optional[_Union[_memory_service_pb2.TransferResponse, _Mapping]] = ..., landed: _Optional[_Iterable[str]] = ...) -> None: ...

class TransferOutEntry(_message.Message):
    __slots__ = ("namespace", "keys", "versions", "updated_ms")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    versions: _containers.RepeatedScalarFieldContainer[int]
    updated_ms: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, namespace: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ..., versions: _Optional[_Iterable[int]] = ..., updated_ms: _Optional[_Iterable[int]] = ...) -> None: ...

class StoreGroup(_message.Message):
    __slots__ = ("requests", "after")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedScalarFieldContainer[bytes]
    after: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, requests: _Optional[_Iterable[bytes]] = ..., after: _Optional[_Iterable[int]] = ...) -> None: ...

class PartitionSnapshotRequest(_message.Message):
    __slots__ = ("partition", "min_sequence")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    MIN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    partition: int
    min_sequence: int
    def __init__(self, partition: _Optional[int] = ..., min_sequence: _Optional[int] = ...) -> None: ...

class PartitionSnapshotChunk(_message.Message):
    __slots__ = ("sequence", "namespaces", "records")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    records: _containers.RepeatedCompositeFieldContainer[StoreRecord]
    def __init__(self, sequence: _Optional[int] = ..., namespaces: _Optional[_Iterable[str]] = ..., records: _Optional[_Iterable[_Union[StoreRecord, _Mapping]]] = ...) -> None: ...

class StoreRecord(_message.Message):
    __slots__ = ("database", "key", "value")
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    database: StoreDatabase
    key: bytes
    value: bytes
    def __init__(self, database: _Optional[_Union[StoreDatabase, str]] = ..., key: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

class ReadIndexRequest(_message.Message):
    __slots__ = ("partitions",)
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class ReadIndexResponse(_message.Message):
    __slots__ = ("sequences",)
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    sequences: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, sequences: _Optional[_Iterable[int]] = ...) -> None: ...

class TouchRequest(_message.Message):
    __slots__ = ("partition", "entry")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    partition: int
    entry: bytes
    def __init__(self, partition: _Optional[int] = ..., entry: _Optional[bytes] = ...) -> None: ...

class TouchResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
