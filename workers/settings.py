"""arq WorkerSettings for `crm worker`."""

from __future__ import annotations

import logging

from arq import cron
from tortoise import Tortoise

from app.db import tortoise_config
from app.services.contracts import expire_ended_contracts
from app.services.redis import arq_redis_settings

log = logging.getLogger("workers")


async def startup(ctx: dict) -> None:
    # Keep the context Tortoise returns: on_shutdown runs in another task (see shared/README §1).
    ctx["tortoise"] = await Tortoise.init(config=tortoise_config(), _enable_global_fallback=True)
    log.info("worker started")


async def shutdown(ctx: dict) -> None:
    tortoise_ctx = ctx.get("tortoise")
    if tortoise_ctx is not None:
        await tortoise_ctx.close_connections()


async def expire_contracts(ctx: dict) -> int:
    changed = await expire_ended_contracts()
    log.info("expired %d contracts", changed)
    return changed


class WorkerSettings:
    functions = [expire_contracts]
    cron_jobs = [cron(expire_contracts, hour={2}, minute={15}, unique=True, run_at_startup=True)]
    on_startup = startup
    on_shutdown = shutdown
    job_timeout = 60
    max_tries = 5
    redis_settings = arq_redis_settings()
