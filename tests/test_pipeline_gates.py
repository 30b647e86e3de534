"""Stage gates and stage moves through advanceOpportunity / stageReadiness."""

import asyncio
from datetime import date
from typing import cast

import pytest

from app.domain.enums import ActivityType
from app.models import Opportunity, OpportunityActivity, OpportunityProduct, StageTransition
from tests import factories
from app.domain.global_ids import global_id
from tests.factories import gid

ADVANCE = """mutation($input: AdvanceOpportunityInput!) { advanceOpportunity(input: $input) {
  opportunity { stage probability probabilityOverridden version actualCloseDate lostReason lostReasonKey forecastCategory
    stageHistory { fromStage { key } toStage { key } by { email } amountAfter probabilityBefore probabilityAfter } }
  errors { field message code }
  unmetRequirements { stage kind field activityTypes needed } } }"""
READINESS = """query($o: ID!, $s: String!) { stageReadiness(opportunityId: $o, stage: $s) {
  ready unmetRequirements { stage kind field activityTypes } } }"""


async def advance(gql, actor, opp_id: int | str, stage, **extra):
    """Move a deal named by its row's key or by the id the API gave it."""
    deal_id = opp_id if isinstance(opp_id, str) else global_id("Opportunity", opp_id)
    return (await gql(ADVANCE, {"input": {"id": deal_id, "stage": stage, **extra}}, as_=actor))["advanceOpportunity"]


async def _deal(team, ready: bool = True, **extra):
    """A deal in discovery; `ready`: with the call and budget discovery's exit gate asks for."""
    acct = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, acct.id, **extra)
    if ready:
        await factories.ready_to_leave_discovery(deal)
    return deal


async def test_forward_move_checks_target_and_every_skipped_stage(gql, team):
    opp = await _deal(team)
    readiness = (await gql(READINESS, {"o": gid(opp), "s": "negotiation"}, as_=team.rep))["stageReadiness"]
    assert readiness["ready"] is False
    unmet = {(u["stage"], u["kind"]) for u in readiness["unmetRequirements"]}
    assert unmet == {("proposal", "products_selected"), ("negotiation", "activity_completed")}
    # value 5000 ≥ 1000, so the minimum_value gate of proposal is met

    result = await advance(gql, team.rep, opp.id, "negotiation")
    assert result["errors"] == [] and result["opportunity"]["stage"] == "discovery"  # unchanged
    assert {(u["stage"], u["kind"]) for u in result["unmetRequirements"]} == unmet
    assert [u["activityTypes"] for u in result["unmetRequirements"] if u["kind"] == "activity_completed"] == [["proposal", "presentation"]]
    assert (await Opportunity.get(id=opp.id)).version == 1 and await StageTransition.filter(opportunity_id=opp.id).count() == 1

    prod = await factories.product(team.admin.user)
    await OpportunityProduct.create(opportunity=opp, product=prod, quantity=1, unit_price=prod.unit_price, total_price=prod.unit_price)
    await OpportunityActivity.create(opportunity=opp, type=ActivityType.PRESENTATION, subject="Menu presentation",
                                     completed_at=date(2026, 1, 5).isoformat() + "T10:00:00+00:00")
    moved = await advance(gql, team.rep, opp.id, "negotiation", expectedVersion=1)
    assert moved["errors"] == [] and moved["unmetRequirements"] == []
    o = moved["opportunity"]
    assert (o["stage"], o["probability"], o["version"], o["forecastCategory"]) == ("negotiation", 80, 2, "COMMIT")
    last = o["stageHistory"][-1]
    assert last == {"fromStage": {"key": "discovery"}, "toStage": {"key": "negotiation"}, "by": {"email": "rep@pantry.test"},
                    "amountAfter": "5000.00", "probabilityBefore": 20, "probabilityAfter": 80}
    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the subjects themselves.
    system = cast("list[str]", await OpportunityActivity.filter(opportunity_id=opp.id, type=ActivityType.SYSTEM)
                  .values_list("subject", flat=True))
    assert system == ["Stage changed to Negotiation"]


async def test_minimum_value_and_field_populated_gates(gql, team):
    opp = await _deal(team, ready=False, value=0)
    prod = await factories.product(team.admin.user, price="10.00")
    await OpportunityProduct.create(opportunity=opp, product=prod, quantity=1, unit_price=prod.unit_price, total_price=prod.unit_price)
    await Opportunity.filter(id=opp.id).update(value=10)
    result = await advance(gql, team.rep, opp.id, "proposal")
    # discovery's exit gate (a call, a budget), then proposal's entry gate (products are there)
    assert [(u["stage"], u["kind"], u["field"]) for u in result["unmetRequirements"]] == [
        ("discovery", "activity_completed", None), ("discovery", "field_populated", "budget"),
        ("proposal", "minimum_value", "value")]

    # admins make qualification require a populated budget and a completed call (custom gate)
    stage_id = await _stage_id(gql, team, "qualification")
    config = """mutation($id: ID!, $r: JSON) { updatePipelineStage(id: $id, input: {requirements: $r}) { errors { field code } } }"""
    reqs = [{"type": "field_populated", "field": "budget"}, {"type": "activity_completed", "value": "call"}]
    assert (await gql(config, {"id": stage_id, "r": reqs}, as_=team.admin))["updatePipelineStage"]["errors"] == []
    result = await advance(gql, team.rep, opp.id, "qualification")
    assert {(u["kind"], u["field"]) for u in result["unmetRequirements"]} == {("field_populated", "budget"), ("activity_completed", None)}
    # the move's own data counts: a budget given with the move satisfies the gate
    await OpportunityActivity.create(opportunity=opp, type=ActivityType.CALL, subject="Discovery call",
                                     completed_at="2026-01-02T09:00:00+00:00")
    ok = await advance(gql, team.rep, opp.id, "qualification", data={"budget": "8000.00"})
    assert ok["errors"] == [] and ok["opportunity"]["stage"] == "qualification"
    assert (await Opportunity.get(id=opp.id)).budget == 8000


async def _stage_id(gql, team, key):
    stages = (await gql("{ pipelineStages { id key } }", as_=team.admin))["pipelineStages"]
    return next(s["id"] for s in stages if s["key"] == key)


async def test_closing_lost_needs_a_reason_and_won_sets_the_close_date(gql, team):
    opp = await _deal(team)
    missing = await advance(gql, team.rep, opp.id, "closed_lost")
    assert [(e["field"], e["code"]) for e in missing["errors"]] == [("data.lostReasonKey", "REQUIRED")]
    retired = await advance(gql, team.rep, opp.id, "closed_lost", data={"lostReasonKey": "no_such_reason"})
    assert [(e["field"], e["code"]) for e in retired["errors"]] == [("data.lostReasonKey", "INVALID")]
    assert "price" in retired["errors"][0]["message"]  # the message lists the keys to choose from
    lost = await advance(gql, team.rep, opp.id, "closed_lost",
                         data={"lostReasonKey": "competitor", "lostReason": "Went with Sysco on price"})
    assert (lost["opportunity"]["lostReasonKey"], lost["opportunity"]["lostReason"]) == (
        "competitor", "Went with Sysco on price")
    assert (lost["opportunity"]["probability"], lost["opportunity"]["actualCloseDate"]) == (0, date.today().isoformat())

    other = await _deal(team, name="won deal")
    await Opportunity.filter(id=other.id).update(probability=35, probability_overridden=True)
    won = await advance(gql, team.rep, other.id, "closed_won")
    # closed_won skips proposal and negotiation: their gates apply
    assert {u["stage"] for u in won["unmetRequirements"]} == {"proposal", "negotiation"}


async def test_reopen_needs_the_owners_manager_or_an_admin(gql, team):
    opp = await _deal(team)
    await advance(gql, team.rep, opp.id, "closed_lost", data={"lostReasonKey": "no_budget", "lostReason": "Budget cut"})
    by_rep = await advance(gql, team.rep, opp.id, "qualification", reopen=True)
    assert [(e["field"], e["code"]) for e in by_rep["errors"]] == [("reopen", "FORBIDDEN")]
    no_flag = await advance(gql, team.manager, opp.id, "qualification")
    assert [(e["field"], e["code"]) for e in no_flag["errors"]] == [("reopen", "REQUIRED")]
    other_manager = await advance(gql, team.other_manager, opp.id, "qualification", reopen=True)
    assert [e["code"] for e in other_manager["errors"]] == ["NOT_FOUND"]  # not even visible to them
    reopened = await advance(gql, team.manager, opp.id, "qualification", reopen=True)
    o = reopened["opportunity"]
    assert (o["stage"], o["lostReason"], o["lostReasonKey"], o["actualCloseDate"], o["probability"]) == (
        "qualification", None, None, None, 40)


async def test_backward_moves_are_allowed_and_probability_override_is_kept(gql, team):
    opp = await _deal(team)
    assert (await advance(gql, team.rep, opp.id, "qualification"))["opportunity"]["stage"] == "qualification"
    overridden = await advance(gql, team.manager, opp.id, "discovery", data={"probability": 35})
    assert overridden["opportunity"]["stage"] == "discovery"
    assert (overridden["opportunity"]["probability"], overridden["opportunity"]["probabilityOverridden"]) == (35, True)
    kept = await advance(gql, team.rep, opp.id, "qualification")
    assert (kept["opportunity"]["probability"], kept["opportunity"]["probabilityOverridden"]) == (35, True)
    rep_override = await advance(gql, team.rep, opp.id, "discovery", data={"probability": 90})
    assert [(e["field"], e["code"]) for e in rep_override["errors"]] == [("data.probability", "FORBIDDEN")]


async def test_dry_run_unknown_stage_and_stale_version(gql, team):
    opp = await _deal(team)
    dry = await advance(gql, team.rep, opp.id, "qualification", dryRun=True)
    assert dry["errors"] == [] and dry["unmetRequirements"] == []
    assert (await Opportunity.get(id=opp.id)).version == 1
    unknown = await advance(gql, team.rep, opp.id, "tasting_room")
    assert [(e["field"], e["code"]) for e in unknown["errors"]] == [("stage", "INVALID")]
    assert "discovery, qualification" in unknown["errors"][0]["message"]
    await advance(gql, team.rep, opp.id, "qualification", expectedVersion=1)
    stale = await advance(gql, team.rep, opp.id, "proposal", expectedVersion=1)
    assert stale["errors"][0]["code"] == "STALE_VERSION" and "current version is 2" in stale["errors"][0]["message"]


@pytest.mark.postgres_only
async def test_two_concurrent_advances_never_both_apply(gql, team):
    for attempt in range(5):
        opp = await _deal(team, name=f"race {attempt}")
        results = await asyncio.gather(
            advance(gql, team.rep, opp.id, "qualification", expectedVersion=1),
            advance(gql, team.manager, opp.id, "closed_lost", expectedVersion=1, data={"lostReasonKey": "other", "lostReason": "race"}),
        )
        applied = [r for r in results if not r["errors"]]
        refused = [r for r in results if r["errors"]]
        assert len(applied) == 1 and len(refused) == 1
        assert refused[0]["errors"][0]["code"] == "STALE_VERSION"
        assert await StageTransition.filter(opportunity_id=opp.id).count() == 2
        assert (await Opportunity.get(id=opp.id)).version == 2
        # without expectedVersion the second move is decided on the first's result
        await asyncio.gather(*(advance(gql, team.rep, opp.id, "discovery") for _ in range(2)))
        assert await StageTransition.filter(opportunity_id=opp.id).count() == (3 if applied[0]["opportunity"]["stage"] == "qualification" else 2)
