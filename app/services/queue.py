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
    queued, _ = await _submit(function, args, job_id, defer_until, timeout, ask_start=False)
    return queued


async def _submit(function: str, args: tuple, job_id: str | None, defer_until: datetime | None, timeout: float,
                  *, ask_start: bool) -> tuple[bool, datetime | None]:
    """(queued, when the job with this id starts — if asked and known)."""
    try:
        pool = await asyncio.wait_for(get_pool(), timeout)
        job = await asyncio.wait_for(pool.enqueue_job(function, *args, _job_id=job_id, _defer_until=defer_until),
                                     timeout)
        if job is not None or not ask_start:
            return True, defer_until
        # Refused: the same job is queued or running; its score is when it starts (or started).
        assert job_id is not None  # arq refuses a job only for an id it already holds
        score = await asyncio.wait_for(pool.zscore(pool.default_queue_name, job_id), timeout)
        return True, None if score is None else datetime.fromtimestamp(score / 1000, timezone.utc)
    except Exception as exc:  # Redis down or slow: the caller's durable state lets us retry later
        log.warning("could not enqueue %s (%s): %s", function, job_id, exc)
        await close_pool()
        return False, None


# Debounced jobs this process created or found queued, by job id → when they start. Until then such
# a job is certainly still queued and arq would refuse the duplicate anyway, so Redis is not asked
# again (a burst of 100 stage moves costs one enqueue per debounced job, not 100).
_deferred_until: dict[str, datetime] = {}


def still_deferred(job_id: str) -> bool:
    """True when this process knows the job is queued and has not reached its start time."""
    at = _deferred_until.get(job_id)
    return at is not None and at > datetime.now(timezone.utc)


async def enqueue_debounced(function: str, *args: Any, job_id: str, defer_until: datetime) -> bool:
    """enqueue() for a job whose deterministic id makes later requests share it until it starts."""
    if still_deferred(job_id):
        return True
    queued, starts_at = await _submit(function, args, job_id, defer_until, 2.0, ask_start=True)
    if starts_at is not None:  # a start already past is remembered as such: the next request asks again
        if len(_deferred_until) > 10_000:
            now = datetime.now(timezone.utc)
            for key in [k for k, at in _deferred_until.items() if at <= now]:
                del _deferred_until[key]
        _deferred_until[job_id] = starts_at
    return queued


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

