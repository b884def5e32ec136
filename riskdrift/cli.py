"""The ``riskdrift`` command: run the API or a worker, migrate, analyse in-process, demo.

This module is an entrypoint: it builds Settings and is one of the few places
allowed to call ``asyncio.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from riskdrift.config import Settings
from riskdrift.errors import RiskdriftError
from riskdrift.logging import configure_logging


def _settings(**overrides: object) -> Settings:
    settings = Settings()
    update = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=update) if update else settings


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from riskdrift.api.app import create_app

    settings = _settings(api_host=args.host, api_port=args.port)
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import run_worker

    from riskdrift.worker.settings import build_worker_settings

    settings = _settings()
    configure_logging(settings)
    run_worker(build_worker_settings(settings))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from riskdrift.store.migrate import migrate
    from riskdrift.store.pool import create_pool

    settings = _settings()
    configure_logging(settings)

    async def run() -> list[int]:
        pool = await create_pool(settings, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                return await migrate(conn)
        finally:
            await pool.close()

    applied = asyncio.run(run())
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from riskdrift.report import run_analysis

    settings = _settings(filings_dir=args.filings_dir)
    if args.filings_dir is not None:
        settings = settings.model_copy(update={"filings_source": "local"})
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    return asyncio.run(
        run_analysis(
            settings, args.ticker, args.current_year, args.previous_year, as_json=args.json
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


def cmd_dev(args: argparse.Namespace) -> int:
    from riskdrift.devrun import run_demo

    return run_demo(keep_serving=not args.once, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskdrift", description="10-K risk-factor drift analysis as a job service."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser(
        "worker", help="run an analysis worker (same as `arq riskdrift.worker.AnalysisWorker`)"
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
    analyze.set_defaults(func=cmd_analyze)

    filings = sub.add_parser("filings", help="manage the local filings directory")
    filings_sub = filings.add_subparsers(dest="filings_command", required=True)
    imp = filings_sub.add_parser("import", help="copy a 10-K into <dir>/<TICKER>/<YEAR>.<ext>")
    imp.add_argument("path", type=Path)
    imp.add_argument("--ticker", required=True)
    imp.add_argument("--year", type=int, required=True)
    imp.add_argument("--filings-dir", type=Path)
    imp.set_defaults(func=cmd_filings_import)

    dev = sub.add_parser("dev", help="embedded services + API + worker + a demo job (make run)")
    dev.add_argument("--once", action="store_true", help="exit after the demo job")
    dev.add_argument("--port", type=int, default=None)
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except RiskdriftError as exc:
        print(f"riskdrift: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
