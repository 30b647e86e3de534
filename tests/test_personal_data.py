"""A contact's personal data (app.services.personal_data): admins export it as JSON or erase it
everywhere it is kept; the contact stays, anonymised, so reports still add up; both are audited."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from tortoise import Tortoise, connections
from tortoise.fields import CharField, JSONField, TextField

from app.domain.global_ids import global_id
from app.models import AuditEntry, Contact, DomainEvent, InteractionParticipant, Notification, OutgoingMail
from tests import factories
from tests.conftest import TEST_BACKEND
from tests.factories import gid, pk

FIRST, LAST, EMAIL, PHONE = "Zebulon", "Quillfeather", "zeb.quill@harborgrill.com", "(555) 010-7788"
PHONE_DIGITS = "5550107788"
OLD_EMAIL = "zq@oldkitchen.com"  # changed to EMAIL: the field history keeps it
ERR = "errors { field code message }"
EXPORT = "query($c: ID!) { exportContactData(contactId: $c) }"
ERASE = f"mutation($c: ID!) {{ eraseContact(contactId: $c) {{ contact {{ id firstName lastName email phone title erasedAt }} {ERR} }} }}"
SEARCH = "query($q: String!) { search(query: $q, types: [CONTACT]) { node { id } } }"
FIGURES = """query($a: ID!) {
  interactionInsights(accountId: $a, timeframe: "last_30_days") { totalInteractions averageSentiment byType { type count } }
  pipelineReport(timeframe: "this_year") { totalOpportunities totalValue weightedValue openOpportunities }
  account(id: $a) { interactions { totalCount } contacts { id } opportunities { id value } }
}"""


async def _world(gql, team):
    """An account worked by the rep, with a contact whose name, e-mail and phone appear in every kind of
    place: the contact itself, interactions (as contact, as participant, in notes), a deal, its activity,
    a task (and its event), a location's notes, mail to them, a notification and a stored response."""
    rep = team.rep
    account = await factories.account(rep.user)
    created = await gql("""mutation($a: ID!, $in: ContactInput!) { createContact(accountId: $a, input: $in) {
        contact { id } errors { field message } } }""",
                        {"a": gid(account), "in": {"firstName": FIRST, "lastName": LAST, "email": OLD_EMAIL,
                                                   "phone": PHONE, "title": "Head chef"}}, as_=rep)
    assert created["createContact"]["errors"] == []
    contact_id = created["createContact"]["contact"]["id"]
    moved = await gql("""mutation($id: ID!) { updateContact(id: $id, input: {email: "%s"}) { errors { field } } }""" % EMAIL,
                      {"id": contact_id}, as_=rep)
    assert moved["updateContact"]["errors"] == []
    other = (await gql("""mutation($a: ID!, $in: ContactInput!) { createContact(accountId: $a, input: $in) {
        contact { id } } }""", {"a": gid(account), "in": {"firstName": "Ana", "lastName": "Ng", "email": "ana@harborgrill.com"}}, as_=rep))["createContact"]["contact"]["id"]
    deal = await factories.opportunity(rep.user, account.id, name=f"{LAST} tasting menu", contact_id=pk(contact_id),
                                       description=f"{FIRST} decides; reach him at {EMAIL}")
    recorded = await gql("""mutation($in: RecordInteractionInput!) { recordInteraction(input: $in) {
        interaction { id } errors { field message } } }""", {"in": {
        "accountId": gid(account), "contactId": contact_id, "opportunityId": gid(deal), "type": "MEETING",
        "subject": f"Tasting with {FIRST} {LAST}", "outcome": "POSITIVE",
        "description": f"Chef {FIRST} loved the brisket samples. Call him on 555-010-7788 or write to {EMAIL.upper()}.",
        "nextSteps": f"Send {LAST} the price sheet", "attachments": [f"notes-{FIRST.lower()}.pdf"],
        "participants": [{"contactId": other, "feedback": f"Ana says {FIRST} decides"},
                         {"contactId": contact_id, "feedback": "Wants weekly deliveries, keeps the receipts"}]}},
                         as_=rep)
    assert recorded["recordInteraction"]["errors"] == []
    unrelated = await gql("""mutation($in: RecordInteractionInput!) { recordInteraction(input: $in) { interaction { id } } }""",
                          {"in": {"accountId": gid(account), "contactId": other, "type": "PHONE",
                                  "subject": "Order call with Ana", "outcome": "NEUTRAL"}}, as_=rep)
    call = await gql("""mutation($o: ID!, $in: ActivityInput!) { addOpportunityActivity(opportunityId: $o, input: $in) {
        activity { id interaction { id } } errors { field } } }""", {"o": gid(deal), "in": {
        "type": "CALL", "subject": f"Called {FIRST}", "description": "Agreed on Tuesday deliveries",
        "completedAt": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()}}, as_=rep)
    assert call["addOpportunityActivity"]["activity"]["interaction"] is not None
    task = await gql("""mutation($in: CreateTaskInput!) { createTask(input: $in) { task { id } errors { field } } }""",
                     {"in": {"title": f"Send samples to {FIRST} {LAST}", "accountId": gid(account)}}, as_=rep)
    assert task["createTask"]["errors"] == []
    await gql("""mutation($a: ID!, $in: LocationInput!) { createLocation(accountId: $a, input: $in) { location { id } } }""",
              {"a": gid(account), "in": {"name": "Kitchen door", "deliveryNotes": f"Ask for {FIRST} at the back"}}, as_=rep)
    # What automations and follow-ups write (stored mail, a notification) and a replayable response.
    await OutgoingMail.create(to_address=EMAIL, subject="Invitation: Tasting", body=f"Dear {FIRST} {LAST}, see you Tuesday",
                              status="sent", source_key="t:1:invite", opportunity_id=deal.id)
    await OutgoingMail.create(to_address=EMAIL.upper(), subject="Your samples", body="Samples are on their way",
                              status="queued", source_key="t:2")
    await Notification.create(user_id=rep.user.id, kind="interaction_follow_up", title="Follow-up due: Harbor Grill",
                              message=f"Tasting with {FIRST} {LAST}")
    replayable = await gql.http.post("/graphql", json={
        "query": "mutation($id: ID!) { updateContact(id: $id, input: {title: \"Executive chef\"}) { contact { name email phone } } }",
        "variables": {"id": contact_id}}, headers={"Authorization": f"Bearer {rep.token}", "Idempotency-Key": "title-1"})
    assert FIRST in replayable.text
    return account, deal, contact_id, unrelated["recordInteraction"]["interaction"]["id"]


def _mentions(text: str) -> list[str]:
    lowered = text.lower()
    found = [needle for needle in (FIRST, LAST, EMAIL, OLD_EMAIL) if needle.lower() in lowered]
    if PHONE_DIGITS in re.sub(r"\D", "", text) or "010-7788" in text:
        found.append(PHONE)
    return found


async def _tables_naming_the_person() -> list[str]:
    """Every table's text and JSON columns, read whole: where the person is still named."""
    found = []
    for model in Tortoise.apps["models"].values():
        columns = [name for name, f in model._meta.fields_map.items()
                   if isinstance(f, (CharField, TextField, JSONField)) and name in model._meta.db_fields]
        if not columns:
            continue
        key = model._meta.pk_attr
        for row in await model.all().values(*dict.fromkeys((key, *columns))):
            for column in columns:
                value = row[column]
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                found += [f"{model._meta.db_table}.{column} (row {row[key]}): {needle}" for needle in _mentions(text)]
    conn = connections.get("default")
    if TEST_BACKEND == "postgres":
        _, words = await conn.execute_query("SELECT word FROM search_words")
        found += [f"search_words: {w['word']}" for w in words if _mentions(w["word"]) or w["word"] in ("zeb", "quill")]
    else:
        _, rows = await conn.execute_query("SELECT full_name, email, phone_digits FROM search_contacts")
        found += [f"search_contacts: {dict(r)}" for r in rows if _mentions(" ".join(str(v) for v in dict(r).values()))]
    return found


async def _searches(gql, admin) -> list[list]:
    return [(await gql(SEARCH, {"q": q}, as_=admin))["search"] for q in (FIRST, LAST, f"{FIRST} {LAST}", EMAIL, "555 010 7788")]


async def test_an_admin_exports_everything_held_about_a_contact_and_it_is_audited(gql, team):
    account, deal, contact_id, unrelated = await _world(gql, team)
    data = (await gql(EXPORT, {"c": contact_id}, as_=team.admin))["exportContactData"]
    person = data["contact"]
    assert (person["id"], person["firstName"], person["lastName"], person["email"], person["phone"], person["title"]) == \
        (contact_id, FIRST, LAST, EMAIL, PHONE, "Executive chef")
    assert person["account"] == {"id": gid(account), "name": "Harbor Grill"} and person["erasedAt"] is None
    subjects = {i["subject"]: i for i in data["interactions"]}
    assert set(subjects) == {f"Tasting with {FIRST} {LAST}", f"Called {FIRST}"}  # not Ana's call
    tasting = subjects[f"Tasting with {FIRST} {LAST}"]
    assert tasting["asContact"] and tasting["participation"]["feedback"] == "Wants weekly deliveries, keeps the receipts"
    assert tasting["opportunityId"] == gid(deal) and tasting["outcome"] == "POSITIVE"
    assert [(o["id"], o["name"]) for o in data["opportunities"]] == [(gid(deal), f"{LAST} tasting menu")]
    assert sorted(m["subject"] for m in data["outgoingMail"]) == ["Invitation: Tasting", "Your samples"]

    entry = await AuditEntry.get(action="contact.exported")
    assert (entry.actor_id, entry.record_type, entry.record_id) == (team.admin.user.id, "Contact", pk(contact_id))
    assert entry.at.tzinfo is not None and abs(entry.at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert entry.detail == {"interactions": 2, "opportunities": 1, "outgoingMail": 2}
    assert not _mentions(json.dumps(entry.detail))


async def test_erasure_leaves_no_personal_field_anywhere_and_the_figures_unchanged(gql, team):
    account, deal, contact_id, unrelated = await _world(gql, team)
    admin = team.admin
    assert all(hits for hits in await _searches(gql, admin))  # found before, by each of them
    assert await _tables_naming_the_person()
    figures = await gql(FIGURES, {"a": gid(account)}, as_=admin)
    participations = await InteractionParticipant.filter(contact_id=pk(contact_id)).count()
    cursor = (await gql("{ eventCursor }", as_=admin))["eventCursor"]

    erased = (await gql(ERASE, {"c": contact_id}, as_=admin))["eraseContact"]
    assert erased["errors"] == []
    contact = erased["contact"]
    assert (contact["id"], contact["firstName"], contact["lastName"], contact["email"], contact["phone"], contact["title"]) == \
        (contact_id, "Erased", "contact", None, "", "")
    assert contact["erasedAt"] is not None

    assert await _tables_naming_the_person() == []
    if TEST_BACKEND == "postgres":  # the search lexicon keeps the words someone else still has
        _, kept = await connections.get("default").execute_query(
            "SELECT DISTINCT word FROM search_words WHERE word IN ('harborgrill', 'com', 'ana', 'zebulon')")
        assert sorted(r["word"] for r in kept) == ["ana", "com", "harborgrill"]
    assert all(hits == [] for hits in await _searches(gql, admin))
    # The anonymised records still count: the same figures, the same links.
    assert await gql(FIGURES, {"a": gid(account)}, as_=admin) == figures
    assert await InteractionParticipant.filter(contact_id=pk(contact_id)).count() == participations
    read = (await gql("""query($id: ID!) { opportunity(id: $id) { name contact { id name } } }""", {"id": gid(deal)},
                      as_=admin))["opportunity"]
    assert read == {"name": "[erased] tasting menu", "contact": {"id": contact_id, "name": "Erased contact"}}
    exported = (await gql(EXPORT, {"c": contact_id}, as_=admin))["exportContactData"]
    tasting = next(i for i in exported["interactions"] if i["type"] == "MEETING")
    interaction = (await gql("""query($id: ID!) { interaction(id: $id) { subject description sentimentLabel } }""",
                             {"id": tasting["id"]}, as_=admin))["interaction"]
    assert interaction["subject"] == "Tasting with [erased]" and interaction["sentimentLabel"] == "POSITIVE"
    assert "Call him on [erased] or write to [erased]." in interaction["description"]
    # Others' words stay, minus the name; the unrelated call is untouched.
    assert await InteractionParticipant.filter(feedback="Ana says [erased] decides").exists()
    assert {p.feedback for p in await InteractionParticipant.filter(contact_id=pk(contact_id))} == {""}  # their own words
    assert (await gql("""query($id: ID!) { interaction(id: $id) { subject } }""", {"id": unrelated}, as_=admin)
            )["interaction"]["subject"] == "Order call with Ana"
    # Mail not yet sent to the address is never sent.
    assert sorted(mail.status for mail in await OutgoingMail.all()) == ["sent", "withheld"]

    # Audited and announced, in the same transaction; no personal data in either.
    entry = await AuditEntry.get(action="contact.erased")
    assert (entry.actor_id, entry.record_type, entry.record_id) == (admin.user.id, "Contact", pk(contact_id))
    assert entry.detail["scrubbed"]["interactions"] == 2 and entry.detail["scrubbed"]["mail withheld"] == 1
    event = await DomainEvent.get(kind="contact.erased")
    assert event.payload["contact_id"] == pk(contact_id) and event.account_id == account.id
    # Its document carries the anonymised contact, and no `previous` (which would name the person).
    assert event.payload["resource"]["firstName"] == "Erased" and "previous" not in event.payload
    # The change log hands the anonymised contact out as an update.
    page = (await gql("""query($after: String) { changes(after: $after, types: [CONTACT, INTERACTION]) {
        changes { type action contact { id name } interaction { subject } } } }""", {"after": cursor}, as_=admin))["changes"]
    assert sorted((c["type"], c["action"]) for c in page["changes"]) == [
        ("CONTACT", "UPDATED"), ("INTERACTION", "UPDATED"), ("INTERACTION", "UPDATED")]
    assert page["changes"][0]["contact"] == {"id": contact_id, "name": "Erased contact"}


async def test_erasing_twice_changes_nothing_the_second_time(gql, team):
    _, _, contact_id, _ = await _world(gql, team)
    first = (await gql(ERASE, {"c": contact_id}, as_=team.admin))["eraseContact"]
    second = (await gql(ERASE, {"c": contact_id}, as_=team.admin))["eraseContact"]
    assert second == first
    assert await AuditEntry.filter(action="contact.erased").count() == 1
    assert await DomainEvent.filter(kind="contact.erased").count() == 1
    exported = (await gql(EXPORT, {"c": contact_id}, as_=team.admin))["exportContactData"]["contact"]
    assert (exported["firstName"], exported["email"], exported["erasedAt"]) == ("Erased", None, first["contact"]["erasedAt"])

    # Personal data typed into the erased contact since is erased like the first time.
    await gql("""mutation($id: ID!) { updateContact(id: $id, input: {phone: "555 010 9911"}) { contact { id } } }""",
              {"id": contact_id}, as_=team.rep)
    third = (await gql(ERASE, {"c": contact_id}, as_=team.admin))["eraseContact"]
    assert third["errors"] == [] and third["contact"]["phone"] == ""
    assert await AuditEntry.filter(action="contact.erased").count() == 2


async def test_only_admins_export_or_erase_and_a_refusal_changes_nothing(gql, team):
    _, _, contact_id, _ = await _world(gql, team)
    for actor in (team.rep, team.manager):  # both may read and edit the contact
        for document in (EXPORT, ERASE):
            body = await gql.raw(document, {"c": contact_id}, actor.token)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    contact = await Contact.get(id=pk(contact_id))
    assert (contact.first_name, contact.email, contact.erased_at) == (FIRST, EMAIL, None)
    assert await AuditEntry.all().count() == 0
    assert not await DomainEvent.filter(kind="contact.erased").exists()


async def test_an_unknown_contact_is_not_found_and_nothing_changes(gql, team):
    await _world(gql, team)
    for missing in (global_id("Contact", 9999), global_id("Account", 1), "not-an-id"):
        body = await gql.raw(EXPORT, {"c": missing}, team.admin.token)
        assert body["data"] is None
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [("NOT_FOUND", "contactId")]
        erased = (await gql(ERASE, {"c": missing}, as_=team.admin))["eraseContact"]
        assert erased["contact"] is None
        assert [(e["field"], e["code"]) for e in erased["errors"]] == [("contactId", "NOT_FOUND")]
    assert await AuditEntry.all().count() == 0
    assert not await Contact.filter(erased_at__isnull=False).exists()
