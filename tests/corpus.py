"""Where the shared real-10-K corpus lives, and a skip marker for when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus"))
REAL10K = CORPUS / "real10k"
ITEM1A_ONLY = CORPUS / "real10k_item1a_only"
LAYOUTS = CORPUS / "layouts"

needs_corpus = pytest.mark.skipif(
    not REAL10K.is_dir(),
    reason=f"shared corpus not found at {CORPUS} (set RISKDRIFT_CORPUS to its path)",
)
