"""Lost reasons are a picklist admins keep: a deal closed as lost names an active entry (with optional
free-text detail), and the pipeline report and win/loss group by it."""

from __future__ import annotations

from decimal import Decimal

from app.domain.pipeline_defaults import DEFAULT_LOST_REASONS
from app.models import LostReason, Opportunity
from tests import factories
from tests.factories import gid
from tests.test_pipeline_gates import advance

LIST = "query($all: Boolean!) { lostReasons(includeInactive: $all) { id key name isActive position } }"
CREATE = """mutation($in: CreateLostReasonInput!) { createLostReason(input: $in) {
  lostReason { key name description isActive } errors { field code } } }"""
UPDATE = """mutation($id: ID!, $in: UpdateLostReasonInput!) { updateLostReason(id: $id, input: $in) {
  lostReason { key name isActive position } errors { field code } } }"""
REPORT = """{ pipelineReport(timeframe: "this_month") { lostCount lostReasons { key name count value } } }"""


async def test_the_picklist_starts_with_the_defaults_and_admins_keep_it(gql, team):
    listed = (await gql(LIST, {"all": False}, as_=team.rep))["lostReasons"]
    assert [r["key"] for r in listed] == [r["key"] for r in DEFAULT_LOST_REASONS]
    bad = (await gql(CREATE, {"in": {"key": "Bad Key", "name": " "}}, as_=team.admin))["createLostReason"]
    assert sorted((e["field"], e["code"]) for e in bad["errors"]) == [("key", "INVALID"), ("name", "REQUIRED")]
    taken = (await gql(CREATE, {"in": {"key": "price", "name": "Price"}}, as_=team.admin))["createLostReason"]
    assert sorted((e["field"], e["code"]) for e in taken["errors"]) == [("key", "DUPLICATE"), ("name", "DUPLICATE")]
    refused = await gql.raw(CREATE, {"in": {"key": "rebate", "name": "Rebate"}}, team.manager.token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    made = (await gql(CREATE, {"in": {"key": "rebate", "name": "Rebate terms", "description": "Volume rebates"}},
                      as_=team.admin))["createLostReason"]
    assert made == {"lostReason": {"key": "rebate", "name": "Rebate terms", "description": "Volume rebates",
                                   "isActive": True}, "errors": []}
    rebate = await LostReason.get(key="rebate")
    retired = (await gql(UPDATE, {"id": gid(rebate), "in": {"isActive": False, "position": 99}},
                         as_=team.admin))["updateLostReason"]
    assert retired == {"lostReason": {"key": "rebate", "name": "Rebate terms", "isActive": False, "position": 99},
                       "errors": []}
    assert "rebate" not in {r["key"] for r in (await gql(LIST, {"all": False}, as_=team.rep))["lostReasons"]}
    assert "rebate" in {r["key"] for r in (await gql(LIST, {"all": True}, as_=team.rep))["lostReasons"]}
    # A deal cannot be lost for a retired reason.
    acct = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, acct.id)
    refused_move = await advance(gql, team.rep, deal.id, "closed_lost", data={"lostReasonKey": "rebate"})
    assert [(e["field"], e["code"]) for e in refused_move["errors"]] == [("data.lostReasonKey", "INVALID")]
    assert (await Opportunity.get(id=deal.id)).lost_reason_key is None


async def test_the_pipeline_report_groups_losses_by_reason(gql, team):
    acct = await factories.account(team.rep.user)
    for key, value in (("price", "1000"), ("price", "2500.50"), ("service", "700"), ("price", "10")):
        deal = await factories.opportunity(team.rep.user, acct.id, value=Decimal(value))
        moved = await advance(gql, team.rep, deal.id, "closed_lost", data={"lostReasonKey": key, "lostReason": "detail"})
        assert moved["errors"] == []
    report = (await gql(REPORT, as_=team.rep))["pipelineReport"]
    assert report["lostReasons"] == [
        {"key": "price", "name": "Price", "count": 3, "value": "3510.50"},
        {"key": "service", "name": "Service or delivery", "count": 1, "value": "700.00"}]
    assert report["lostCount"] == sum(r["count"] for r in report["lostReasons"])
    # Another rep's losses are not theirs to see.
    assert (await gql(REPORT, as_=team.other_rep))["pipelineReport"]["lostReasons"] == []
