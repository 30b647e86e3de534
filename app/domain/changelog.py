"""The change log's rules: positions and cursors, retention, and which record each event kind touches.

A position is (txid, id): the writing transaction's id, then the event id. Readers hand out only events
of transactions older than every transaction still in flight (app/queries/changelog.py), so a position
once handed out is never overtaken by an event that commits later: resuming after it has no gap and
no duplicate. Cursors are opaque strings that encode a position and when it was handed out.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

# Events are kept (and replayed) this long.
RETENTION = timedelta(days=7)
# An event is inserted before its transaction commits: a cursor expires this much before the events
# that follow it could have left the window, so no resume can silently miss them.
CURSOR_GRACE = timedelta(hours=1)

_VERSION = "v1"
# PostgreSQL's pg_snapshot text form: xmin:xmax:xip,xip,…
_SNAPSHOT = re.compile(r"\d{1,19}:\d{1,19}:(\d{1,19}(,\d{1,19})*)?")


class CursorError(Exception):
    """A cursor that is malformed (`expired` False) or older than the retention window (`expired` True)."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, order=True)
class Position:
    txid: int
    id: int
    at: datetime = field(compare=False)
    # "Now" on PostgreSQL: the snapshot taken then. Events of transactions it already saw as committed
    # were before "now" even when an older transaction kept them from being final; they are skipped
    # until the reader has passed the snapshot's xmax.
    snapshot: str | None = field(default=None, compare=False)

    def carrying(self, snapshot: str | None) -> "Position":
        """This position, still excluding what `snapshot` saw while that can matter."""
        if snapshot is None or self.txid >= int(snapshot.split(":")[1]):
            return Position(self.txid, self.id, self.at)
        return Position(self.txid, self.id, self.at, snapshot)


def encode_cursor(position: Position) -> str:
    raw = f"{_VERSION}|{position.txid}|{position.id}|{int(position.at.timestamp())}|{position.snapshot or ''}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, now: datetime) -> Position:
    """The position in a cursor; raises CursorError when it is malformed or too old to resume from."""
    if cursor.isdigit():
        # The event ids this API handed out before positions existed: resuming needs a resync.
        raise CursorError("this cursor predates the ordered change log: resync, then start from eventCursor",
                          expired=True)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, txid, event_id, at, snapshot = raw.split("|")
        position = Position(int(txid), int(event_id), datetime.fromtimestamp(int(at), timezone.utc), snapshot or None)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        raise CursorError("malformed cursor", expired=False) from None
    if version != _VERSION or position.txid < 0 or position.id < 0 or \
            (position.snapshot is not None and not _SNAPSHOT.fullmatch(position.snapshot)):
        raise CursorError("malformed cursor", expired=False)
    if position.at < now - RETENTION + CURSOR_GRACE:
        raise CursorError(f"cursor older than the {RETENTION.days}-day retention window: resync, then start "
                          "from eventCursor", expired=True)
    return position


class RecordType(str, Enum):
    OPPORTUNITY = "opportunity"
    ACCOUNT = "account"
    CONTACT = "contact"
    ACTIVITY = "activity"
    INTERACTION = "interaction"
    TASK = "task"
    NOTIFICATION = "notification"
    PRODUCT = "product"


class ChangeAction(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    # Still exists, but left the caller's scope (e.g. reassigned away): drop it from the cache.
    REMOVED = "removed"
    # Archived (app.domain.archive): a tombstone until it is restored (then UPDATED, with the record).
    ARCHIVED = "archived"


@dataclass(frozen=True)
class Touch:
    """An event kind touches a record: its type, how, and where the event keeps its id."""

    record_type: RecordType
    action: ChangeAction
    id_key: str  # payload key ("…_ids" for a list); "opportunity_id" / "account_id" fall back to the event's columns

    def ids(self, payload: dict[str, Any], opportunity_id: int | None, account_id: int | None) -> list[int]:
        value = payload.get(self.id_key)
        if value is None:
            value = {"opportunity_id": opportunity_id, "account_id": account_id}.get(self.id_key)
        values = value if isinstance(value, list) else [value]
        return [int(v) for v in values if v is not None]


def _kinds(record_type: RecordType, id_key: str, *, created: str, updated: tuple[str, ...],
           deleted: str | None) -> dict[str, tuple[Touch, ...]]:
    touches: dict[str, tuple[Touch, ...]] = {created: (Touch(record_type, ChangeAction.CREATED, id_key),)}
    touches.update({kind: (Touch(record_type, ChangeAction.UPDATED, id_key),) for kind in updated})
    if deleted:
        touches[deleted] = (Touch(record_type, ChangeAction.DELETED, id_key),)
    return touches


def _child(record_type: RecordType, id_key: str, action: ChangeAction) -> tuple[Touch, ...]:
    """A child's change also changes its parent opportunity (its updatedAt and version move)."""
    return (Touch(record_type, action, id_key), Touch(RecordType.OPPORTUNITY, ChangeAction.UPDATED, "opportunity_id"))


# Event kind -> the records it creates, updates or deletes. One table for the sync and its tests.
TOUCHES: dict[str, tuple[Touch, ...]] = {
    **_kinds(RecordType.OPPORTUNITY, "opportunity_id", created="opportunity.created",
             updated=("opportunity.updated", "opportunity.products_changed", "opportunity.stage_changed",
                      "opportunity.competitors_changed", "opportunity.documents_changed"),
             deleted=None),
    "opportunity.activity_added": _child(RecordType.ACTIVITY, "activity_id", ChangeAction.CREATED),
    "opportunity.activity_updated": _child(RecordType.ACTIVITY, "activity_id", ChangeAction.UPDATED),
    "opportunity.activity_deleted": _child(RecordType.ACTIVITY, "activity_id", ChangeAction.DELETED),
    **_kinds(RecordType.ACCOUNT, "account_id", created="account.created", updated=("account.updated",), deleted=None),
    # Deleting an account or an opportunity deletes what hangs under it: the event names those ids.
    "account.deleted": (Touch(RecordType.ACCOUNT, ChangeAction.DELETED, "account_id"),
                        Touch(RecordType.CONTACT, ChangeAction.DELETED, "contact_ids"),
                        Touch(RecordType.INTERACTION, ChangeAction.DELETED, "interaction_ids"),
                        Touch(RecordType.TASK, ChangeAction.DELETED, "task_ids")),
    "opportunity.deleted": (Touch(RecordType.OPPORTUNITY, ChangeAction.DELETED, "opportunity_id"),
                            Touch(RecordType.ACTIVITY, ChangeAction.DELETED, "activity_ids"),
                            Touch(RecordType.TASK, ChangeAction.DELETED, "task_ids")),
    **_kinds(RecordType.CONTACT, "contact_id", created="contact.created", updated=("contact.updated", "contact.erased"),
             deleted="contact.deleted"),
    **_kinds(RecordType.INTERACTION, "interaction_id", created="interaction.recorded",
             updated=("interaction.updated",), deleted=None),
    **_kinds(RecordType.TASK, "task_id", created="task.created",
             updated=("task.completed", "task.reopened", "task.updated"), deleted="task.deleted"),
    # Archive and restore: the records change (sync answers ARCHIVED while a record is archived).
    **{kind: (Touch(RecordType.OPPORTUNITY, ChangeAction.UPDATED, "opportunity_id"),)
       for kind in ("opportunity.archived", "opportunity.restored")},
    **{kind: (Touch(RecordType.ACCOUNT, ChangeAction.UPDATED, "account_id"),
              Touch(RecordType.CONTACT, ChangeAction.UPDATED, "contact_ids"),
              Touch(RecordType.OPPORTUNITY, ChangeAction.UPDATED, "opportunity_ids"),
              Touch(RecordType.INTERACTION, ChangeAction.UPDATED, "interaction_ids"))
       for kind in ("account.archived", "account.restored")},
    **{kind: (Touch(RecordType.CONTACT, ChangeAction.UPDATED, "contact_id"),)
       for kind in ("contact.archived", "contact.restored")},
    **{kind: (Touch(RecordType.INTERACTION, ChangeAction.UPDATED, "interaction_id"),
              Touch(RecordType.ACTIVITY, ChangeAction.UPDATED, "activity_id"))
       for kind in ("interaction.archived", "interaction.restored",
                    "opportunity.activity_archived", "opportunity.activity_restored")},
    **_kinds(RecordType.NOTIFICATION, "notification_id", created="notification.created",
             updated=("notification.read",), deleted=None),
    **_kinds(RecordType.PRODUCT, "product_id", created="product.created", updated=("product.updated",),
             deleted="product.deleted"),
}


def kinds_for(types: set[RecordType]) -> list[str]:
    return sorted(kind for kind, touches in TOUCHES.items() if any(t.record_type in types for t in touches))


def previous_owner(payload: dict[str, Any]) -> int | None:
    """Who owned the record before this event, when the event reassigned it."""
    change = (payload.get("changes") or {}).get("assigned_to_id") or (payload.get("changes") or {}).get("assigned_to")
    if not isinstance(change, dict) or change.get("from") in (None, ""):
        return None
    try:
        return int(change["from"])
    except (TypeError, ValueError):
        return None
