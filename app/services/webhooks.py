"""Webhooks: admins register endpoints; every matching domain event is delivered, signed, at least
once, with exponential backoff for up to 24 hours, and every attempt is recorded."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import httpx
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction
from tortoise.expressions import Q

from app.domain.enums import Role
from app.domain.errors import ErrorCode, PermissionDenied, ValidationFailed
from app.domain import event_documents
from app.domain.global_ids import global_id
from app.domain.webhooks import DISABLE_AFTER, WEBHOOK_EVENTS, address_refusal, next_attempt, signature
from app.domain.events import Event, parse_event
from app.models import DomainEvent, Notification, User, Webhook, WebhookDelivery
from app.queries.visibility import Scope
from app.services import queue
from app.services.common import Checks
from app.services.rows import locked
from app.settings import get_settings

log = logging.getLogger(__name__)

DELIVER_JOB = "deliver_webhook"
DUE_STATUSES = ("pending", "retrying")


def _require_admin(scope: Scope) -> None:
    if scope.role is not Role.ADMIN:
        raise PermissionDenied("only admins manage webhooks")


async def _vetted(url: str) -> tuple[str | None, str | None]:
    """(why the target is refused, the checked address to connect to). Only http(s), and only globally
    routable destinations (app/domain/webhooks.py) unless the setting allows private networks."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return "must be an http:// or https:// URL with a host", None
    if parsed.username or parsed.password:
        return "must not carry credentials", None
    if get_settings().webhook_allow_private_networks:
        return None, None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parsed.hostname, parsed.port or 443)
    except (OSError, UnicodeError, ValueError):
        return "the host name does not resolve", None
    for info in infos:  # every address: a name with one private address among public ones is refused
        refusal = address_refusal(str(info[4][0]))  # an IP address's text for AF_INET and AF_INET6
        if refusal:
            return refusal, None
    return None, str(infos[0][4][0])


async def url_refusal(url: str) -> str | None:
    return (await _vetted(url))[0]


def pinned_request(url: str, address: str | None) -> tuple[str, dict[str, str], dict]:
    """The URL with its host replaced by the address that was checked (a second DNS answer, as in DNS
    rebinding, is never asked for), the Host header, and the TLS server name to verify the certificate of."""
    if address is None:
        return url, {}, {}
    original = httpx.URL(url)
    host_header = original.host if original.port is None else f"{original.host}:{original.port}"
    extensions = {"sni_hostname": original.host} if original.scheme == "https" else {}
    return str(original.copy_with(host=address)), {"host": host_header}, extensions


async def _check(checks: Checks, url: str | None, events: list[str] | None) -> None:
    if url is not None:
        checks.check("url", await url_refusal(url.strip()))
    if events is not None:
        unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
        if not events:
            checks.add("events", "name at least one event", ErrorCode.REQUIRED)
        elif unknown:
            checks.add("events", f"unknown events {unknown}; known: {', '.join(WEBHOOK_EVENTS)}")


async def create_webhook(scope: Scope, url: str, events: list[str], description: str = "") -> tuple[Webhook, str]:
    _require_admin(scope)
    checks = Checks()
    await _check(checks, url, events)
    checks.raise_if_any()
    secret = secrets.token_hex(32)
    hook = await Webhook.create(url=url.strip(), events=sorted(set(events)), description=description.strip(),
                                secret=secret, created_by_id=scope.user_id)
    return hook, secret


async def _hook(scope: Scope, webhook_id: int) -> Webhook:
    _require_admin(scope)
    hook = await Webhook.get_or_none(id=webhook_id)
    if hook is None:
        raise ValidationFailed.single("id", "webhook not found", ErrorCode.NOT_FOUND)
    return hook


async def rotate_secret(scope: Scope, webhook_id: int) -> tuple[Webhook, str]:
    """Every call is a new secret (send an Idempotency-Key to make a retry return the same one); one
    UPDATE, so the stored secret is the one the last committed call returned."""
    hook = await _hook(scope, webhook_id)
    hook.secret = secrets.token_hex(32)
    await Webhook.filter(id=hook.id).update(secret=hook.secret)
    return hook, hook.secret


async def set_active(scope: Scope, webhook_id: int, active: bool) -> Webhook:
    """Under a row lock: of concurrent calls one switches the endpoint, the others find it switched and
    answer with it (the reason and failure clock of that one change stay)."""
    await _hook(scope, webhook_id)
    async with in_transaction():
        hook = await locked(Webhook, webhook_id)
        if hook.is_active is not active:
            hook.is_active, hook.disabled_reason = active, None if active else "disabled by an admin"
            if active:
                hook.failing_since = None
            await hook.save(update_fields=["is_active", "disabled_reason", "failing_since"])
    return hook


def webhook_event_name(record: DomainEvent) -> str | None:
    event = parse_event(record.kind, record.payload)
    name = event.webhook_name if event is not None else None
    return name if name in WEBHOOK_EVENTS else None


async def fan_out(record: DomainEvent, event: Event) -> int:
    """A reaction: one delivery per subscribed endpoint (once, whatever the retries), queued.
    A delivery that could not be queued is picked up by `sweep_due` (it is due at once)."""
    name = event.webhook_name
    if name is None:
        return 0
    queued = 0
    for hook in await Webhook.filter(is_active=True):
        if name not in hook.events:
            continue
        try:
            delivery = await WebhookDelivery.create(webhook_id=hook.id, event_id=record.id, status="pending",
                                                    next_attempt_at=datetime.now(timezone.utc))
        except IntegrityError:
            continue  # this event was fanned out before (the job ran twice)
        await queue.enqueue(DELIVER_JOB, delivery.id, job_id=f"webhook:{delivery.id}:0")
        queued += 1
    return queued


def event_document(event: DomainEvent, name: str) -> dict:
    """The catalogue's document for a logged event (app.domain.event_documents)."""
    typed = parse_event(event.kind, event.payload)
    return event_documents.document(event_id=event.id, name=name, created_at=event.created_at,
                                    payload=event.payload or {}, actor_id=event.actor_id,
                                    extra=typed.document_fields() if typed is not None else {})


def _body(event: DomainEvent, name: str) -> bytes:
    return json.dumps(event_document(event, name), separators=(",", ":"), sort_keys=True).encode()


async def deliver(delivery_id: int) -> str:
    """One attempt. Records the outcome and schedules the next attempt; returns the status."""
    delivery = await WebhookDelivery.get_or_none(id=delivery_id)
    if delivery is None or delivery.status not in DUE_STATUSES:
        return delivery.status if delivery else "missing"
    if not await _claim(delivery.id):
        return "busy"  # another job holds this attempt, or it is not due yet
    hook = await Webhook.get(id=delivery.webhook_id)
    if not hook.is_active:
        await WebhookDelivery.filter(id=delivery.id).update(status="cancelled", next_attempt_at=None, lease_until=None)
        return "cancelled"
    event = await DomainEvent.get(id=delivery.event_id)
    body = _body(event, webhook_event_name(event) or event.kind)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json", "user-agent": "KitchenPantryCRM-Webhooks/1",
        "x-crm-delivery": global_id("WebhookDelivery", delivery.id), "x-crm-event": webhook_event_name(event) or event.kind,
        "x-crm-timestamp": str(timestamp), "x-crm-signature": f"v1={signature(hook.secret, timestamp, body)}",
    }
    now = datetime.now(timezone.utc)
    started = time.monotonic()
    code, error = None, None
    refusal, address = await _vetted(hook.url)  # again at delivery time: DNS may have changed
    if refusal:
        error = f"refused target: {refusal}"
    else:
        try:
            target, host, extensions = pinned_request(hook.url, address)
            async with httpx.AsyncClient(timeout=get_settings().webhook_timeout_seconds, follow_redirects=False) as client:
                response = await client.post(target, content=body, headers={**headers, **host}, extensions=extensions)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
    latency = int((time.monotonic() - started) * 1000)
    attempts = delivery.attempts + 1
    if error is None:
        await WebhookDelivery.filter(id=delivery.id).update(
            status="delivered", attempts=attempts, response_code=code, latency_ms=latency, last_error=None,
            delivered_at=now, next_attempt_at=None, lease_until=None)
        if hook.failing_since is not None:
            await Webhook.filter(id=hook.id).update(failing_since=None)
        return "delivered"
    retry_at = next_attempt(delivery.created_at, attempts, now,
                            timedelta(seconds=get_settings().webhook_first_retry_seconds))
    await WebhookDelivery.filter(id=delivery.id).update(
        status="retrying" if retry_at else "failed", attempts=attempts, response_code=code, latency_ms=latency,
        last_error=error, next_attempt_at=retry_at, lease_until=None)
    if retry_at:
        await queue.enqueue(DELIVER_JOB, delivery.id, job_id=f"webhook:{delivery.id}:{attempts}", defer_until=retry_at)
    await _note_failure(hook, now)
    return "retrying" if retry_at else "failed"


async def _note_failure(hook: Webhook, now: datetime) -> None:
    if hook.failing_since is None:
        await Webhook.filter(id=hook.id, failing_since__isnull=True).update(failing_since=now)
        return
    if now - hook.failing_since < DISABLE_AFTER:
        return
    reason = f"every delivery failed since {hook.failing_since.isoformat()}"
    if not await Webhook.filter(id=hook.id, is_active=True).update(is_active=False, disabled_reason=reason):
        return
    log.warning("webhook %s disabled: %s", hook.id, reason)
    for admin_id in await User.filter(role=Role.ADMIN, is_active=True).values_list("id", flat=True):
        await Notification.get_or_create(
            source_key=f"webhook-disabled:{hook.id}:{int(hook.failing_since.timestamp())}:{admin_id}",
            defaults={"user_id": admin_id, "kind": "webhook.disabled", "title": "Webhook disabled",
                      "message": f"{hook.url}: {reason}", "payload": {"webhook_id": hook.id}},
        )


def _lease_seconds() -> float:
    """An attempt holds its delivery for longer than the HTTP call and the job may take."""
    return get_settings().webhook_timeout_seconds + get_settings().job_timeout_seconds + 30


def _free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


async def _claim(delivery_id: int) -> bool:
    """Take the due attempt under a lease (compare-and-set): a second job for it finds it taken.
    A worker killed mid-attempt leaves a lease that runs out, and `sweep_due` re-queues the attempt;
    the receiver may then see that attempt twice (same x-crm-delivery id) — at-least-once by design."""
    now = datetime.now(timezone.utc)
    return bool(await WebhookDelivery.filter(
        _free(now), Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        id=delivery_id, status__in=DUE_STATUSES,
    ).update(lease_until=now + timedelta(seconds=_lease_seconds())))


async def sweep_due(now: datetime | None = None) -> int:
    """Cron: re-queue attempts that are due and not held (their job may have been lost with Redis).
    The database decides: a delivery is done when its outcome is recorded, whatever Redis kept."""
    now = now or datetime.now(timezone.utc)
    due = await WebhookDelivery.filter(_free(now), status__in=DUE_STATUSES,
                                       next_attempt_at__lte=now).values_list("id", "attempts")
    for delivery_id, attempts in due:
        await queue.enqueue(DELIVER_JOB, delivery_id, job_id=f"webhook:{delivery_id}:{attempts}")
    return len(due)


async def redeliver(scope: Scope, delivery_id: int) -> WebhookDelivery:
    _require_admin(scope)
    delivery = await WebhookDelivery.get_or_none(id=delivery_id)
    if delivery is None:
        raise ValidationFailed.single("delivery_id", "delivery not found", ErrorCode.NOT_FOUND)
    delivery.status, delivery.next_attempt_at = "pending", datetime.now(timezone.utc)
    await delivery.save(update_fields=["status", "next_attempt_at"])
    await queue.enqueue(DELIVER_JOB, delivery.id, job_id=f"webhook:{delivery.id}:redeliver:{delivery.attempts}")
    return delivery
