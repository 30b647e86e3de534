"""Running a real arq worker against the test Redis and database."""

from __future__ import annotations

from arq.worker import Worker

from app.services import queue
from app.services.redis import arq_redis_settings
from workers.settings import WorkerSettings


async def run_worker_burst(**overrides) -> Worker:
    """Run every queued job with the production job functions, then return (burst mode).

    The test session has initialised the ORM already, so start-up hooks are not needed."""
    worker = Worker(
        functions=WorkerSettings.functions, redis_settings=arq_redis_settings(), burst=True, poll_delay=0.05,
        handle_signals=False, job_timeout=WorkerSettings.job_timeout, max_tries=WorkerSettings.max_tries,
        **overrides,
    )
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return worker


async def reset_queue() -> None:
    await queue.close_pool()
