"""Enqueueing arq jobs from use cases. The database stays the source of truth: a job is only a
trigger, so enqueueing never fails a use case when Redis is down (callers keep what must survive
in the database and a relay or cron catches up)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis

from app.services.redis import arq_redis_settings

log = logging.getLogger(__name__)

_pool: ArqRedis | None = None
_pool_lock = asyncio.Lock()


async def get_pool() -> ArqRedis:
    global _pool
    async with _pool_lock:
        if _pool is None:
            _pool = await create_pool(arq_redis_settings())
        return _pool


async def close_pool() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
        _pool = None


async def enqueue(function: str, *args: Any, job_id: str | None = None,
                  defer_until: datetime | None = None, timeout: float = 2.0) -> bool:
    """Enqueue a job; False (logged, not raised) when Redis cannot take it right now.

    With a deterministic job_id arq refuses a duplicate while the job or its result exists,
    which is the behaviour we want; that case also returns True (the work is queued)."""
    try:
        pool = await asyncio.wait_for(get_pool(), timeout)
        await asyncio.wait_for(
            pool.enqueue_job(function, *args, _job_id=job_id, _defer_until=defer_until), timeout
        )
        return True
    except Exception as exc:  # Redis down or slow: the caller's durable state lets us retry later
        log.warning("could not enqueue %s (%s): %s", function, job_id, exc)
        await close_pool()
        return False


async def abort(job_id: str, timeout: float = 2.0) -> bool:
    """Drop a queued (deferred) job that has not started. False when Redis cannot be reached."""
    try:
        pool = await asyncio.wait_for(get_pool(), timeout)
        # Removing it from the queue is enough for a job that has not started.
        removed = await asyncio.wait_for(pool.zrem(pool.default_queue_name, job_id), timeout)
        await pool.delete(f"arq:job:{job_id}")
        return bool(removed)
    except Exception as exc:
        log.warning("could not abort job %s: %s", job_id, exc)
        await close_pool()
        return False

