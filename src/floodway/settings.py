"""Settings, built once at start and passed down (architecture.md "Configuration").

Highest first: command-line flags (applied by the CLI), ``FLOODWAY_*`` environment variables,
``settings.toml`` in the data directory, defaults. No other module reads the environment.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOODWAY_", extra="ignore")

    data: Path | None = None
    database_url: str | None = None  # PostgreSQL for production; default SQLite in the data dir
    public_url: str | None = None  # base URL clients see (OAuth api_domain); default: the request's
    secret_key: str | None = None  # 64 hex characters; default: <data>/secret.key, created 0600
    rate_limit_per_s: float = 20.0  # per token / API key; 0 switches the limit off
    rate_limit_burst: int = 100
    invokeurl_daily: int = 50_000  # outbound calls per org and day
    sendmail_daily: int = 1_000  # sendmail messages per org and day
    execution_retention_days: int = 30
    execution_failure_retention_days: int = 90
    function_cache_ttl_s: float = 1.0  # how soon other nodes see a publish
    smtp_host: str | None = None  # outbound mail; without it sendmail stays in the outbox
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    strict_fields_param: bool = False
    strict_pagination: bool = False
    # Comma-separated in the environment (host, host:port or CIDR), not JSON.
    invokeurl_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    time_zone: str = "UTC"
    month_first: bool = True  # input order of ambiguous numeric dates: 01-02-2026 is 2 January
    validation_time_limit_s: float = 10.0
    schedule_time_limit_s: float = 900.0
    statement_limit: int = 200_000
    compat_statement_limit: bool = False
    time_limit_s: float = 60.0
    memory_limit_mb: int = 256
    # Automation and the job engine
    workflow_max_chain_depth: int = 5  # rules do not fire for writes at this chain depth
    worker_concurrency: int = 4  # job threads per worker process (serve's in-process worker too)
    serve_worker: bool = True  # serve runs jobs itself; False when separate `floodway worker`s do
    job_max_attempts: int = 5  # infrastructure retries of a job before it fails
    job_heartbeat_s: float = 2.0  # worker heartbeat
    job_stalled_after_s: float = 10.0  # a doing job whose worker is silent this long is recovered
    job_poll_interval_s: float = 0.5  # how often idle workers look for due delayed jobs
    job_retention_days: int = 7  # finished jobs kept this long
    webhook_timeout_s: float = 10.0
    session_max_age_s: int = 8 * 3600  # console login sessions
    insecure_cookies: bool = False  # console sign-in over plain http off loopback (AUTH-7)

    @field_validator("invokeurl_allow", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def load_settings(data: Path | None = None, **overrides: Any) -> Settings:
    """Environment and ``settings.toml`` of the data directory, then explicit overrides."""
    file_values: dict[str, Any] = {}
    data_dir = data
    if data_dir is not None and (data_dir / "settings.toml").is_file():
        file_values = tomllib.loads((data_dir / "settings.toml").read_text("utf-8"))
    env = Settings()
    merged = {
        **file_values,
        **env.model_dump(exclude_unset=True),
        **{k: v for k, v in overrides.items() if v is not None},
    }
    if data_dir is not None:
        merged["data"] = data_dir
    return Settings(**merged)
