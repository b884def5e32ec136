"""How the agent reports progress; the worker turns reports into stream events."""

from __future__ import annotations

from typing import Protocol


class ProgressReporter(Protocol):
    """Called after each step with its name and the overall progress (0-100)."""

    async def __call__(self, step: str, progress: int, /) -> None: ...


async def no_progress(step: str, progress: int) -> None:
    """A reporter that discards reports (the CLI's default)."""
