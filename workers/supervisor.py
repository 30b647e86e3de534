"""`crm worker` rides out Redis outages: it runs the arq worker in a loop that reconnects with backoff.

arq's worker stops with the first Redis error of its polling loop (a ConnectionError when Redis
goes away). Here that error ends one arq `Worker` only: jobs already running finish their database
work (their effects commit or roll back on their own), the worker's Redis connections are dropped,
and a new worker connects once Redis answers again — 0.5 s, 1 s, 2 s … up to 30 s apart. The
database connections (Tortoise) live across these restarts and are closed once, at the end.

After a reconnect Redis may have lost every queued job (a restart without persistence), so the
outbox relay runs at once and treats every incomplete event as due, whatever its lease says: an
event whose job survived runs twice at most, which its reactions' once-only guards absorb."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import datetime, timedelta, timezone
from typing import Any

from arq.worker import Worker, create_worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.services import events, queue
from app.services.redis import ping_redis, redis_url

log = logging.getLogger("workers.supervisor")

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, asyncio.TimeoutError)
FIRST_DELAY, MAX_DELAY = 0.5, 30.0


async def _drop(worker: Worker, grace: float) -> None:
    """Let running jobs finish (up to `grace` seconds), then forget the worker's Redis connections."""
    running = [task for task in worker.tasks.values() if not task.done()]
    if running:
        _, pending = await asyncio.wait(running, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    if worker._pool is not None:
        with contextlib.suppress(Exception):
            await worker._pool.close(close_connection_pool=True)
        worker._pool = None


async def _wait_for_redis(stopping: asyncio.Event) -> bool:
    """Back off until Redis answers (True) or we are asked to stop (False)."""
    delay = FIRST_DELAY
    while not stopping.is_set():
        if await ping_redis(redis_url(), timeout=2):
            return True
        log.warning("Redis at %s is unreachable; retrying in %.1fs", redis_url(), delay)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        delay = min(delay * 2, MAX_DELAY)
    return False


async def reconcile_after_reconnect() -> int:
    """Redis came back and may be empty: hand over again every incomplete event now."""
    await queue.close_pool()
    far = datetime.now(timezone.utc) + timedelta(days=3650)
    handed = await events.relay(now=far)
    if handed:
        log.info("after reconnecting to Redis: %d incomplete events handed over again", handed)
    return handed


async def run_supervised(settings_cls: Any, **overrides: Any) -> None:
    """Run arq workers one after another until SIGTERM/SIGINT; a Redis failure restarts, never ends."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    current: list[Worker] = []

    def stop(sig: signal.Signals) -> None:
        log.info("received %s: stopping", sig.name)
        stopping.set()
        for worker in current:
            if worker.main_task is not None:
                worker.main_task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)
    ctx: dict[str, Any] = {"supervised": True}  # never empty: arq replaces an empty ctx with its own
    on_shutdown = settings_cls.on_shutdown
    grace = float(getattr(settings_cls, "job_timeout", 30))
    reconnected = False
    try:
        while not stopping.is_set():
            if not await _wait_for_redis(stopping):
                break
            if reconnected:
                with contextlib.suppress(Exception):
                    await reconcile_after_reconnect()
            # on_startup is idempotent (the database stays in ctx across workers); shutdown runs once, below.
            worker = create_worker(settings_cls, handle_signals=False, ctx=ctx, on_shutdown=None, **overrides)
            current[:] = [worker]
            try:
                await worker.async_run()
                break  # burst mode ended
            except asyncio.CancelledError:
                if stopping.is_set():
                    break
                raise
            except REDIS_ERRORS as exc:
                log.warning("lost Redis (%s: %s); reconnecting", type(exc).__name__, exc)
                reconnected = True
            finally:
                await _drop(worker, 0 if stopping.is_set() else grace)
                current.clear()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if on_shutdown is not None:
            await on_shutdown(ctx)
