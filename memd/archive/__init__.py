"""The object-storage archive's daemon side (docs/archive.md).

Its ``[archive]`` options, reading the key and credential files, and the background
pass.

The archive itself (S3 client, encryption, object format, offload and collection)
is in the Rust core, ``rust_core/src/archive/``.
"""

from memd.archive.options import ArchiveOptions
from memd.archive.setup import ArchiveSetup, configure

__all__ = ["ArchiveOptions", "ArchiveSetup", "configure"]
