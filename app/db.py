"""Database configuration and connectivity checks."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

from app.settings import Settings, get_settings

MODELS_MODULE = "app.models"
MIGRATIONS_MODULE = "app.migrations"


def tortoise_config(database_url: str | None = None, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    url = database_url or settings.effective_database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://"):]
    if url.startswith("postgres://") and "maxsize=" not in url:
        url += ("&" if "?" in url else "?") + f"maxsize={settings.db_pool_max_size}"
    return {
        "connections": {"default": _with_light_reset(url) if is_postgres(url) else url},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def _release_as_is(connection) -> None:
    """What the pool does when a connection comes back. asyncpg's default runs `RESET ALL; UNLISTEN *;
    CLOSE ALL; pg_advisory_unlock_all()` — one more round trip after every statement Tortoise runs,
    for session state this application never sets (asyncpg still rolls back an open transaction
    itself before calling this)."""


def _with_light_reset(url: str) -> dict:
    from tortoise.backends.base.config_generator import expand_db_url

    config = expand_db_url(url)
    config["credentials"]["reset"] = _release_as_is
    return config




def is_postgres(url: str) -> bool:
    return urlparse(url).scheme in ("postgres", "postgresql", "asyncpg")


class DatabaseUnreachable(RuntimeError):
    pass


async def check_database(url: str, timeout: float) -> None:
    """Fail fast with one clear message instead of hanging on a dead database."""
    if not is_postgres(url):
        return
    import asyncpg

    dsn = url.split("?", 1)[0].replace("postgres://", "postgresql://", 1)
    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn, timeout=timeout), timeout + 1)
        await conn.close()
    except Exception as exc:  # any failure means the same thing to the operator
        safe = urlparse(dsn)._replace(netloc=urlparse(dsn).hostname or "").geturl()
        raise DatabaseUnreachable(f"cannot reach the database at {safe}: {exc}") from None


# Used by the `tortoise` CLI (makemigrations) through [tool.tortoise] in pyproject.toml.
TORTOISE_ORM = tortoise_config()
