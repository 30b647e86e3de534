"""Field history (issue 16.2): every change to a deal, account or contact — who, when, which field,
before, after, through what — written with the change, readable per record, newest first."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.domain.enums import ChangeSource
from app.models import Contact, FieldHistoryEntry, PipelineStage
from app.services import history
from app.services.pipelines import ensure_default_pipeline
from app.settings import get_settings
from tests import factories
from tests.factories import gid
from tests.test_pipeline_gates import advance
from tests.worker_utils import run_worker_burst

ENTRY = "field before after source changedAt changedBy { email }"
DEAL_HISTORY = f"""query($id: ID!, $fields: [String!], $first: Int, $after: String) {{ opportunity(id: $id) {{
  history(fields: $fields, first: $first, after: $after) {{ totalCount pageInfo {{ hasNextPage endCursor }}
    nodes {{ id {ENTRY} }} }} }} }}"""
ACCOUNT_HISTORY = f"""query($id: ID!) {{ node(id: $id) {{ ... on Account {{ history {{ totalCount nodes {{ {ENTRY} }} }}
  contacts {{ history {{ totalCount nodes {{ {ENTRY} }} }} }} }} }} }}"""
UPDATE_DEAL = """mutation($id: ID!, $in: UpdateOpportunityInput!) { updateOpportunity(id: $id, input: $in) {
  opportunity { version } errors { field code } } }"""
UPDATE_ACCOUNT = """mutation($id: ID!, $in: UpdateAccountInput!) { updateAccount(id: $id, input: $in) {
  account { id } errors { field code } } }"""
UPDATE_CONTACT = """mutation($id: ID!, $in: ContactInput!) { updateContact(id: $id, input: $in) {
  contact { id } errors { field code } } }"""


async def _deal_history(gql, actor, deal, **variables):
    data = await gql(DEAL_HISTORY, {"id": gid(deal), **variables}, as_=actor)
    return data["opportunity"]["history"] if data["opportunity"] else None


async def test_every_changed_deal_field_is_kept_with_who_when_and_what(gql, team):
    account = await factories.account(team.rep.user)
    contact = await Contact.create(account=account, first_name="Ana", last_name="Ng")
    deal = await factories.opportunity(team.rep.user, account.id, value="5000.00")
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    changed = (await gql(UPDATE_DEAL, {"id": gid(deal), "in": {
        "value": "6500.00", "expectedCloseDate": "2027-03-31", "contactId": gid(contact), "name": deal.name}},
        as_=team.rep))["updateOpportunity"]
    assert changed["errors"] == []
    await gql(UPDATE_DEAL, {"id": gid(deal), "in": {"assignedToId": gid(team.manager.user)}}, as_=team.manager)

    page = await _deal_history(gql, team.manager, deal)
    entries = page["nodes"]
    # Newest first; the unchanged name left no entry.
    assert entries[0]["field"] == "assignedTo"
    assert sorted(e["field"] for e in entries[1:]) == ["contact", "expectedCloseDate", "value"]
    assert entries[0] | {"changedAt": None} == {
        "id": entries[0]["id"], "field": "assignedTo", "before": gid(team.rep.user), "after": gid(team.manager.user),
        "source": "API", "changedAt": None, "changedBy": {"email": team.manager.user.email}}
    by_field = {e["field"]: e for e in entries}
    assert (by_field["value"]["before"], by_field["value"]["after"]) == ("5000.00", "6500.00")
    assert by_field["expectedCloseDate"]["after"] == "2027-03-31"
    assert (by_field["contact"]["before"], by_field["contact"]["after"]) == (None, gid(contact))
    assert all(e["changedBy"] == {"email": team.rep.user.email} for e in entries[1:])
    assert all(datetime.fromisoformat(e["changedAt"]) >= before for e in entries)
    assert page["totalCount"] == 4

    # Filter by field; page with cursors.
    only_value = await _deal_history(gql, team.manager, deal, fields=["value"])
    assert [(e["field"], e["after"]) for e in only_value["nodes"]] == [("value", "6500.00")]
    one = "query($id: ID!) { opportunity(id: $id) { history(field: \"assignedTo\") { nodes { field after } } } }"
    assert (await gql(one, {"id": gid(deal)}, as_=team.manager))["opportunity"]["history"]["nodes"] == [
        {"field": "assignedTo", "after": gid(team.manager.user)}]
    first = await _deal_history(gql, team.manager, deal, first=3)
    rest = await _deal_history(gql, team.manager, deal, first=3, after=first["pageInfo"]["endCursor"])
    assert first["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert [e["field"] for e in first["nodes"] + rest["nodes"]] == [e["field"] for e in entries]
    # An entry is a record of its own: node(id:) finds it, for those who may see the deal only.
    node = "query($id: ID!) { node(id: $id) { ... on FieldHistoryEntry { field after } } }"
    assert (await gql(node, {"id": by_field["value"]["id"]}, as_=team.manager))["node"] == {
        "field": "value", "after": "6500.00"}
    assert (await gql(node, {"id": by_field["value"]["id"]}, as_=team.other_rep))["node"] is None


async def test_unknown_field_names_are_refused(gql, team):
    deal = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
    response = await gql.raw(DEAL_HISTORY, {"id": gid(deal), "fields": ["value", "colour"]}, team.rep.token)
    error = response["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "fields"}
    assert "colour" in error["message"] and "expectedCloseDate" in error["message"]


async def test_a_stage_move_and_an_automation_are_kept_with_their_source(gql, team):
    await ensure_default_pipeline()
    await PipelineStage.filter(key="qualification").update(automations=[
        {"trigger": "stage_entered", "action": "update_field", "parameters": {"field": "next_step", "value": "Chef tasting"}}])
    account = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, account.id)
    await factories.ready_to_leave_discovery(deal)
    assert (await advance(gql, team.rep, deal.id, "qualification"))["errors"] == []
    await run_worker_burst()

    entries = (await _deal_history(gql, team.rep, deal))["nodes"]
    automation = [e for e in entries if e["source"] == "AUTOMATION"]
    assert [(e["field"], e["before"], e["after"], e["changedBy"]) for e in automation] == [
        ("nextStep", "", "Chef tasting", None)]
    stage = next(e for e in entries if e["field"] == "stage")
    qualification = await PipelineStage.get(key="qualification")
    assert stage["source"] == "API" and stage["after"] == gid(qualification)
    assert stage["changedBy"] == {"email": team.rep.user.email}
    assert "probability" in {e["field"] for e in entries if e["source"] == "API"}
    # The bookkeeping behind a move (version, its entry time) is not a field change.
    assert not {"version", "stageEnteredAt", "updatedAt"} & {e["field"] for e in entries}


async def test_account_and_contact_changes_and_who_may_read_them(gql, team):
    account = await factories.account(team.rep.user, "Harbor Grill")
    contact = await Contact.create(account=account, first_name="Ana", last_name="Ng", email="ana@harbor.test")
    assert (await gql(UPDATE_ACCOUNT, {"id": gid(account), "in": {"name": "Harbor Grill & Bar", "tier": "KEY"}},
                      as_=team.rep))["updateAccount"]["errors"] == []
    assert (await gql(UPDATE_CONTACT, {"id": gid(contact), "in": {"email": "ana.ng@harborgrill.com", "firstName": "Ana"}},
                      as_=team.rep))["updateContact"]["errors"] == []
    # A write that changes nothing leaves no entry.
    await gql(UPDATE_ACCOUNT, {"id": gid(account), "in": {"tier": "KEY"}}, as_=team.rep)

    read = (await gql(ACCOUNT_HISTORY, {"id": gid(account)}, as_=team.manager))["node"]
    assert sorted((e["field"], e["before"], e["after"]) for e in read["history"]["nodes"]) == [
        ("name", "Harbor Grill", "Harbor Grill & Bar"), ("tier", "STANDARD", "KEY")]
    assert [(e["field"], e["before"], e["after"]) for e in read["contacts"][0]["history"]["nodes"]] == [
        ("email", "ana@harbor.test", "ana.ng@harborgrill.com")]
    # Another team's rep sees no account, so no history; the rows are not readable by id either.
    assert (await gql(ACCOUNT_HISTORY, {"id": gid(account)}, as_=team.other_rep))["node"] is None
    rows = await FieldHistoryEntry.filter(account_id=account.id).count()
    assert rows == 2 and await FieldHistoryEntry.filter(contact_id=contact.id).count() == 1


async def test_a_refused_write_leaves_no_history(gql, team):
    deal = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
    refused = (await gql(UPDATE_DEAL, {"id": gid(deal), "in": {"value": "-5", "name": "New name"}},
                         as_=team.rep))["updateOpportunity"]
    assert refused["errors"]
    stale = await gql("""mutation($id: ID!) { updateOpportunity(id: $id, input: {name: "Other"}, expectedVersion: 99) {
      errors { code } } }""", {"id": gid(deal)}, as_=team.rep)
    assert stale["updateOpportunity"]["errors"][0]["code"] == "STALE_VERSION"
    assert await FieldHistoryEntry.filter(opportunity_id=deal.id).count() == 0


async def test_history_is_kept_unless_a_retention_is_set(team, monkeypatch):
    deal = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
    old = datetime.now(timezone.utc) - timedelta(days=400)
    await FieldHistoryEntry.create(opportunity_id=deal.id, field="value", before="1.00", after="2.00",
                                   source=ChangeSource.API, changed_at=old)
    await FieldHistoryEntry.create(opportunity_id=deal.id, field="value", before="2.00", after="3.00",
                                   source=ChangeSource.API, changed_at=datetime.now(timezone.utc))
    assert get_settings().field_history_retention_days is None
    assert await history.purge_expired() == 0 and await FieldHistoryEntry.all().count() == 2
    monkeypatch.setattr(get_settings(), "field_history_retention_days", 365)
    assert await history.purge_expired() == 1
    assert [row.after for row in await FieldHistoryEntry.filter(opportunity_id=deal.id)] == ["3.00"]


async def test_every_field_a_mutation_can_change_leaves_its_entry(gql, team):
    """Each input field of updateOpportunity, updateAccount and updateContact, changed at once: one entry
    each, under the name the type gives the field."""
    parent = await factories.account(team.manager.user, "Harbor Group")
    account = await factories.account(team.rep.user, "Harbor Grill")
    contact = await Contact.create(account=account, first_name="Ana", last_name="Ng", email="ana@harbor.test")
    deal = await factories.opportunity(team.rep.user, account.id, value="5000.00")
    deal_input = {"name": "Weekly produce, year 2", "contactId": gid(contact), "value": "7200.00", "budget": "9000.00",
                  "probability": 40, "expectedCloseDate": "2027-06-30", "source": "REFERRAL",
                  "assignedToId": gid(team.manager.user), "nextStep": "Chef tasting", "description": "Year two"}
    assert (await gql(UPDATE_DEAL, {"id": gid(deal), "in": deal_input}, as_=team.manager))["updateOpportunity"]["errors"] == []
    account_input = {"name": "Harbor Grill & Bar", "industry": "HOTEL", "size": "LARGE", "annualRevenue": "2500000.00",
                     "headquarters": {"street": "1 Pier Rd", "city": "Salem"}, "parentId": gid(parent),
                     "status": "CUSTOMER", "tier": "KEY", "assignedToId": gid(team.manager.user), "renewalDate": "2027-01-31"}
    assert (await gql(UPDATE_ACCOUNT, {"id": gid(account), "in": account_input}, as_=team.manager))["updateAccount"]["errors"] == []
    contact_input = {"firstName": "Anna", "lastName": "Ngo", "email": "anna@harborgrill.com", "phone": "555-0100",
                     "title": "Head chef", "role": "DECISION_MAKER", "isPrimary": True}
    assert (await gql(UPDATE_CONTACT, {"id": gid(contact), "in": contact_input}, as_=team.manager))["updateContact"]["errors"] == []

    def named(input_name: str) -> str:  # contactId -> contact, as the type names the field
        return input_name.removesuffix("Id")

    deal_fields = {e["field"] for e in (await _deal_history(gql, team.manager, deal, first=50))["nodes"]}
    assert deal_fields == {named(k) for k in deal_input}  # the value was typed already: valueSource stays MANUAL
    read = (await gql(ACCOUNT_HISTORY, {"id": gid(account)}, as_=team.manager))["node"]
    assert {e["field"] for e in read["history"]["nodes"]} == {named(k) for k in account_input}
    assert {e["field"] for e in read["contacts"][0]["history"]["nodes"]} == set(contact_input)
    assert all(e["source"] == "API" and e["changedBy"] == {"email": team.manager.user.email}
               for e in read["history"]["nodes"])
