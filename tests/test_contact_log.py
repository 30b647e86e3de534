"""One way to log customer contact (app.domain.contact_log): a contact made on a deal is one interaction
and exactly one deal activity linked to it, whichever mutation logged it, and the two never drift."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.models import Contact, CustomerInteraction, DomainEvent, OpportunityActivity
from tests import factories
from tests.factories import gid, pk

ERR = "errors { field code message }"
ACTIVITY = "{ id type subject outcome completedAt interaction { id type subject outcome occurredAt sentimentLabel } }"
ADD = f"""mutation($o: ID!, $in: ActivityInput!) {{ addOpportunityActivity(opportunityId: $o, input: $in) {{
  activity {ACTIVITY} {ERR} }} }}"""
UPDATE = f"""mutation($id: ID!, $in: ActivityInput!) {{ updateOpportunityActivity(id: $id, input: $in) {{
  activity {ACTIVITY} {ERR} }} }}"""
DELETE = f"""mutation($id: ID!) {{ deleteOpportunityActivity(id: $id) {{ deletedId {ERR} }} }}"""
RECORD = f"""mutation($in: RecordInteractionInput!) {{ recordInteraction(input: $in) {{ interaction {{ id }} {ERR} }} }}"""
EDIT = f"""mutation($id: ID!, $in: UpdateInteractionInput!) {{ updateInteraction(id: $id, input: $in) {{
  interaction {{ id subject }} {ERR} }} }}"""
DEAL = """query($id: ID!) { opportunity(id: $id) { activities { id type subject interaction { id subject } }
  interactions { totalCount nodes { id subject } } account { interactions { totalCount } } } }"""


async def _deal(team):
    account = await factories.account(team.rep.user)
    contact = await Contact.create(account=account, first_name="Ana", last_name="Ng", email="ana@harbor.test")
    deal = await factories.opportunity(team.rep.user, account.id, contact_id=contact.id)
    return account, deal


async def _counts(deal) -> tuple[int, int]:
    return (await OpportunityActivity.filter(opportunity_id=deal.id).exclude(type="system").count(),
            await CustomerInteraction.filter(opportunity_id=deal.id).count())


async def test_a_call_logged_on_the_deal_is_one_interaction_and_one_activity(gql, team):
    account, deal = await _deal(team)
    done = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()
    logged = (await gql(ADD, {"o": gid(deal), "in": {"type": "CALL", "subject": "Menu call with the chef",
                                                      "description": "Chef loved the brisket samples",
                                                      "outcome": "POSITIVE", "completedAt": done}},
                        as_=team.rep))["addOpportunityActivity"]
    assert logged["errors"] == []
    activity = logged["activity"]
    assert activity["interaction"]["type"] == "PHONE" and activity["interaction"]["subject"] == "Menu call with the chef"
    assert activity["interaction"]["outcome"] == "POSITIVE" and activity["interaction"]["sentimentLabel"] == "POSITIVE"
    assert activity["interaction"]["occurredAt"] == activity["completedAt"]
    assert await _counts(deal) == (1, 1)
    # Seen from the deal and the account: the same one contact.
    read = (await gql(DEAL, {"id": gid(deal)}, as_=team.rep))["opportunity"]
    assert [a["interaction"]["id"] for a in read["activities"] if a["interaction"]] == [activity["interaction"]["id"]]
    assert read["interactions"]["totalCount"] == 1 and read["account"]["interactions"]["totalCount"] == 1

    # Recording an interaction on the deal adds exactly one activity, linked, in the same transaction.
    recorded = (await gql(RECORD, {"in": {"accountId": gid(account), "opportunityId": gid(deal), "type": "MEETING",
                                          "subject": "Tasting follow-up"}}, as_=team.rep))["recordInteraction"]
    assert recorded["errors"] == []
    assert await _counts(deal) == (2, 2)
    linked = await OpportunityActivity.get(interaction_id=pk(recorded["interaction"]["id"]))
    assert (linked.type.value, linked.subject) == ("meeting", "Tasting follow-up")
    events = await DomainEvent.filter(opportunity_id=deal.id, kind="opportunity.activity_added").count()
    assert events == 2  # each pair announced its activity once


async def test_deal_work_and_planned_calls_are_not_contacts_until_done(gql, team):
    _, deal = await _deal(team)
    work = (await gql(ADD, {"o": gid(deal), "in": {"type": "PROPOSAL", "subject": "Price sheet",
                                                    "completedAt": datetime.now(timezone.utc).isoformat()}},
                      as_=team.rep))["addOpportunityActivity"]
    assert work["errors"] == [] and work["activity"]["interaction"] is None
    planned = (await gql(ADD, {"o": gid(deal), "in": {"type": "CALL", "subject": "Call the buyer",
                                                       "scheduledAt": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}},
                         as_=team.rep))["addOpportunityActivity"]
    assert planned["activity"]["interaction"] is None
    assert await _counts(deal) == (2, 0)

    # Marked done: the call happened, so it is recorded as its interaction — once, however often edited.
    done = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    marked = (await gql(UPDATE, {"id": planned["activity"]["id"], "in": {"completedAt": done, "outcome": "NEUTRAL"}},
                        as_=team.rep))["updateOpportunityActivity"]
    assert marked["errors"] == [] and marked["activity"]["interaction"]["subject"] == "Call the buyer"
    assert marked["activity"]["interaction"]["occurredAt"] == marked["activity"]["completedAt"]
    again = (await gql(UPDATE, {"id": planned["activity"]["id"], "in": {"subject": "Called the buyer"}},
                       as_=team.rep))["updateOpportunityActivity"]
    assert again["activity"]["interaction"]["subject"] == "Called the buyer"
    assert await _counts(deal) == (2, 1)


async def test_the_pair_never_drifts(gql, team):
    account, deal = await _deal(team)
    recorded = (await gql(RECORD, {"in": {"accountId": gid(account), "opportunityId": gid(deal), "type": "PHONE",
                                          "subject": "Order call"}}, as_=team.rep))["recordInteraction"]
    interaction_id = recorded["interaction"]["id"]
    activity = await OpportunityActivity.get(interaction_id=pk(interaction_id))

    # Edited on the interaction: the activity follows.
    edited = (await gql(EDIT, {"id": interaction_id, "in": {"subject": "Order call: 40 cases romaine",
                                                            "outcome": "POSITIVE"}}, as_=team.rep))["updateInteraction"]
    assert edited["errors"] == []
    await activity.refresh_from_db()
    assert (activity.subject, activity.outcome.value) == ("Order call: 40 cases romaine", "positive")

    # Edited on the activity: the interaction follows (and its sentiment is read again).
    changed = (await gql(UPDATE, {"id": gid(activity), "in": {"description": "Chef is unhappy with late deliveries"}},
                         as_=team.rep))["updateOpportunityActivity"]
    assert changed["errors"] == []
    interaction = await CustomerInteraction.get(id=pk(interaction_id))
    assert interaction.description == "Chef is unhappy with late deliveries" and interaction.sentiment_label == "negative"

    # When and how the contact happened is the interaction's: refused, nothing written.
    moved = (await gql(UPDATE, {"id": gid(activity), "in": {"type": "DEMO",
                                                            "completedAt": "2026-01-02T10:00:00+00:00"}},
                       as_=team.rep))["updateOpportunityActivity"]
    assert sorted((e["field"], e["code"]) for e in moved["errors"]) == [("completedAt", "INVALID"), ("type", "INVALID")]
    await activity.refresh_from_db()
    assert activity.type.value == "call"

    # The customer record stays: its activity cannot be deleted on its own.
    refused = (await gql(DELETE, {"id": gid(activity)}, as_=team.rep))["deleteOpportunityActivity"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("id", "INVALID")]
    assert await _counts(deal) == (1, 1)


async def test_a_hidden_deal_takes_no_contact(gql, team):
    other_account = await factories.account(team.other_rep.user, "Other Grill")
    hidden = await factories.opportunity(team.other_rep.user, other_account.id)
    refused = (await gql(ADD, {"o": gid(hidden), "in": {"type": "CALL", "subject": "x",
                                                         "completedAt": datetime.now(timezone.utc).isoformat()}},
                         as_=team.rep))["addOpportunityActivity"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("opportunityId", "NOT_FOUND")]
    assert await _counts(hidden) == (0, 0)
