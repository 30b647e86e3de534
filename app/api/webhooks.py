"""Webhook management for integrators (admins): endpoints, signing secrets, deliveries, redelivery."""

from __future__ import annotations

from datetime import datetime
from typing import Optional, cast

import strawberry

from app import models as m
from app.api.context import CtxInfo
from app.api.enums import SortDirection
from app.api.errors import parse_id, require_scope, run_mutation, top_level_error
from app.api.relay import Connection, page_connection
from app.api.types import Node, UserError
from app.domain.errors import ValidationFailed
from app.services import webhooks

ID = strawberry.ID


@strawberry.type
class Webhook(Node):
    url: str
    events: list[str]
    description: str
    is_active: bool
    disabled_reason: Optional[str]
    failing_since: Optional[datetime]
    created_at: datetime


@strawberry.type
class WebhookDelivery(Node):
    status: str
    attempts: int
    response_code: Optional[int]
    latency_ms: Optional[int]
    last_error: Optional[str]
    next_attempt_at: Optional[datetime]
    delivered_at: Optional[datetime]
    created_at: datetime

    @strawberry.field
    def event_id(self) -> ID:
        return ID(str(cast(m.WebhookDelivery, self).event_id))  # the row's column, as a GraphQL ID


@strawberry.type(description="The secret is shown only here, once: store it to verify signatures.")
class WebhookSecretPayload:
    webhook: Optional[Webhook] = None
    secret: Optional[str] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookPayload:
    webhook: Optional[Webhook] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeliveryPayload:
    delivery: Optional[WebhookDelivery] = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def _with_secret(info: CtxInfo, action) -> WebhookSecretPayload:
    async def run(scope):
        return await action(scope)

    result = await run_mutation(info, lambda **kw: kw, "result", run)
    if result["errors"]:
        return WebhookSecretPayload(errors=result["errors"])
    hook, secret = result["result"]
    return WebhookSecretPayload(webhook=hook, secret=secret)


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Admins: registered webhook endpoints.")
    async def webhooks(self, info: CtxInfo) -> list[Webhook]:
        _require_admin_query(info)
        return cast(list[Webhook], await m.Webhook.all().order_by("id"))

    @strawberry.field(description="Admins: delivery attempts of a webhook, newest first.")
    async def webhook_deliveries(self, info: CtxInfo, webhook_id: ID, first: Optional[int] = 20,
                                 after: Optional[str] = None) -> Connection[WebhookDelivery]:
        _require_admin_query(info)
        try:
            hook_id = parse_id(webhook_id, "webhook_id")
        except ValidationFailed:
            hook_id = 0
        return await page_connection(m.WebhookDelivery.filter(webhook_id=hook_id), first, after, "id", SortDirection.DESC)


def _require_admin_query(info: CtxInfo) -> None:
    if not require_scope(info).is_admin:
        raise top_level_error("only admins manage webhooks", "FORBIDDEN")


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Admins: register an endpoint. The signing secret is returned once.")
    async def create_webhook(self, info: CtxInfo, url: str, events: list[str], description: str = "") -> WebhookSecretPayload:
        return await _with_secret(info, lambda s: webhooks.create_webhook(s, url, events, description))

    @strawberry.mutation(description="Admins: replace the signing secret; the new one is returned once.")
    async def rotate_webhook_secret(self, info: CtxInfo, id: ID) -> WebhookSecretPayload:
        return await _with_secret(info, lambda s: webhooks.rotate_secret(s, parse_id(id, "id", "Webhook")))

    @strawberry.mutation
    async def disable_webhook(self, info: CtxInfo, id: ID) -> WebhookPayload:
        return await run_mutation(info, WebhookPayload, "webhook",
                                  lambda s: webhooks.set_active(s, parse_id(id, "id", "Webhook"), False))

    @strawberry.mutation
    async def enable_webhook(self, info: CtxInfo, id: ID) -> WebhookPayload:
        return await run_mutation(info, WebhookPayload, "webhook",
                                  lambda s: webhooks.set_active(s, parse_id(id, "id", "Webhook"), True))

    @strawberry.mutation(description="Admins: send a delivery again now.")
    async def redeliver_webhook(self, info: CtxInfo, delivery_id: ID) -> WebhookDeliveryPayload:
        return await run_mutation(info, WebhookDeliveryPayload, "delivery",
                                  lambda s: webhooks.redeliver(s, parse_id(delivery_id, "delivery_id")))
