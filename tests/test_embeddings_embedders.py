"""The three embedders: the OpenAI-compatible client against a fake server on loopback,
the lexical fallback, and MiniLM against vectors from sentence-transformers itself."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from riskdrift.config import Settings
from riskdrift.embeddings import create_embedder
from riskdrift.embeddings.lexical import LexicalEmbedder
from riskdrift.errors import EmbedderUnavailable, EmbeddingRejected, EmbeddingServiceError
from tests.conftest import serve


def fake_vector(text: str) -> list[float]:
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    return [float(x) for x in rng.normal(size=8) * 3]  # not normalised: the client must


class FakeEmbeddingsServer:
    """An OpenAI-compatible /v1/embeddings that records requests and can be told to fail."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.headers: list[str | None] = []
        self.fail_with: int | None = None

    async def embeddings(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.requests.append(body)
        self.headers.append(request.headers.get("authorization"))
        if self.fail_with is not None:
            return JSONResponse({"error": "no"}, self.fail_with, headers={"retry-after": "7"})
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t)}
            for i, t in enumerate(body["input"])
        ]
        return JSONResponse({"object": "list", "data": data[::-1], "model": body["model"]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/embeddings", self.embeddings, methods=["POST"])])


async def test_openai_compatible_embedder() -> None:
    fake = FakeEmbeddingsServer()
    settings = Settings(
        embedder="openai",
        embedding_model="test-embed",
        embedding_batch_size=3,
        embedding_api_key="sk-test",
        _env_file=None,  # type: ignore[call-arg]
    )
    async with serve(fake.app()) as url:
        settings = settings.model_copy(update={"embedding_url": f"{url}/v1"})
        embedder = create_embedder(settings)
        try:
            texts = [f"risk {i}" for i in range(7)]
            vectors = await embedder.embed(texts)
            assert embedder.model == "test-embed"
            assert embedder.dimensions == 8
            assert [len(r["input"]) for r in fake.requests] == [3, 3, 1]  # type: ignore[arg-type]
            assert {r["model"] for r in fake.requests} == {"test-embed"}
            assert set(fake.headers) == {"Bearer sk-test"}
            # Rows come back in input order (the server answered them reversed), normalised.
            for text, row in zip(texts, vectors, strict=True):
                expected = np.array(fake_vector(text))
                assert np.allclose(row, expected / np.linalg.norm(expected), atol=1e-6)

            fake.fail_with = 503
            with pytest.raises(EmbeddingServiceError) as transient:
                await embedder.embed(["x"])
            assert transient.value.retry_after == 7
            fake.fail_with = 400
            with pytest.raises(EmbeddingRejected, match="400"):
                await embedder.embed(["x"])
        finally:
            await embedder.aclose()


async def test_openai_embedder_malformed_answer_and_no_server() -> None:
    async def nonsense(request: Request) -> Response:
        return JSONResponse({"data": [{"index": 5, "embedding": [1.0]}]})

    app = Starlette(routes=[Route("/v1/embeddings", nonsense, methods=["POST"])])
    async with serve(app) as url:
        embedder = create_embedder(
            Settings(embedder="openai", embedding_url=f"{url}/v1", _env_file=None)  # type: ignore[call-arg]
        )
        with pytest.raises(EmbeddingRejected, match="1 inputs"):
            await embedder.embed(["x"])
        await embedder.aclose()
    gone = create_embedder(
        Settings(embedder="openai", embedding_url=f"{url}/v1", _env_file=None)  # type: ignore[call-arg]
    )
    with pytest.raises(EmbeddingServiceError, match="unreachable"):
        await gone.embed(["x"])
    await gone.aclose()
    with pytest.raises(EmbedderUnavailable, match="EMBEDDING_URL"):
        create_embedder(Settings(embedder="openai", _env_file=None))  # type: ignore[call-arg]


async def test_lexical_embedder() -> None:
    embedder = LexicalEmbedder(dimensions=1024)
    texts = [
        "Cybersecurity incidents could disrupt our operations and harm our reputation.",
        "A cybersecurity incident could disrupt operations and damage our reputation.",
        "Changes in foreign exchange rates may reduce our reported revenue.",
        "",
    ]
    vectors = await embedder.embed(texts)
    assert vectors.shape == (4, 1024)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-5)
    assert not vectors[3].any()  # nothing to say about an empty text
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.5 > sims[0, 2]
    # Stable across calls and processes (CRC-32, not Python's salted hash).
    again = await LexicalEmbedder(dimensions=1024).embed(texts[:1])
    assert np.array_equal(again[0], vectors[0])
    assert embedder.model == "lexical-hash-v1-1024"


# Vectors of sentence-transformers 5.x / torch 2.13 CPU for these sentences (first 5 dims).
REFERENCE = {
    "This is a test sentence.": [0.08429647, 0.05795373, 0.00449336, 0.10582108, 0.00708342],
    "Our business may be harmed by cybersecurity incidents.": [
        0.01207299,
        0.00360361,
        0.00520901,
        -0.05793367,
        0.0212308,
    ],
}


@pytest.mark.slow
async def test_minilm_matches_sentence_transformers() -> None:
    pytest.importorskip("tokenizers")
    try:
        embedder = create_embedder(Settings(embedder="minilm", _env_file=None))  # type: ignore[call-arg]
    except EmbedderUnavailable as exc:
        pytest.skip(str(exc))
    vectors = await embedder.embed([*list(REFERENCE), "We face intense competition."])
    assert embedder.model == "all-MiniLM-L6-v2"
    assert vectors.shape == (3, 384)
    for row, expected in zip(vectors, REFERENCE.values(), strict=False):
        assert np.allclose(row[:5], expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Batching and padding do not change a text's vector.
    alone = await embedder.embed(["This is a test sentence."])
    assert np.allclose(alone[0], vectors[0], atol=1e-5)
