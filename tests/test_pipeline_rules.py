"""Pipeline rules that apply: a deal created in a stage enters it (its `stage_entered` automations run
through the worker, its entry gate is checked), discovery's gate is what it takes to leave discovery,
and no stage configuration can hold a gate that a new deal could never meet."""

from __future__ import annotations

import json
from datetime import date

from app.domain.enums import ActivityType
from app.models import DomainEvent, OpportunityActivity, PipelineStage, Task
from app.services import automations
from app.services.pipelines import ensure_default_pipeline
from app.domain.global_ids import global_id
from tests import factories
from tests.test_pipeline_gates import advance
from tests.worker_utils import run_worker_burst
from tests.factories import gid, pk

CREATE = """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) {
  opportunity { id stage } errors { field message code } } }"""
UPDATE_STAGE = """mutation($id: ID!, $input: PipelineStageInput!) { updatePipelineStage(id: $id, input: $input) {
  errors { field message code } } }"""


def _deal_input(account_id: int, **extra) -> dict:
    return {"name": "Weekly produce", "accountId": global_id("Account", account_id), "expectedCloseDate": "2027-01-29",
            "value": "5000", **extra}


async def test_a_new_deal_runs_its_stage_s_entered_automation_once_through_the_worker(gql, team):
    acct = await factories.account(team.rep.user, "Harbor Grill")
    created = (await gql(CREATE, {"input": _deal_input(acct.id)}, as_=team.rep))["createOpportunity"]
    assert created["errors"] == [] and created["opportunity"]["stage"] == "discovery"
    deal_id = pk(created["opportunity"]["id"])
    await run_worker_burst()
    task = await Task.get(opportunity_id=deal_id)
    assert (task.title, task.assignee_id) == ("Conduct discovery call", team.rep.user.id)
    # The event processed again (arq is at-least-once) adds nothing.
    await automations.process_event(await DomainEvent.get(kind="opportunity.created", opportunity_id=deal_id))
    assert await Task.filter(opportunity_id=deal_id).count() == 1


async def test_leaving_discovery_needs_a_completed_call_and_a_budget(gql, team):
    acct = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, acct.id)
    blocked = await advance(gql, team.rep, deal.id, "qualification")
    assert blocked["opportunity"]["stage"] == "discovery"
    unmet = (await gql("""query($o: ID!) { stageReadiness(opportunityId: $o, stage: "qualification") {
        ready unmetRequirements { stage kind field when } } }""", {"o": gid(deal)}, as_=team.rep))["stageReadiness"]
    assert unmet["ready"] is False
    assert unmet["unmetRequirements"] == [
        {"stage": "discovery", "kind": "activity_completed", "field": None, "when": "exit"},
        {"stage": "discovery", "kind": "field_populated", "field": "budget", "when": "exit"}]
    await OpportunityActivity.create(opportunity_id=deal.id, type=ActivityType.CALL, subject="Discovery call",
                                     completed_at=f"{date.today().isoformat()}T09:00:00+00:00")
    moved = await advance(gql, team.rep, deal.id, "qualification", data={"budget": "12000"})
    assert moved["errors"] == [] and moved["unmetRequirements"] == []
    assert moved["opportunity"]["stage"] == "qualification"
    # A deal may still be lost in discovery before any call.
    other = await factories.opportunity(team.rep.user, acct.id, "Second deal")
    lost = await advance(gql, team.rep, other.id, "closed_lost", data={"lostReasonKey": "competitor", "lostReason": "went with the incumbent"})
    assert lost["errors"] == [] and lost["opportunity"]["stage"] == "closed_lost"


async def test_a_deal_created_in_a_later_stage_passes_that_stage_s_entry_gate(gql, team):
    acct = await factories.account(team.rep.user)
    refused = (await gql(CREATE, {"input": _deal_input(acct.id, stage="proposal", value="500")},
                         as_=team.rep))["createOpportunity"]
    assert refused["opportunity"] is None
    assert sorted((e["field"], e["code"]) for e in refused["errors"]) == [("stage", "REQUIRED"), ("value", "REQUIRED")]
    assert "at least one product" in " ".join(e["message"] for e in refused["errors"])
    # Qualification has no entry gate: a deal can start there (an import, a deal that began elsewhere).
    placed = (await gql(CREATE, {"input": _deal_input(acct.id, stage="qualification")}, as_=team.rep))["createOpportunity"]
    assert placed["errors"] == [] and placed["opportunity"]["stage"] == "qualification"


async def test_a_gate_no_new_deal_can_meet_is_refused_on_the_creation_stage(gql, team):
    pipeline = await ensure_default_pipeline()
    discovery = await PipelineStage.get(pipeline_id=pipeline.id, key="discovery")
    before = discovery.requirements
    on_entry = [{"type": "activity_completed", "value": "call"}]
    result = (await gql(UPDATE_STAGE, {"id": gid(discovery), "input": {"requirements": on_entry}},
                        as_=team.admin))["updatePipelineStage"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("requirements[0].when", "INVALID")]
    assert "when: exit" in result["errors"][0]["message"]
    assert (await PipelineStage.get(id=discovery.id)).requirements == before  # nothing changed
    # A field gate on entry is fine there (the create input carries it), and so is an exit gate.
    fine = [{"type": "field_populated", "field": "budget"}, {"type": "activity_completed", "value": "call", "when": "exit"}]
    ok = (await gql(UPDATE_STAGE, {"id": gid(discovery), "input": {"requirements": fine}},
                    as_=team.admin))["updatePipelineStage"]
    assert ok["errors"] == []
    # Reordering may not make a stage with such a gate the one deals are created in.
    pid = (await gql('mutation { createPipeline(name: "Menu expansion") { pipeline { id } } }',
                     as_=team.admin))["createPipeline"]["pipeline"]["id"]
    add = """mutation($p: ID!, $input: NewPipelineStageInput!) { addPipelineStage(pipelineId: $p, input: $input) {
        stage { id } errors { field code } } }"""
    intro = (await gql(add, {"p": pid, "input": {"key": "intro", "name": "Intro", "order": 1, "probability": 10}},
                       as_=team.admin))["addPipelineStage"]
    sampling = (await gql(add, {"p": pid, "input": {"key": "sampling", "name": "Sampling", "order": 2, "probability": 50,
                                                    "requirements": [{"type": "products_selected"}]}},
                          as_=team.admin))["addPipelineStage"]
    assert intro["errors"] == [] and sampling["errors"] == []
    moved = (await gql(UPDATE_STAGE, {"id": intro["stage"]["id"], "input": {"order": 3}},
                       as_=team.admin))["updatePipelineStage"]
    assert [(e["field"], e["code"]) for e in moved["errors"]] == [("order", "INVALID")]
    assert "sampling would become the stage deals are created in" in moved["errors"][0]["message"]


async def test_the_migration_turns_creation_stage_gates_on_activities_into_exit_gates(orm):
    from importlib import import_module

    from tortoise import connections

    migration = import_module("app.migrations.0013_requirement_moments")
    pipeline = await ensure_default_pipeline()
    old_style = [{"type": "activity_completed", "value": "call"}, {"type": "field_populated", "field": "budget"}]
    await PipelineStage.filter(pipeline_id=pipeline.id, key="discovery").update(requirements=old_style)
    await PipelineStage.filter(pipeline_id=pipeline.id, key="proposal").update(requirements=[{"type": "products_selected"}])

    class Editor:
        client = connections.get("default")

    await migration.entry_gates_of_creation_stages_to_exit(None, Editor())
    discovery = await PipelineStage.get(pipeline_id=pipeline.id, key="discovery")
    requirements = discovery.requirements if isinstance(discovery.requirements, list) else json.loads(discovery.requirements)
    assert requirements == [{"type": "activity_completed", "value": "call", "when": "exit"},
                            {"type": "field_populated", "field": "budget"}]
    # Other stages' gates are entry gates as before.
    assert (await PipelineStage.get(pipeline_id=pipeline.id, key="proposal")).requirements == [{"type": "products_selected"}]
