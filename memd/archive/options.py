"""The ``[archive]`` options (docs/archive.md).

Where the object store is, which keys seal the objects, and when memories go there.
Nothing here reads a file or opens a connection (``memd.archive.setup`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memd.config_parse import ConfigError, format_size, int_in, size


@dataclass(frozen=True, slots=True)
class ArchiveOptions:
    """How the ARCHIVE tier uses object storage (off while ``endpoint`` is empty).

    Attributes:
        endpoint: ``http(s)://host[:port]`` of an S3-compatible server; empty: off.
        bucket: The bucket (must exist).
        region: The SigV4 signing region.
        prefix: Prepended to object names; one prefix per data directory.
        access_key_id: The S3 access key id.
        secret_key_file: File whose first line is the S3 secret access key.
        key_file: File holding the 256-bit key new objects are sealed with (64 hex
            digits or 32 raw bytes).
        old_key_files: Keys of earlier rotations, to open older objects.
        offload_after_ms: ARCHIVE memories not accessed for this long are offloaded.
        offload_min_bytes: Values smaller than this stay local.
        offload_large_bytes: Values at least this large are offloaded as soon as they
            are in ARCHIVE (0: by age only).
        object_bytes: Target size of one object (values before compression).
        max_objects: Most objects written per pass.
        cache_bytes: Opened objects kept in memory for reads.
        interval_s: Seconds between background passes (0: none).
        timeout_ms: Total time one S3 request may take.
    """

    endpoint: str = ""
    bucket: str = ""
    region: str = "us-east-1"
    prefix: str = "memd/"
    access_key_id: str = ""
    secret_key_file: str = ""
    key_file: str = ""
    old_key_files: tuple[str, ...] = ()
    offload_after_ms: int = 7 * 24 * 3600 * 1000
    offload_min_bytes: int = 256
    offload_large_bytes: int = 0
    object_bytes: int = 8 << 20
    max_objects: int = 16
    cache_bytes: int = 64 << 20
    interval_s: float = 60.0
    timeout_ms: int = 10_000

    @property
    def enabled(self) -> bool:
        """Whether an object store is configured."""
        return bool(self.endpoint)


_A = ArchiveOptions()


def endpoint_url(raw: str) -> str:
    """An ``http(s)://host[:port]`` URL without a path, or empty (off)."""
    url = raw.strip().rstrip("/")
    if url and (not url.startswith(("http://", "https://")) or "/" in url.split("://", 1)[1]):
        raise ConfigError(f"{raw!r} is not http(s)://host[:port] (no path)")
    return url


def seconds(raw: str) -> float:
    """A non-negative number of seconds."""
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{raw!r} is not a number of seconds") from None
    if not value >= 0:
        raise ConfigError(f"{raw!r} must be >= 0")
    return value


def option_rows() -> list[tuple[str, str, Any, Any, dict[str, Any]]]:
    """``(key, help, default, parse, extra)`` of each option, for ``config_options``."""
    return [
        (
            "archive.endpoint",
            "S3-compatible server http(s)://host[:port] for the ARCHIVE tier's values "
            "([archive.md](archive.md)); empty: local only",
            _A.endpoint,
            endpoint_url,
            {},
        ),
        ("archive.bucket", "Bucket of the objects (must exist)", _A.bucket, str, {}),
        ("archive.region", "SigV4 signing region", _A.region, str, {}),
        (
            "archive.prefix",
            "Prefix of object names; one per data directory",
            _A.prefix,
            str,
            {},
        ),
        ("archive.access_key_id", "S3 access key id", _A.access_key_id, str, {}),
        (
            "archive.secret_key_file",
            "File whose first line is the S3 secret access key",
            _A.secret_key_file,
            str,
            {},
        ),
        (
            "archive.key_file",
            "File with the 256-bit key sealing new objects (64 hex digits or 32 bytes)",
            _A.key_file,
            str,
            {},
        ),
        (
            "archive.old_key_files",
            "Files with earlier keys, to read objects sealed before a rotation; repeatable",
            list(_A.old_key_files),
            str,
            {"repeatable": True},
        ),
        (
            "archive.offload_after_ms",
            "ARCHIVE memories not accessed for this long have their value offloaded",
            _A.offload_after_ms,
            int_in(0),
            {},
        ),
        (
            "archive.offload_min_bytes",
            "Values smaller than this stay local",
            _A.offload_min_bytes,
            int_in(1, 2**32 - 1),
            {},
        ),
        (
            "archive.offload_large_bytes",
            "Values at least this large are offloaded once in ARCHIVE, whatever their "
            "age; 0: by age only",
            _A.offload_large_bytes,
            int_in(0, 2**32 - 1),
            {},
        ),
        (
            "archive.object_bytes",
            "Target size of one object (values before compression)",
            _A.object_bytes,
            size,
            {"show": format_size},
        ),
        (
            "archive.max_objects",
            "Most objects uploaded per pass",
            _A.max_objects,
            int_in(1, 100_000),
            {},
        ),
        (
            "archive.cache_bytes",
            "Opened objects kept in memory for reads (least recently used out first)",
            _A.cache_bytes,
            size,
            {"show": format_size},
        ),
        (
            "archive.interval_s",
            "Seconds between archive passes (offload, then delete unreferenced objects); 0: none",
            _A.interval_s,
            seconds,
            {},
        ),
        (
            "archive.timeout_ms",
            "Total time one S3 request may take",
            _A.timeout_ms,
            int_in(1, 600_000),
            {},
        ),
    ]


def from_values(v: Mapping[str, Any]) -> ArchiveOptions:
    """The options from merged values keyed like ``option_rows``."""
    return ArchiveOptions(
        endpoint=v["archive.endpoint"],
        bucket=v["archive.bucket"],
        region=v["archive.region"],
        prefix=v["archive.prefix"],
        access_key_id=v["archive.access_key_id"],
        secret_key_file=v["archive.secret_key_file"],
        key_file=v["archive.key_file"],
        old_key_files=tuple(v["archive.old_key_files"]),
        offload_after_ms=v["archive.offload_after_ms"],
        offload_min_bytes=v["archive.offload_min_bytes"],
        offload_large_bytes=v["archive.offload_large_bytes"],
        object_bytes=v["archive.object_bytes"],
        max_objects=v["archive.max_objects"],
        cache_bytes=v["archive.cache_bytes"],
        interval_s=v["archive.interval_s"],
        timeout_ms=v["archive.timeout_ms"],
    )
