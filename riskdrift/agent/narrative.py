"""Optional LLM narrative of a finished analysis (off unless ``llm_url`` is set)."""

from __future__ import annotations

from typing import Protocol

from riskdrift.models import AnalysisResult


class Narrator(Protocol):
    """Writes a prose narrative of a result, or returns ``None`` on any failure."""

    async def narrate(self, result: AnalysisResult) -> str | None: ...
