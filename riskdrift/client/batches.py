"""The terminal side of batches and histories: ``riskdrift batch …`` and ``riskdrift history``.

Talks to a running API through :mod:`riskdrift.client.api`. Following a batch reads its
aggregate SSE stream through :func:`riskdrift.client.follow.stream_messages` (the one
reconnect loop, resuming with ``Last-Event-ID`` on a dropped connection), and draws one
rich progress bar for the whole batch plus one line per failed job. The history chart is
:func:`riskdrift.render.charts.history_svg`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from riskdrift.client.api import check, connect
from riskdrift.client.follow import stream_messages
from riskdrift.errors import RiskdriftError


def read_tickers(items: Sequence[str]) -> list[str]:
    """Tickers from the command line: each item a ticker, or a file of tickers (one per
    line or separated by commas/whitespace; ``#`` starts a comment)."""
    tickers: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0]
                tickers.extend(t for t in line.replace(",", " ").split() if t)
        else:
            tickers.append(item)
    if not tickers:
        raise RiskdriftError("no tickers given")
    return tickers


async def submit_batch(
    api: str, body: dict[str, Any], *, api_key: str | None, console: Console, follow: bool
) -> int:
    """``POST /batches``; with ``follow``, the batch's progress until it ends.

    Exit status: 0 all pairs completed, 1 some failed or were cancelled.
    """
    async with connect(api, api_key=api_key) as client:
        accepted = check(await client.post("/batches", json=body), "submit")
        batch_id = accepted["batch_id"]
        console.print(f"batch {batch_id}: {accepted['total']} jobs queued")
        if not follow:
            return 0
        return await follow_batch(client, batch_id, accepted["total"], console=console)


FINISHED_STATES = ("completed", "failed", "cancelled")


async def follow_batch(
    client: httpx.AsyncClient, batch_id: str, total: int, *, console: Console
) -> int:
    """One progress bar for the batch and a line per failure, from its aggregate stream."""
    columns = (
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("", total=total)
        async for message in stream_messages(
            client,
            f"/batches/{batch_id}/stream",
            what="batch stream",
            final=lambda m: m.event == "batch_completed",
            max_failures=10,
        ):
            if message.event not in ("batch_progress", "batch_completed", "resync"):
                continue
            data = message.data
            counts = data.get("counts", {})
            # A resync (the entries after the last id are gone) is the batch's view.
            finished = data.get("finished", sum(counts.get(s, 0) for s in FINISHED_STATES))
            bar.update(
                task,
                completed=finished,
                description=(
                    f"{counts.get('completed', 0)} done · {counts.get('failed', 0)} "
                    f"failed · {counts.get('processing', 0)} running"
                ),
            )
            if message.event == "batch_progress" and data.get("status") == "failed":
                bar.console.print(f"[red]failed[/red] {data.get('ticker')}: {data.get('error')}")
    status = check(await client.get(f"/batches/{batch_id}"), "status")
    print_status(status, console)
    counts = status["counts"]
    return 0 if counts["completed"] == status["total"] else 1


def print_status(batch: dict[str, Any], console: Console) -> None:
    """A batch's state in a few lines: counts, progress, failures."""
    counts = batch["counts"]
    console.print(
        f"batch {batch['batch_id']} ({batch['kind']}): {batch['status']}, "
        f"{batch['progress']}% — " + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    )
    for failure in batch.get("failures") or []:
        years = "/".join(str(y) for y in failure["years"])
        console.print(f"  failed {failure['ticker']} {years}: {failure['error']}")


async def batch_status(api: str, batch_id: str, *, api_key: str | None, console: Console) -> int:
    async with connect(api, api_key=api_key) as client:
        print_status(check(await client.get(f"/batches/{batch_id}"), "status"), console)
    return 0


async def batch_results(api: str, batch_id: str, *, api_key: str | None, as_csv: bool) -> str:
    """The batch's results: its CSV as the API sends it, or a text table."""
    async with connect(api, api_key=api_key, request_timeout=60) as client:
        if as_csv:
            response = await client.get(f"/batches/{batch_id}/results.csv")
            check(response, "results")
            return response.text
        rows = check(await client.get(f"/batches/{batch_id}/results.json"), "results")["rows"]
    lines = [
        f"{'ticker':<8} {'years':<10} {'status':<10} {'new':>4} {'rem':>4} {'mod':>4} "
        f"{'cosine':>7}  top drift / error"
    ]
    for r in rows:

        def num(v: Any) -> str:
            return "-" if v is None else str(v)

        cosine = "-" if r["similarity_cosine"] is None else f"{r['similarity_cosine']:.3f}"
        lines.append(
            f"{r['ticker']:<8} {r['current_year']}/{r['previous_year']:<5} {r['status']:<10} "
            f"{num(r['risks_new']):>4} {num(r['risks_removed']):>4} "
            f"{num(r['risks_modified']):>4} {cosine:>7}  "
            f"{r['error'] or r['top_drift_category'] or ''}"
        )
    return "\n".join(lines)


async def fetch_history(
    api: str, ticker: str, first: int, last: int, *, api_key: str | None
) -> dict[str, Any]:
    async with connect(api, api_key=api_key) as client:
        response = await client.get(
            f"/companies/{ticker}/history", params={"from": first, "to": last}
        )
        history: dict[str, Any] = check(response, "history")
    return history


def history_table(history: dict[str, Any]) -> str:
    """The series as text, one line per fiscal year."""
    lines = [
        f"{history['ticker']} {history.get('company') or ''} "
        f"{history['from_year']}-{history['to_year']}",
        f"{'year':<6} {'risks':>5} {'new':>4} {'rem':>4} {'mod':>4} {'cosine':>7} "
        f"{'jaccard':>7} {'tone':>7}  emerging themes",
    ]
    for p in history["years"]:

        def num(v: Any) -> str:
            return "-" if v is None else str(v)

        sim = p.get("similarity") or {}
        cos = f"{sim['cosine']:.3f}" if sim else "-"
        jac = f"{sim['jaccard']:.3f}" if sim else "-"
        tone = "-" if p.get("tone") is None else f"{p['tone']:+.3f}"
        themes = ", ".join((p.get("emerging_themes") or [])[:5])
        lines.append(
            f"{p['year']:<6} {num(p['risk_count']):>5} {num(p['new']):>4} "
            f"{num(p['removed']):>4} {num(p['modified']):>4} {cos:>7} {jac:>7} "
            f"{tone:>7}  {themes}"
        )
    return "\n".join(lines)
