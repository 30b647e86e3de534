"""One way to write an opportunity (compare-and-set on version plus its event), under real concurrency,
and the design tables that tie kinds together: typed events → reactions, action rules → effects."""

from __future__ import annotations

import asyncio
import dataclasses

from app.domain import events as e
from app.domain.pipeline import ACTION_PARAMETERS, ACTIONS, automation_errors
from app.models import DomainEvent, Opportunity
from app.services import automations, reactions
from app.domain.global_ids import global_id
from tests import factories

UPDATE = """mutation($id: ID!, $v: Int, $step: String) {
  updateOpportunity(id: $id, expectedVersion: $v, input: {nextStep: $step}) {
    opportunity { version nextStep } errors { field message code } } }"""


async def _deal(team):
    account = await factories.account(team.rep.user)
    return await factories.opportunity(team.rep.user, account.id)


async def _updates(gql, team, opp_id: int, version: int | None) -> list[dict]:
    bodies = await asyncio.gather(*(
        gql.raw(UPDATE, {"id": global_id("Opportunity", opp_id), "v": version, "step": f"step {i}"}, team.rep.token) for i in range(20)))
    assert all("errors" not in body for body in bodies), bodies
    return [body["data"]["updateOpportunity"] for body in bodies]


async def test_twenty_concurrent_updates_at_one_version_make_one_change_and_one_event(gql, team):
    opp = await _deal(team)
    results = await _updates(gql, team, opp.id, opp.version)
    winners = [r for r in results if not r["errors"]]
    losers = [r for r in results if r["errors"]]
    assert len(winners) == 1 and len(losers) == 19
    for loser in losers:
        assert loser["opportunity"] is None
        assert [(x["field"], x["code"]) for x in loser["errors"]] == [("expectedVersion", "STALE_VERSION")]
        assert f"current version is {opp.version + 1}" in loser["errors"][0]["message"]
    stored = await Opportunity.get(id=opp.id)
    assert (stored.version, stored.next_step) == (opp.version + 1, winners[0]["opportunity"]["nextStep"])
    updates = await DomainEvent.filter(opportunity_id=opp.id, kind=e.OpportunityUpdated.KIND)
    assert len(updates) == 1
    assert updates[0].payload["changes"]["next_step"]["to"] == stored.next_step


async def test_twenty_concurrent_updates_without_a_version_are_serialised_and_none_is_lost(gql, team):
    opp = await _deal(team)
    results = await _updates(gql, team, opp.id, None)
    assert all(r["errors"] == [] for r in results)
    assert sorted(r["opportunity"]["version"] for r in results) == list(range(opp.version + 1, opp.version + 21))
    stored = await Opportunity.get(id=opp.id)
    assert stored.version == opp.version + 20
    updates = await DomainEvent.filter(opportunity_id=opp.id, kind=e.OpportunityUpdated.KIND).order_by("id")
    assert len(updates) == 20
    # each change starts from the one before it: one chain, no update overwritten unseen
    changes = [u.payload["changes"]["next_step"] for u in updates]
    assert [c["from"] for c in changes[1:]] == [c["to"] for c in changes[:-1]]
    assert changes[-1]["to"] == stored.next_step
    assert {c["to"] for c in changes} == {f"step {i}" for i in range(20)}


async def test_every_configured_action_kind_has_its_rules_and_its_effect():
    assert set(ACTIONS) == set(ACTION_PARAMETERS) == set(automations.ACTIONS)
    for kind, action in automations.ACTIONS.items():
        assert action.parameters is ACTION_PARAMETERS[kind] and kind == action.parameters.KIND
        assert asyncio.iscoroutinefunction(action.run)
    # the rules are the ones stage configuration checks
    errors = automation_errors([{"trigger": "stage_entered", "action": "create_task", "parameters": {}}])
    assert [(x.field, x.message) for x in errors] == [("automations[0].parameters.title", "is required")]
    errors = automation_errors([{"trigger": "stage_entered", "action": "launch_rocket", "parameters": {}}])
    assert errors[0].field == "automations[0].action"


async def test_every_event_kind_is_typed_round_trips_and_has_its_reactions():
    assert set(reactions.REACTIONS) == set(e.EVENT_TYPES.values())
    assert {cls.KIND for cls in e.EVENT_TYPES.values()} == set(e.EVENT_TYPES)
    samples = [
        e.OpportunityCreated(stage="prospecting"),
        e.OpportunityUpdated(changes={"value": {"from": "1", "to": "2"}}, source="automation"),
        e.OpportunityProductsChanged(changes={"value": {"from": "1", "to": "2"}}),
        e.StageChanged(from_stage="prospecting", to_stage="closed_won", transition_id=7,
                       stage_entered_at="2026-11-29T00:00:00+00:00", won=True),
        e.ActivityAdded(activity_id=3, type="call", completed=True),
        e.ActivityUpdated(activity_id=3, type="call"),
        e.TaskCreated(task_id=4, title="Call"),
        e.TaskCompleted(task_id=4, opportunity_id=9),
        e.NotificationCreated(notification_id=5),
        e.ForecastUpdated(period="2026-Q4", forecast={"hybrid": {}}),
        e.TaskReopened(task_id=4, opportunity_id=9),
        e.NotificationRead(notification_id=5),
        e.OpportunityDeleted(opportunity_id=9, activity_ids=[3], task_ids=[4]),
        e.ActivityDeleted(activity_id=3),
        e.DocumentsChanged(added=6),
        e.CompetitorsChanged(removed=7),
        e.AccountCreated(account_id=1),
        e.AccountUpdated(account_id=1, changes={"assigned_to_id": {"from": 2, "to": 3}}),
        e.AccountDeleted(account_id=1, team_user_ids=[2], contact_ids=[8], interaction_ids=[], task_ids=[4]),
        e.ContactCreated(contact_id=8, team_user_ids=[2]),
        e.ContactUpdated(contact_id=8),
        e.ContactDeleted(contact_id=8, team_user_ids=[2]),
        e.ContactErased(contact_id=8),
        e.InteractionRecorded(interaction_id=10),
        e.InteractionUpdated(interaction_id=10),
        e.ProductCreated(product_id=11),
        e.ProductUpdated(product_id=11),
        e.ProductDeleted(product_id=11),
        e.TaskUpdated(task_id=4, opportunity_id=9, fields=["due_date"],
                      changes={"assigned_to_id": {"from": 2, "to": 3}}),
        e.TaskDeleted(task_id=4, opportunity_id=9),
        e.OpportunityArchived(opportunity_id=9),
        e.OpportunityRestored(opportunity_id=9),
        e.AccountArchived(account_id=1, contact_ids=[8], opportunity_ids=[9], interaction_ids=[10], team_user_ids=[2]),
        e.AccountRestored(account_id=1, contact_ids=[8], opportunity_ids=[9], interaction_ids=[10], team_user_ids=[2]),
        e.ContactArchived(contact_id=8, team_user_ids=[2]),
        e.ContactRestored(contact_id=8, team_user_ids=[2]),
        e.InteractionArchived(interaction_id=10, activity_id=5),
        e.InteractionRestored(interaction_id=10, activity_id=None),
        e.ActivityArchived(activity_id=5, interaction_id=10),
        e.ActivityRestored(activity_id=5),
        e.OpportunityClosedWon(stage="closed_won", transition_id=7),
        e.OpportunityClosedLost(stage="closed_lost", transition_id=8),
    ]
    assert {type(s) for s in samples} == set(e.EVENT_TYPES.values())
    for sample in samples:
        assert e.parse_event(sample.KIND, sample.payload()) == sample
    assert samples[3].payload()["from"] == "prospecting" and samples[3].webhook_name == "opportunity.stage_changed"
    assert samples[-2].webhook_name == "opportunity.closed_won"
    assert samples[2].webhook_name == "opportunity.updated" and samples[2].moves_forecast
    assert not e.OpportunityUpdated(changes={"next_step": {}}).moves_forecast
    assert e.parse_event("no.such_kind", {}) is None
    assert dataclasses.is_dataclass(samples[0])
