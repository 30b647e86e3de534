"""Account health jobs: a debounced recomputation per account, the 10-minute sweep, the nightly run."""

from __future__ import annotations

import logging

from app.services import health

log = logging.getLogger("workers.health")


async def recompute_account_health(ctx: dict, account_id: int) -> int | None:
    """Store the account's score and a snapshot; None when the account no longer exists."""
    result = await health.recompute_account_health(account_id)
    return None if result is None else result.score


async def recompute_changed_health(ctx: dict) -> int:
    queued = await health.request_recompute_changed()
    log.info("queued health recomputation for %d recently changed accounts", queued)
    return queued


async def recompute_all_health(ctx: dict) -> int:
    queued = await health.request_recompute_all()
    log.info("queued nightly health recomputation for %d accounts", queued)
    return queued
