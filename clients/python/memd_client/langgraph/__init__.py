"""LangGraph store backed by memd: ``MemdStore`` and ``AsyncMemdStore``.

Install with the ``langgraph`` extra (``pip install 'memd-client[langgraph]'``).
Mapping, behaviour and differences from ``InMemoryStore``: docs/langgraph.md.
"""

try:
    import langgraph.store.base  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "memd_client.langgraph needs LangGraph: pip install 'memd-client[langgraph]'"
    ) from exc

from memd_client.langgraph.namespaces import DEFAULT_ROOT, NamespaceCodec
from memd_client.langgraph.settings import SearchMode
from memd_client.langgraph.store import AsyncMemdStore, MemdStore

__all__ = ["DEFAULT_ROOT", "AsyncMemdStore", "MemdStore", "NamespaceCodec", "SearchMode"]
