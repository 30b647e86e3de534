"""Debounced jobs (health, forecast): one enqueue per burst, and none lost once their start has passed."""

import asyncio

from app.services import queue
from app.services.health import HEALTH_JOB, health_job_id, request_health_recompute


async def _queued(job_id: str) -> bool:
    pool = await queue.get_pool()
    return await pool.zscore(pool.default_queue_name, job_id) is not None


async def test_a_burst_of_requests_shares_one_job_and_asks_redis_once(team, monkeypatch):
    job_id = health_job_id(42)
    assert await request_health_recompute(42, delay_seconds=30)
    assert await _queued(job_id) and queue.still_deferred(job_id)
    pool = await queue.get_pool()
    calls = 0
    original = pool.enqueue_job

    async def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(pool, "enqueue_job", counting)  # undone when the test ends
    for _ in range(50):
        assert await request_health_recompute(42, delay_seconds=30)
    assert calls == 0


async def test_a_duplicate_queued_elsewhere_is_remembered_by_its_own_start(team):
    job_id = health_job_id(7)
    pool = await queue.get_pool()
    from datetime import datetime, timedelta, timezone

    starts = datetime.now(timezone.utc) + timedelta(seconds=20)
    await pool.enqueue_job(HEALTH_JOB, 7, _job_id=job_id, _defer_until=starts)  # another process did
    assert await request_health_recompute(7, delay_seconds=1)
    assert queue.still_deferred(job_id)


async def test_after_its_start_a_request_enqueues_again(team):
    job_id = health_job_id(9)
    assert await request_health_recompute(9, delay_seconds=0.2)
    pool = await queue.get_pool()
    await pool.zrem(pool.default_queue_name, job_id)  # the job ran (or Redis lost it)
    await pool.delete(f"arq:job:{job_id}")
    await asyncio.sleep(0.3)
    assert not queue.still_deferred(job_id)
    assert await request_health_recompute(9, delay_seconds=30)
    assert await _queued(job_id)
