"""The terminal side of jobs: ``riskdrift jobs list|show|result|cancel|retry|deliveries``.

Each command is one or a few calls to the API's job routes through
:mod:`riskdrift.client.api` (so errors are one line), the answers validated into
the API's own models (:class:`~riskdrift.models.Job`, ``JobPage``,
``WebhookDeliveryList``). The text renderings are pure functions of those models;
``--json`` prints the models as the API sent them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pydantic

from riskdrift.client.api import connect, parse
from riskdrift.models import Job, JobAccepted, JobPage, WebhookDelivery, WebhookDeliveryList

JOB_LIST = pydantic.TypeAdapter(list[Job])
ERROR_WIDTH = 48  # of the list's error column; `jobs show` has the whole message


async def list_jobs(
    api: str,
    *,
    api_key: str | None,
    status: str | None = None,
    ticker: str | None = None,
    trigger: str | None = None,
    limit: int = 50,
    every: bool = False,
) -> tuple[list[Job], str | None]:
    """``GET /jobs``, newest first: one page of ``limit``, or with ``every`` all pages.

    Returns the jobs and the cursor of the page after them (``None`` at the end).
    """
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status
    if ticker:
        params["ticker"] = ticker
    if trigger:
        params["trigger"] = trigger
    found: list[Job] = []
    async with connect(api, api_key=api_key) as http:
        while True:
            page = parse(await http.get("/jobs", params=params), JobPage, "list jobs")
            found.extend(page.jobs)
            if not every or page.next_cursor is None:
                return found, page.next_cursor
            params["cursor"] = page.next_cursor


async def get_job(api: str, job_id: str, *, api_key: str | None) -> Job:
    """``GET /jobs/{id}``."""
    async with connect(api, api_key=api_key) as http:
        return parse(await http.get(f"/jobs/{job_id}"), Job, f"job {job_id}")


async def cancel_job(api: str, job_id: str, *, api_key: str | None) -> Job:
    """``POST /jobs/{id}/cancel``: the job, now ``cancelled``."""
    async with connect(api, api_key=api_key) as http:
        return parse(await http.post(f"/jobs/{job_id}/cancel"), Job, f"cancel job {job_id}")


async def retry_job(api: str, job_id: str, *, api_key: str | None) -> JobAccepted:
    """``POST /jobs/{id}/retry``: the new job that runs the old one's request again."""
    async with connect(api, api_key=api_key) as http:
        return parse(await http.post(f"/jobs/{job_id}/retry"), JobAccepted, f"retry job {job_id}")


async def list_deliveries(api: str, job_id: str, *, api_key: str | None) -> WebhookDeliveryList:
    """``GET /jobs/{id}/deliveries``: the job's webhook deliveries, each with its attempts."""
    async with connect(api, api_key=api_key) as http:
        return parse(
            await http.get(f"/jobs/{job_id}/deliveries"),
            WebhookDeliveryList,
            f"deliveries of job {job_id}",
        )


async def redeliver(api: str, job_id: str, *, api_key: str | None) -> WebhookDelivery:
    """``POST /jobs/{id}/deliveries/redeliver``: the job's webhook again, as a new series."""
    async with connect(api, api_key=api_key) as http:
        return parse(
            await http.post(f"/jobs/{job_id}/deliveries/redeliver"),
            WebhookDelivery,
            f"redeliver the webhook of job {job_id}",
        )


# --- text renderings (pure) -------------------------------------------------------------


def when(moment: dt.datetime | None) -> str:
    """A timestamp in UTC to the second, or ``-``."""
    if moment is None:
        return "-"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def span(seconds: float) -> str:
    """A duration the way a person reads it: ``0.4s``, ``12s``, ``3m05s``, ``2h07m``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def run_time(job: Job, now: dt.datetime | None = None) -> str:
    """Start to finish; a running job's time so far ends with ``…``; ``-`` if it never ran."""
    if job.started_at is None:
        return "-"
    if job.finished_at is not None:
        return span((job.finished_at - job.started_at).total_seconds())
    now = now or dt.datetime.now(dt.UTC)
    return span(max(0.0, (now - job.started_at).total_seconds())) + "…"


def years_text(years: Sequence[int]) -> str:
    return "/".join(str(y) for y in years)


def short(text: str | None, width: int) -> str:
    """The first line of ``text``, cut to ``width`` characters with an ellipsis."""
    lines = (text or "").strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def jobs_table(jobs: Sequence[Job], now: dt.datetime | None = None) -> str:
    """One line per job: id, status, ticker, years, created, run time, error."""
    lines = [
        f"{'job id':<36}  {'status':<10} {'ticker':<8} {'years':<9} "
        f"{'created (UTC)':<19} {'run time':>8}  error"
    ]
    for job in jobs:
        lines.append(
            f"{job.job_id!s:<36}  {job.status.value:<10} {job.ticker:<8} "
            f"{years_text(job.years):<9} {when(job.created_at):<19} "
            f"{run_time(job, now):>8}  {short(job.error, ERROR_WIDTH)}".rstrip()
        )
    return "\n".join(lines)


def job_detail(job: Job, api: str, now: dt.datetime | None = None) -> str:
    """Everything ``GET /jobs/{id}`` says about a job, a field a line, links absolute."""
    status = job.status.value
    if not job.status.finished:
        status += f", {job.progress}%" + (f" ({job.step})" if job.step else "")
    started = when(job.started_at)
    if job.started_at is not None:
        started += f"  (queued {span((job.started_at - job.created_at).total_seconds())})"
    rows = [
        ("job", str(job.job_id)),
        ("status", status),
        ("ticker", job.ticker),
        ("years", years_text(job.years)),
        ("attempts", str(job.attempts)),
        ("created", when(job.created_at)),
        ("started", started),
        ("finished", when(job.finished_at)),
        ("run time", run_time(job, now)),
    ]
    if job.batch_id:
        rows.append(("batch", str(job.batch_id)))
    if job.callback_url:
        rows.append(("callback", job.callback_url))
    if job.error:
        rows.append(("error", job.error))
    links = job.links
    rows += [
        ("link", f"{api}{path}") for path in (links.self, links.stream, links.result, links.report)
    ]
    return "\n".join(f"{name + ':':<10} {value}" for name, value in rows)


def deliveries_text(deliveries: WebhookDeliveryList) -> str:
    """Each delivery on a line, its attempts indented under it."""
    if not deliveries.deliveries:
        return "no webhook deliveries (the job has no callback_url, or has not finished)"
    lines = []
    for d in deliveries.deliveries:
        last = f"HTTP {d.last_status_code}" if d.last_status_code else ""
        if d.last_error:
            last = f"{last} {d.last_error}".strip()
        lines.append(
            f"{d.delivery_id}  {d.type:<13} {d.status:<9} series {d.series}, "
            f"{d.attempt_count} attempt{'s' if d.attempt_count != 1 else ''}"
            + (f", delivered {when(d.delivered_at)}" if d.delivered_at else "")
            + (f", next {when(d.next_attempt_at)}" if d.next_attempt_at else "")
            + (f"  {short(last, 60)}" if last else "")
        )
        for a in d.attempts:
            answer = f"HTTP {a.status_code}" if a.status_code is not None else ""
            why = f"{answer} {a.error or ''}".strip()
            lines.append(
                f"  {a.series}.{a.attempt}  {when(a.at)}  {a.outcome:<9} "
                f"{a.duration_ms:7.1f} ms  {short(why, 60)}".rstrip()
            )
    return "\n".join(lines)
