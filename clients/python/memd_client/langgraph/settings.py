"""What a LangGraph store was configured with, shared by its plans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from memd.types import Tier
from memd_client.langgraph.namespaces import NamespaceCodec

SearchMode = Literal["semantic", "keyword", "hybrid"]
SEARCH_MODES: tuple[SearchMode, ...] = ("semantic", "keyword", "hybrid")


@dataclass(frozen=True, slots=True)
class Settings:
    """A store's configuration.

    Attributes:
        codec: Namespace mapping.
        fields: Default index fields, tokenized (``values.tokenize_fields``).
        dims: Embedding dimensions (None: no embedding function).
        mode: How a search ``query`` is answered (see ``MemdStore``).
        tier: Tier new items go to (UNSPECIFIED: the daemon's default).
    """

    codec: NamespaceCodec
    fields: list[tuple[str, str | list[str]]]
    dims: int | None
    mode: SearchMode
    tier: Tier

    def check_vectors(self, vectors: Any, count: int) -> None:
        """Raise ValueError unless ``vectors`` are ``count`` vectors of ``dims`` numbers."""
        if len(vectors) != count:
            raise ValueError(
                f"the embedding function returned {len(vectors)} vectors for {count} texts"
            )
        for v in vectors:
            if len(v) != self.dims:
                raise ValueError(
                    f"the embedding function returned {len(v)} dimensions; the index has"
                    f" dims={self.dims}"
                )
