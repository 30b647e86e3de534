"""Domain events: one typed definition per kind.

Every event a use case records is one of the dataclasses below. Its `KIND` is the name stored in the
event log (and seen by subscriptions and webhooks); its fields are the payload. What *reacts* to an
event is not decided here but in one table, `app.services.reactions.REACTIONS`. The questions other
modules used to answer by comparing kind strings ("may this move the forecast?", "which webhook
name?") are answered by the event itself.

What integrators receive for an event (webhooks, subscriptions) is rendered by
app.domain.event_documents from the record snapshotted with it; an event adds its own fields to that
document through `document_fields` (camelCase, records as `{"id": <global id>}`)."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar, cast

from app.domain.event_documents import ref, refs

# Opportunity fields whose change moves the forecast (value, probability, close date, owner).
FORECAST_FIELDS = ("value", "probability", "expected_close_date", "assigned_to_id", "assigned_to")


@dataclass(frozen=True)
class Event:
    KIND: ClassVar[str]
    # After this event the opportunity may meet its next stage's requirements.
    MAY_MEET_REQUIREMENTS: ClassVar[bool] = False

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Event:
        """Read a logged payload; a field an older writer left out reads as None."""
        return cls(**{f.name: payload.get(f.name)
                      for f in fields(cls) if f.name in payload or (f.default is MISSING and f.default_factory is MISSING)})

    @property
    def moves_forecast(self) -> bool:
        return False

    @property
    def webhook_name(self) -> str | None:
        """The name webhooks subscribe to (None: not offered to webhooks)."""
        return None

    def document_fields(self) -> dict[str, Any]:
        """What this event adds to its document beside the record and `previous` (API names and forms)."""
        return {}

    @property
    def entered_stage(self) -> str | None:
        """The stage key the deal came into with this event (its `stage_entered` automations run)."""
        return None


@dataclass(frozen=True)
class OpportunityCreated(Event):
    KIND: ClassVar[str] = "opportunity.created"
    # A deal starts in a stage: it enters it, and that stage's `stage_entered` automations run.
    MAY_MEET_REQUIREMENTS: ClassVar[bool] = True
    stage: str

    @property
    def moves_forecast(self) -> bool:
        return True

    @property
    def entered_stage(self) -> str | None:
        return self.stage

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class OpportunityUpdated(Event):
    """A field change by a user (source absent) or an automation (source "automation")."""

    KIND: ClassVar[str] = "opportunity.updated"
    MAY_MEET_REQUIREMENTS: ClassVar[bool] = True
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"changes": self.changes}
        if self.source is not None:
            data["source"] = self.source
        return data

    @property
    def moves_forecast(self) -> bool:
        return any(name in FORECAST_FIELDS for name in self.changes)

    @property
    def webhook_name(self) -> str | None:
        return self.KIND

    def document_fields(self) -> dict[str, Any]:
        return {"source": (self.source or "api").upper()}  # API, or AUTOMATION (a stage's automation)


@dataclass(frozen=True)
class OpportunityProductsChanged(Event):
    KIND: ClassVar[str] = "opportunity.products_changed"
    MAY_MEET_REQUIREMENTS: ClassVar[bool] = True
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def moves_forecast(self) -> bool:
        return True

    @property
    def webhook_name(self) -> str | None:
        return OpportunityUpdated.KIND  # for webhooks a product change is an update of the deal


@dataclass(frozen=True)
class StageChanged(Event):
    KIND: ClassVar[str] = "opportunity.stage_changed"
    MAY_MEET_REQUIREMENTS: ClassVar[bool] = True
    from_stage: str
    to_stage: str
    transition_id: int
    stage_entered_at: str
    won: bool = False
    lost: bool = False

    def payload(self) -> dict[str, Any]:
        return {"from": self.from_stage, "to": self.to_stage, "transition_id": self.transition_id,
                "stage_entered_at": self.stage_entered_at, "won": self.won, "lost": self.lost}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Event:
        return cls(from_stage=payload.get("from", ""), to_stage=payload.get("to", ""),
                   transition_id=int(payload.get("transition_id") or 0),
                   stage_entered_at=payload.get("stage_entered_at", ""),
                   won=bool(payload.get("won")), lost=bool(payload.get("lost")))

    @property
    def moves_forecast(self) -> bool:
        return True

    @property
    def entered_stage(self) -> str | None:
        return self.to_stage

    @property
    def webhook_name(self) -> str | None:
        return self.KIND  # a close is also its own event, OpportunityClosedWon / OpportunityClosedLost

    def document_fields(self) -> dict[str, Any]:
        return {"fromStage": self.from_stage, "toStage": self.to_stage,
                "transition": ref("StageTransition", self.transition_id)}


@dataclass(frozen=True)
class OpportunityClosedWon(Event):
    """Recorded with the StageChanged that moved the deal into a won stage, in the same transaction:
    webhooks and subscriptions see the stage change and the close as two events."""
    KIND: ClassVar[str] = "opportunity.closed_won"
    stage: str
    transition_id: int

    @property
    def webhook_name(self) -> str | None:
        return self.KIND

    def document_fields(self) -> dict[str, Any]:
        return {"transition": ref("StageTransition", self.transition_id)}


@dataclass(frozen=True)
class OpportunityClosedLost(OpportunityClosedWon):
    KIND: ClassVar[str] = "opportunity.closed_lost"


@dataclass(frozen=True)
class ActivityAdded(Event):
    KIND: ClassVar[str] = "opportunity.activity_added"
    MAY_MEET_REQUIREMENTS: ClassVar[bool] = True
    activity_id: int
    type: str
    completed: bool = False
    scheduled: bool = False

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"activity_id": self.activity_id, "type": self.type, "completed": self.completed}
        if self.scheduled:
            data["scheduled"] = True
        return data


    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class ActivityUpdated(ActivityAdded):
    KIND: ClassVar[str] = "opportunity.activity_updated"


@dataclass(frozen=True)
class TaskCreated(Event):
    KIND: ClassVar[str] = "task.created"
    task_id: int
    title: str = ""
    opportunity_id: int | None = None

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class TaskCompleted(Event):
    KIND: ClassVar[str] = "task.completed"
    task_id: int
    opportunity_id: int | None = None

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class NotificationCreated(Event):
    KIND: ClassVar[str] = "notification.created"
    notification_id: int


@dataclass(frozen=True)
class ForecastUpdated(Event):
    KIND: ClassVar[str] = "forecast.updated"
    period: str
    forecast: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskReopened(Event):
    KIND: ClassVar[str] = "task.reopened"
    task_id: int
    opportunity_id: int | None = None

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class TaskUpdated(Event):
    """Rescheduled, reassigned, re-prioritised or edited; `changes.assigned_to_id` {from, to} when
    reassigned (the previous assignee's sync drops it)."""
    KIND: ClassVar[str] = "task.updated"
    task_id: int
    opportunity_id: int | None = None
    fields: tuple[str, ...] | list[str] = ()
    changes: dict[str, Any] | None = None

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class NotificationRead(Event):
    KIND: ClassVar[str] = "notification.read"
    notification_id: int


@dataclass(frozen=True)
class _Deletion(Event):
    """Deletions are offered to webhooks under their own name, so receivers can drop what they mirrored."""

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class OpportunityDeleted(_Deletion):
    """The deal and what went with it (its activities and tasks), named so every cache drops them too."""
    KIND: ClassVar[str] = "opportunity.deleted"
    opportunity_id: int
    activity_ids: tuple[int, ...] | list[int] = ()
    task_ids: tuple[int, ...] | list[int] = ()

    @property
    def moves_forecast(self) -> bool:
        return True

    def document_fields(self) -> dict[str, Any]:
        return {"activities": refs("OpportunityActivity", self.activity_ids), "tasks": refs("Task", self.task_ids)}


@dataclass(frozen=True)
class TaskDeleted(_Deletion):
    KIND: ClassVar[str] = "task.deleted"
    task_id: int
    opportunity_id: int | None = None


@dataclass(frozen=True)
class ActivityDeleted(_Deletion):
    KIND: ClassVar[str] = "opportunity.activity_deleted"
    activity_id: int


@dataclass(frozen=True)
class DocumentsChanged(Event):
    KIND: ClassVar[str] = "opportunity.documents_changed"
    added: int | None = None
    removed: int | None = None


@dataclass(frozen=True)
class CompetitorsChanged(Event):
    KIND: ClassVar[str] = "opportunity.competitors_changed"
    added: int | None = None
    removed: int | None = None


@dataclass(frozen=True)
class AccountCreated(Event):
    KIND: ClassVar[str] = "account.created"
    account_id: int

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class AccountUpdated(AccountCreated):
    """`changes.assigned_to_id` {from, to} when the account was reassigned (the change log's REMOVED)."""
    KIND: ClassVar[str] = "account.updated"
    changes: dict[str, Any] | None = None


@dataclass(frozen=True)
class AccountDeleted(_Deletion):
    KIND: ClassVar[str] = "account.deleted"
    account_id: int
    team_user_ids: tuple[int, ...] | list[int] = ()
    contact_ids: tuple[int, ...] | list[int] = ()
    interaction_ids: tuple[int, ...] | list[int] = ()
    task_ids: tuple[int, ...] | list[int] = ()

    def document_fields(self) -> dict[str, Any]:
        return {"contacts": refs("Contact", self.contact_ids), "interactions": refs("CustomerInteraction", self.interaction_ids),
                "tasks": refs("Task", self.task_ids)}


@dataclass(frozen=True)
class ContactCreated(Event):
    """Contacts follow their account: the account team is named for the change log's tombstones."""
    KIND: ClassVar[str] = "contact.created"
    contact_id: int
    team_user_ids: tuple[int, ...] | list[int] = ()

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class ContactUpdated(ContactCreated):
    KIND: ClassVar[str] = "contact.updated"


@dataclass(frozen=True)
class ContactDeleted(_Deletion):
    KIND: ClassVar[str] = "contact.deleted"
    contact_id: int
    team_user_ids: tuple[int, ...] | list[int] = ()


@dataclass(frozen=True)
class ContactErased(Event):
    """The person's data was erased (app.services.personal_data): the contact stays, anonymised. The
    payload is the contact's id only; offered to webhooks, so receivers erase what they mirrored."""
    KIND: ClassVar[str] = "contact.erased"
    contact_id: int

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class InteractionRecorded(Event):
    KIND: ClassVar[str] = "interaction.recorded"
    interaction_id: int

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class InteractionUpdated(InteractionRecorded):
    KIND: ClassVar[str] = "interaction.updated"


@dataclass(frozen=True)
class ProductCreated(Event):
    KIND: ClassVar[str] = "product.created"
    product_id: int

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class ProductUpdated(ProductCreated):
    KIND: ClassVar[str] = "product.updated"


@dataclass(frozen=True)
class ProductDeleted(_Deletion):
    KIND: ClassVar[str] = "product.deleted"
    product_id: int


@dataclass(frozen=True)
class _Archival(Event):
    """Archive and restore (app.domain.archive) are offered to webhooks under their own name, so
    receivers put away or bring back what they mirror."""

    @property
    def webhook_name(self) -> str | None:
        return self.KIND


@dataclass(frozen=True)
class OpportunityArchived(_Archival):
    KIND: ClassVar[str] = "opportunity.archived"
    opportunity_id: int

    @property
    def moves_forecast(self) -> bool:
        return True  # it leaves the open pipeline


@dataclass(frozen=True)
class OpportunityRestored(OpportunityArchived):
    KIND: ClassVar[str] = "opportunity.restored"


@dataclass(frozen=True)
class AccountArchived(_Archival):
    """The account and what was put away with it (restore brings back exactly these)."""
    KIND: ClassVar[str] = "account.archived"
    account_id: int
    contact_ids: tuple[int, ...] | list[int] = ()
    opportunity_ids: tuple[int, ...] | list[int] = ()
    interaction_ids: tuple[int, ...] | list[int] = ()
    team_user_ids: tuple[int, ...] | list[int] = ()

    @property
    def moves_forecast(self) -> bool:
        return bool(self.opportunity_ids)

    def document_fields(self) -> dict[str, Any]:
        return {"contacts": refs("Contact", self.contact_ids), "opportunities": refs("Opportunity", self.opportunity_ids),
                "interactions": refs("CustomerInteraction", self.interaction_ids)}


@dataclass(frozen=True)
class AccountRestored(AccountArchived):
    KIND: ClassVar[str] = "account.restored"


@dataclass(frozen=True)
class ContactArchived(_Archival):
    KIND: ClassVar[str] = "contact.archived"
    contact_id: int
    team_user_ids: tuple[int, ...] | list[int] = ()


@dataclass(frozen=True)
class ContactRestored(ContactArchived):
    KIND: ClassVar[str] = "contact.restored"


@dataclass(frozen=True)
class InteractionArchived(_Archival):
    """A logged contact is one interaction and its deal's activity (app.domain.contact_log): they go together."""
    KIND: ClassVar[str] = "interaction.archived"
    interaction_id: int
    activity_id: int | None = None

    def document_fields(self) -> dict[str, Any]:
        # The other side of a logged contact (not `activity`: that key is a record's own).
        return {"linkedActivity": ref("OpportunityActivity", self.activity_id)}


@dataclass(frozen=True)
class InteractionRestored(InteractionArchived):
    KIND: ClassVar[str] = "interaction.restored"


@dataclass(frozen=True)
class ActivityArchived(_Archival):
    KIND: ClassVar[str] = "opportunity.activity_archived"
    activity_id: int
    interaction_id: int | None = None

    def document_fields(self) -> dict[str, Any]:
        return {"linkedInteraction": ref("CustomerInteraction", self.interaction_id)}


@dataclass(frozen=True)
class ActivityRestored(ActivityArchived):
    KIND: ClassVar[str] = "opportunity.activity_restored"


ARCHIVAL_EVENTS: tuple[type[Event], ...] = (
    OpportunityArchived, OpportunityRestored, AccountArchived, AccountRestored, ContactArchived, ContactRestored,
    InteractionArchived, InteractionRestored, ActivityArchived, ActivityRestored)


EVENT_TYPES: dict[str, type[Event]] = {cls.KIND: cls for cls in cast("tuple[type[Event], ...]", (
    OpportunityCreated, OpportunityUpdated, OpportunityProductsChanged, StageChanged, OpportunityClosedWon,
    OpportunityClosedLost, ActivityAdded,
    ActivityUpdated, TaskCreated, TaskCompleted, NotificationCreated, ForecastUpdated,
    TaskReopened, NotificationRead, OpportunityDeleted, ActivityDeleted, DocumentsChanged, CompetitorsChanged,
    AccountCreated, AccountUpdated, AccountDeleted, ContactCreated, ContactUpdated, ContactDeleted, ContactErased,
    InteractionRecorded, InteractionUpdated, ProductCreated, ProductUpdated, ProductDeleted,
    TaskUpdated, TaskDeleted, *ARCHIVAL_EVENTS,
))}


def parse_event(kind: str, payload: dict[str, Any] | None) -> Event | None:
    """The typed event for a logged kind and payload; None for a kind this code does not know."""
    event_type = EVENT_TYPES.get(kind)
    return None if event_type is None else event_type.from_payload(payload or {})


def webhook_names() -> dict[str, str]:
    """Every event kind offered to webhooks -> the name webhooks subscribe to (a product change is an
    `opportunity.updated`). Read from each kind's `webhook_name`, so a new kind needs nothing here."""
    names = {}
    for kind, event_type in EVENT_TYPES.items():
        name = event_type.from_payload({}).webhook_name
        if name is not None:
            names[kind] = name
    return names
