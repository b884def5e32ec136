"""What the analysis process runs for a job: the analysis, serialised there, once.

:func:`analyse_to_document` is the function the research agent sends to the worker's
analysis process (or runs in its executor). The result model is built and dumped to
JSON in that process; what comes back is a
:class:`~riskdrift.store.result_document.ResultDocument` (bytes and a few facts), so
the worker's event loop neither unpickles a model nor validates or re-dumps it.
"""

from __future__ import annotations

from collections.abc import Callable

from riskdrift.analysis.document import DocumentLimits
from riskdrift.analysis.pipeline import analyse_documents
from riskdrift.analysis.sentiment import Lexicon
from riskdrift.models import FilingDocument
from riskdrift.store.result_document import ResultDocument

__all__ = ["analyse_to_document"]


def analyse_to_document(
    current: FilingDocument,
    previous: FilingDocument,
    lexicon: Lexicon,
    limits: DocumentLimits,
    on_step: Callable[[str], None] | None = None,
) -> ResultDocument:
    """The pair's analysis, serialised once; ``on_step`` hears each stage as it ends."""
    return ResultDocument.of(analyse_documents(current, previous, lexicon, limits, on_step))
