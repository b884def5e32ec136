"""arq workers. ``arq riskdrift.worker.AnalysisWorker`` runs the analysis queue,
``arq riskdrift.worker.EmbeddingsWorker`` the embeddings queue,
``arq riskdrift.worker.WebhookWorker`` the webhooks queue (every delivery attempt).

The WorkerSettings classes are built on first attribute access from a fresh
``Settings()``: the arq CLI that asks for them is the entrypoint.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "AnalysisWorker":
        from riskdrift.config import Settings
        from riskdrift.worker.settings import build_worker_settings

        return build_worker_settings(Settings())
    if name == "EmbeddingsWorker":
        from riskdrift.config import Settings
        from riskdrift.worker.settings import build_embeddings_worker_settings

        return build_embeddings_worker_settings(Settings())
    if name == "WebhookWorker":
        from riskdrift.config import Settings
        from riskdrift.worker.settings import build_webhook_worker_settings

        return build_webhook_worker_settings(Settings())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
