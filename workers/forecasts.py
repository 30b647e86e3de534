"""Forecast jobs: the debounced recomputation of one period's snapshots, the nightly run, and the
hook `process_event` calls for every domain event."""

from __future__ import annotations

import logging

from app.models import DomainEvent
from app.services import forecasts

log = logging.getLogger("workers.forecasts")


async def recompute_forecast(ctx: dict, period: str) -> int:
    """Store one snapshot per method for the period (its canonical label, e.g. 2026-Q4)."""
    return len(await forecasts.recompute_forecasts([period]))


async def recompute_forecasts_nightly(ctx: dict) -> int:
    stored = await forecasts.recompute_forecasts()
    log.info("nightly forecast snapshots: %d stored", len(stored))
    return len(stored)


async def on_domain_event(event: DomainEvent) -> bool:
    """Request a debounced recomputation when the event may move the forecast."""
    return await forecasts.on_domain_event(event)
