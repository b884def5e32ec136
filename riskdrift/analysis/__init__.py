"""Pure analysis of 10-K Item 1A: extraction, risk segmentation, matching, tone, drift.

Nothing in this package does I/O: bytes, text and dataclasses in, models out.
The research agent (:mod:`riskdrift.agent.research`) runs these functions off
the event loop.
"""
