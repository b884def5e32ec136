"""The commands that run on this machine: ``api``, ``worker``, ``migrate``, ``keys``,
``filings``, ``analyze`` (in-process) and ``dev``.

Entrypoints: they build Settings and may call ``asyncio.run``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from riskdrift.config import Settings
from riskdrift.errors import RiskdriftError
from riskdrift.logging import configure_logging
from riskdrift.store.pool import Connection

T = TypeVar("T")


def settings_from_env(**overrides: object) -> Settings:
    """The environment's Settings with the command line's ``overrides`` (``None``: unset)."""
    settings = Settings()
    update = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=update) if update else settings


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from riskdrift.api.app import create_app
    from riskdrift.dev.preflight import check_services

    settings = settings_from_env(api_host=args.host, api_port=args.port)
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


def cmd_worker(args: argparse.Namespace) -> int:
    from riskdrift.dev.preflight import check_services
    from riskdrift.worker.resilient import run_resilient
    from riskdrift.worker.settings import (
        build_embeddings_worker_settings,
        build_webhook_worker_settings,
        build_worker_settings,
    )

    settings = settings_from_env()
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

    settings = settings_from_env()
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    record, key = _with_db(settings, lambda c: create_key(c, name=args.name, tenant=args.tenant))
    print(f"created key {record.id} ({record.name}) for tenant {record.tenant}")
    print("store it now; it is not shown again:")
    print(key)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from riskdrift.store.api_keys import revoke_key

    settings = settings_from_env()
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    if not _with_db(settings, lambda c: revoke_key(c, args.key_id)):
        raise RiskdriftError(f"no active key {args.key_id}")
    print(f"revoked {args.key_id}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from riskdrift.store.api_keys import list_keys

    settings = settings_from_env()
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    for key in _with_db(settings, list_keys):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        print(f"{key.id}  {key.prefix}…  {key.tenant:<16} {key.name:<24} {state}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from riskdrift.store.migrate import migrate

    settings = settings_from_env()
    configure_logging(settings)
    applied = _with_db(settings, migrate, migrate_first=False)
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from riskdrift.cli.analyze import Outputs, run_analysis

    settings = settings_from_env(filings_dir=args.filings_dir)
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


def cmd_filings_import(args: argparse.Namespace) -> int:
    from riskdrift.sources.local import import_filing

    settings = settings_from_env(filings_dir=args.filings_dir)
    if settings.filings_dir is None:
        raise RiskdriftError("set RISKDRIFT_FILINGS_DIR or pass --filings-dir")
    target = import_filing(settings.filings_dir, args.path, args.ticker, args.year)
    print(target)
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
