"""EDGAR full-submission text files (``<accession>.txt``): the SGML wrapper, unwrapped.

Filings of the 2000s are often kept as one ``.txt`` per accession: an SGML
header, then one ``<DOCUMENT>`` per file of the filing, each with ``<TYPE>``,
``<SEQUENCE>``, ``<FILENAME>``, ``<DESCRIPTION>`` lines and the file itself
between ``<TEXT>`` and ``</TEXT>``::

    <SEC-DOCUMENT>0000950123-09-001234.txt : 20090227
    <SEC-HEADER> ... </SEC-HEADER>
    <DOCUMENT>
    <TYPE>10-K
    <SEQUENCE>1
    <FILENAME>d10k.htm
    <TEXT>
    <HTML> ... </HTML>          (or plain text, with <PAGE>/<TABLE>/<S>/<C> markers)
    </TEXT>
    </DOCUMENT>
    <DOCUMENT>
    <TYPE>EX-13
    ...

The 10-K's own document is what the analysis reads; an exhibit (EX-13, the
annual report) is found the same way. ``<PAGE>`` becomes a form feed in a
plain-text document and ``<hr>`` in an HTML one: a page break, for the page
furniture rules of :mod:`riskdrift.analysis.document`. Some envelopes leave ``<TYPE>``,
``<FILENAME>`` and ``<DESCRIPTION>`` empty: their documents are kept with an
empty type, and when no document is typed as a 10-K the annual report is the
largest untyped HTML document (the 10-K body dwarfs its exhibits), or the
largest untyped one of any kind. Plain-text documents lose the SGML
layout markers (``<TABLE>``, ``<CAPTION>``, ``<S>``, ``<C>``, ``<FN>``) so they are
not mistaken for HTML.

Pure: bytes in, bytes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from riskdrift.errors import FilingParseError

__all__ = [
    "SubmissionDocument",
    "annual_report",
    "find_document",
    "is_submission",
    "submission_documents",
]

ANNUAL_REPORT_TYPES = ("10-K", "10-K405", "10-KT", "10-KSB")

_DOCUMENT = re.compile(rb"<DOCUMENT>(.*?)(?:</DOCUMENT>|\Z)", re.IGNORECASE | re.DOTALL)
_TEXT = re.compile(rb"<TEXT>\s*(.*?)\s*(?:</TEXT>|\Z)", re.IGNORECASE | re.DOTALL)
_HTML = re.compile(rb"<\s*(?:html|body|div|p|pre|font|br|xbrl)\b", re.IGNORECASE)
_LAYOUT_TAGS = re.compile(rb"</?(?:TABLE|CAPTION|S|C|FN)>", re.IGNORECASE)
_PAGE_TAG = re.compile(rb"</?PAGE>", re.IGNORECASE)
_WRAPPER_START = re.compile(
    rb"^\s*<(?:SEC-DOCUMENT|SUBMISSION|IMS-DOCUMENT|DOCUMENT)>", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class SubmissionDocument:
    """One ``<DOCUMENT>`` of a full submission."""

    type: str  # "10-K", "EX-13", ...; "" when the envelope's <TYPE> is empty
    filename: str | None
    description: str | None
    content: bytes


def is_submission(content: bytes) -> bool:
    """Whether ``content`` is an SGML full submission rather than a document of its own."""
    return _WRAPPER_START.match(content[:4096]) is not None and b"<TYPE>" in content[:65536].upper()


def _field(header: bytes, name: bytes) -> str | None:
    match = re.search(rb"<" + name + rb">[ \t]*([^\r\n<]*)", header, re.IGNORECASE)
    if match is None:
        return None
    value = match.group(1).decode("utf-8", errors="replace").strip()
    return value or None


def submission_documents(content: bytes) -> list[SubmissionDocument]:
    """Every ``<DOCUMENT>`` of a full submission, in order."""
    documents: list[SubmissionDocument] = []
    for match in _DOCUMENT.finditer(content):
        body = match.group(1)
        text = _TEXT.search(body)
        header = body[: text.start()] if text else body
        doc_type = _field(header, b"TYPE")
        if doc_type is None and not (text and text.group(1).strip()):
            continue  # neither a type nor any text: nothing to read
        payload = text.group(1) if text else b""
        # <PAGE> marks a page break: a form feed in text, a rule in HTML; the analysis
        # looks next to page breaks for the running headers, footers and numbers to drop.
        if not _HTML.search(payload[:65536]):
            payload = _PAGE_TAG.sub(b"\f", _LAYOUT_TAGS.sub(b"", payload))
        else:
            payload = _PAGE_TAG.sub(b"<hr>", payload)
        documents.append(
            SubmissionDocument(
                type=(doc_type or "").upper(),
                filename=_field(header, b"FILENAME"),
                description=_field(header, b"DESCRIPTION"),
                content=payload,
            )
        )
    return documents


def find_document(content: bytes, name: str, types: tuple[str, ...]) -> SubmissionDocument | None:
    """The first document of one of ``types`` ("EX-13" also matches "EX-13.1"), or ``None``.

    Raises :class:`FilingParseError` when the submission holds no documents at all.
    """
    documents = submission_documents(content)
    if not documents:
        raise FilingParseError(
            "the file looks like an EDGAR full submission but holds no <DOCUMENT>", filing=name
        )
    for wanted in types:
        for document in documents:
            if document.type == wanted or document.type.startswith(f"{wanted}."):
                if not document.content.strip():
                    raise FilingParseError(
                        f"the submission's {document.type} document is empty", filing=name
                    )
                return document
    return None


def _untyped_annual_report(documents: list[SubmissionDocument]) -> SubmissionDocument | None:
    """The 10-K body of an envelope whose ``<TYPE>`` tags are empty: the largest untyped
    HTML document, else the largest untyped document; ``None`` if none has text."""
    untyped = [d for d in documents if not d.type and d.content.strip()]
    if not untyped:
        return None
    return max(untyped, key=lambda d: (_HTML.search(d.content[:65536]) is not None, len(d.content)))


def annual_report(content: bytes, name: str) -> SubmissionDocument:
    """The 10-K document of a full submission; :class:`FilingParseError` if it has none."""
    document = find_document(content, name, ANNUAL_REPORT_TYPES)
    if document is None:
        document = _untyped_annual_report(submission_documents(content))
    if document is None:
        found = ", ".join(d.type or "(empty)" for d in submission_documents(content)) or "none"
        raise FilingParseError(
            f"the full submission holds no 10-K document (document types: {found})", filing=name
        )
    return document
