"""The :class:`Embedder` interface, its errors, and the factory that picks one from Settings."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from riskdrift.errors import (
    EmbedderUnavailable,
)

if TYPE_CHECKING:
    import httpx

    from riskdrift.config import Settings

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows; ``model`` names the vector space."""

    @property
    def model(self) -> str:
        """Stored with every vector: vectors of different models are never compared."""
        ...

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, in order; CPU work runs off the event loop."""
        ...

    async def aclose(self) -> None: ...


def normalise_rows(matrix: npt.NDArray[np.floating]) -> Vectors:
    """Scale each row to unit length (all-zero rows stay zero)."""
    rows = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = (rows / norms).astype(np.float32, copy=False)
    return out


async def run_off_loop(executor: Executor | None, fn: object, *args: object) -> Vectors:
    """Run a CPU-bound embedding function in ``executor`` (the loop's default when None)."""
    loop = asyncio.get_running_loop()
    result: Vectors = await loop.run_in_executor(executor, fn, *args)  # type: ignore[arg-type]
    return result


def create_embedder(
    settings: Settings,
    *,
    executor: Executor | None = None,
    http: httpx.AsyncClient | None = None,
) -> Embedder:
    """The embedder ``settings.embedder`` names, loaded now (call from an entrypoint).

    ``executor`` runs CPU work (None: the loop's default thread pool); ``http``
    lets tests hand the OpenAI-compatible embedder a client with a mock transport.
    """
    if settings.embedder == "lexical":
        from riskdrift.embeddings.lexical import LexicalEmbedder

        return LexicalEmbedder(dimensions=settings.lexical_dimensions, executor=executor)
    if settings.embedder == "minilm":
        from riskdrift.embeddings.minilm import MiniLMEmbedder

        return MiniLMEmbedder.load(
            settings.minilm_path, executor=executor, batch_size=settings.embedding_batch_size
        )
    from riskdrift.embeddings.remote import RemoteEmbedder

    if not settings.embedding_url:
        raise EmbedderUnavailable(
            "RISKDRIFT_EMBEDDER=openai needs RISKDRIFT_EMBEDDING_URL "
            "(an OpenAI-compatible base URL)"
        )
    key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
    return RemoteEmbedder(
        settings.embedding_url,
        model=settings.embedding_model,
        api_key=key,
        timeout=settings.embedding_timeout,
        batch_size=settings.embedding_batch_size,
        client=http,
    )
