"""Competitive intelligence: threat rules, competitor and battlecard CRUD, links, analysis, win/loss."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from app.domain import competition as rules
from app.domain.enums import Pricing, StageKind
from app.domain.errors import ErrorCode, ValidationFailed
from app.models import BattleCard, Competitor, Opportunity, PipelineStage
from app.queries.visibility import scope_for
from app.services import competition
from tests import factories
from app.domain.global_ids import global_id
from app.domain.pipeline_defaults import DEFAULT_LOST_REASONS
from app.services.lost_reasons import ensure_default_lost_reasons
from tests.factories import gid

ERR = "errors { field message code }"
D = Decimal


def profile(share="0.05", pricing=Pricing.HIGHER, strengths=0, **extra) -> rules.CompetitorProfile:
    return rules.CompetitorProfile(name="Rival", pricing=pricing, market_share=D(share),
                                   strengths=tuple(f"strength {i}" for i in range(strengths)), **extra)


def deal(kind=StageKind.OPEN, stage_probability=20, probability=20, value="5000", stage_name="Discovery",
         **extra) -> rules.DealContext:
    return rules.DealContext(stage_name=stage_name, stage_kind=kind, stage_probability=stage_probability,
                             probability=probability, value=D(value), **extra)


# Threat score and level: every boundary ----------------------------------------------------


@pytest.mark.parametrize("share, points", [
    ("0", 1), ("0.0999", 1), ("0.1", 1), ("0.1001", 2), ("0.2", 2), ("0.3", 2), ("0.3001", 3), ("1", 3),
])
def test_market_share_points(share, points):
    # Higher pricing and no strengths add nothing, so the score is the market-share points alone.
    assert rules.base_threat_score(profile(share))[0] == points


@pytest.mark.parametrize("pricing, points", [(Pricing.LOWER, 2), (Pricing.COMPETITIVE, 1), (Pricing.HIGHER, 0)])
def test_pricing_points(pricing, points):
    assert rules.base_threat_score(profile("0.05", pricing))[0] == 1 + points


def test_half_a_point_per_strength():
    assert [rules.base_threat_score(profile(strengths=n))[0] for n in range(5)] == [1, D("1.5"), 2, D("2.5"), 3]


@pytest.mark.parametrize("score, level", [
    ("0", "low"), ("2.5", "low"), ("2.9999", "low"), ("3", "medium"), ("4.5", "medium"), ("4.9999", "medium"),
    ("5", "high"), ("8", "high"),
])
def test_threat_level_thresholds(score, level):
    assert rules.threat_level(D(score)).value == level


@pytest.mark.parametrize("kwargs, score, level", [
    ({"share": "0.1", "pricing": Pricing.COMPETITIVE, "strengths": 1}, "2.5", "low"),      # 1 + 1 + 0.5
    ({"share": "0.1", "pricing": Pricing.LOWER}, "3", "medium"),                           # 1 + 2: exactly 3
    ({"share": "0.1001", "pricing": Pricing.HIGHER, "strengths": 2}, "3", "medium"),      # 2 + 0 + 1
    ({"share": "0.3", "pricing": Pricing.LOWER, "strengths": 1}, "4.5", "medium"),         # 2 + 2 + 0.5
    ({"share": "0.3001", "pricing": Pricing.LOWER}, "5", "high"),                          # 3 + 2: exactly 5
    ({"share": "0.3", "pricing": Pricing.COMPETITIVE, "strengths": 4}, "5", "high"),       # 2 + 1 + 2
    ({"share": "0.3001", "pricing": Pricing.HIGHER, "strengths": 3}, "4.5", "medium"),     # 3 + 0 + 1.5
])
def test_threat_of_whole_profiles_at_the_boundaries(kwargs, score, level):
    threat = rules.assess_threat(profile(**kwargs))
    assert (threat.score, threat.level.value, threat.adjustment) == (D(score), level, D(0))


def test_threat_factors_explain_the_score():
    threat = rules.assess_threat(profile("0.35", Pricing.LOWER, 2))
    assert threat.factors == (
        "market share 35% (> 30%): +3", "pricing lower: +2", "2 strengths × 0.5: +1",
        "0 closed deals against them (fewer than 5): no adjustment for our record",
    )


# Adjustment by our record -------------------------------------------------------------------


@pytest.mark.parametrize("won, lost, points", [
    (0, 4, 0), (4, 0, 0),            # fewer than 5 closed: no adjustment, however lopsided
    (0, 5, 2), (1, 4, 2),            # 0 %, 20 %: < 25 %
    (2, 6, 1), (3, 5, 1),            # exactly 25 %, 37.5 %
    (2, 3, 0), (1, 1, 0), (3, 2, 0),  # exactly 40 %; (2 closed: too few); exactly 60 %
    (5, 3, -1), (6, 2, -1),          # 62.5 %, exactly 75 %
    (4, 1, -2), (5, 0, -2),          # 80 %, 100 %
])
def test_record_adjustment_bands(won, lost, points):
    assert rules.record_adjustment(rules.TrackRecord(won, lost))[0] == points


def test_record_moves_the_level_and_the_score_never_goes_below_zero():
    medium = profile("0.17", Pricing.COMPETITIVE, 3)  # 2 + 1 + 1.5 = 4.5
    assert rules.assess_threat(medium, rules.TrackRecord(0, 4)).level.value == "medium"
    beaten = rules.assess_threat(medium, rules.TrackRecord(1, 5))  # 17 %: +2
    assert (beaten.base_score, beaten.adjustment, beaten.score, beaten.level.value) == (D("4.5"), D(2), D("6.5"), "high")
    assert beaten.factors[-1] == "we won 1 of 6 closed deals against them (17%): +2"
    high = profile("0.3001", Pricing.LOWER)  # 5
    assert rules.assess_threat(high, rules.TrackRecord(8, 2)).level.value == "medium"  # 80 %: −2 → 3
    weak = rules.assess_threat(profile("0.01"), rules.TrackRecord(5, 0))  # 1 − 2
    assert (weak.score, weak.level.value) == (D(0), "low")
    assert weak.factors[-1] == "we won 5 of 5 closed deals against them (100%): −2"


# Positioning, recommendations, win probability ------------------------------------------


def test_positioning_by_pricing_deal_size_weaknesses_and_strengths():
    cheap = profile(pricing=Pricing.LOWER, strengths=2, weaknesses=("Late trucks", "Short-ships", "Rep churn"))
    small = rules.positioning(cheap, deal(value="5000"))
    assert small.startswith("They sell on price: do not match them case for case")
    assert "volume tiers" not in small
    assert "Press where they are weak: Late trucks; Short-ships." in small and "Rep churn" not in small
    assert "Do not fight them on strength 0;" in small
    assert "volume tiers" in rules.positioning(cheap, deal(value="25000"))
    assert rules.positioning(profile(pricing=Pricing.HIGHER), deal()) == (
        "We are the cheaper option: put a side-by-side price comparison in the proposal.")
    assert rules.positioning(profile(pricing=Pricing.COMPETITIVE), deal()).startswith("Prices are close: win on service")


def _assess(p: rules.CompetitorProfile, record=rules.TrackRecord(), cards=False) -> rules.CompetitorInput:
    return rules.CompetitorInput(p, record, cards)


def test_recommendation_rules():
    assert rules.analyse(deal(), []).recommendations == (
        "No competitor recorded: ask the buyer who supplies them today and who else is quoting.",)

    big = rules.CompetitorProfile("BigCo", Pricing.LOWER, D("0.4"), ("Price",), ("Late trucks",), ("dairy", "produce"))
    late = deal(stage_probability=60, probability=60, value="30000", stage_name="Proposal", product_categories=frozenset({"dairy", "seafood"}))
    lines = rules.analyse(late, [_assess(big, rules.TrackRecord(1, 4))]).recommendations
    assert lines == (
        "High threat from BigCo and no battlecard yet: ask a manager to write one.",
        "BigCo undercuts us on price at the Proposal stage: lead the proposal with landed cost and agree any "
        "discount with your manager now, not on the last call.",
        "BigCo is the incumbent for dairy: propose a trial order or a side-by-side tasting to lower the switching risk.",
        "Large deal (30000) against 1 competitor: multi-thread beyond the main contact (chef, GM, purchasing) and "
        "bring a reference from a similar account.",
        "We win only 20% against BigCo (1 of 5 closed deals): read the lost reasons in the win/loss report before "
        "the next call.",
    )

    small = rules.CompetitorProfile("Local", Pricing.HIGHER, D("0.01"))
    three = [_assess(big, cards=True), _assess(small), _assess(rules.CompetitorProfile("Third", Pricing.COMPETITIVE, D("0.02")))]
    early = rules.analyse(deal(stage_probability=20), three).recommendations
    assert early[0] == ("High threat from BigCo (score 5.5): review their battlecard with your manager before the "
                        "next meeting.")
    assert early[1] == "Early stage: shape the buying criteria around where BigCo, Local and Third are weak (Late trucks)."
    assert early[2] == "3 competitors on one deal: confirm the decision criteria and timeline before investing more."
    assert len(early) == 3
    assert rules.analyse(deal(), [_assess(small)]).recommendations == (
        "Early stage: find out what the buyer dislikes about Local today.",)


def test_closed_deals_get_one_closing_recommendation():
    local = [_assess(rules.CompetitorProfile("Local", Pricing.HIGHER, D("0.01")))]
    assert rules.analyse(deal(StageKind.WON), local).recommendations == (
        "Closed won against Local: note what won it so the battlecards learn from it.",)
    assert rules.analyse(deal(StageKind.LOST), local).recommendations == (
        "Closed lost against Local with no lost reason: record why, so the win/loss report can learn from it.",)
    assert rules.analyse(deal(StageKind.LOST, has_lost_reason=True), []).recommendations == (
        "Closed lost: compare the lost reason with the battlecards and update them.",)


@pytest.mark.parametrize("kind, probability, levels, expected", [
    (StageKind.OPEN, 60, [], 60),
    (StageKind.OPEN, 60, ["low", "low"], 60),
    (StageKind.OPEN, 60, ["high", "medium"], 45),
    (StageKind.OPEN, 60, ["high", "high", "high", "high"], 30),   # deduction capped at 30
    (StageKind.OPEN, 20, ["high", "high", "medium"], 0),          # never below 0
    (StageKind.WON, 100, ["high"], 100),
    (StageKind.LOST, 0, [], 0),
])
def test_win_probability(kind, probability, levels, expected):
    levels = [rules.ThreatLevel(level) for level in levels]
    assert rules.win_probability(deal(kind, probability=probability), levels) == expected


# Competitor and battlecard CRUD ------------------------------------------------------------

CREATE = f"""mutation($input: CompetitorInput!) {{ createCompetitor(input: $input) {{
    competitor {{ id name pricing marketShare strengths weaknesses incumbentCategories website }} {ERR} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: CompetitorInput!) {{ updateCompetitor(id: $id, input: $input) {{
    competitor {{ id name marketShare }} {ERR} }} }}"""


async def _competitors():
    return await Competitor.all().order_by("id").values()


async def test_create_and_update_competitor(gql, team):
    created = (await gql(CREATE, {"input": {
        "name": " Sysco ", "pricing": "COMPETITIVE", "marketShare": "0.17", "website": "https://www.sysco.com",
        "strengths": [" Broad catalogue ", "Private label"], "weaknesses": ["Small drops"],
        "incumbentCategories": ["DRY_GOODS", "FROZEN", "DRY_GOODS"]}}, as_=team.manager))["createCompetitor"]
    assert created["errors"] == []
    c = created["competitor"]
    assert (c["name"], c["pricing"], c["marketShare"], c["strengths"], c["weaknesses"], c["incumbentCategories"]) == (
        "Sysco", "COMPETITIVE", "0.1700", ["Broad catalogue", "Private label"], ["Small drops"], ["dry_goods", "frozen"])
    renamed = (await gql(UPDATE, {"id": c["id"], "input": {"name": "SYSCO", "marketShare": "0.2"}},
                         as_=team.admin))["updateCompetitor"]
    assert renamed == {"competitor": {"id": c["id"], "name": "SYSCO", "marketShare": "0.2000"}, "errors": []}


async def test_bad_competitor_input_reports_every_error_and_changes_nothing(gql, team):
    await competition.create_competitor(await scope_for(team.manager.user), {"name": "US Foods"})
    before = await _competitors()
    result = (await gql(CREATE, {"input": {"name": "us foods", "marketShare": "1.5", "strengths": ["ok", "  "],
                                           "website": "ftp://x"}}, as_=team.manager))["createCompetitor"]
    assert result["competitor"] is None
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("name", "DUPLICATE"), ("marketShare", "OUT_OF_RANGE"), ("strengths", "REQUIRED"), ("website", "INVALID")}
    assert "0 and 1" in next(e["message"] for e in result["errors"] if e["field"] == "marketShare")
    for share in ("-0.01", "0.12345"):
        bad = (await gql(CREATE, {"input": {"name": "Other", "marketShare": share}}, as_=team.manager))["createCompetitor"]
        assert [(e["field"], e["code"]) for e in bad["errors"]] == [("marketShare", "OUT_OF_RANGE")]
    blank = (await gql(CREATE, {"input": {"name": "  "}}, as_=team.manager))["createCompetitor"]
    assert [(e["field"], e["code"]) for e in blank["errors"]] == [("name", "REQUIRED")]
    assert await _competitors() == before


async def test_unknown_pricing_is_a_clear_error(gql, team):
    body = await gql.raw(CREATE, {"input": {"name": "Cheapo", "pricing": "CHEAP"}}, token=team.manager.token)
    assert "Pricing" in body["errors"][0]["message"] and "CHEAP" in body["errors"][0]["message"]
    with pytest.raises(ValidationFailed) as err:
        await competition.create_competitor(await scope_for(team.manager.user), {"name": "Cheapo", "pricing": "cheap"})
    assert [(e.field, e.code) for e in err.value.errors] == [("pricing", ErrorCode.INVALID)]
    assert "lower, competitive, higher" in err.value.errors[0].message
    assert await Competitor.all().count() == 0


async def test_boundary_market_shares_are_accepted(gql, team):
    for name, share in (("Zero", "0"), ("All", "1")):
        result = (await gql(CREATE, {"input": {"name": name, "marketShare": share}}, as_=team.manager))["createCompetitor"]
        assert result["errors"] == []


async def test_only_managers_and_admins_edit_competitors_and_battlecards(gql, team):
    rival = await competition.create_competitor(await scope_for(team.manager.user), {"name": "Rival"})
    body = await gql.raw(CREATE, {"input": {"name": "Mine"}}, token=team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql.raw(f"""mutation($c: ID!) {{ createBattleCard(input: {{competitorId: $c, title: "T"}}) {{ {ERR} }} }}""",
                         {"c": gid(rival)}, token=team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql.raw(f"""mutation($id: ID!) {{ deleteCompetitor(id: $id) {{ {ERR} }} }}""",
                         {"id": gid(rival)}, token=team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Competitor.all().count() == 1 and await BattleCard.all().count() == 0
    # Everyone reads them.
    listed = await gql("{ competitors { name } }", as_=team.rep)
    assert listed == {"competitors": [{"name": "Rival"}]}


CARD = f"""mutation($input: BattleCardInput!) {{ createBattleCard(input: $input) {{
    battlecard {{ id title summary proofPoints objectionHandling {{ objection response }} competitor {{ name }} }} {ERR} }} }}"""


async def test_battlecard_crud(gql, team):
    rival = await competition.create_competitor(await scope_for(team.manager.user), {"name": "Rival"})
    bad = (await gql(CARD, {"input": {"competitorId": global_id("Competitor", 999), "title": " ", "proofPoints": [""],
                                      "objectionHandling": [{"objection": "Too pricey", "response": " "}]}},
                     as_=team.manager))["createBattleCard"]
    assert bad["battlecard"] is None
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {
        ("competitorId", "NOT_FOUND"), ("title", "REQUIRED"), ("proofPoints", "REQUIRED"), ("objectionHandling", "REQUIRED")}
    assert await BattleCard.all().count() == 0

    ok = (await gql(CARD, {"input": {"competitorId": gid(rival), "title": "Beat Rival", "summary": "Service wins",
                                     "proofPoints": ["98.5% fill rate"],
                                     "objectionHandling": [{"objection": "Rival is cheaper", "response": "Compare landed cost"}]}},
                    as_=team.manager))["createBattleCard"]
    assert ok == {"battlecard": {"id": ok["battlecard"]["id"], "title": "Beat Rival", "summary": "Service wins",
                                 "proofPoints": ["98.5% fill rate"],
                                 "objectionHandling": [{"objection": "Rival is cheaper", "response": "Compare landed cost"}],
                                 "competitor": {"name": "Rival"}}, "errors": []}
    card_id = ok["battlecard"]["id"]
    updated = (await gql(f"""mutation($id: ID!) {{ updateBattleCard(id: $id, input: {{title: "Beat Rival on service"}}) {{
        battlecard {{ title summary }} {ERR} }} }}""", {"id": card_id}, as_=team.admin))["updateBattleCard"]
    assert updated == {"battlecard": {"title": "Beat Rival on service", "summary": "Service wins"}, "errors": []}
    listed = await gql("query($id: ID!) { competitor(id: $id) { battlecards { title } } }", {"id": gid(rival)}, as_=team.rep)
    assert listed == {"competitor": {"battlecards": [{"title": "Beat Rival on service"}]}}
    deleted = (await gql(f"""mutation($id: ID!) {{ deleteBattleCard(id: $id) {{ deletedId {ERR} }} }}""",
                         {"id": card_id}, as_=team.manager))["deleteBattleCard"]
    assert deleted == {"deletedId": card_id, "errors": []}
    missing = (await gql(f"""mutation($id: ID!) {{ deleteBattleCard(id: $id) {{ deletedId {ERR} }} }}""",
                         {"id": card_id}, as_=team.manager))["deleteBattleCard"]
    assert [(e["field"], e["code"]) for e in missing["errors"]] == [("id", "NOT_FOUND")]


async def test_delete_competitor_refused_while_on_opportunities(gql, team):
    scope = await scope_for(team.manager.user)
    rival = await competition.create_competitor(scope, {"name": "Rival"})
    await competition.create_battlecard(scope, {"competitor_id": rival.id, "title": "Card"})
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    await competition.add_opportunity_competitor(await scope_for(team.rep.user), opp.id, rival.id)
    mutation = f"""mutation($id: ID!) {{ deleteCompetitor(id: $id) {{ deletedId {ERR} }} }}"""
    refused = (await gql(mutation, {"id": gid(rival)}, as_=team.manager))["deleteCompetitor"]
    assert refused["deletedId"] is None and [e["code"] for e in refused["errors"]] == ["IN_USE"]
    await competition.remove_opportunity_competitor(await scope_for(team.rep.user), opp.id, rival.id)
    done = (await gql(mutation, {"id": gid(rival)}, as_=team.manager))["deleteCompetitor"]
    assert done == {"deletedId": gid(rival), "errors": []}
    assert await BattleCard.all().count() == 0


# Competitors on opportunities: battlecards come with them ----------------------------------

LINK = f"""mutation($o: ID!, $c: ID!) {{ addOpportunityCompetitor(opportunityId: $o, competitorId: $c) {{
    opportunity {{ competitors {{ name battlecards {{ title }} }} }} {ERR} }} }}"""
UNLINK = LINK.replace("addOpportunityCompetitor", "removeOpportunityCompetitor")
ANALYSIS = """query($o: ID!) { competitiveAnalysis(opportunityId: $o) {
    opportunity { name } winProbability recommendations
    competitors { name threatLevel threatScore baseThreatScore recordAdjustment threatFactors strengths weaknesses
                  positioning record { won lost closed winRate } battlecards { title competitor { name } } } } }"""


async def test_linking_a_competitor_attaches_its_battlecards(gql, team):
    scope = await scope_for(team.manager.user)
    rival = await competition.create_competitor(scope, {"name": "Rival", "pricing": "higher", "market_share": D("0.05")})
    for title in ("Beat Rival on service", "Rival's contract traps"):
        await competition.create_battlecard(scope, {"competitor_id": rival.id, "title": title})
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    o, c = gid(opp), gid(rival)

    before = (await gql(ANALYSIS, {"o": o}, as_=team.rep))["competitiveAnalysis"]
    assert before["competitors"] == [] and before["winProbability"] == 20

    linked = (await gql(LINK, {"o": o, "c": c}, as_=team.rep))["addOpportunityCompetitor"]
    titles = [{"title": "Beat Rival on service"}, {"title": "Rival's contract traps"}]
    assert linked == {"opportunity": {"competitors": [{"name": "Rival", "battlecards": titles}]}, "errors": []}
    analysis = (await gql(ANALYSIS, {"o": o}, as_=team.rep))["competitiveAnalysis"]
    [item] = analysis["competitors"]
    assert item["battlecards"] == [{**t, "competitor": {"name": "Rival"}} for t in titles]
    assert (item["threatLevel"], item["threatScore"]) == ("LOW", "1.0")

    again = (await gql(LINK, {"o": o, "c": c}, as_=team.rep))["addOpportunityCompetitor"]
    assert [(e["field"], e["code"]) for e in again["errors"]] == [("competitorId", "DUPLICATE")]
    unknown = (await gql(LINK, {"o": o, "c": global_id("Competitor", 4242)}, as_=team.rep))["addOpportunityCompetitor"]
    assert [(e["field"], e["code"]) for e in unknown["errors"]] == [("competitorId", "NOT_FOUND")]

    unlinked = (await gql(UNLINK, {"o": o, "c": c}, as_=team.rep))["removeOpportunityCompetitor"]
    assert unlinked == {"opportunity": {"competitors": []}, "errors": []}
    assert (await gql(ANALYSIS, {"o": o}, as_=team.rep))["competitiveAnalysis"]["competitors"] == []
    gone = (await gql(UNLINK, {"o": o, "c": c}, as_=team.rep))["removeOpportunityCompetitor"]
    assert [(e["field"], e["code"]) for e in gone["errors"]] == [("competitorId", "NOT_FOUND")]


async def test_an_opportunity_you_cannot_see_answers_like_a_missing_one(gql, team):
    rival = await competition.create_competitor(await scope_for(team.admin.user), {"name": "Rival"})
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    for o in (gid(opp), global_id("Opportunity", 999999)):
        result = (await gql(LINK, {"o": o, "c": gid(rival)}, as_=team.other_rep))["addOpportunityCompetitor"]
        assert result == {"opportunity": None, "errors": [
            {"field": "opportunityId", "message": "opportunity not found", "code": "NOT_FOUND"}]}
        assert (await gql(ANALYSIS, {"o": o}, as_=team.other_rep))["competitiveAnalysis"] is None
    assert await opp.competitors.all().count() == 0
    # The rep's manager sees it and may link.
    ok = (await gql(LINK, {"o": gid(opp), "c": gid(rival)}, as_=team.manager))["addOpportunityCompetitor"]
    assert ok["errors"] == []


# Analysis adjusted by our record -----------------------------------------------------------


async def _stages() -> dict[str, PipelineStage]:
    return {s.key: s for s in await PipelineStage.all()}


async def _close(opp: Opportunity, key: str, on: date, reason: str | None = None) -> None:
    stage = (await _stages())[key]
    await Opportunity.filter(id=opp.id).update(stage_id=stage.id, actual_close_date=on, lost_reason_key=reason,
                                               probability=stage.probability)


async def test_threat_is_adjusted_by_our_record_once_enough_deals_closed(gql, team):
    scope = await scope_for(team.manager.user)
    # 0.17 → 2, competitive → 1, three strengths → 1.5: 4.5, medium.
    rival = await competition.create_competitor(scope, {
        "name": "Sysco", "pricing": "competitive", "market_share": D("0.17"),
        "strengths": ["Broad catalogue", "Private label", "Online ordering"], "weaknesses": ["Small drops", "Rep churn"]})
    acct = await factories.account(team.rep.user)
    target = await factories.opportunity(team.rep.user, acct.id, "Target deal")
    await competition.add_opportunity_competitor(scope, target.id, rival.id)
    history = []
    for i in range(6):
        opp = await factories.opportunity(team.other_rep.user, (await factories.account(team.other_rep.user, f"A{i}")).id)
        await competition.add_opportunity_competitor(await scope_for(team.admin.user), opp.id, rival.id)
        history.append(opp)
    for opp in history[:4]:
        await _close(opp, "closed_lost", date(2026, 5, 1), "price")

    four = (await gql(ANALYSIS, {"o": gid(target)}, as_=team.rep))["competitiveAnalysis"]
    [item] = four["competitors"]
    assert (item["threatLevel"], item["threatScore"], item["recordAdjustment"]) == ("MEDIUM", "4.5", "0.0")
    assert item["record"] == {"won": 0, "lost": 4, "closed": 4, "winRate": "0.0000"}
    assert four["winProbability"] == 20 - 5

    await _close(history[4], "closed_won", date(2026, 5, 2))
    await _close(history[5], "closed_lost", date(2026, 5, 3), "price")
    six = (await gql(ANALYSIS, {"o": gid(target)}, as_=team.rep))["competitiveAnalysis"]
    [item] = six["competitors"]
    # 1 won of 6 closed = 17 % (< 25 %): +2 → 6.5, high.
    assert (item["threatLevel"], item["baseThreatScore"], item["recordAdjustment"], item["threatScore"]) == (
        "HIGH", "4.5", "2.0", "6.5")
    assert item["record"] == {"won": 1, "lost": 5, "closed": 6, "winRate": "0.1667"}
    assert item["threatFactors"][-1] == "we won 1 of 6 closed deals against them (17%): +2"
    assert item["strengths"] == ["Broad catalogue", "Private label", "Online ordering"]
    assert item["positioning"] == (
        "Prices are close: win on service (delivery windows, rep continuity, chef support). "
        "Press where they are weak: Small drops; Rep churn. "
        "Do not fight them on Broad catalogue; reframe it around the customer's priorities.")
    assert six["winProbability"] == 20 - 10
    assert six["recommendations"] == [
        "High threat from Sysco and no battlecard yet: ask a manager to write one.",
        "Early stage: shape the buying criteria around where Sysco is weak (Small drops).",
        "We win only 17% against Sysco (1 of 6 closed deals): read the lost reasons in the win/loss report "
        "before the next call.",
    ]


async def test_analysis_query_count_does_not_grow_with_competitors(gql, team, count_queries):
    scope = await scope_for(team.manager.user)
    acct = await factories.account(team.rep.user)
    one = await factories.opportunity(team.rep.user, acct.id, "One")
    many = await factories.opportunity(team.rep.user, acct.id, "Many")
    for i in range(4):
        rival = await competition.create_competitor(scope, {"name": f"Rival {i}"})
        await competition.create_battlecard(scope, {"competitor_id": rival.id, "title": f"Card {i}"})
        if i == 0:
            await competition.add_opportunity_competitor(scope, one.id, rival.id)
        await competition.add_opportunity_competitor(scope, many.id, rival.id)
    counts = []
    for opp in (one, many):
        count_queries.queries.clear()
        await gql(ANALYSIS, {"o": gid(opp)}, as_=team.rep)
        counts.append(len(count_queries.queries))
    assert counts[0] == counts[1], count_queries.queries


# Win/loss on a known data set -------------------------------------------------------------


@dataclass
class Deal:
    competitors: tuple[str, ...]
    owner: str          # "rep" or "other_rep"
    outcome: str        # "won", "lost" or "open"
    value: str
    closed: date | None = None
    created: datetime | None = None
    reason: str | None = None


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


Q3 = (date(2026, 7, 1), date(2026, 10, 1))
DATA = [
    Deal(("Sysco", "US Foods"), "rep", "won", "12000.50", closed=date(2026, 7, 1)),
    Deal(("Sysco",), "rep", "lost", "8000.25", closed=date(2026, 9, 30), reason="price"),
    Deal(("Sysco",), "other_rep", "lost", "3000.10", closed=date(2026, 8, 15), reason="price"),
    Deal(("Sysco", "Shamrock"), "rep", "lost", "999.99", closed=date(2026, 8, 1), reason="competitor"),
    Deal(("Sysco",), "rep", "lost", "1500.00", closed=date(2026, 8, 2), reason="service"),
    Deal(("Sysco",), "rep", "lost", "100.00", closed=date(2026, 8, 3), reason="price"),
    Deal(("Sysco",), "rep", "lost", "250.00", closed=date(2026, 8, 4), reason="product_fit"),
    Deal(("Sysco",), "rep", "lost", "75.00", closed=date(2026, 8, 5), reason="service"),
    Deal(("Sysco",), "rep", "lost", "60.00", closed=date(2026, 8, 6)),                     # no reason
    Deal(("Sysco",), "rep", "won", "5000.00", closed=date(2026, 6, 30)),                   # closed before Q3
    Deal(("Sysco",), "rep", "lost", "7000.00", closed=date(2026, 10, 1), reason="price"),  # closed after Q3
    Deal(("US Foods",), "rep", "open", "4000.00", created=utc(2026, 7, 1)),                # created on the first instant
    Deal(("US Foods",), "other_rep", "open", "4500.00", created=utc(2026, 9, 30, 23, 59, 59)),
    Deal(("US Foods",), "rep", "open", "4200.00", created=utc(2026, 6, 30, 23, 59, 59)),   # created before Q3
    Deal(("US Foods", "Shamrock"), "other_rep", "won", "20000.00", closed=date(2026, 9, 1)),
    Deal(("Shamrock",), "rep", "open", "1000.00", created=utc(2026, 10, 1)),               # created after Q3
]


def _in(day, start, end) -> bool:
    return day is not None and start <= day < end


REASON_NAMES = {r["key"]: r["name"] for r in DEFAULT_LOST_REASONS}


def expected_win_loss(deals: list[Deal], owners: set[str], competitors: set[str] | None = None) -> list[dict]:
    """The report computed in plain Python from the data set and the README's definitions."""
    rows: dict[str, dict] = {}
    for d in deals:
        if d.owner not in owners:
            continue
        closed_in = d.outcome in ("won", "lost") and _in(d.closed, *Q3)
        open_in = d.outcome == "open" and _in(d.created, utc(2026, 7, 1), utc(2026, 10, 1))
        if not (closed_in or open_in):
            continue
        for name in d.competitors:
            if competitors is not None and name not in competitors:
                continue
            r = rows.setdefault(name, {"name": name, "faced": 0, "open": 0, "won": 0, "lost": 0,
                                       "valueWon": D(0), "valueLost": D(0), "reasons": Counter()})
            r["faced"] += 1
            r[d.outcome] += 1
            if d.outcome == "won":
                r["valueWon"] += D(d.value)
            if d.outcome == "lost":
                r["valueLost"] += D(d.value)
                if d.reason:
                    r["reasons"][d.reason] += 1
    result = []
    for r in sorted(rows.values(), key=lambda r: (-r["faced"], r["name"])):
        closed = r["won"] + r["lost"]
        top = sorted(r.pop("reasons").items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        result.append({**r, "winRate": None if not closed else str((D(r["won"]) / closed).quantize(D("0.0001"))),
                       "valueWon": str(r["valueWon"].quantize(D("0.01"))),
                       "valueLost": str(r["valueLost"].quantize(D("0.01"))),
                       "topLostReasons": [{"reason": REASON_NAMES[k].lower(), "count": n} for k, n in top]})
    return result


WIN_LOSS = """query($t: String!, $f: CompetitorWinLossFilter) { competitorWinLoss(timeframe: $t, filter: $f) {
    name faced open won lost winRate valueWon valueLost topLostReasons { reason count } competitor { name } } }"""


async def _load(team, deals: list[Deal]) -> dict[str, Competitor]:
    admin = await scope_for(team.admin.user)
    names = sorted({n for d in deals for n in d.competitors})
    competitors = {n: await competition.create_competitor(admin, {"name": n}) for n in names}
    owners = {"rep": team.rep.user, "other_rep": team.other_rep.user}
    industries = {"rep": "restaurant", "other_rep": "hospital"}
    accounts = {k: await factories.account(u, f"Account of {k}", industry=industries[k]) for k, u in owners.items()}
    for i, d in enumerate(deals):
        opp = await factories.opportunity(owners[d.owner], accounts[d.owner].id, f"deal {i}", value=D(d.value))
        for name in d.competitors:
            await competition.add_opportunity_competitor(admin, opp.id, competitors[name].id)
        if d.outcome != "open":
            assert d.closed is not None  # a closed deal has its date
            await _close(opp, f"closed_{d.outcome}", d.closed, d.reason)
        await Opportunity.filter(id=opp.id).update(created_at=d.created or utc(2026, 1, 1))
    return competitors


def _normalise(rows: list[dict]) -> list[dict]:
    """Lost reasons by name, compared case-insensitively."""
    out = []
    for r in rows:
        assert r.pop("competitor") == {"name": r["name"]}
        out.append({**r, "topLostReasons": [{**x, "reason": x["reason"].lower()} for x in r["topLostReasons"]]})
    return out


async def test_win_loss_figures_on_a_known_data_set(gql, team):
    competitors = await _load(team, DATA)
    everyone = {"rep", "other_rep"}
    admin = _normalise((await gql(WIN_LOSS, {"t": "2026-Q3"}, as_=team.admin))["competitorWinLoss"])
    assert admin == expected_win_loss(DATA, everyone)
    # Spelled out once, to be sure the independent computation says what we think it says.
    sysco = admin[0]
    assert (sysco["name"], sysco["faced"], sysco["won"], sysco["lost"], sysco["winRate"]) == ("Sysco", 9, 1, 8, "0.1111")
    assert (sysco["valueWon"], sysco["valueLost"]) == ("12000.50", "13985.34")
    assert sysco["topLostReasons"] == [{"reason": "price", "count": 3}, {"reason": "service or delivery", "count": 2},
                                       {"reason": "went with a competitor", "count": 1}]
    us_foods = admin[1]
    assert (us_foods["faced"], us_foods["open"], us_foods["won"], us_foods["lost"], us_foods["winRate"]) == (4, 2, 2, 0, "1.0000")

    # Visibility: the rep sees their own deals only, the other rep's manager theirs.
    rep = _normalise((await gql(WIN_LOSS, {"t": "2026-Q3"}, as_=team.rep))["competitorWinLoss"])
    assert rep == expected_win_loss(DATA, {"rep"})
    other = _normalise((await gql(WIN_LOSS, {"t": "2026-Q3"}, as_=team.other_manager))["competitorWinLoss"])
    assert other == expected_win_loss(DATA, {"other_rep"})

    # Filters.
    only = {"competitorIds": [gid(competitors["Shamrock"])]}
    shamrock = _normalise((await gql(WIN_LOSS, {"t": "2026-Q3", "f": only}, as_=team.admin))["competitorWinLoss"])
    assert shamrock == expected_win_loss(DATA, everyone, {"Shamrock"})
    mine = {"assignedTo": [team.other_rep.id]}
    assert _normalise((await gql(WIN_LOSS, {"t": "2026-Q3", "f": mine}, as_=team.admin))["competitorWinLoss"]) == \
        expected_win_loss(DATA, {"other_rep"})
    hospitals = {"industry": ["HOSPITAL"]}
    assert _normalise((await gql(WIN_LOSS, {"t": "2026-Q3", "f": hospitals}, as_=team.admin))["competitorWinLoss"]) == \
        expected_win_loss(DATA, {"other_rep"})
    assert (await gql(WIN_LOSS, {"t": "2025-Q3"}, as_=team.admin))["competitorWinLoss"] == []


async def test_win_loss_takes_a_constant_number_of_queries(gql, team, count_queries):
    await ensure_default_lost_reasons()  # an installation has its picklist (migration 0014)
    await _load(team, DATA[:2])
    count_queries.queries.clear()
    await gql(WIN_LOSS, {"t": "2026-07-01..2026-09-30"}, as_=team.admin)
    few = len(count_queries.queries)
    await _load(team, [Deal((f"Extra {i}", f"More {i}"), "rep", "lost", "10.00", closed=date(2026, 8, 1), reason="other")
                       for i in range(5)])
    count_queries.queries.clear()
    rows = (await gql(WIN_LOSS, {"t": "2026-07-01..2026-09-30"}, as_=team.admin))["competitorWinLoss"]
    assert len(rows) == 12 and len(count_queries.queries) == few, count_queries.queries


async def test_bad_timeframe_is_a_clear_error(gql, team):
    body = await gql.raw(WIN_LOSS, {"t": "last_week"}, token=team.rep.token)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("timeframe: unknown timeframe 'last_week'")
    assert "this_quarter" in error["message"] and "2026-01-01..2026-03-31" in error["message"]
