"""Settings: the only module that reads the environment."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field("development", description="development | test | production")
    database_url: str | None = Field(None, description="postgres://… or sqlite://…; unset = embedded SQLite")
    redis_url: str | None = Field(None, description="unset = redis://127.0.0.1:6379/0, else an embedded Redis")
    data_dir: Path = Path("./data")
    secret_key: str | None = None
    # Access tokens are short-lived; clients renew them with the refresh token (rotated on every use).
    token_ttl_minutes: int = 15
    refresh_token_ttl_days: int = 14
    # Login throttling (Redis): failures allowed per account and per client address within the window,
    # then a lockout that doubles with every further failure, from base up to max.
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_failure_window_seconds: int = 15 * 60
    login_lockout_base_seconds: float = 30.0
    login_lockout_max_seconds: float = 15 * 60
    # Open WebSockets re-check their credential this often (revocations also arrive at once by pub/sub).
    ws_session_check_seconds: float = 30.0
    # Browser origins (scheme://host[:port]) allowed to call the API from another origin: CORS on HTTP
    # (preflights answered) and the WebSocket handshake's origin check alike; "*" allows any.
    # Comma-separated or a JSON list: ALLOWED_ORIGINS=http://localhost:5173,https://crm.example.com
    allowed_origins: Annotated[list[str], NoDecode] = []
    cors_allow_credentials: bool = True
    cors_max_age_seconds: int = 600
    # GraphiQL (served offline from app/api/graphiql/) on GET /graphql; unset = in development only.
    graphiql_enabled: bool | None = None
    # Persisted documents: Apollo's automatic persisted queries, and in production the trusted-documents
    # mode where only documents registered with `crm register-documents` run.
    trusted_documents_only: bool = False
    apq_cache_size: int = 1000
    max_batch_operations: int = 10
    host: str = "127.0.0.1"
    port: int = 8000
    connect_timeout_seconds: float = 5.0
    db_pool_max_size: int = 10
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    # Query cost (app/api/cost.py): the static cost of one operation, refused above the maximum before
    # anything runs; a list field without `first` is assumed to hold this many items.
    max_query_cost: int = 20_000
    cost_assumed_list_size: int = 20
    cost_per_mutation_field: int = 10
    # Each caller's (user, API key or anonymous client address) budget: a leaky bucket in Redis holding
    # at most `capacity` cost units and draining `refill_per_second`. Redis down: the budget is skipped.
    cost_budget_enabled: bool = True
    cost_budget_capacity: int = 100_000
    cost_budget_refill_per_second: float = 10_000.0
    # Request bodies above this many bytes are refused (413) while they stream in.
    max_body_bytes: int = 1_000_000
    # Introspection for anonymous callers; unset = allowed except when environment is production.
    anonymous_introspection: bool | None = None
    # Compiled plans for the hot read queries (app/api/fastpath.py); off = standard execution only.
    fast_path_enabled: bool = True
    # Results of the fast path's queries per visibility scope, voided at commit by PostgreSQL NOTIFY
    # (app/queries/read_cache.py); PostgreSQL only. Bounded in rows held per process.
    read_cache_enabled: bool = True
    read_cache_max_rows: int = 200_000
    smtp_url: str | None = Field(None, description="smtp://user:pass@host:port (smtps:// for TLS); unset = store only")
    mail_from: str = "Kitchen Pantry CRM <crm@kitchenpantry.example>"
    job_timeout_seconds: int = 30
    # `crm worker` processes; unset = one per CPU on PostgreSQL, one on SQLite (a single writer).
    worker_processes: int | None = None
    events_channel: str = Field("crm:events", description="Redis pub/sub channel of the domain events")
    # Completed events (and their webhook delivery records) older than this are purged nightly; never
    # shorter than the change log's 7-day cursor window. Incomplete events are always kept.
    event_log_retention_days: int = Field(30, ge=7)
    # Field history (who changed which field of a deal, account or contact) older than this is purged
    # nightly; unset keeps it for good.
    field_history_retention_days: int | None = Field(None, ge=1)
    ws_connection_init_timeout_seconds: float = 10.0
    ws_max_subscriptions_per_connection: int = 20
    # Webhook targets on loopback, link-local or private networks are refused unless this is set.
    webhook_allow_private_networks: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_first_retry_seconds: float = 30.0

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def allows_anonymous_introspection(self) -> bool:
        if self.anonymous_introspection is not None:
            return self.anonymous_introspection
        return self.environment != "production"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite://{self.data_dir / 'crm.sqlite3'}"

    @property
    def effective_secret_key(self) -> str:
        """A configured key, else one kept under data_dir so tokens survive restarts."""
        if self.secret_key:
            return self.secret_key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@lru_cache
def get_settings() -> Settings:
    return Settings()
