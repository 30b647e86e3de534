"""arq WorkerSettings for `crm worker`."""

from __future__ import annotations

import logging

from arq import cron
from tortoise import Tortoise

from app.db import tortoise_config
from app.services.contracts import expire_ended_contracts
from app.services import queue, realtime
from app.services.redis import arq_redis_settings
from app.settings import get_settings
from arq.typing import WorkerCoroutine
from arq.worker import Function, func

from workers import delivery, events, forecasts, health, interactions, tasks

log = logging.getLogger("workers")


async def startup(ctx: dict) -> None:
    # Keep the context Tortoise returns: Tortoise 1.x keeps its state per asyncio task and on_shutdown
    # runs in another task, so shutdown must close this context's connections or SIGTERM hangs.
    # Idempotent: after a Redis outage the supervisor (workers/supervisor.py) starts a new arq worker
    # with the same ctx, and the database connections carry on.
    if ctx.get("tortoise") is None:
        ctx["tortoise"] = await Tortoise.init(config=tortoise_config(), _enable_global_fallback=True)
    log.info("worker started")


async def shutdown(ctx: dict) -> None:
    tortoise_ctx = ctx.get("tortoise")
    if tortoise_ctx is not None:
        await tortoise_ctx.close_connections()
    await queue.close_pool()
    await realtime.close_publisher()


async def expire_contracts(ctx: dict) -> int:
    changed = await expire_ended_contracts()
    log.info("expired %d contracts", changed)
    return changed


EVERY_MINUTE = set(range(60))
EVERY_5_MINUTES = set(range(0, 60, 5))


class WorkerSettings:
    functions: list[Function | WorkerCoroutine] = [
        expire_contracts,
        events.process_event,
        events.relay_outbox,
        events.purge_event_log,
        events.scan_stage_durations,
        delivery.deliver_outgoing_mail,
        # keep_result=0: the database decides whether an attempt is due; a kept result would make arq
        # refuse the sweep's re-queue of the same attempt id for an hour.
        func(delivery.deliver_webhook, keep_result=0),
        delivery.sweep_webhook_deliveries,
        # keep_result=0: the deterministic id "health:<account>" is free again as soon as the job ends.
        func(health.recompute_account_health, keep_result=0, timeout=30),
        func(health.recompute_changed_health, timeout=30),
        func(health.recompute_all_health, timeout=30),
        func(interactions.run_follow_up, timeout=30),
        func(interactions.catch_up_follow_ups, timeout=30),
        func(tasks.send_task_reminder, timeout=30),
        func(tasks.catch_up_task_reminders, timeout=30),
        # keep_result=0: the debounce id "forecast:<period>" is free again as soon as the job ends.
        func(forecasts.recompute_forecast, keep_result=0, timeout=30),
        func(forecasts.recompute_forecasts_nightly, timeout=30),
        func(forecasts.recompute_owed_forecasts, timeout=30),
    ]
    cron_jobs = [
        cron(expire_contracts, hour={2}, minute={15}, unique=True, run_at_startup=True),
        # The outbox relay also runs at start-up: what Redis missed while it was down goes out first.
        cron(events.relay_outbox, minute=EVERY_MINUTE, second={30}, unique=True, run_at_startup=True),
        cron(events.scan_stage_durations, minute=EVERY_5_MINUTES, unique=True, run_at_startup=True),
        cron(events.purge_event_log, hour={3}, minute={50}, unique=True),
        cron(events.purge_field_history, hour={3}, minute={55}, unique=True),
        cron(delivery.deliver_outgoing_mail, minute=EVERY_MINUTE, second={45}, unique=True),
        cron(delivery.sweep_webhook_deliveries, minute=EVERY_MINUTE, second={5}, unique=True),
        cron(health.recompute_all_health, hour={3}, minute={30}, unique=True, timeout=30),
        cron(health.recompute_changed_health, minute=set(range(0, 60, 10)), second={15}, unique=True, timeout=30),
        cron(tasks.catch_up_task_reminders, minute=EVERY_5_MINUTES, second={25}, unique=True,
             run_at_startup=True, timeout=30),
        cron(interactions.catch_up_follow_ups, minute=EVERY_5_MINUTES, second={20}, unique=True,
             run_at_startup=True, timeout=30),
        cron(forecasts.recompute_forecasts_nightly, hour={4}, minute={10}, unique=True, timeout=30),
        cron(forecasts.recompute_owed_forecasts, minute=set(range(5, 60, 10)), second={40}, unique=True, timeout=30),
    ]
    on_startup = startup
    on_shutdown = shutdown
    # Short and explicit: a job whose worker was killed is picked up again after timeout + 10 s.
    job_timeout = get_settings().job_timeout_seconds
    max_tries = 5
    # arq's defaults (10 jobs at once, a poll every 0.5 s) cap a worker near 20 jobs/s; jobs are I/O-bound.
    max_jobs = 100
    poll_delay = 0.05
    redis_settings = arq_redis_settings()
