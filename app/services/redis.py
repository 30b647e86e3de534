"""Redis connection settings shared by the API, the arq worker and the queue."""

from __future__ import annotations

import asyncio
import os

from arq.connections import RedisSettings
from redis.asyncio import Redis

from app.settings import DEFAULT_REDIS_URL, get_settings

# Set by `crm serve` when it had to start an embedded Redis for the session.
EMBEDDED_REDIS_ENV = "CRM_EMBEDDED_REDIS_URL"


def redis_url() -> str:
    return get_settings().redis_url or os.environ.get(EMBEDDED_REDIS_ENV) or DEFAULT_REDIS_URL


def arq_redis_settings(url: str | None = None) -> RedisSettings:
    settings = RedisSettings.from_dsn(url or redis_url())
    settings.conn_timeout, settings.conn_retries = 2, 1
    return settings


async def ping_redis(url: str | None = None, timeout: float = 2.0) -> bool:
    client = Redis.from_url(url or redis_url(), socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout + 0.5))
    except Exception:
        return False
    finally:
        await client.aclose()
