"""The ``riskdrift`` command: run the API or a worker, migrate, analyse in-process, demo,
and talk to a running API.

The parser and :func:`main` are here; the commands that run on this machine are in
:mod:`.local`, those that talk to a running API in :mod:`.remote`, and the ``analyze`` and
``report`` glue (run or fetch a result, print it, write its files) in :mod:`.analyze`.
The package is an entrypoint: it builds Settings and is one of the few places allowed to
call ``asyncio.run``.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pydantic
from pydantic_settings import SettingsError

from riskdrift import __version__
from riskdrift.cli.local import (
    cmd_analyze,
    cmd_api,
    cmd_dev,
    cmd_filings_import,
    cmd_keys_create,
    cmd_keys_list,
    cmd_keys_revoke,
    cmd_migrate,
    cmd_worker,
)
from riskdrift.cli.remote import (
    cmd_batch_results,
    cmd_batch_status,
    cmd_batch_submit,
    cmd_history,
    cmd_jobs_cancel,
    cmd_jobs_deliveries,
    cmd_jobs_list,
    cmd_jobs_result,
    cmd_jobs_retry,
    cmd_jobs_show,
    cmd_report,
    cmd_search,
    cmd_submit,
    cmd_watch,
    cmd_watchlist,
)
from riskdrift.errors import RiskdriftError
from riskdrift.models import TRIGGERS, JobStatus


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskdrift", description="10-K risk-factor drift analysis as a job service."
    )
    parser.add_argument("--version", action="version", version=f"riskdrift {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser(
        "worker",
        help="run a worker (like `arq riskdrift.worker.AnalysisWorker`, but it rides out a "
        "Redis outage instead of exiting)",
    )
    worker.add_argument(
        "--queue", choices=["analysis", "embeddings", "webhooks"], default="analysis"
    )
    worker.add_argument(
        "--processes",
        type=_positive_int,
        default=1,
        metavar="N",
        help="run N worker processes under one supervising parent (default 1: this process)",
    )
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)

    analyze = sub.add_parser("analyze", help="analyse one company in-process (no Redis/Postgres)")
    analyze.add_argument("ticker")
    analyze.add_argument("current_year", type=int)
    analyze.add_argument("previous_year", type=int)
    analyze.add_argument("--filings-dir", type=Path)
    analyze.add_argument("--json", action="store_true", help="print the result model as JSON")
    analyze.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML report")
    analyze.add_argument("--csv", type=Path, metavar="FILE", help="also write the risks as CSV")
    analyze.set_defaults(func=cmd_analyze)

    filings = sub.add_parser("filings", help="manage the local filings directory")
    filings_sub = filings.add_subparsers(dest="filings_command", required=True)
    imp = filings_sub.add_parser("import", help="copy a 10-K into <dir>/<TICKER>/<YEAR>.<ext>")
    imp.add_argument("path", type=Path)
    imp.add_argument("--ticker", required=True)
    imp.add_argument("--year", type=int, required=True)
    imp.add_argument("--filings-dir", type=Path)
    imp.set_defaults(func=cmd_filings_import)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key; prints it once, as the last line")
    create.add_argument("name")
    create.add_argument("--tenant", default="default")
    create.set_defaults(func=cmd_keys_create)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id", type=uuid.UUID)
    revoke.set_defaults(func=cmd_keys_revoke)
    keys_sub.add_parser("list", help="list keys (never the keys themselves)").set_defaults(
        func=cmd_keys_list
    )

    def api_options(p: argparse.ArgumentParser, *, follows: bool = True) -> None:
        p.add_argument(
            "--api",
            help="API base URL (default: $RISKDRIFT_API_URL or "
            "http://127.0.0.1:$RISKDRIFT_API_PORT)",
        )
        p.add_argument("--key", help="API key (default: $RISKDRIFT_API_KEY)")
        if follows:
            p.add_argument(
                "--timeout",
                type=float,
                default=None,
                help="give up following after this many seconds",
            )

    submit = sub.add_parser("submit", help="submit a job to a running API")
    submit.add_argument("ticker")
    submit.add_argument("current_year", type=int)
    submit.add_argument("previous_year", type=int)
    submit.add_argument("--callback", help="webhook URL for job.completed / job.failed")
    submit.add_argument(
        "--follow", action="store_true", help="show live progress (SSE), then the summary"
    )
    api_options(submit)
    submit.set_defaults(func=cmd_submit)

    watch = sub.add_parser("watch", help="follow a job's live progress, then its summary")
    watch.add_argument("job_id")
    api_options(watch)
    watch.set_defaults(func=cmd_watch)

    report = sub.add_parser("report", help="write a finished job's HTML report (and CSV)")
    report.add_argument("job_id")
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="the HTML report")
    report.add_argument("--csv", type=Path, metavar="FILE", help="the risks table as CSV")
    api_options(report)
    report.set_defaults(func=cmd_report)

    search = sub.add_parser("search", help="semantic search over your analysed risk factors")
    search.add_argument("query")
    search.add_argument("--ticker")
    search.add_argument("--year", type=int)
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--json", action="store_true", help="print the API's JSON answer")
    api_options(search)
    search.set_defaults(func=cmd_search)

    batch = sub.add_parser("batch", help="many pairs as one unit on a running API")
    batch_sub = batch.add_subparsers(dest="batch_command", required=True)
    bsubmit = batch_sub.add_parser(
        "submit", help="submit a batch: tickers (or files of tickers) for one pair of years"
    )
    bsubmit.add_argument("tickers", nargs="+", help="tickers, or files with one per line")
    bsubmit.add_argument("--years", type=int, nargs=2, metavar=("CURRENT", "PREVIOUS"))
    bsubmit.add_argument(
        "--history",
        type=int,
        nargs=2,
        metavar=("FROM", "TO"),
        help="one ticker, one job per consecutive pair of years",
    )
    bsubmit.add_argument("--callback", help="webhook URL for batch.completed")
    bsubmit.add_argument(
        "--follow", action="store_true", help="one progress bar for the batch, a line per failure"
    )
    api_options(bsubmit)
    bsubmit.set_defaults(func=cmd_batch_submit)
    bstatus = batch_sub.add_parser("status", help="a batch's counts, progress and failures")
    bstatus.add_argument("batch_id")
    api_options(bstatus)
    bstatus.set_defaults(func=cmd_batch_status)
    bresults = batch_sub.add_parser("results", help="a batch's results, one row per pair")
    bresults.add_argument("batch_id")
    bresults.add_argument("--csv", action="store_true", help="print the CSV")
    api_options(bresults)
    bresults.set_defaults(func=cmd_batch_results)

    jobs = sub.add_parser("jobs", help="list, inspect, cancel and retry jobs on a running API")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)

    def job_command(
        name: str, summary: str, func: Callable[[argparse.Namespace], int], json_help: str
    ) -> argparse.ArgumentParser:
        p = jobs_sub.add_parser(name, help=summary)
        if name != "list":
            p.add_argument("job_id", type=uuid.UUID, metavar="JOB_ID")
        p.add_argument("--json", action="store_true", help=json_help)
        api_options(p, follows=False)
        p.set_defaults(func=func)
        return p

    jlist = job_command(
        "list",
        "your jobs, newest first",
        cmd_jobs_list,
        "a JSON array of the jobs, as GET /jobs/{id} shows each",
    )
    jlist.add_argument("--status", choices=[s.value for s in JobStatus])
    jlist.add_argument("--ticker")
    jlist.add_argument(
        "--trigger", choices=list(TRIGGERS), help="api: submitted; watch: by a watchlist"
    )
    jlist.add_argument(
        "--limit",
        type=_positive_int,
        default=50,
        metavar="N",
        help="jobs per page, at most 200 (default 50)",
    )
    jlist.add_argument("--all", action="store_true", help="every page, not just the first")
    job_command(
        "show",
        "one job: status, attempts, timings, error, links",
        cmd_jobs_show,
        "the job as GET /jobs/{id} answers",
    )
    job_command(
        "result",
        "a finished job's report in the terminal",
        cmd_jobs_result,
        "the result model as JSON instead",
    )
    job_command(
        "cancel", "cancel a queued or running job", cmd_jobs_cancel, "the cancelled job as JSON"
    )
    job_command(
        "retry",
        "submit a failed or cancelled job's request again, as a new job",
        cmd_jobs_retry,
        "the new job's id, status and links as JSON",
    )
    jdeliveries = job_command(
        "deliveries",
        "a job's webhook deliveries and their attempts",
        cmd_jobs_deliveries,
        "the deliveries as JSON",
    )
    jdeliveries.add_argument(
        "--redeliver",
        action="store_true",
        help="first send the finished job's webhook again (same "
        "webhook-id and body, a new attempt series)",
    )

    watchlist = sub.add_parser(
        "watchlist", help="follow companies: every new 10-K they file is analysed"
    )
    watchlist_sub = watchlist.add_subparsers(dest="watchlist_command", required=True)

    def watchlist_command(name: str, summary: str) -> argparse.ArgumentParser:
        p = watchlist_sub.add_parser(name, help=summary)
        if name not in ("create", "list"):
            p.add_argument("watchlist_id", type=uuid.UUID, metavar="WATCHLIST_ID")
        if name in ("add", "remove"):
            p.add_argument("tickers", nargs="+", metavar="TICKER")
        p.add_argument("--json", action="store_true", help="the API's answer as JSON")
        api_options(p, follows=False)
        p.set_defaults(func=cmd_watchlist)
        return p

    wcreate = watchlist_command("create", "create a watchlist of companies")
    wcreate.add_argument("name")
    wcreate.add_argument("tickers", nargs="+", metavar="TICKER")
    wcreate.add_argument("--callback", help="webhook URL for filing.analysed")
    wcreate.add_argument(
        "--forms",
        nargs="+",
        choices=["10-K", "10-K/A"],
        help="the forms that start an analysis (default: 10-K)",
    )
    watchlist_command("list", "your watchlists, newest first")
    watchlist_command("show", "a watchlist: per company its last filing seen and last analysis")
    watchlist_command("add", "watch more companies")
    watchlist_command("remove", "stop watching some companies")
    watchlist_command("delete", "delete a watchlist (the analyses it started stay)")

    history = sub.add_parser("history", help="a company's Item 1A year by year")
    history.add_argument("ticker")
    history.add_argument("from_year", type=int)
    history.add_argument("to_year", type=int)
    history.add_argument("--chart", help="write an SVG line chart to this file")
    api_options(history)
    history.set_defaults(func=cmd_history)

    dev = sub.add_parser("dev", help="embedded services + API + worker + a demo job (make run)")
    dev.add_argument("--once", action="store_true", help="exit after the demo job")
    dev.add_argument(
        "--port",
        type=int,
        default=None,
        help="serve the API here (default: $RISKDRIFT_API_PORT, else 8000)",
    )
    dev.add_argument(
        "--filings-dir",
        type=Path,
        default=None,
        help="also serve the 10-Ks in this <dir>/<TICKER>/<YEAR>.html directory",
    )
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except RiskdriftError as exc:
        print(f"riskdrift: error: {exc}", file=sys.stderr)
        return 2
    except SettingsError as exc:  # an environment value that is not even parseable
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        print(f"riskdrift: configuration error: {exc}{cause}", file=sys.stderr)
        return 2
    except pydantic.ValidationError as exc:
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            print(f"riskdrift: error: {field}: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
