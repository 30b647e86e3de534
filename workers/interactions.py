"""Interaction follow-up jobs: the deferred follow-up and the catch-up cron."""

from __future__ import annotations

import logging

from app.services import interactions

log = logging.getLogger("workers.interactions")


async def run_follow_up(ctx: dict, interaction_id: int, scheduled_for: int) -> str:
    """Create the follow-up Task and Notification if the interaction still wants this follow-up."""
    return await interactions.run_follow_up(interaction_id, scheduled_for)


async def catch_up_follow_ups(ctx: dict) -> int:
    handled = await interactions.catch_up_follow_ups()
    if handled:
        log.info("caught up on %d follow-ups", handled)
    return handled
