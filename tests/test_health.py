"""Account health: every factor at its boundaries, a worked example through GraphQL, the roll-up over
a chain's subsidiaries (with cycle rejection), stored history and visibility."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest

from app.domain import health as h
from app.domain.enums import StageKind
from app.models import Account, Contract, CustomerInteraction, InteractionParticipant, Opportunity, PipelineStage
from app.queries.visibility import scope_for
from app.services import health as service
from app.services.accounts import create_contact
from tests import factories
from tests.factories import gid

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


# Factors at their boundaries (pure) --------------------------------------------------------

@pytest.mark.parametrize("ago, score", [
    (timedelta(0), 25), (timedelta(days=7), 25), (timedelta(days=7) + SECOND, 15), (timedelta(days=8), 15),
    (timedelta(days=30), 15), (timedelta(days=30) + SECOND, 5), (timedelta(days=31), 5), (None, 5),
])
def test_recent_activity_boundaries(ago, score):
    factor = h.recent_activity_factor(NOW, None if ago is None else NOW - ago)
    assert factor.score == score
    assert factor.impact == {25: h.Impact.POSITIVE, 15: h.Impact.NEUTRAL, 5: h.Impact.NEGATIVE}[score]


@pytest.mark.parametrize("value, score", [
    ("0.00", 5), ("100000.00", 5), ("100000.01", 15), ("500000.00", 15), ("500000.01", 25),
])
def test_contract_value_boundaries(value, score):
    assert h.contract_value_factor(Decimal(value)).score == score


@pytest.mark.parametrize("current, previous, score", [
    ("120000.00", "100000.00", 25),   # exactly +20 %
    ("119999.99", "100000.00", 18),
    ("105000.00", "100000.00", 18),   # exactly +5 %
    ("104999.99", "100000.00", 10),
    ("95000.01", "100000.00", 10),
    ("95000.00", "100000.00", 5),     # exactly −5 %
    ("80000.01", "100000.00", 5),
    ("80000.00", "100000.00", 0),     # exactly −20 %
    ("0.00", "0.00", 5),              # no business either year
    ("0.01", "0.00", 25),             # new business
])
def test_growth_boundaries(current, previous, score):
    assert h.growth_score(Decimal(current), Decimal(previous)) == score


def _half_up(value: Fraction) -> int:
    return int((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(1), ROUND_HALF_UP))


@pytest.mark.parametrize("by_type, invited, attended, mood", [
    ({}, 0, 0, None),
    ({"meeting": 2, "phone": 1, "email": 2}, 3, 2, 0.3),
    ({"email": 30}, 0, 0, None),                     # capped at 25
    ({"support": 4, "event": 1}, 2, 0, -0.5),        # nobody came: 0
    ({"demo": 1, "phone": 2}, 0, 0, -1.0),
])
def test_engagement_definition(by_type, invited, attended, mood):
    weights = {"meeting": 3, "demo": 3, "event": 2, "phone": 2, "email": 1, "support": 1}
    points = Fraction(sum(weights[k] * n for k, n in by_type.items()))
    if invited:
        points *= Fraction(attended, invited)
    if mood is not None:
        points *= 1 + Fraction(str(mood)) / 2
    factor = h.engagement_factor(h.EngagementTotals(by_type, invited, attended, mood))
    assert factor.score == min(25, _half_up(points))


@pytest.mark.parametrize("score, level", [(100, "low"), (70, "low"), (69, "medium"), (40, "medium"), (39, "high"),
                                          (0, "high")])
def test_risk_levels(score, level):
    assert h.risk_level(score).value == level


# Through the database ----------------------------------------------------------------------

async def _won_stage() -> PipelineStage:
    return await PipelineStage.get(kind=StageKind.WON)


async def test_activity_and_contract_boundaries_through_the_database(team):
    account = await factories.account(team.rep.user)
    scope = await scope_for(team.rep.user)
    today = NOW.date()
    contract = await Contract.create(account=account, name="Produce", value=Decimal("100000.00"),
                                     start_date=today, end_date=today + timedelta(days=365))

    async def factors():
        report = await service.account_health(scope, account.id, now=NOW)
        return {f.name: f.score for f in report.health.factors}

    for ago, activity in ((timedelta(days=7), 25), (timedelta(days=8), 15), (timedelta(days=30), 15),
                          (timedelta(days=31), 5)):
        await Account.filter(id=account.id).update(last_activity_date=NOW - ago)
        assert (await factors())[h.RECENT_ACTIVITY] == activity
    for value, score in (("100000.00", 5), ("100000.01", 15), ("500000.00", 15), ("500000.01", 25)):
        await Contract.filter(id=contract.id).update(value=Decimal(value))
        assert (await factors())[h.CONTRACT_VALUE] == score
    await Contract.filter(id=contract.id).update(status="expired")
    assert (await factors())[h.CONTRACT_VALUE] == 5  # only active contracts count


HEALTH = """query($a: ID!, $subs: Boolean!) { accountHealth(accountId: $a, includeSubsidiaries: $subs) {
    accountId healthScore riskLevel recommendations accountCount includesSubsidiaries
    factors { name score impact } } }"""


async def test_account_health_worked_example(gql, team):
    now = datetime.now(timezone.utc)
    today = now.date()
    account = await factories.account(team.rep.user, "Harbor Grill", renewal_date=today + timedelta(days=45))
    await Account.filter(id=account.id).update(last_activity_date=now - timedelta(days=2))
    # Interactions of the last 90 days: (type, sentiment, invited, attended); one older one that does not count.
    recent = [("meeting", 0.6, 2, 1), ("meeting", 0.2, 1, 1), ("phone", None, 0, 0), ("email", -0.2, 0, 0),
              ("email", 0.6, 0, 0)]
    chef = await create_contact(await scope_for(team.rep.user), {"account_id": account.id, "first_name": "Ana",
                                                                 "last_name": "Ng"})
    for i, (kind, score, invited, attended) in enumerate(recent):
        row = await CustomerInteraction.create(account=account, type=kind, subject="x", sentiment=score,
                                               occurred_at=now - timedelta(days=10 + i))
        for n in range(invited):
            await InteractionParticipant.create(interaction=row, contact=chef, attended=n < attended)
    await CustomerInteraction.create(account=account, type="meeting", subject="old", sentiment=-1.0,
                                     occurred_at=now - timedelta(days=91))
    # Contracts: active 300,000 started 100 days ago; expired 400,000 started 500 days ago; a draft.
    await Contract.create(account=account, name="Active", value=Decimal("300000.00"), status="active",
                          start_date=today - timedelta(days=100), end_date=today + timedelta(days=265))
    await Contract.create(account=account, name="Old", value=Decimal("400000.00"), status="expired",
                          start_date=today - timedelta(days=500), end_date=today - timedelta(days=135))
    await Contract.create(account=account, name="Draft", value=Decimal("50000.00"), status="draft",
                          start_date=today - timedelta(days=10), end_date=today + timedelta(days=355))
    won = await factories.opportunity(team.rep.user, account.id, "Won dairy")
    await Opportunity.filter(id=won.id).update(stage_id=(await _won_stage()).id, value=Decimal("50000.00"),
                                               actual_close_date=today - timedelta(days=30))

    # Independently: engagement = (3·2 + 2·1 + 1·2) × 2/3 attended × (1 + 0.3/2) = 7.67 → 8;
    # growth: (300,000 + 50,000) against 400,000 = −12.5 % → 5; activity 2 days → 25; active contracts → 15.
    points = Fraction(3 * 2 + 2 * 1 + 1 * 2) * Fraction(2, 3) * (1 + Fraction(3, 10) / 2)
    engagement = _half_up(points)
    expected_score = 25 + 15 + engagement + 5
    got = (await gql(HEALTH, {"a": gid(account), "subs": False}, as_=team.rep))["accountHealth"]
    assert got["factors"] == [
        {"name": "Recent Activity", "score": 25, "impact": "POSITIVE"},
        {"name": "Contract Value", "score": 15, "impact": "NEUTRAL"},
        {"name": "Engagement", "score": engagement, "impact": "NEUTRAL"},
        {"name": "Growth", "score": 5, "impact": "NEGATIVE"},
    ]
    assert (got["healthScore"], got["riskLevel"], got["accountCount"]) == (expected_score, "MEDIUM", 1)
    assert got["recommendations"] == [
        "Business is flat or falling year over year: review lost categories and pricing with the buyer.",
        f"Renewal due on {(today + timedelta(days=45)).isoformat()} (45 days): start the renewal conversation now.",
    ]


async def test_a_neglected_account_is_high_risk_with_every_recommendation(team):
    account = await factories.account(team.rep.user)
    report = await service.account_health(await scope_for(team.rep.user), account.id, now=NOW)
    assert (report.health.score, report.health.risk_level) == (5 + 5 + 0 + 5, h.RiskLevel.HIGH)
    assert [r.split(":")[0] for r in report.health.recommendations] == [
        "Health score is below 40", "No interaction recorded yet", "Active contract value is 100,000 or less",
        "Little engagement in the last 90 days", "Business is flat or falling year over year"]


async def test_roll_up_over_a_chain_and_its_locations(gql, team):
    today = datetime.now(timezone.utc).date()
    hq = await factories.account(team.rep.user, "Bayside Burgers HQ")
    region = await factories.account(team.rep.user, "Bayside North", parent_id=hq.id)
    unit = await factories.account(team.rep.user, "Bayside Unit 12", parent_id=region.id)
    hidden = await Account.create(name="Bayside Unit 40", parent=hq, assigned_to=team.other_rep.user)
    for account, value in ((region, "50000.00"), (unit, "60000.00"), (hidden, "1000000.00")):
        await Contract.create(account=account, name="Supply", value=Decimal(value), start_date=today,
                              end_date=today + timedelta(days=365))
    await Account.filter(id=unit.id).update(last_activity_date=datetime.now(timezone.utc) - timedelta(days=3))

    # A cycle is refused: the chain stays a tree and the roll-up terminates.
    cycle = (await gql("""mutation($id: ID!, $p: ID) { updateAccount(id: $id, input: {parentId: $p}) {
        errors { field code } } }""", {"id": gid(hq), "p": gid(unit)}, as_=team.rep))["updateAccount"]
    assert cycle["errors"] == [{"field": "parentId", "code": "CYCLE"}]

    def scores(result):
        return {f["name"]: f["score"] for f in result["factors"]}

    own = (await gql(HEALTH, {"a": gid(hq), "subs": False}, as_=team.rep))["accountHealth"]
    assert (scores(own)["Recent Activity"], scores(own)["Contract Value"], own["accountCount"]) == (5, 5, 1)
    chain = (await gql(HEALTH, {"a": gid(hq), "subs": True}, as_=team.rep))["accountHealth"]
    # The rep sees HQ, region and unit: 50,000 + 60,000 = 110,000 → 15; the unit's activity 3 days ago → 25.
    assert (scores(chain)["Recent Activity"], scores(chain)["Contract Value"]) == (25, 15)
    assert (chain["accountCount"], chain["includesSubsidiaries"]) == (3, True)
    everything = (await gql(HEALTH, {"a": gid(hq), "subs": True}, as_=team.admin))["accountHealth"]
    assert (scores(everything)["Contract Value"], everything["accountCount"]) == (25, 4)  # 1,110,000
    assert await service.subsidiary_ids(hq.id) == sorted([region.id, hidden.id]) + [unit.id]


async def test_stored_history_newest_first_and_visibility(gql, team):
    account = await factories.account(team.rep.user)
    theirs = await factories.account(team.other_rep.user)
    await service.recompute_account_health(account.id, now=NOW - timedelta(days=2))
    await Contract.create(account=account, name="Supply", value=Decimal("200000.00"),
                          start_date=NOW.date() - timedelta(days=30), end_date=NOW.date() + timedelta(days=335))
    await service.recompute_account_health(account.id, now=NOW - timedelta(days=1))
    await service.recompute_account_health(account.id + 999)  # gone: nothing stored, no error
    assert (await Account.get(id=account.id)).health_score == 5 + 15 + 0 + 25

    query = """query($a: ID!) { accountHealth(accountId: $a) { healthHistory(first: 5) { healthScore riskLevel computedAt
        factors { name score } } } accountHealthHistory(accountId: $a, first: 1) { healthScore } }"""
    got = await gql(query, {"a": gid(account)}, as_=team.rep)
    history = got["accountHealth"]["healthHistory"]
    assert [(s["healthScore"], s["riskLevel"]) for s in history] == [(45, "MEDIUM"), (15, "HIGH")]
    assert datetime.fromisoformat(history[0]["computedAt"]) == NOW - timedelta(days=1)
    assert [f["name"] for f in history[0]["factors"]] == ["Recent Activity", "Contract Value", "Engagement", "Growth"]
    assert got["accountHealthHistory"] == [{"healthScore": 45}]

    hidden = await gql(query, {"a": gid(theirs)}, as_=team.rep)
    assert hidden == {"accountHealth": None, "accountHealthHistory": None}
    assert await gql(query, {"a": "nope"}, as_=team.rep) == {"accountHealth": None, "accountHealthHistory": None}


async def test_renewal_recommendation_window():
    base: dict[str, Any] = dict(now=NOW, last_activity_at=NOW, active_contract_value=Decimal("600000"),
                engagement=h.EngagementTotals({"meeting": 9}), business_last_12_months=Decimal("130"),
                business_previous_12_months=Decimal("100"))
    healthy = h.assess(h.HealthInputs(**base))
    assert (healthy.score, healthy.risk_level) == (100, h.RiskLevel.LOW)
    assert healthy.recommendations[0].startswith("Healthy account")
    for days, expected in ((0, True), (90, True), (91, False), (-1, False)):
        recs = h.assess(h.HealthInputs(**base, renewal_date=NOW.date() + timedelta(days=days))).recommendations
        assert any(r.startswith("Renewal due") for r in recs) is expected
