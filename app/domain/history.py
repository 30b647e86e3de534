"""Field history rules: which fields of which records are tracked, under which API name, and how a
value is written down, so a record's history reads in the API's own terms.

A tracked field changes → one history entry (who, when, which field, before, after, through what),
written by the use case in the transaction that makes the change (app.services.history). Derived and
bookkeeping columns (version, timestamps, health score, the stage's entry time) are not tracked: they
follow from tracked changes or from time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from app.domain.global_ids import global_id


@dataclass(frozen=True)
class Tracked:
    """A tracked column: its name in the API, and the GraphQL type a foreign key names (its values are
    written as that type's global id)."""
    api_name: str
    names: str | None = None


OPPORTUNITY_FIELDS: dict[str, Tracked] = {
    "name": Tracked("name"), "account_id": Tracked("account", "Account"), "contact_id": Tracked("contact", "Contact"),
    "pipeline_id": Tracked("pipeline", "Pipeline"), "stage_id": Tracked("stage", "PipelineStage"),
    "probability": Tracked("probability"), "value": Tracked("value"), "value_source": Tracked("valueSource"),
    "budget": Tracked("budget"), "expected_close_date": Tracked("expectedCloseDate"),
    "actual_close_date": Tracked("actualCloseDate"), "source": Tracked("source"),
    "assigned_to_id": Tracked("assignedTo", "User"), "lost_reason": Tracked("lostReason"),
    "lost_reason_key": Tracked("lostReasonKey"), "next_step": Tracked("nextStep"),
    "description": Tracked("description"), "forecast_category": Tracked("forecastCategory"),
    "archived_at": Tracked("archivedAt"),
}
ACCOUNT_FIELDS: dict[str, Tracked] = {
    "name": Tracked("name"), "industry": Tracked("industry"), "size": Tracked("size"),
    "annual_revenue": Tracked("annualRevenue"), "headquarters": Tracked("headquarters"),
    "parent_id": Tracked("parent", "Account"), "status": Tracked("status"), "tier": Tracked("tier"),
    "assigned_to_id": Tracked("assignedTo", "User"), "renewal_date": Tracked("renewalDate"),
    "archived_at": Tracked("archivedAt"),
}
CONTACT_FIELDS: dict[str, Tracked] = {
    "account_id": Tracked("account", "Account"), "first_name": Tracked("firstName"),
    "last_name": Tracked("lastName"), "email": Tracked("email"), "phone": Tracked("phone"), "title": Tracked("title"),
    "role": Tracked("role"), "is_primary": Tracked("isPrimary"), "archived_at": Tracked("archivedAt"),
}
TRACKED: dict[str, dict[str, Tracked]] = {
    "opportunity": OPPORTUNITY_FIELDS, "account": ACCOUNT_FIELDS, "contact": CONTACT_FIELDS,
}
# The contact fields that are personal data (erasure blanks them in the history too).
PERSONAL_CONTACT_FIELDS = ("firstName", "lastName", "email", "phone", "title")


@dataclass(frozen=True)
class FieldChange:
    field: str  # the API name
    before: str | None
    after: str | None


def written(value: Any, names: str | None = None) -> str | None:
    """A value as history keeps it: text in the API's own form (an id as the global id it is sent as)."""
    if value is None:
        return None
    if names is not None:
        return global_id(names, int(value))
    if isinstance(value, Enum):
        return value.name  # as the API's enums spell it
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def api_value(value: Any, names: str | None = None) -> Any:
    """A value as the API returns it in JSON (webhook and subscription documents, app.domain.event_documents):
    a foreign key as `{"id": <global id>}` (what `field { id }` answers), an enum by its API name, money as
    its decimal string ("6500.00"), dates and datetimes in ISO 8601; numbers, booleans, text and null as they are."""
    if value is None:
        return None
    if names is not None:
        return {"id": global_id(names, int(value))}
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def field_changes(record_type: str, before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """The tracked fields whose value differs between two states of a record (columns left out of
    `after` did not change), in a stable order."""
    tracked = TRACKED[record_type]
    changes = []
    for column in sorted(after):
        spec = tracked.get(column)
        if spec is None or column not in before:
            continue
        old, new = written(before[column], spec.names), written(after[column], spec.names)
        if old != new:
            changes.append(FieldChange(spec.api_name, old, new))
    return changes


def tracked_field_names(record_type: str) -> list[str]:
    return sorted(spec.api_name for spec in TRACKED[record_type].values())
