"""A manager's at-risk list: every open deal with a reason (stale, overdue, souring account, high-threat
competitor), with its reasons, largest first, only what the caller may see."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from app import models as m
from app.domain.enums import InteractionType
from app.domain.risk import sentiment_at_risk
from tests import factories
from tests.factories import gid
from tests.test_opportunity_lists import _entered

AT_RISK = """query($first: Int, $after: String) { atRiskOpportunities(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } nodes { reasons opportunity { id name value } } } }"""


def test_the_sentiment_rule():
    assert sentiment_at_risk(-0.3, None) and sentiment_at_risk(-0.5, -0.6)
    assert sentiment_at_risk(0.25, 0.45) and sentiment_at_risk(0.1, 0.31)
    assert not sentiment_at_risk(-0.29, -0.2) and not sentiment_at_risk(0.3, 0.49)
    assert not sentiment_at_risk(None, -0.9)


async def _talk(account, sentiment: float, days_ago: int) -> None:
    await m.CustomerInteraction.create(account=account, type=InteractionType.EMAIL, subject="Note",
                                       occurred_at=datetime.now(timezone.utc) - timedelta(days=days_ago),
                                       sentiment=sentiment)


async def _world(team) -> dict:
    rep, today = team.rep.user, date.today()
    calm = await factories.account(rep, "Calm Cafe")
    souring = await factories.account(rep, "Souring Bistro")
    await _talk(souring, 0.6, 45)
    await _talk(souring, 0.2, 5)  # 0.6 → 0.2: fell by 0.4
    angry = await factories.account(rep, "Angry Diner")
    await _talk(angry, -0.7, 3)
    deal = lambda account, name, value, **extra: factories.opportunity(  # noqa: E731
        rep, account.id, name, value=Decimal(value), **extra)
    deals = {
        "stale": await deal(calm, "stale", "9000"),
        "overdue": await deal(calm, "overdue", "8000", expected_close_date=today - timedelta(days=3)),
        "souring": await deal(souring, "souring", "7000"),
        "angry": await deal(angry, "angry", "6500"),
        "rival": await deal(calm, "rival", "6000"),
        "healthy": await deal(calm, "healthy", "5000"),
        "lost": await deal(calm, "lost", "4000", expected_close_date=today - timedelta(days=30)),
    }
    await _entered(deals["stale"], "discovery", 20)
    await _entered(deals["lost"], "closed_lost", 40)
    strong = await m.Competitor.create(name="Big Broadline", pricing="lower", market_share=Decimal("0.40"))
    weak = await m.Competitor.create(name="Corner Supply", pricing="higher", market_share=Decimal("0.02"))
    await deals["rival"].competitors.add(strong)
    await deals["healthy"].competitors.add(weak)
    other = await factories.account(team.other_rep.user, "Elsewhere")
    hidden = await factories.opportunity(team.other_rep.user, other.id, "not yours", value=Decimal("99000"))
    await _entered(hidden, "discovery", 30)
    return deals


async def test_the_list_names_every_risky_open_deal_with_its_reasons(gql, team):
    deals = await _world(team)
    got = (await gql(AT_RISK, {"first": 10}, as_=team.rep))["atRiskOpportunities"]
    assert [(n["opportunity"]["name"], n["reasons"]) for n in got["nodes"]] == [
        ("stale", ["STALE"]), ("overdue", ["OVERDUE"]), ("souring", ["NEGATIVE_SENTIMENT"]),
        ("angry", ["NEGATIVE_SENTIMENT"]), ("rival", ["HIGH_THREAT_COMPETITOR"])]
    assert got["totalCount"] == 5 and got["nodes"][0]["opportunity"]["id"] == gid(deals["stale"])
    # Pages like every list.
    first = (await gql(AT_RISK, {"first": 2}, as_=team.rep))["atRiskOpportunities"]
    rest = (await gql(AT_RISK, {"first": 10, "after": first["pageInfo"]["endCursor"]}, as_=team.rep))
    names = [n["opportunity"]["name"] for n in first["nodes"] + rest["atRiskOpportunities"]["nodes"]]
    assert names == ["stale", "overdue", "souring", "angry", "rival"]
    # The admin also sees the other rep's stale deal; the other rep sees only it.
    admin = (await gql(AT_RISK, {"first": 10}, as_=team.admin))["atRiskOpportunities"]
    assert admin["nodes"][0]["opportunity"]["name"] == "not yours" and admin["totalCount"] == 6
    theirs = (await gql(AT_RISK, {"first": 10}, as_=team.other_rep))["atRiskOpportunities"]
    assert [n["opportunity"]["name"] for n in theirs["nodes"]] == ["not yours"]


async def test_a_deal_with_several_reasons_lists_them_all(gql, team):
    deals = await _world(team)
    stale_and_late = deals["rival"]
    await m.Opportunity.filter(id=stale_and_late.id).update(expected_close_date=date.today() - timedelta(days=1))
    await _entered(stale_and_late, "discovery", 20)
    got = (await gql(AT_RISK, {"first": 10}, as_=team.rep))["atRiskOpportunities"]["nodes"]
    assert {n["opportunity"]["name"]: n["reasons"] for n in got}["rival"] == [
        "STALE", "OVERDUE", "HIGH_THREAT_COMPETITOR"]
