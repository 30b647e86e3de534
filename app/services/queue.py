"""Enqueueing arq jobs from use cases. The database stays the source of truth: a job is only a
trigger, so enqueueing never fails a use case when Redis is down (callers keep what must survive
in the database and a relay or cron catches up)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
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
    _deferred_until.clear()  # what we know of the queue holds for this connection's Redis only
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


# Debounced jobs this process created, by job id → when they start. Until then such a job is
# certainly still queued and arq would refuse the duplicate anyway, so Redis is not asked again
# (a burst of 100 stage moves costs one enqueue per debounced job, not 100).
_deferred_until: dict[str, datetime] = {}


def still_deferred(job_id: str) -> bool:
    """True when this process created the job and it has not reached its start time."""
    at = _deferred_until.get(job_id)
    return at is not None and at > datetime.now(timezone.utc)


async def enqueue_debounced(function: str, *args: Any, job_id: str, defer_until: datetime) -> bool:
    """enqueue() for a job whose deterministic id makes later requests share it until it starts."""
    if still_deferred(job_id):
        return True
    now = datetime.now(timezone.utc)
    try:
        pool = await asyncio.wait_for(get_pool(), 2.0)
        job = await asyncio.wait_for(pool.enqueue_job(function, *args, _job_id=job_id, _defer_until=defer_until), 2.0)
        # Refused: the same job is queued or running; its score is when it starts (or started). A start
        # already past is remembered as such, i.e. not at all: the next request asks Redis again.
        score = None if job is not None else await asyncio.wait_for(pool.zscore(pool.default_queue_name, job_id), 2.0)
    except Exception as exc:  # as in enqueue(): the caller's sweep catches up
        log.warning("could not enqueue %s (%s): %s", function, job_id, exc)
        await close_pool()
        return False
    if job is None and score is None:
        return True
    starts_at = defer_until if job is not None else datetime.fromtimestamp(score / 1000, timezone.utc)
    if len(_deferred_until) > 10_000:
        for key in [k for k, at in _deferred_until.items() if at <= now]:
            del _deferred_until[key]
    _deferred_until[job_id] = starts_at
    return True


async def abort(job_id: str, timeout: float = 2.0) -> bool:
    """Drop a queued (deferred) job that has not started. False when Redis cannot be reached."""
    _deferred_until.pop(job_id, None)
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

