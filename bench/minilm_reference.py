"""Writes the reference that memd's Rust MiniLM embedder is tested against.

For sample texts (accents, punctuation, CJK, emoji, a text past the 256-token cut),
the token ids of Hugging Face ``tokenizers`` on the package's own ``tokenizer.json``
(the reference tokenizer) and the vectors of ``bench/minilm.py`` (the model's forward
pass in NumPy, independent of the Rust one), into
``rust_core/tests/data/minilm_reference.json`` (rust_core/src/embed/minilm/tests.rs).

    .venv/bin/pip install tokenizers && .venv/bin/python bench/minilm_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

from minilm import MiniLM

TEXTS = [
    "my sister moved to Lisbon",
    "Where does my sibling live?",
    "The café's crème brûlée costs $4.50 (tax incl.) — naïve pricing!",
    'user@example.com said: "let\'s meet at 10:30am"; OK?',
    "东京 is the capital of 日本, Zürich isn't.",
    "Emoji 🎉 and control\tchars\nacross lines",
    "unbelievably antidisestablishmentarianism hyperparameterization",
    "ΑΘΗΝΑ Ελλάδα and Москва",
    " ".join(f"turn {i}: we talked about the garden, the weather and plans." for i in range(40)),
]

if __name__ == "__main__":
    model = MiniLM()
    vectors = model.encode(TEXTS)
    cases = [
        {"text": t, "ids": model.tok.encode(t).ids, "vector": [round(float(x), 7) for x in v]}
        for t, v in zip(TEXTS, vectors, strict=True)
    ]
    out = Path(__file__).resolve().parent.parent / "rust_core/tests/data/minilm_reference.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cases, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} cases to {out}")
