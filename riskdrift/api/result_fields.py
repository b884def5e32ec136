"""``GET /jobs/{id}/result?fields=…&exclude=…``: leave parts of a large result out.

A result carries every risk's body for both years and its sentence changes, a few
hundred kB for a large filer. Clients that want the figures only ask for
``?exclude=risks.text_current,risks.text_previous,risks.changes`` (or
``?exclude=texts``, the same three), or name what they want with
``?fields=ticker,years,similarity,summary``. Names are top-level fields of
:class:`~riskdrift.models.AnalysisResult` or ``risks.<field>`` of
:class:`~riskdrift.models.RiskChange`; an unknown name is a 400, so a typo never
silently returns less.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from riskdrift.errors import ConflictingParameters, UnknownResultField
from riskdrift.models import AnalysisResult, RiskChange

__all__ = ["FieldSelection", "parse_selection"]

#: ``exclude=texts``: the large per-risk texts, everything else kept.
TEXTS = ("risks.text_current", "risks.text_previous", "risks.changes")

_TOP = frozenset(AnalysisResult.model_fields)
_RISK = frozenset(RiskChange.model_fields)


@dataclass(frozen=True, slots=True)
class FieldSelection:
    """What to keep: ``None`` keeps all; risk fields apply inside each ``risks`` entry."""

    top: frozenset[str] | None
    risk: frozenset[str] | None

    def apply(self, raw: str) -> str:
        """The stored result's JSON text, cut down to the selection."""
        doc: dict[str, Any] = json.loads(raw)
        if self.top is not None:
            doc = {k: v for k, v in doc.items() if k in self.top}
        if self.risk is not None and "risks" in doc:
            doc["risks"] = [{k: v for k, v in r.items() if k in self.risk} for r in doc["risks"]]
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _names(value: str, parameter: str) -> tuple[set[str], set[str]]:
    top: set[str] = set()
    risk: set[str] = set()
    bad: list[str] = []
    for name in (n.strip() for n in value.split(",")):
        if not name:
            continue
        if parameter == "exclude" and name == "texts":
            risk.update(t.split(".", 1)[1] for t in TEXTS)
        elif name.startswith("risks.") and name[6:] in _RISK:
            risk.add(name[6:])
        elif name in _TOP:
            top.add(name)
        else:
            bad.append(name)
    if bad:
        raise UnknownResultField(
            f"{parameter}: no field named {', '.join(repr(b) for b in bad)}",
            errors=[{"field": parameter, "message": f"unknown field {b!r}"} for b in bad],
        )
    return top, risk


def parse_selection(query: Mapping[str, str]) -> FieldSelection | None:
    """The selection a request's ``fields``/``exclude`` ask for; ``None`` for everything."""
    fields, exclude = query.get("fields"), query.get("exclude")
    if fields is None and exclude is None:
        return None
    if fields is not None and exclude is not None:
        raise ConflictingParameters(
            "give fields or exclude, not both",
            errors=[{"field": "exclude", "message": "cannot be combined with fields"}],
        )
    if fields is not None:
        top, risk = _names(fields, "fields")
        if risk:
            top.add("risks")
        return FieldSelection(
            top=frozenset(top) if top else None, risk=frozenset(risk) if risk else None
        )
    top, risk = _names(exclude or "", "exclude")
    return FieldSelection(top=_TOP - top if top else None, risk=_RISK - risk if risk else None)
