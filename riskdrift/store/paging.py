"""Newest-first keyset pages of a tenant's rows, with one opaque cursor format.

Jobs, batches and watchlists are all listed newest first by ``(created_at, id)``; a
cursor is the position just after the last row of a page, base64 of
``"<created_at ISO>|<id>"``, so a page never skips or repeats a row while new ones
arrive.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import asyncpg

from riskdrift.store.pool import Executor

__all__ = ["decode_cursor", "encode_cursor", "newest_first"]


class _Keyed(Protocol):
    @property
    def created_at(self) -> dt.datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


Row = TypeVar("Row", bound=_Keyed)


def encode_cursor(row: _Keyed) -> str:
    """An opaque cursor pointing just after ``row`` in newest-first order."""
    raw = f"{row.created_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """Inverse of :func:`encode_cursor`; raises ``ValueError`` on a malformed cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, row_id = raw.partition("|")
        return dt.datetime.fromisoformat(created), uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("malformed cursor") from exc


async def newest_first(
    db: Executor,
    *,
    table: str,
    columns: str,
    conditions: Sequence[str],
    args: Sequence[object],
    cursor: str | None,
    limit: int,
    from_row: Callable[[asyncpg.Record], Row],
) -> tuple[list[Row], str | None]:
    """A page of ``table``'s rows matching ``conditions`` (numbered ``$1…`` over ``args``),
    newest first, and the next page's cursor (``None`` on the last page).

    Raises ``ValueError`` on a malformed cursor.
    """
    where = list(conditions)
    values = list(args)
    if cursor is not None:
        created, after = decode_cursor(cursor)
        values.extend([created, after])
        where.append(f"(created_at, id) < (${len(values) - 1}, ${len(values)})")
    values.append(limit + 1)
    rows = await db.fetch(
        f"""SELECT {columns} FROM {table} WHERE {" AND ".join(where)}
            ORDER BY created_at DESC, id DESC LIMIT ${len(values)}""",
        *values,
    )
    page = [from_row(r) for r in rows[:limit]]
    return page, encode_cursor(page[-1]) if len(rows) > limit else None
