"""The one way to write an opportunity, and the data checks every such write shares.

Every use case that changes an opportunity row — updates (app.services.opportunities), stage moves
(app.services.pipeline_engine), product lines, automations (app.services.automations) — does it the
same way, inside its own transaction:

1. `lock_opportunity`: the current row under a row lock (PostgreSQL; SQLite has one writer), and a
   stale `expected_version` refused with STALE_VERSION. Writers without an expected version are
   serialised here and each applies its change to the row the previous one left: no lost update.
2. `save_opportunity`: compare-and-set on `version` (a writer that skipped the lock still cannot
   overwrite a newer row), `version + 1`, and the change's domain event in the same transaction.

So one change gives one version and one event, whatever runs concurrently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from app.domain.enums import ChangeSource, Role, ValueSource
from app.domain.errors import ErrorCode, ValidationFailed
from app.domain.events import Event
from app.domain.validation import percent_error
from app.models import Contact, DomainEvent, Opportunity
from app.queries.visibility import Scope, contact_filter
from app.services import history
from app.services.common import Checks
from app.services.events import Outbox, columns

Changes = dict[str, dict[str, Any]]


async def check_opportunity_data(checks: Checks, scope: Scope, data: dict[str, Any], *, account_id: int | None,
                                 opportunity_id: int | None, prefix: str = "") -> None:
    """The rules on an opportunity's own data, whichever use case writes it: a rep cannot override
    the stage probability, the contact must be on the opportunity's account, and a typed value makes
    the value MANUAL (app.domain.opportunities). Field names are reported with `prefix`."""
    if "probability" in data:
        checks.check(f"{prefix}probability", percent_error(data["probability"]), ErrorCode.OUT_OF_RANGE)
        if scope.role is Role.REP:
            checks.add(f"{prefix}probability", "only a manager or admin can override the stage probability",
                       ErrorCode.FORBIDDEN)
    if data.get("contact_id") is not None and account_id is not None \
            and not await Contact.exists(contact_filter(scope), id=data["contact_id"], account_id=account_id):
        checks.add(f"{prefix}contact_id", "contact not found on this account", ErrorCode.NOT_FOUND)
    if "value_source" in data and data["value_source"] is None:
        checks.add(f"{prefix}value_source", "is required", ErrorCode.REQUIRED)
    elif data.get("value") is not None:
        # A typed value is MANUAL: product lines leave it alone from then on.
        if data.get("value_source") == ValueSource.PRODUCTS:
            checks.add(f"{prefix}value_source", "a typed value is MANUAL: leave value out to follow the product lines",
                       ErrorCode.INVALID)
        data["value_source"] = ValueSource.MANUAL


def stale(current_version: int) -> ValidationFailed:
    return ValidationFailed.single(
        "expected_version", f"the opportunity changed since you read it; current version is {current_version}",
        ErrorCode.STALE_VERSION)


async def lock_opportunity(opportunity_id: int, expected_version: int | None = None) -> Opportunity:
    """Inside the caller's transaction: the current row, locked; STALE_VERSION if it moved on."""
    opportunity = await Opportunity.filter(id=opportunity_id).select_for_update().first()
    if opportunity is None:
        raise ValidationFailed.single("id", "opportunity not found", ErrorCode.NOT_FOUND)
    if expected_version is not None and expected_version != opportunity.version:
        raise stale(opportunity.version)
    return opportunity


def plain(value: Any) -> Any:
    """JSON-safe form of a field value for event payloads."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return getattr(value, "value", None) or str(value)


async def save_opportunity(opportunity: Opportunity, changes: dict[str, Any], outbox: Outbox,
                           event: Event | Callable[[Changes], Event], *, actor_id: int | None = None,
                           now: datetime | None = None, source: ChangeSource = ChangeSource.API) -> DomainEvent:
    """Inside the caller's transaction, on a row from `lock_opportunity`: apply `changes` with a
    compare-and-set on version, record the change's event (given, or built from the field diff) and the
    field history (`source`: what made the change)."""
    now = now or datetime.now(timezone.utc)
    before = history.tracked_state("opportunity", opportunity)
    before_columns = columns(opportunity)
    diff = {k: {"from": plain(getattr(opportunity, k)), "to": plain(v)}
            for k, v in changes.items() if getattr(opportunity, k) != v}
    updated = await Opportunity.filter(id=opportunity.id, version=opportunity.version).update(
        **changes, version=opportunity.version + 1, updated_at=now)
    if not updated:
        current = await Opportunity.get_or_none(id=opportunity.id)
        raise stale(current.version if current else opportunity.version)
    for key, value in changes.items():
        setattr(opportunity, key, value)
    opportunity.version += 1
    opportunity.updated_at = now
    await history.record_changes("opportunity", opportunity.id, before, changes, actor_id=actor_id, source=source,
                                 at=now)
    typed = event if isinstance(event, Event) else event(diff)
    return await outbox.record(typed, opportunity=opportunity, actor_id=actor_id, resource=opportunity,
                               before=before_columns)
