"""Stage automations end to end: outbox → Redis → a real arq worker → effects, exactly once."""

from datetime import datetime, timedelta, timezone
from typing import cast

import pytest

from app.domain.enums import ActivityType, TaskPriority
from app.models import (
    AutomationRun,
    Contact,
    DomainEvent,
    Notification,
    Opportunity,
    OpportunityActivity,
    OutgoingMail,
    PipelineStage,
    Task,
)
from app.services import automations, queue
from app.services.pipelines import ensure_default_pipeline
from app.settings import get_settings
from tests import factories
from tests.smtp_server import SMTPServer
from tests.test_pipeline_gates import advance
from tests.worker_utils import run_worker_burst
from tests.factories import gid, pk

EVERY_ACTION = [
    {"trigger": "stage_entered", "action": "create_task", "parameters": {
        "title": "Send tasting kit to {account}", "dueDate": "+2 business days", "priority": "high"}},
    {"trigger": "stage_entered", "action": "send_email", "parameters": {
        "to": "contact", "subject": "Next steps for {opportunity}", "body": "Hi, thanks for your time. {owner}"}},
    {"trigger": "stage_entered", "action": "schedule_meeting", "parameters": {
        "when": "+1 days", "time": "10:00", "durationMinutes": 45, "subject": "Chef tasting: {account}"}},
    {"trigger": "stage_entered", "action": "update_field", "parameters": {"field": "next_step", "value": "Chef tasting"}},
    {"trigger": "stage_entered", "action": "notify_manager", "parameters": {"message": "{opportunity} is qualified"}},
]


@pytest.fixture
def smtp(monkeypatch):
    with SMTPServer() as server:
        monkeypatch.setattr(get_settings(), "smtp_url", server.url)
        yield server


@pytest.fixture(autouse=True)
async def _only_the_automations_each_test_configures():
    """The default discovery stage makes a task for every new deal: these tests count the effects of
    what they configure (test_pipeline_rules covers the default)."""
    pipeline = await ensure_default_pipeline()
    discovery = await PipelineStage.get(pipeline_id=pipeline.id, key="discovery")
    await PipelineStage.filter(id=discovery.id).update(
        automations=[a for a in discovery.automations if a["trigger"] != "stage_entered"])


async def _configure(key: str, automations_config: list[dict]) -> None:
    await ensure_default_pipeline()
    await PipelineStage.filter(key=key).update(automations=automations_config)


async def _deal(team):
    acct = await factories.account(team.rep.user, "Harbor Grill")
    contact = await Contact.create(account=acct, first_name="Ana", last_name="Ng", email="ana@harborgrill.example")
    deal = await factories.opportunity(team.rep.user, acct.id, contact_id=contact.id)
    await factories.ready_to_leave_discovery(deal)
    return deal


async def test_every_action_runs_once_through_the_worker(gql, team, smtp):
    await _configure("qualification", EVERY_ACTION)
    opp = await _deal(team)
    moved = await advance(gql, team.rep, opp.id, "qualification")
    assert moved["errors"] == []
    await run_worker_burst()

    task = await Task.get(opportunity_id=opp.id)
    assert (task.title, task.priority, task.assignee_id) == ("Send tasting kit to Harbor Grill", TaskPriority.HIGH, team.rep.user.id)
    assert task.due_date is not None and task.due_date > datetime.now(timezone.utc) + timedelta(days=1)
    assert task.due_date.weekday() < 5

    meeting = await OpportunityActivity.get(opportunity_id=opp.id, type=ActivityType.MEETING)
    assert meeting.subject == "Chef tasting: Harbor Grill" and meeting.completed_at is None
    assert meeting.scheduled_at is not None
    assert (meeting.scheduled_at.hour, meeting.scheduled_at.minute) == (10, 0)  # owner's time zone is UTC

    subjects = sorted(m["Subject"] for m in smtp.handler.messages)
    assert subjects == ["Invitation: Chef tasting: Harbor Grill", f"Next steps for {opp.name}"]
    invite = next(m for m in smtp.handler.messages if m["Subject"].startswith("Invitation"))
    ics = next(p for p in invite.walk() if p.get_content_type() == "text/calendar").get_payload(decode=True).decode()
    assert "BEGIN:VEVENT" in ics and "mailto:ana@harborgrill.example" in ics and "DURATION" not in ics
    assert await OutgoingMail.filter(status="sent").count() == 2

    assert (await Opportunity.get(id=opp.id)).next_step == "Chef tasting"
    note = await Notification.get(user_id=team.manager.user.id)
    assert note.message == f"{opp.name} is qualified"

    # arq is at-least-once: the same event processed again changes nothing
    event = await DomainEvent.get(kind="opportunity.stage_changed", opportunity_id=opp.id)
    await automations.process_event(event)
    await queue.enqueue("process_event", event.id, job_id=f"again:{event.id}")
    await run_worker_burst()
    assert await Task.filter(opportunity_id=opp.id).count() == 1
    assert await OpportunityActivity.filter(opportunity_id=opp.id, type=ActivityType.MEETING).count() == 1
    assert await Notification.all().count() == 1
    assert len(smtp.handler.messages) == 2
    assert await AutomationRun.filter(opportunity_id=opp.id).count() == 5


async def test_mail_is_stored_not_dropped_without_smtp(gql, team, monkeypatch):
    monkeypatch.setattr(get_settings(), "smtp_url", None)
    await _configure("qualification", [EVERY_ACTION[1]])
    opp = await _deal(team)
    await advance(gql, team.rep, opp.id, "qualification")
    await run_worker_burst()
    listed = await gql("{ outgoingMail { edges { node { toAddress subject status } } } }", as_=team.admin)
    assert listed["outgoingMail"]["edges"] == [{"node": {"toAddress": "ana@harborgrill.example",
                                                         "subject": f"Next steps for {opp.name}", "status": "stored"}}]
    denied = await gql.raw("{ outgoingMail { edges { node { subject } } } }", token=team.rep.token)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_duration_exceeded_fires_once_per_stage_entry(gql, team):
    opp = await _deal(team)  # discovery: notify the manager after 14 days (default configuration)
    await Opportunity.filter(id=opp.id).update(stage_entered_at=datetime.now(timezone.utc) - timedelta(days=13))
    assert await automations.scan_stage_durations() == 0
    await Opportunity.filter(id=opp.id).update(stage_entered_at=datetime.now(timezone.utc) - timedelta(days=15))
    assert await automations.scan_stage_durations() == 1
    assert await automations.scan_stage_durations() == 0
    await queue.enqueue("scan_stage_durations", job_id="scan-again")
    await run_worker_burst()
    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the messages themselves.
    notes = cast("list[str]", await Notification.filter(user_id=team.manager.user.id).values_list("message", flat=True))
    assert notes == ["Discovery stage duration exceeded"]
    # a new stay in the stage is a new occurrence
    await advance(gql, team.rep, opp.id, "qualification")
    await advance(gql, team.rep, opp.id, "discovery")
    await Opportunity.filter(id=opp.id).update(stage_entered_at=datetime.now(timezone.utc) - timedelta(days=20))
    assert await automations.scan_stage_durations() == 1


async def test_requirements_met_fires_once_when_the_next_gate_opens(gql, team):
    await _configure("qualification", [{"trigger": "stage_requirements_met", "action": "notify_manager",
                                        "parameters": {"message": "{opportunity} is ready for a proposal"}}])
    await PipelineStage.filter(key="proposal").update(requirements=[{"type": "products_selected"}])  # no minimum
    opp = await _deal(team)
    await advance(gql, team.rep, opp.id, "qualification")
    await run_worker_burst()
    assert await Notification.all().count() == 0
    prod = await factories.product(team.admin.user)
    add = """mutation($o: ID!, $p: ID!) { addOpportunityProduct(input: {opportunityId: $o, productId: $p, quantity: "3"}) {
        errors { code } } }"""
    await gql(add, {"o": gid(opp), "p": gid(prod)}, as_=team.rep)
    await gql(add, {"o": gid(opp), "p": gid(prod)}, as_=team.rep)
    await run_worker_burst()
    notes = cast("list[str]", await Notification.all().values_list("message", flat=True))
    assert notes == [f"{opp.name} is ready for a proposal"]


async def test_loop_guard_stops_deep_automation_chains(gql, team, caplog):
    await _configure("qualification", [EVERY_ACTION[3]])
    opp = await _deal(team)
    await advance(gql, team.rep, opp.id, "qualification")
    root = await DomainEvent.get(kind="opportunity.stage_changed", opportunity_id=opp.id)
    # the event an automation chain three levels deep would produce
    deep = await DomainEvent.create(kind="opportunity.stage_changed", opportunity_id=opp.id, account_id=opp.account_id,
                                    owner_id=opp.assigned_to_id, payload={"to": "qualification"},
                                    caused_by_id=root.id, chain_depth=3)
    await automations.process_event(deep)
    run = await AutomationRun.get(event_id=deep.id)
    assert run.status == "loop_stopped"
    assert "loop guard" in caplog.text
    assert (await Opportunity.get(id=opp.id)).next_step == ""  # the deep event changed nothing
    await automations.process_event(root)
    assert (await Opportunity.get(id=opp.id)).next_step == "Chef tasting"
    child = await DomainEvent.get(kind="opportunity.updated", caused_by_id=root.id)
    assert child.chain_depth == 1


async def test_invalid_stage_configuration_is_rejected_field_by_field(gql, team):
    await ensure_default_pipeline()
    stage = await PipelineStage.get(key="proposal")
    mutation = """mutation($id: ID!, $input: PipelineStageInput!) { updatePipelineStage(id: $id, input: $input) {
        stage { id } errors { field code } } }"""
    bad = {
        "probability": 140, "order": 1,
        "requirements": [{"type": "field_populated", "field": "favourite_colour"},
                         {"type": "activity_completed", "value": "karaoke"}, {"type": "teleport"}],
        "automations": [{"trigger": "stage_entered", "action": "create_task", "parameters": {"title": "x", "dueDate": "next tuesday"}},
                        {"trigger": "stage_duration_exceeded", "action": "notify_manager", "parameters": {"threshold": 0, "message": "m"}},
                        {"trigger": "stage_entered", "action": "update_field", "parameters": {"field": "value", "value": 1}}],
    }
    result = (await gql(mutation, {"id": gid(stage), "input": bad}, as_=team.admin))["updatePipelineStage"]
    assert result["stage"] is None
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("probability", "OUT_OF_RANGE"), ("order", "DUPLICATE"),
        ("requirements[0].field", "INVALID"), ("requirements[1].value", "INVALID"), ("requirements[2].type", "INVALID"),
        ("automations[0].parameters.dueDate", "INVALID"), ("automations[1].parameters.threshold", "INVALID"),
        ("automations[2].parameters.field", "INVALID"),
    }
    assert (await PipelineStage.get(id=stage.id)).probability == 60
    denied = await gql.raw(mutation, {"id": gid(stage), "input": {"name": "Quote"}}, token=team.manager.token)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    ok = (await gql(mutation, {"id": gid(stage), "input": {"name": "Quote", "expectedDurationDays": 21}}, as_=team.admin))
    assert ok["updatePipelineStage"]["errors"] == []


async def test_custom_pipeline_with_a_sampling_stage(gql, team):
    created = (await gql("""mutation { createPipeline(name: "Menu expansion") { pipeline { id stages { key order } } errors { code } } }""",
                         as_=team.admin))["createPipeline"]
    pid = created["pipeline"]["id"]
    assert [s["key"] for s in created["pipeline"]["stages"]] == ["closed_won", "closed_lost"]
    add = """mutation($p: ID!, $input: NewPipelineStageInput!) { addPipelineStage(pipelineId: $p, input: $input) {
        stage { id key } errors { field code } } }"""
    # A tasting gate on the stage deals would be created in could never be met: refused.
    first = (await gql(add, {"p": pid, "input": {"key": "sampling", "name": "Sampling", "order": 2, "probability": 50,
        "requirements": [{"type": "activity_completed", "value": "tasting"}]}}, as_=team.admin))["addPipelineStage"]
    assert [(e["field"], e["code"]) for e in first["errors"]] == [("requirements[0].when", "INVALID")]
    intro = (await gql(add, {"p": pid, "input": {"key": "intro", "name": "Intro", "order": 1, "probability": 10}}, as_=team.admin))
    assert intro["addPipelineStage"]["errors"] == []
    sampling = (await gql(add, {"p": pid, "input": {"key": "sampling", "name": "Sampling", "order": 2, "probability": 50,
        "requirements": [{"type": "activity_completed", "value": "tasting"}]}}, as_=team.admin))["addPipelineStage"]
    assert sampling["errors"] == []
    after_closed = (await gql(add, {"p": pid, "input": {"key": "late", "name": "Late", "order": 150, "probability": 10}}, as_=team.admin))
    assert [e["code"] for e in after_closed["addPipelineStage"]["errors"]] == ["OUT_OF_RANGE"]

    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id, pipeline_id=pk(pid))
    assert (await Opportunity.get(id=opp.id)).stage_id == pk(intro["addPipelineStage"]["stage"]["id"])
    blocked = await advance(gql, team.rep, opp.id, "sampling")
    assert [u["activityTypes"] for u in blocked["unmetRequirements"]] == [["tasting"]]
    delete = """mutation($id: ID!) { deletePipelineStage(id: $id) { deletedId errors { code } } }"""
    in_use = (await gql(delete, {"id": intro["addPipelineStage"]["stage"]["id"]}, as_=team.admin))["deletePipelineStage"]
    assert [e["code"] for e in in_use["errors"]] == ["IN_USE"]
    free = (await gql(delete, {"id": sampling["stage"]["id"]}, as_=team.admin))["deletePipelineStage"]
    assert free == {"deletedId": sampling["stage"]["id"], "errors": []}


async def test_tasks_and_notifications_api(gql, team):
    await _configure("qualification", [EVERY_ACTION[0], EVERY_ACTION[4]])
    opp = await _deal(team)
    await advance(gql, team.rep, opp.id, "qualification")
    await run_worker_burst()
    tasks = (await gql("{ tasks(filter: {status: [OPEN]}) { edges { node { id title assignee { email } opportunity { name } } } } }",
                       as_=team.rep))["tasks"]["edges"]
    assert [(t["node"]["title"], t["node"]["opportunity"]["name"]) for t in tasks] == [("Send tasting kit to Harbor Grill", opp.name)]
    assert (await gql("{ tasks { totalCount } }", as_=team.other_rep))["tasks"]["totalCount"] == 0
    done = (await gql("mutation($id: ID!) { completeTask(id: $id) { task { status completedAt } errors { code } } }",
                      {"id": tasks[0]["node"]["id"]}, as_=team.rep))["completeTask"]
    assert done["task"]["status"] == "COMPLETED" and done["task"]["completedAt"]
    hidden = (await gql("mutation($id: ID!) { completeTask(id: $id) { errors { code } } }",
                        {"id": tasks[0]["node"]["id"]}, as_=team.other_rep))["completeTask"]
    assert hidden["errors"] == [{"code": "NOT_FOUND"}]
    notes = (await gql("{ notifications(unreadOnly: true) { edges { node { id message } } } }", as_=team.manager))["notifications"]["edges"]
    assert len(notes) == 1
    await gql("mutation($id: ID!) { markNotificationRead(id: $id) { notification { readAt } } }", {"id": notes[0]["node"]["id"]}, as_=team.manager)
    assert (await gql("{ notifications(unreadOnly: true) { totalCount } }", as_=team.manager))["notifications"]["totalCount"] == 0
