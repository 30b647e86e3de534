"""Global object ids: every record is named by one opaque id, unique across types (Relay's object
identification): base64 of "<GraphQL type>:<primary key>", as Relay servers commonly encode it.

The API, the compiled read path, subscriptions and webhook payloads all encode with `global_id`, and
every id a client sends is decoded with `decode_global_id`, which also checks the type it names."""

from __future__ import annotations

import base64
import binascii
from typing import Any

MAX_PK = 2**31 - 1

# The record a foreign-key-like field names, wherever ids are read from clients or sent to them (input
# fields, filters, event payloads): field name (snake_case, as in our code) -> GraphQL type.
ID_FIELD_TYPES: dict[str, str] = {
    "account_id": "Account",
    "parent_id": "Account",
    "contact_id": "Contact",
    "opportunity_id": "Opportunity",
    "assigned_to": "User",
    "assigned_to_id": "User",
    "assignee_id": "User",
    "user_id": "User",
    "team": "User",
    "actor_id": "User",
    "manager_id": "User",
    "product_id": "Product",
    "pipeline_id": "Pipeline",
    "stage_id": "PipelineStage",
    "competitor_id": "Competitor",
    "competitor_ids": "Competitor",
    "task_id": "Task",
    "notification_id": "Notification",
    "activity_id": "OpportunityActivity",
    "interaction_id": "CustomerInteraction",
    "transition_id": "StageTransition",
    "webhook_id": "Webhook",
    "delivery_id": "WebhookDelivery",
}


class InvalidGlobalId(ValueError):
    pass


def global_id(type_name: str, pk: int) -> str:
    # binascii directly: base64.b64encode's wrapper doubles the cost of the hundreds a list page writes
    return binascii.b2a_base64(f"{type_name}:{int(pk)}".encode(), newline=False).decode()


def decode_global_id(value: Any, expected_type: str) -> int:
    """The primary key a global id names; InvalidGlobalId when it is malformed, not in its one canonical
    spelling, or names a record of another type (callers answer all three like a missing record)."""
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidGlobalId("not a global id")
    try:
        type_name, _, raw_pk = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidGlobalId("not a global id") from None
    if type_name != expected_type or not raw_pk.isdigit() or not raw_pk.isascii():
        raise InvalidGlobalId("not an id of this type")
    pk = int(raw_pk)
    if pk <= 0 or pk > MAX_PK or global_id(type_name, pk) != value:
        raise InvalidGlobalId("not a global id")
    return pk


def node_type_of(value: Any) -> str | None:
    """The type a global id names (None when it is malformed); the id itself is checked by decode_global_id."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        type_name, sep, _ = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return type_name if sep and type_name.isidentifier() else None


def globalize_ids(data: Any) -> Any:
    """An event payload as sent to clients: every integer under a key of ID_FIELD_TYPES (snake_case or
    camelCase, also in {from, to} change pairs and lists) becomes the global id of its record."""
    if isinstance(data, list):
        return [globalize_ids(item) for item in data]
    if not isinstance(data, dict):
        return data
    return {key: _globalize_value(_type_of_key(key), value) for key, value in data.items()}


def _type_of_key(key: str) -> str | None:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
    return ID_FIELD_TYPES.get(snake)


def _globalize_value(type_name: str | None, value: Any) -> Any:
    if type_name is None:
        return globalize_ids(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return global_id(type_name, value)
    if isinstance(value, list):
        return [_globalize_value(type_name, item) for item in value]
    if isinstance(value, dict) and set(value) <= {"from", "to"}:
        return {k: _globalize_value(type_name, v) for k, v in value.items()}
    return globalize_ids(value)
