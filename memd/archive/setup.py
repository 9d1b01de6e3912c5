"""Resolving ``[archive]`` into what the core needs.

The key and credential files are read and everything is checked before the daemon
serves: a daemon whose archive cannot work does not start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from memd.archive.options import ArchiveOptions
from memd.config_parse import ConfigError

if TYPE_CHECKING:
    from memd.engine import Engine


@dataclass(frozen=True, slots=True)
class ArchiveSetup:
    """The archive as the core takes it (``Engine.configure_archive``): files read.

    Attributes mirror ``ArchiveOptions``; ``secret_key`` is the secret itself, ``key``
    and ``old_keys`` the key files' contents (the core parses hex or raw bytes).
    """

    endpoint: str
    bucket: str
    region: str
    access_key: str
    secret_key: str
    timeout_ms: int
    prefix: str
    key: bytes
    old_keys: list[bytes]
    offload_after_ms: int
    offload_min_bytes: int
    offload_large_bytes: int
    object_bytes: int
    max_objects: int
    cache_bytes: int


def _read(option: str, path: str) -> bytes:
    if not path:
        raise ConfigError(f"{option} is required when archive.endpoint is set")
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{option}: cannot read {path}: {exc.strerror}") from None


def resolve(opts: ArchiveOptions) -> ArchiveSetup:
    """Read the files ``opts`` names; raises ``ConfigError`` naming the option."""
    if not opts.bucket:
        raise ConfigError("archive.bucket is required when archive.endpoint is set")
    lines = _read("archive.secret_key_file", opts.secret_key_file).decode().splitlines()
    return ArchiveSetup(
        endpoint=opts.endpoint,
        bucket=opts.bucket,
        region=opts.region,
        access_key=opts.access_key_id,
        secret_key=lines[0].strip() if lines else "",
        timeout_ms=opts.timeout_ms,
        prefix=opts.prefix,
        key=_read("archive.key_file", opts.key_file),
        old_keys=[_read("archive.old_key_files", p) for p in opts.old_key_files],
        offload_after_ms=opts.offload_after_ms,
        offload_min_bytes=opts.offload_min_bytes,
        offload_large_bytes=opts.offload_large_bytes,
        object_bytes=opts.object_bytes,
        max_objects=opts.max_objects,
        cache_bytes=opts.cache_bytes,
    )


def configure(engine: Engine, opts: ArchiveOptions) -> bool:
    """Give ``engine`` its archive if ``opts`` enables one; returns whether it did.

    Raises ``ConfigError`` for a missing file and the core's ``InvalidArgument`` for a
    bad endpoint, bucket, prefix or key.
    """
    if not opts.enabled:
        return False
    engine.configure_archive(resolve(opts))
    return True
