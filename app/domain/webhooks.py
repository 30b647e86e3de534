"""Webhook rules: signatures, retry schedule, and which target addresses are allowed."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta

WEBHOOK_EVENTS = (
    "opportunity.created", "opportunity.updated", "opportunity.stage_changed",
    "opportunity.closed_won", "opportunity.closed_lost", "task.created", "task.completed",
    # Deletions (the change log's tombstones), so receivers can drop what they mirrored.
    "opportunity.deleted", "opportunity.activity_deleted", "account.deleted", "contact.deleted", "product.deleted",
)
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=2)
# An endpoint whose deliveries have all failed for this long is disabled and the admins told.
DISABLE_AFTER = timedelta(hours=24)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex-encoded, as sent in X-CRM-Signature (v1=…)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, received: str, now: int, tolerance: int = 300) -> bool:
    """The receiver's side of the recipe in the README (also used by our tests)."""
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, received.removeprefix("v1="))


def next_attempt(first_attempt_at: datetime, attempts: int, now: datetime,
                 first_retry: timedelta = FIRST_RETRY) -> datetime | None:
    """Exponential backoff (30 s, 1 min, 2 min, … capped at 2 h) for up to 24 h after the first try."""
    delay = min(first_retry * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    at = now + delay
    return at if at - first_attempt_at <= RETRY_WINDOW else None


def address_refusal(address: str) -> str | None:
    """Why a resolved target address is refused (server-side request forgery guard), or None."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return "loopback addresses are not allowed"
    if ip.is_link_local:
        return "link-local addresses are not allowed"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
        return "private or reserved addresses are not allowed"
    return None
