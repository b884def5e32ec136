"""The ``riskdrift`` command: run the API or a worker, migrate, analyse in-process, demo.

This module is an entrypoint: it builds Settings and is one of the few places
allowed to call ``asyncio.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
from pydantic_settings import SettingsError

from riskdrift import __version__
from riskdrift.config import Settings
from riskdrift.errors import RiskdriftError
from riskdrift.logging import configure_logging
from riskdrift.models import JobStatus
from riskdrift.store.pool import Connection

T = TypeVar("T")


def _settings(**overrides: object) -> Settings:
    settings = Settings()
    update = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=update) if update else settings


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from riskdrift.api.app import create_app
    from riskdrift.dev.preflight import check_services

    settings = _settings(api_host=args.host, api_port=args.port)
    configure_logging(settings)
    check_services(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def cmd_worker(args: argparse.Namespace) -> int:
    from riskdrift.dev.preflight import check_services
    from riskdrift.worker.resilient import run_resilient
    from riskdrift.worker.settings import (
        build_embeddings_worker_settings,
        build_webhook_worker_settings,
        build_worker_settings,
    )

    settings = _settings()
    configure_logging(settings)
    check_services(settings)
    if args.processes > 1:
        from riskdrift.worker.supervisor import Supervisor, worker_command

        supervisor = Supervisor(
            worker_command(args.queue), args.processes, grace=settings.worker_shutdown_grace
        )
        return supervisor.run()
    if args.queue == "embeddings":
        run_resilient(build_embeddings_worker_settings(settings))
    elif args.queue == "webhooks":
        run_resilient(build_webhook_worker_settings(settings))
    else:
        run_resilient(build_worker_settings(settings))
    return 0


def _with_db(
    settings: Settings, work: Callable[[Connection], Awaitable[T]], *, migrate_first: bool = True
) -> T:
    """Run ``work`` on one (migrated) connection; an entrypoint helper."""
    from riskdrift.store.migrate import migrate
    from riskdrift.store.pool import create_pool

    async def run() -> T:
        pool = await create_pool(settings, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                if migrate_first:
                    await migrate(conn)
                return await work(conn)
        finally:
            await pool.close()

    return asyncio.run(run())


def cmd_keys_create(args: argparse.Namespace) -> int:
    from riskdrift.store.api_keys import create_key

    settings = _settings()
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    record, key = _with_db(settings, lambda c: create_key(c, name=args.name, tenant=args.tenant))
    print(f"created key {record.id} ({record.name}) for tenant {record.tenant}")
    print("store it now; it is not shown again:")
    print(key)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from riskdrift.store.api_keys import revoke_key

    settings = _settings()
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    if not _with_db(settings, lambda c: revoke_key(c, args.key_id)):
        raise RiskdriftError(f"no active key {args.key_id}")
    print(f"revoked {args.key_id}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from riskdrift.store.api_keys import list_keys

    settings = _settings()
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    for key in _with_db(settings, list_keys):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        print(f"{key.id}  {key.prefix}…  {key.tenant:<16} {key.name:<24} {state}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from riskdrift.store.migrate import migrate

    settings = _settings()
    configure_logging(settings)
    applied = _with_db(settings, migrate, migrate_first=False)
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from riskdrift.cli.analyze import Outputs, run_analysis

    settings = _settings(filings_dir=args.filings_dir)
    if args.filings_dir is not None:
        settings = settings.model_copy(update={"filings_source": "local"})
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    outputs = Outputs(html=args.html, csv=args.csv)
    return asyncio.run(
        run_analysis(
            settings,
            args.ticker,
            args.current_year,
            args.previous_year,
            as_json=args.json,
            outputs=outputs,
        )
    )


def cmd_report(args: argparse.Namespace) -> int:
    """``riskdrift report JOB_ID -o FILE [--csv FILE]``: a finished job's report from the API."""
    from rich.console import Console

    from riskdrift.cli.analyze import Outputs, report_job

    if args.output is None and args.csv is None:
        raise RiskdriftError("give -o FILE (HTML report) and/or --csv FILE (risks table)")
    return asyncio.run(
        report_job(
            _api_url(args),
            args.job_id,
            api_key=_api_key(args),
            outputs=Outputs(html=args.output, csv=args.csv),
            console=Console(stderr=True),
        )
    )


def cmd_filings_import(args: argparse.Namespace) -> int:
    from riskdrift.sources.local import import_filing

    settings = _settings(filings_dir=args.filings_dir)
    if settings.filings_dir is None:
        raise RiskdriftError("set RISKDRIFT_FILINGS_DIR or pass --filings-dir")
    target = import_filing(settings.filings_dir, args.path, args.ticker, args.year)
    print(target)
    return 0


def _api_url(args: argparse.Namespace) -> str:
    import os

    if args.api:
        return str(args.api).rstrip("/")
    return os.environ.get("RISKDRIFT_API_URL") or f"http://127.0.0.1:{_settings().api_port}"


def _api_key(args: argparse.Namespace) -> str | None:
    import os

    return args.key or os.environ.get("RISKDRIFT_API_KEY") or None


def cmd_submit(args: argparse.Namespace) -> int:
    from rich.console import Console

    from riskdrift.client.follow import submit_and_follow

    configure_logging(_settings().model_copy(update={"log_level": "WARNING"}))
    return asyncio.run(
        submit_and_follow(
            _api_url(args),
            args.ticker,
            [args.current_year, args.previous_year],
            console=Console(),
            callback_url=args.callback,
            api_key=_api_key(args),
            follow=args.follow,
            give_up_after=args.timeout,
        )
    )


def cmd_watch(args: argparse.Namespace) -> int:
    from rich.console import Console

    from riskdrift.client.follow import watch

    configure_logging(_settings().model_copy(update={"log_level": "WARNING"}))
    return asyncio.run(
        watch(
            _api_url(args),
            args.job_id,
            console=Console(),
            api_key=_api_key(args),
            give_up_after=args.timeout,
        )
    )


def cmd_search(args: argparse.Namespace) -> int:
    """Ask a running API's ``GET /risks/search`` (same --api/--key as ``submit``)."""
    from riskdrift.client.api import check, connect

    params: dict[str, str | int] = {"q": args.query, "limit": args.limit}
    if args.ticker:
        params["ticker"] = args.ticker
    if args.year:
        params["year"] = args.year

    async def ask() -> tuple[str, Any]:
        async with connect(
            _api_url(args), api_key=_api_key(args), request_timeout=args.timeout or 30.0
        ) as http:
            answer = await http.get("/risks/search", params=params)
        return answer.text, check(answer, "search")

    text, body = asyncio.run(ask())
    if args.json:
        print(text)
        return 0
    for hit in body["results"]:
        print(
            f"{hit['score']:.3f}  {hit['ticker']} {hit['year']}  [{hit['category']}]  "
            f"{hit['title'][:100]}"
        )
    if not body["results"]:
        print("no stored risks match (only your own analyses are searched)")
    return 0


def cmd_batch_submit(args: argparse.Namespace) -> int:
    """``riskdrift batch submit FILE|TICKERS… --years CUR PREV`` or ``--history FROM TO``."""
    from rich.console import Console

    from riskdrift.client.batches import read_tickers, submit_batch

    body: dict[str, Any]
    if args.history:
        if len(args.tickers) != 1 or args.years:
            raise RiskdriftError("--history takes one ticker and no --years")
        body = {"ticker": args.tickers[0], "from_year": args.history[0], "to_year": args.history[1]}
    else:
        if not args.years:
            raise RiskdriftError("give --years CURRENT PREVIOUS (or --history FROM TO)")
        body = {"tickers": read_tickers(args.tickers), "years": args.years}
    if args.callback:
        body["callback_url"] = args.callback
    configure_logging(_settings().model_copy(update={"log_level": "WARNING"}))
    return asyncio.run(
        submit_batch(
            _api_url(args), body, api_key=_api_key(args), console=Console(), follow=args.follow
        )
    )


def cmd_batch_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from riskdrift.client.batches import batch_status

    return asyncio.run(
        batch_status(_api_url(args), args.batch_id, api_key=_api_key(args), console=Console())
    )


def cmd_batch_results(args: argparse.Namespace) -> int:
    from riskdrift.client.batches import batch_results

    print(
        asyncio.run(
            batch_results(_api_url(args), args.batch_id, api_key=_api_key(args), as_csv=args.csv)
        ),
        end="" if args.csv else "\n",
    )
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """``riskdrift history TICKER FROM TO [--chart FILE]``."""
    from riskdrift.client.batches import fetch_history, history_table
    from riskdrift.render.charts import history_svg

    history = asyncio.run(
        fetch_history(
            _api_url(args), args.ticker, args.from_year, args.to_year, api_key=_api_key(args)
        )
    )
    print(history_table(history))
    if args.chart:
        Path(args.chart).write_text(history_svg(history), encoding="utf-8")
        print(f"chart written to {args.chart}")
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    """``riskdrift jobs list [--status S] [--ticker T] [--limit N] [--all] [--json]``."""
    from riskdrift.client.jobs import JOB_LIST, jobs_table, list_jobs

    found, more = asyncio.run(
        list_jobs(
            _api_url(args),
            api_key=_api_key(args),
            status=args.status,
            ticker=args.ticker,
            limit=args.limit,
            every=args.all,
        )
    )
    print(JOB_LIST.dump_json(found, indent=2).decode() if args.json else jobs_table(found))
    if more:
        print(f"(newest {len(found)} shown; --all for every page)", file=sys.stderr)
    return 0


def cmd_jobs_show(args: argparse.Namespace) -> int:
    from riskdrift.client.jobs import get_job, job_detail

    api = _api_url(args)
    job = asyncio.run(get_job(api, str(args.job_id), api_key=_api_key(args)))
    print(job.model_dump_json(indent=2) if args.json else job_detail(job, api))
    return 0


def cmd_jobs_result(args: argparse.Namespace) -> int:
    """A finished job's result: the terminal report ``analyze`` prints, or its JSON."""
    from rich.console import Console

    from riskdrift.cli.analyze import fetch_result
    from riskdrift.render.terminal import print_report

    result = asyncio.run(fetch_result(_api_url(args), str(args.job_id), api_key=_api_key(args)))
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print_report(result, Console())
    return 0


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    from riskdrift.client.jobs import cancel_job

    job = asyncio.run(cancel_job(_api_url(args), str(args.job_id), api_key=_api_key(args)))
    print(job.model_dump_json(indent=2) if args.json else f"job {job.job_id} {job.status}")
    return 0


def cmd_jobs_retry(args: argparse.Namespace) -> int:
    from riskdrift.client.jobs import retry_job

    new = asyncio.run(retry_job(_api_url(args), str(args.job_id), api_key=_api_key(args)))
    print(
        new.model_dump_json(indent=2)
        if args.json
        else f"job {new.job_id} {new.status} (a retry of {args.job_id})"
    )
    return 0


def cmd_jobs_deliveries(args: argparse.Namespace) -> int:
    """A job's webhook deliveries; ``--redeliver`` sends its webhook again first."""
    from riskdrift.client.jobs import deliveries_text, list_deliveries, redeliver

    api, key, job_id = _api_url(args), _api_key(args), str(args.job_id)
    if args.redeliver:
        again = asyncio.run(redeliver(api, job_id, api_key=key))
        if args.json:
            print(again.model_dump_json(indent=2))
            return 0
        print(f"redelivery queued: {again.type} webhook {again.webhook_id}, series {again.series}")
    shown = asyncio.run(list_deliveries(api, job_id, api_key=key))
    print(shown.model_dump_json(indent=2) if args.json else deliveries_text(shown))
    return 0


def cmd_watchlist(args: argparse.Namespace) -> int:
    """``riskdrift watchlist create|list|show|add|remove|delete`` on a running API."""
    from riskdrift.client import watchlists as client

    api, key = _api_url(args), _api_key(args)
    command = args.watchlist_command
    if command == "list":
        found = asyncio.run(client.list_watchlists(api, api_key=key))
        print(
            client.WATCHLISTS.dump_json(found, indent=2).decode()
            if args.json
            else client.watchlists_table(found)
        )
        return 0
    if command == "delete":
        asyncio.run(client.delete_watchlist(api, str(args.watchlist_id), api_key=key))
        print(f"watchlist {args.watchlist_id} deleted")
        return 0
    if command == "create":
        shown = asyncio.run(
            client.create_watchlist(
                api,
                args.name,
                args.tickers,
                api_key=key,
                callback_url=args.callback,
                forms=args.forms,
            )
        )
    elif command in ("add", "remove"):
        change = {command: args.tickers}
        shown = asyncio.run(
            client.change_companies(api, str(args.watchlist_id), api_key=key, **change)
        )
    else:
        shown = asyncio.run(client.get_watchlist(api, str(args.watchlist_id), api_key=key))
    print(shown.model_dump_json(indent=2) if args.json else client.watchlist_detail(shown))
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from rich.console import Console

    from riskdrift.client.follow import follow_job
    from riskdrift.dev.run import run_demo

    def follow(
        base_url: str, job_id: str, api_key: str | None, console: Console, timeout: float
    ) -> dict[str, Any]:
        # Live progress over the job's SSE stream, reconnecting with Last-Event-ID.
        try:
            return asyncio.run(
                follow_job(
                    base_url, job_id, console=console, api_key=api_key, give_up_after=timeout
                )
            )
        except TimeoutError:
            message = f"demo job {job_id} did not finish within {timeout:.0f} s"
            raise RiskdriftError(message) from None

    return run_demo(
        follow, keep_serving=not args.once, port=args.port, filings_dir=args.filings_dir
    )


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
