"""The commands that talk to a running API: ``submit``, ``watch``, ``search``, ``batch``,
``history``, ``jobs``, ``watchlist`` and ``report``, through :mod:`riskdrift.client`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from riskdrift.cli.local import settings_from_env
from riskdrift.errors import RiskdriftError
from riskdrift.logging import configure_logging


def api_url(args: argparse.Namespace) -> str:
    import os

    if args.api:
        return str(args.api).rstrip("/")
    return os.environ.get("RISKDRIFT_API_URL") or f"http://127.0.0.1:{settings_from_env().api_port}"


def api_key_of(args: argparse.Namespace) -> str | None:
    import os

    return args.key or os.environ.get("RISKDRIFT_API_KEY") or None


def cmd_submit(args: argparse.Namespace) -> int:
    from rich.console import Console

    from riskdrift.client.follow import submit_and_follow

    configure_logging(settings_from_env().model_copy(update={"log_level": "WARNING"}))
    return asyncio.run(
        submit_and_follow(
            api_url(args),
            args.ticker,
            [args.current_year, args.previous_year],
            console=Console(),
            callback_url=args.callback,
            api_key=api_key_of(args),
            follow=args.follow,
            give_up_after=args.timeout,
        )
    )


def cmd_watch(args: argparse.Namespace) -> int:
    from rich.console import Console

    from riskdrift.client.follow import watch

    configure_logging(settings_from_env().model_copy(update={"log_level": "WARNING"}))
    return asyncio.run(
        watch(
            api_url(args),
            args.job_id,
            console=Console(),
            api_key=api_key_of(args),
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
            api_url(args), api_key=api_key_of(args), request_timeout=args.timeout or 30.0
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
    configure_logging(settings_from_env().model_copy(update={"log_level": "WARNING"}))
    return asyncio.run(
        submit_batch(
            api_url(args), body, api_key=api_key_of(args), console=Console(), follow=args.follow
        )
    )


def cmd_batch_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from riskdrift.client.batches import batch_status

    return asyncio.run(
        batch_status(api_url(args), args.batch_id, api_key=api_key_of(args), console=Console())
    )


def cmd_batch_results(args: argparse.Namespace) -> int:
    from riskdrift.client.batches import batch_results

    print(
        asyncio.run(
            batch_results(api_url(args), args.batch_id, api_key=api_key_of(args), as_csv=args.csv)
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
            api_url(args), args.ticker, args.from_year, args.to_year, api_key=api_key_of(args)
        )
    )
    print(history_table(history))
    if args.chart:
        Path(args.chart).write_text(history_svg(history), encoding="utf-8")
        print(f"chart written to {args.chart}")
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    """``riskdrift jobs list [--status S] [--ticker T] [--trigger api|watch] [--limit N] [--all]
    [--json]``."""
    from riskdrift.client.jobs import JOB_LIST, jobs_table, list_jobs

    found, more = asyncio.run(
        list_jobs(
            api_url(args),
            api_key=api_key_of(args),
            status=args.status,
            ticker=args.ticker,
            trigger=args.trigger,
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

    api = api_url(args)
    job = asyncio.run(get_job(api, str(args.job_id), api_key=api_key_of(args)))
    print(job.model_dump_json(indent=2) if args.json else job_detail(job, api))
    return 0


def cmd_jobs_result(args: argparse.Namespace) -> int:
    """A finished job's result: the terminal report ``analyze`` prints, or its JSON."""
    from rich.console import Console

    from riskdrift.cli.analyze import fetch_result
    from riskdrift.render.terminal import print_report

    result = asyncio.run(fetch_result(api_url(args), str(args.job_id), api_key=api_key_of(args)))
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print_report(result, Console())
    return 0


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    from riskdrift.client.jobs import cancel_job

    job = asyncio.run(cancel_job(api_url(args), str(args.job_id), api_key=api_key_of(args)))
    print(job.model_dump_json(indent=2) if args.json else f"job {job.job_id} {job.status}")
    return 0


def cmd_jobs_retry(args: argparse.Namespace) -> int:
    from riskdrift.client.jobs import retry_job

    new = asyncio.run(retry_job(api_url(args), str(args.job_id), api_key=api_key_of(args)))
    print(
        new.model_dump_json(indent=2)
        if args.json
        else f"job {new.job_id} {new.status} (a retry of {args.job_id})"
    )
    return 0


def cmd_jobs_deliveries(args: argparse.Namespace) -> int:
    """A job's webhook deliveries; ``--redeliver`` sends its webhook again first."""
    from riskdrift.client.jobs import deliveries_text, list_deliveries, redeliver

    api, key, job_id = api_url(args), api_key_of(args), str(args.job_id)
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

    api, key = api_url(args), api_key_of(args)
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


def cmd_report(args: argparse.Namespace) -> int:
    """``riskdrift report JOB_ID -o FILE [--csv FILE]``: a finished job's report from the API."""
    from rich.console import Console

    from riskdrift.cli.analyze import Outputs, report_job

    if args.output is None and args.csv is None:
        raise RiskdriftError("give -o FILE (HTML report) and/or --csv FILE (risks table)")
    return asyncio.run(
        report_job(
            api_url(args),
            args.job_id,
            api_key=api_key_of(args),
            outputs=Outputs(html=args.output, csv=args.csv),
            console=Console(stderr=True),
        )
    )
