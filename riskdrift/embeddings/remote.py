"""Embeddings from any OpenAI-compatible ``POST {base}/embeddings`` endpoint, over httpx.

Request ``{"model": …, "input": [texts]}``; answer ``{"data": [{"index": i,
"embedding": [...]}, …]}``. Rows are put back in input order by ``index`` and
normalised here (not every server normalises). 429 and 5xx answers, timeouts and
connection errors raise :class:`EmbeddingServiceError` (transient: the task is
retried with backoff, waiting at least the answer's ``Retry-After``); other 4xx
answers and malformed bodies raise :class:`EmbeddingRejected` (permanent).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np
from pydantic import BaseModel, ValidationError

from riskdrift.embeddings.base import Vectors, normalise_rows
from riskdrift.errors import EmbeddingRejected, EmbeddingServiceError
from riskdrift.queue.retrying import parse_retry_after

__all__ = ["RemoteEmbedder"]


class _Item(BaseModel):
    index: int
    embedding: list[float]


class _Answer(BaseModel):
    data: list[_Item]


class RemoteEmbedder:
    """An OpenAI-compatible embeddings client; one httpx client per process."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        batch_size: int = 256,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._batch_size = batch_size
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._owned = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._headers = headers
        self._dimensions = 0  # learnt from the first answer

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def _batch(self, texts: list[str]) -> Vectors:
        try:
            response = await self._client.post(
                self._url, json={"model": self._model, "input": texts}, headers=self._headers
            )
        except httpx.TransportError as exc:
            raise EmbeddingServiceError(f"embeddings endpoint unreachable: {exc!r}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise EmbeddingServiceError(
                f"embeddings endpoint answered {response.status_code}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if response.status_code != 200:
            raise EmbeddingRejected(
                f"embeddings endpoint refused the request: {response.status_code} "
                f"{response.text[:200]}"
            )
        try:
            answer = _Answer.model_validate_json(response.content)
        except ValidationError as exc:
            raise EmbeddingRejected(f"embeddings endpoint answered malformed JSON: {exc}") from exc
        rows = sorted(answer.data, key=lambda item: item.index)
        if [r.index for r in rows] != list(range(len(texts))):
            raise EmbeddingRejected(
                f"embeddings endpoint answered {len(rows)} rows for {len(texts)} inputs"
            )
        widths = {len(r.embedding) for r in rows}
        if len(widths) != 1 or 0 in widths:
            raise EmbeddingRejected("embeddings endpoint answered rows of differing widths")
        return normalise_rows(np.array([r.embedding for r in rows], dtype=np.float32))

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimensions), dtype=np.float32)
        parts = [
            await self._batch(list(texts[i : i + self._batch_size]))
            for i in range(0, len(texts), self._batch_size)
        ]
        vectors: Vectors = np.concatenate(parts)
        self._dimensions = int(vectors.shape[1])
        return vectors

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()
