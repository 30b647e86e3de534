"""The event catalogue's documents: what integrators receive for an event, rendered in one place.

A webhook delivery and the subscription's `changes` read the same rendering. Its rules:

- every key camelCase, every record id a global id (app.domain.global_ids);
- the record the event is about (its *resource*) as the API returns it to an admin: its stored fields
  under their GraphQL names (`RESOURCES`, built on the field history's names in app.domain.history),
  a foreign key as `{"id": <global id>}` (what `account { id }` answers), enums by their API names
  (upper case), money as decimal strings ("6500.00"), dates and datetimes in ISO 8601 (`api_value`);
- `previous`: for updates, the values before the change of the fields that changed (same form);
- what the event itself adds (a stage move's `fromStage` / `toStage`, a deletion's dependent ids, …),
  given by the event (`Event.document_fields`) already in that form.

The resource is snapshotted when the event is recorded (app.services.events.Outbox.record), in the
change's transaction, and kept in the stored payload under `resource` / `previous` (beside the internal,
snake_case keys the change log, the sync and the reactions read): a delivery retried hours later, or the
document of a deletion (the row is gone), carries the record as it was at the event.

Pure: the service layer hands plain column values (`columns`), this module only renders them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from app.domain.global_ids import global_id
from app.domain.history import ACCOUNT_FIELDS, CONTACT_FIELDS, OPPORTUNITY_FIELDS, Tracked, api_value
from app.domain.sentiment import SentimentLabel

# Keys of the stored payload (app.services.events.Outbox.record) that hold the rendered snapshot.
RESOURCE_KEY = "resource"
RESOURCE_TYPE_KEY = "resource_type"
PREVIOUS_KEY = "previous"


@dataclass(frozen=True)
class Field:
    """A stored column as the API shows it: its GraphQL name, the type a foreign key names, an enum a
    plain text column holds (written by its API name), or `address` (a stored JSON address)."""
    api_name: str
    names: str | None = None
    enum: type[Enum] | None = None
    address: bool = False
    # Bookkeeping that moves with every change (version, updatedAt): shown, never listed in `previous`.
    bookkeeping: bool = False

    @classmethod
    def of(cls, tracked: Tracked) -> "Field":
        return cls(tracked.api_name, tracked.names)


@dataclass(frozen=True)
class Resource:
    """A kind of record events are about: its GraphQL type, its key in a document's `data`, its fields."""
    type_name: str
    key: str
    fields: dict[str, Field]


def _tracked(fields: dict[str, Tracked], **overrides: Field) -> dict[str, Field]:
    """The field history's columns (one naming for both), with this document's additions."""
    result = {column: Field.of(spec) for column, spec in fields.items()}
    result.update(overrides)
    return result


_TIMESTAMPS = {"created_at": Field("createdAt"), "updated_at": Field("updatedAt", bookkeeping=True)}
ADDRESS_FIELDS = ("street", "city", "region", "postal_code", "country")

RESOURCES: dict[str, Resource] = {r.type_name: r for r in (
    Resource("Opportunity", "opportunity", _tracked(
        OPPORTUNITY_FIELDS,
        # The API's `stage` is the stage's key; the stage row itself is `pipelineStage`.
        stage_id=Field("pipelineStage", "PipelineStage"), stage_key=Field("stage"),
        probability_overridden=Field("probabilityOverridden"), stage_entered_at=Field("stageEnteredAt"),
        last_activity_at=Field("lastActivityAt"), version=Field("version", bookkeeping=True), **_TIMESTAMPS)),
    Resource("Account", "account", _tracked(
        ACCOUNT_FIELDS, headquarters=Field("headquarters", address=True), health_score=Field("healthScore"),
        last_activity_date=Field("lastActivityDate"), **_TIMESTAMPS)),
    Resource("Contact", "contact", _tracked(CONTACT_FIELDS, erased_at=Field("erasedAt"))),
    Resource("Task", "task", {
        "title": Field("title"), "description": Field("description"), "due_date": Field("dueDate"),
        "priority": Field("priority"), "status": Field("status"), "completed_at": Field("completedAt"),
        "created_at": Field("createdAt"), "assignee_id": Field("assignee", "User"),
        "opportunity_id": Field("opportunity", "Opportunity"), "account_id": Field("account", "Account")}),
    Resource("CustomerInteraction", "interaction", {
        "type": Field("type"), "direction": Field("direction"), "subject": Field("subject"),
        "description": Field("description"), "outcome": Field("outcome"), "sentiment": Field("sentiment"),
        "sentiment_label": Field("sentimentLabel", enum=SentimentLabel), "next_steps": Field("nextSteps"),
        "follow_up_date": Field("followUpDate"), "attachments": Field("attachments"), "location": Field("location"),
        "occurred_at": Field("occurredAt"), "created_at": Field("createdAt"), "duration_minutes": Field("duration"),
        "account_id": Field("account", "Account"), "contact_id": Field("contact", "Contact"),
        "opportunity_id": Field("opportunity", "Opportunity"), "created_by_id": Field("createdBy", "User"),
        "archived_at": Field("archivedAt")}),
    Resource("OpportunityActivity", "activity", {
        "type": Field("type"), "subject": Field("subject"), "description": Field("description"),
        "outcome": Field("outcome"), "next_steps": Field("nextSteps"), "scheduled_at": Field("scheduledAt"),
        "completed_at": Field("completedAt"), "created_at": Field("createdAt"),
        "created_by_id": Field("createdBy", "User"), "interaction_id": Field("interaction", "CustomerInteraction"),
        # Not a field of the API's OpportunityActivity (it is read through its deal): named for receivers.
        "opportunity_id": Field("opportunity", "Opportunity"), "archived_at": Field("archivedAt")}),
    Resource("Product", "product", {
        "sku": Field("sku"), "name": Field("name"), "category": Field("category"), "unit": Field("unit"),
        "unit_price": Field("unitPrice"), "description": Field("description"), "is_active": Field("isActive")}),
)}


def columns_of(type_name: str) -> list[str]:
    """The stored columns a resource's document reads (besides `id`)."""
    return list(RESOURCES[type_name].fields)


def render_value(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.address:  # stored as the API's AddressInput gave it (camelCase keys)
        data = value if isinstance(value, dict) else {}
        return {camel(key): data.get(camel(key), data.get(key)) for key in ADDRESS_FIELDS} if data else None
    if field.enum is not None and not isinstance(value, Enum):
        try:
            value = field.enum(value)
        except ValueError:
            return str(value).upper()
    return api_value(value, field.names)


def render_resource(type_name: str, pk: int, values: dict[str, Any]) -> dict[str, Any]:
    """The record as the API returns it to an admin; columns absent from `values` are left out (a model
    without them yet, or an older snapshot)."""
    resource = RESOURCES[type_name]
    document: dict[str, Any] = {"id": global_id(type_name, pk)}
    for column, field in resource.fields.items():
        if column in values:
            document[field.api_name] = render_value(field, values[column])
    return document


def render_previous(type_name: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields that changed from `before` to `after`, with their values before (rendered)."""
    previous: dict[str, Any] = {}
    for column, field in RESOURCES[type_name].fields.items():
        if field.bookkeeping or column not in before or column not in after:
            continue
        old, new = render_value(field, before[column]), render_value(field, after[column])
        if old != new:
            previous[field.api_name] = old
    return previous


def snapshot(type_name: str, pk: int, values: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the stored payload keeps of the record (internal keys: see the module docstring)."""
    stored: dict[str, Any] = {RESOURCE_TYPE_KEY: type_name, RESOURCE_KEY: render_resource(type_name, pk, values)}
    if before is not None:
        stored[PREVIOUS_KEY] = render_previous(type_name, before, values)
    return stored


def document(*, event_id: int, name: str, created_at: datetime, payload: dict[str, Any],
             actor_id: int | None, extra: dict[str, Any]) -> dict[str, Any]:
    """The document a webhook receives: `{id, type, createdAt, data}`. `data` holds the resource under its
    key (`opportunity`, `task`, …), `previous` (updates only), `actor` and the event's own fields."""
    data: dict[str, Any] = {}
    type_name = payload.get(RESOURCE_TYPE_KEY)
    if type_name in RESOURCES and isinstance(payload.get(RESOURCE_KEY), dict):
        data[RESOURCES[type_name].key] = payload[RESOURCE_KEY]
    if isinstance(payload.get(PREVIOUS_KEY), dict):
        data["previous"] = payload[PREVIOUS_KEY]
    data["actor"] = {"id": global_id("User", actor_id)} if actor_id else None
    data.update(extra)
    return {"id": f"evt_{event_id}", "type": name, "createdAt": created_at.isoformat(), "data": data}


def changed_fields(payload: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(API name, before, after) of each field an update changed, from the stored snapshot: what the
    subscription's `changes` lists. Empty when the event carries no snapshot."""
    previous, resource = payload.get(PREVIOUS_KEY), payload.get(RESOURCE_KEY)
    if not isinstance(previous, dict) or not isinstance(resource, dict):
        return []
    return [(name, before, resource.get(name)) for name, before in previous.items()]


def api_name(type_name: str, column: str) -> str:
    """A stored column's name in the API (camelCase when the resource does not list it)."""
    field = RESOURCES[type_name].fields.get(column)
    return field.api_name if field is not None else camel(column.removesuffix("_id"))


def ref(type_name: str, pk: int | None) -> dict[str, str] | None:
    """A record named in a document: `{"id": <global id>}` (null when there is none)."""
    return {"id": global_id(type_name, pk)} if pk else None


def refs(type_name: str, pks: Any) -> list[dict[str, str]]:
    return [{"id": global_id(type_name, int(pk))} for pk in pks or ()]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
