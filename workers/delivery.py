"""Delivery jobs: outgoing mail and webhook deliveries (each records its own outcome and retries)."""

from __future__ import annotations

from app.services import mail, webhooks


async def deliver_outgoing_mail(ctx: dict) -> int:
    return await mail.deliver_pending(older_than_seconds=60)


async def deliver_webhook(ctx: dict, delivery_id: int) -> str:
    # Failures are recorded and rescheduled by the service itself (24 h of backoff), not by arq.
    return await webhooks.deliver(delivery_id)


async def sweep_webhook_deliveries(ctx: dict) -> int:
    return await webhooks.sweep_due()
