"""The research agent: orchestrates filing sources and analysis, reports progress."""
