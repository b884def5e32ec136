"""Rows of one pydantic model as a CSV table: a header of the model's fields, ``None`` empty
(a batch's result rows, a ranking)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from pydantic import BaseModel


def models_csv(model: type[BaseModel], rows: Iterable[BaseModel]) -> str:
    """The CSV text of ``rows`` (instances of ``model``), with a header line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(model.model_fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.model_dump().items()})
    return out.getvalue()
