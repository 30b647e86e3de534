"""A contact's personal data: export everything held about them, or erase it (admins only, audited).

Erasure anonymises, it does not delete: the contact row stays with a marker name
(app.domain.personal_data) and `erased_at`, so its interactions, participations and deal links still
count in reports (interaction insights, health, pipeline figures); its e-mail address and phone number
are gone, and every text that named the person has each mention replaced by "[erased]". Where those
texts are is one list, `_scrub_places`: a new table that can hold a contact's name, e-mail or phone
belongs there (and in tests/test_personal_data.py's sweep, which reads every table anyway).

One transaction: the contact, every place, the `contact.erased` event (id only: webhooks offer it so
receivers erase their copy), `interaction.updated` / `task.updated` for the records whose text changed
(offline caches fetch them again) and the audit entry. A second erasure of the same contact changes
nothing and records nothing. Stored texts change without the side effects of an edit: an interaction's
sentiment, a deal's stage and value stay as they were.

Remaining risks: only the database's live rows are scrubbed — backups, PostgreSQL's dead tuples and WAL,
SQLite's free pages and the FTS5 index's not yet merged segments, logs and mail already delivered keep
what they held until they are rotated or compacted. Accounts, users and persisted GraphQL documents are
not scanned (a business's name, our staff, and the client's own query texts)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from tortoise import connections
from tortoise.expressions import F, Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from app.domain.enums import Role
from app.domain.errors import PermissionDenied, not_found
from app.domain.events import ContactErased, InteractionUpdated, TaskUpdated
from app.domain.event_documents import PREVIOUS_KEY, RESOURCE_KEY, RESOURCES, render_value
from app.domain.global_ids import global_id
from app.domain.history import PERSONAL_CONTACT_FIELDS
from app.domain.personal_data import PersonalData, erased_fields, is_anonymised, redact, redact_json
from app.domain.search import words
from app.models import (
    Account,
    AuditEntry,
    AutomationRun,
    Contact,
    Contract,
    CustomerInteraction,
    DomainEvent,
    FieldHistoryEntry,
    IdempotencyKey,
    InteractionParticipant,
    Location,
    Notification,
    Opportunity,
    OpportunityActivity,
    OpportunityDocument,
    OutgoingMail,
    Task,
)
from app.queries.search import TARGETS
from app.queries.visibility import Scope
from app.services.changelog import recorded_change
from app.services.events import Outbox
from app.services.rows import int_column, locked

EXPORTED = "contact.exported"
ERASED = "contact.erased"
# Mail to the erased address that has not gone yet is never sent (app.services.mail claims none of these).
UNSENT_MAIL = ("queued", "failed", "stored")
WITHHELD = "withheld"


def _require_admin(scope: Scope) -> None:
    if scope.role is not Role.ADMIN:
        raise PermissionDenied("only admins export or erase personal data")


async def _contact(contact_id: int) -> Contact:
    contact = await Contact.get_or_none(id=contact_id)
    if contact is None:
        raise not_found("contact_id", "contact")
    return contact


def _personal_data(contact: Contact) -> PersonalData:
    return PersonalData(contact.first_name, contact.last_name, contact.email, contact.phone)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _audit(scope: Scope, action: str, contact_id: int, detail: dict[str, Any]) -> None:
    await AuditEntry.create(actor_id=scope.user_id, action=action, record_type="Contact", record_id=contact_id,
                            detail=detail)


# Where a contact appears -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """The records tied to the contact, where texts naming them are looked for."""

    contact_id: int
    account_id: int
    email: str | None
    deal_ids: list[int]  # the account's deals and any deal naming the contact as its contact
    interaction_ids: list[int]  # the account's interactions and any the contact took part in

    @classmethod
    async def of(cls, contact: Contact) -> Reach:
        deals = await int_column(Opportunity.filter(Q(account_id=contact.account_id) | Q(contact_id=contact.id)))
        taken_part = await int_column(InteractionParticipant.filter(contact_id=contact.id), "interaction_id")
        interactions = await int_column(CustomerInteraction.filter(
            Q(account_id=contact.account_id) | Q(contact_id=contact.id) | Q(id__in=taken_part or [0])))
        return cls(contact.id, contact.account_id, contact.email, sorted(set(deals)), sorted(set(interactions)))


class Place(Protocol):
    @property
    def name(self) -> str: ...  # reported in the audit entry (how many rows each place changed)

    async def scrub(self, person: PersonalData, pattern: re.Pattern[str]) -> list[int]:
        """Remove every mention; the ids of the rows that changed (none for a table without ids)."""
        ...


@dataclass(frozen=True)
class Rows:
    """Columns of a table that may name the person: `text` columns get each mention replaced, every
    string inside the `json` columns too, and `cleared` columns are emptied (the person's own words).
    The rows read: those `where` picks, and with `mentioned` also those whose text columns contain one
    of the person's names, their e-mail or their phone's last digits (as SQL can tell cheaply)."""

    name: str
    model: type[Model]
    where: Q | None = None
    text: tuple[str, ...] = ()
    json: tuple[str, ...] = ()
    cleared: tuple[str, ...] = ()
    mentioned: bool = False

    def _rows(self, person: PersonalData):
        picked = [self.where] if self.where is not None else []
        if self.mentioned:
            picked += [Q(**{f"{column}__icontains": term}) for column in self.text for term in person.search_terms()]
        return self.model.filter(Q(*picked, join_type="OR")) if picked else None

    async def scrub(self, person: PersonalData, pattern: re.Pattern[str]) -> list[int]:
        rows = self._rows(person)
        if rows is None:
            return []
        columns = (*self.text, *self.json, *self.cleared)
        fields_map = self.model._meta.fields_map
        now = datetime.now(timezone.utc)
        changed: list[int] = []
        for row in await rows.order_by("id").values("id", *columns):
            update: dict[str, Any] = {}
            for column in self.text:
                if row[column] is not None and (value := redact(row[column], pattern)) != row[column]:
                    update[column] = value
            for column in self.json:
                if (value := redact_json(row[column], pattern)) != row[column]:
                    update[column] = value
            for column in self.cleared:
                if row[column]:
                    update[column] = ""
            if not update:
                continue
            if "updated_at" in fields_map:  # `updatedSince` and the read caches see the change
                update["updated_at"] = now
            if "version" in fields_map:  # a client holding the old text is stale: it cannot write it back
                update["version"] = F("version") + 1
            await self.model.filter(id=row["id"]).update(**update)
            changed.append(row["id"])
        return changed


@dataclass(frozen=True)
class ContactSnapshots:
    """The contact's own events carry the contact as it was (app.domain.event_documents): its earlier
    names, e-mails and phones are theirs whatever they were, so the snapshot's and `previous`'s personal
    fields take the erased values."""

    contact_id: int
    account_id: int
    name: str = "the contact's event documents"

    async def scrub(self, person: PersonalData, pattern: re.Pattern[str]) -> list[int]:
        contact = RESOURCES["Contact"]
        erased = {contact.fields[column].api_name: render_value(contact.fields[column], value)
                  for column, value in erased_fields().items()}
        changed: list[int] = []
        events = DomainEvent.filter(account_id=self.account_id, kind__startswith="contact.")
        for event_id, payload in await events.order_by("id").values_list("id", "payload"):
            if not isinstance(payload, dict) or payload.get("contact_id") != self.contact_id:
                continue
            scrubbed = dict(payload)
            for key in (RESOURCE_KEY, PREVIOUS_KEY):
                if isinstance(payload.get(key), dict):
                    scrubbed[key] = {name: erased.get(name, value) if name in PERSONAL_CONTACT_FIELDS else value
                                     for name, value in payload[key].items()}
            if scrubbed != payload:
                await DomainEvent.filter(id=event_id).update(payload=scrubbed)
                changed.append(event_id)
        return changed


@dataclass(frozen=True)
class SearchLexicon:
    """PostgreSQL's lexicon of searched words (`search_words`, migration 0017) keeps every word it was
    ever given: the person's name and e-mail words go once no searched field holds them any more.
    (SQLite's FTS5 tables follow their rows through triggers.) Run after the contact's row changed."""

    name: str = "search lexicon"

    async def scrub(self, person: PersonalData, pattern: re.Pattern[str]) -> list[int]:
        conn = connections.get("default")
        if conn.capabilities.dialect != "postgres":
            return []
        candidates = sorted({w for text in (person.first_name, person.last_name, person.email or "") for w in words(text)})
        if not candidates:
            return []
        still_used = " OR ".join(
            f"EXISTS (SELECT 1 FROM {target.table} WHERE crm_search_vector({f.source}) @@ quote_literal(w.word)::tsquery)"
            for target in TARGETS.values() for f in target.fields if not f.phone)
        await conn.execute_query(f"DELETE FROM search_words w WHERE w.word = ANY($1::text[]) AND NOT ({still_used})",
                                 [candidates])
        return []  # the lexicon's rows have no ids


def _scrub_places(reach: Reach) -> list[Place]:
    """Every place, besides the contact's own row, where a contact's name, e-mail or phone can be kept.
    A table that can hold them (a new free-text column) is added here."""
    on_account = Q(account_id=reach.account_id)
    on_deals = Q(opportunity_id__in=reach.deal_ids or [0])
    return [
        Rows("interactions", CustomerInteraction, Q(id__in=reach.interaction_ids or [0]),
             text=("subject", "description", "next_steps", "location"), json=("attachments",)),
        Rows("interaction participants", InteractionParticipant, Q(interaction_id__in=reach.interaction_ids or [0]),
             text=("feedback",)),
        Rows("the contact's own feedback", InteractionParticipant, Q(contact_id=reach.contact_id), cleared=("feedback",)),
        Rows("opportunities", Opportunity, Q(id__in=reach.deal_ids or [0]),
             text=("name", "description", "next_step", "lost_reason")),
        Rows("opportunity activities", OpportunityActivity, on_deals, text=("subject", "description", "next_steps")),
        Rows("opportunity documents", OpportunityDocument, on_deals, text=("name", "url")),
        Rows("tasks", Task, on_account | on_deals, text=("title", "description")),
        Rows("locations", Location, on_account, text=("name", "phone", "delivery_notes")),
        Rows("contracts", Contract, on_account, text=("name",)),
        Rows("outgoing mail", OutgoingMail, Q(to_address__iexact=reach.email) | on_deals if reach.email else on_deals,
             text=("to_address", "subject", "body", "ics"), mentioned=True),
        Rows("notifications", Notification, text=("title", "message"), mentioned=True),
        Rows("event log", DomainEvent, on_account | Q(opportunity_id__in=reach.deal_ids or [0]), json=("payload",)),
        ContactSnapshots(reach.contact_id, reach.account_id),
        Rows("automation runs", AutomationRun, on_deals, json=("detail",)),
        # The contact's own earlier names, e-mails and phones are theirs whatever they were: emptied.
        Rows("the contact's field history", FieldHistoryEntry,
             Q(contact_id=reach.contact_id, field__in=PERSONAL_CONTACT_FIELDS), cleared=("before", "after")),
        Rows("field history", FieldHistoryEntry, Q(contact_id=reach.contact_id) | on_deals | on_account,
             text=("before", "after")),
        Rows("stored responses (Idempotency-Key)", IdempotencyKey, text=("response_body",), mentioned=True),
        SearchLexicon(),
    ]


# Use cases --------------------------------------------------------------------------------------


@dataclass
class Erasure:
    contact: Contact
    changed: dict[str, list[int]] = field(default_factory=dict)


async def erase_contact(scope: Scope, contact_id: int) -> Contact:
    """Admins: erase the contact's personal data everywhere (see the module docstring). An erased
    contact is returned as it is: erasing twice changes nothing and records nothing (unless personal
    data was typed into it since: that is erased like the first time)."""
    _require_admin(scope)
    await _contact(contact_id)
    async with recorded_change() as outbox:
        contact = await locked(Contact, contact_id)
        if contact.erased_at is not None and is_anonymised({name: getattr(contact, name) for name in erased_fields()}):
            return contact  # already erased (data typed in since is erased again)
        erasure = await _erase(contact)
        await _announce(outbox, erasure, scope)
        await _audit(scope, ERASED, contact.id, {
            "scrubbed": {name: len(ids) for name, ids in erasure.changed.items() if ids}})
    return contact


async def _erase(contact: Contact) -> Erasure:
    person = _personal_data(contact)
    pattern = person.pattern()
    reach = await Reach.of(contact)
    erasure = Erasure(contact)
    if reach.email:
        erasure.changed["mail withheld"] = await int_column(
            OutgoingMail.filter(to_address__iexact=reach.email, status__in=UNSENT_MAIL))
        await OutgoingMail.filter(id__in=erasure.changed["mail withheld"] or [0]).update(status=WITHHELD)
    for name, value in erased_fields().items():
        setattr(contact, name, value)
    contact.erased_at = datetime.now(timezone.utc)
    await contact.save()
    if pattern is not None:
        for place in _scrub_places(reach):
            erasure.changed[place.name] = await place.scrub(person, pattern)
    return erasure


async def _announce(outbox: Outbox, erasure: Erasure, scope: Scope) -> None:
    """contact.erased, and an update of each interaction and task whose text changed (offline caches)."""
    contact = erasure.contact
    owner_id = (await Account.get(id=contact.account_id).only("id", "assigned_to_id")).assigned_to_id
    # The documents carry the records as erased, and no `previous` (it would name the person).
    await outbox.record(ContactErased(contact_id=contact.id), account_id=contact.account_id, owner_id=owner_id,
                        actor_id=scope.user_id, resource=contact)
    for interaction in await CustomerInteraction.filter(id__in=erasure.changed.get("interactions") or [0]).order_by("id"):
        await outbox.record(InteractionUpdated(interaction_id=interaction.id), account_id=contact.account_id,
                            owner_id=owner_id, actor_id=scope.user_id, resource=interaction)
    for task in await Task.filter(id__in=erasure.changed.get("tasks") or [0]).order_by("id"):
        await outbox.record(TaskUpdated(task_id=task.id, opportunity_id=task.opportunity_id, fields=["description", "title"]),
                            owner_id=task.assignee_id, account_id=task.account_id, actor_id=scope.user_id,
                            resource=task)


async def export_contact_data(scope: Scope, contact_id: int) -> dict[str, Any]:
    """Admins: everything held about the contact, as JSON (ids are the API's global ids): their own
    fields, the interactions they were the contact of or took part in (with their part), the deals
    naming them as contact, and the mail sent to their address. The export is audited."""
    _require_admin(scope)
    contact = await _contact(contact_id)
    data = {
        "exportedAt": datetime.now(timezone.utc).isoformat(),
        "contact": await _contact_json(contact),
        "interactions": await _interactions_json(contact),
        "opportunities": await _opportunities_json(contact),
        "outgoingMail": await _mail_json(contact),
    }
    async with in_transaction():
        await _audit(scope, EXPORTED, contact.id, {
            key: len(data[key]) for key in ("interactions", "opportunities", "outgoingMail")})
    return data


async def _contact_json(contact: Contact) -> dict[str, Any]:
    account = await Account.get(id=contact.account_id).only("id", "name")
    return {
        "id": global_id("Contact", contact.id), "firstName": contact.first_name, "lastName": contact.last_name,
        "email": contact.email, "phone": contact.phone, "title": contact.title, "role": contact.role.name,
        "isPrimary": contact.is_primary, "createdAt": _iso(contact.created_at), "updatedAt": _iso(contact.updated_at),
        "erasedAt": _iso(contact.erased_at), "account": {"id": global_id("Account", account.id), "name": account.name},
    }


async def _interactions_json(contact: Contact) -> list[dict[str, Any]]:
    parts = {p.interaction_id: p for p in await InteractionParticipant.filter(contact_id=contact.id)}
    rows = await CustomerInteraction.filter(Q(contact_id=contact.id) | Q(id__in=list(parts) or [0])).order_by("occurred_at", "id")
    return [{
        "id": global_id("CustomerInteraction", i.id), "type": i.type.name, "direction": i.direction.name,
        "occurredAt": _iso(i.occurred_at), "subject": i.subject, "description": i.description,
        "outcome": i.outcome.name if i.outcome else None, "sentimentLabel": i.sentiment_label,
        "nextSteps": i.next_steps, "location": i.location, "attachments": i.attachments,
        "opportunityId": global_id("Opportunity", i.opportunity_id) if i.opportunity_id else None,
        "asContact": i.contact_id == contact.id,
        "participation": None if i.id not in parts else {
            "role": parts[i.id].role.name, "attended": parts[i.id].attended, "feedback": parts[i.id].feedback},
    } for i in rows]


async def _opportunities_json(contact: Contact) -> list[dict[str, Any]]:
    rows = await Opportunity.filter(contact_id=contact.id).order_by("id").prefetch_related("stage")
    return [{
        "id": global_id("Opportunity", o.id), "name": o.name, "stage": o.stage.key, "value": str(o.value),
        "expectedCloseDate": o.expected_close_date.isoformat(), "createdAt": _iso(o.created_at),
    } for o in rows]


async def _mail_json(contact: Contact) -> list[dict[str, Any]]:
    if not contact.email:
        return []
    rows = await OutgoingMail.filter(to_address__iexact=contact.email).order_by("id")
    return [{
        "id": global_id("OutgoingMail", m.id), "toAddress": m.to_address, "subject": m.subject, "body": m.body,
        "status": m.status, "createdAt": _iso(m.created_at), "sentAt": _iso(m.sent_at),
    } for m in rows]
