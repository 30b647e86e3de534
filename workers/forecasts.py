"""Forecast jobs: the debounced recomputation of one period's snapshots and the nightly run
(the reaction to domain events lives in app.services.reactions)."""

from __future__ import annotations

import logging

from app.services import forecasts

log = logging.getLogger("workers.forecasts")


async def recompute_forecast(ctx: dict, period: str) -> int:
    """Store one snapshot per method for the period (its canonical label, e.g. 2026-Q4)."""
    return len(await forecasts.recompute_forecasts([period]))


async def recompute_forecasts_nightly(ctx: dict) -> int:
    stored = await forecasts.recompute_forecasts()
    log.info("nightly forecast snapshots: %d stored", len(stored))
    return len(stored)


async def recompute_owed_forecasts(ctx: dict) -> int:
    """Queue the recomputation a lost job still owes (see forecasts.request_owed_recompute)."""
    return await forecasts.request_owed_recompute()
