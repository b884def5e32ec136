"""arq job serialisation as JSON: kept as a name for :mod:`riskdrift.queue`, its home."""

from __future__ import annotations

from riskdrift.queue import dumps, loads

__all__ = ["dumps", "loads"]
