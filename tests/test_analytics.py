"""pipelineReport and salesForecast against figures computed independently in plain Python.

Opportunities with a known history are written straight to the models (the services stamp the
present); `Deal` describes one and `expected_*` recompute every figure from the definitions in the
README, without SQL."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import pairwise

import pytest

from app.domain.analytics import PipelineFilters
from app.models import Account, Opportunity, OpportunityProduct, Pipeline, PipelineStage, StageTransition, User
from app.queries.visibility import scope_for
from app.services import forecasts
from app.services.pipelines import ensure_default_pipeline
from tests import factories
from tests.factories import gid

UTC = timezone.utc
CENT = Decimal("0.01")
Q3_START, Q3_END = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
OPEN = ("discovery", "qualification", "proposal", "negotiation")
RANK = {"discovery": 1, "qualification": 2, "proposal": 3, "negotiation": 4, "closed_won": 5, "closed_lost": 0}
KIND = {**{k: "open" for k in OPEN}, "closed_won": "won", "closed_lost": "lost"}

REPORT = """query($t: String!, $f: PipelineFilterInput, $i: TrendInterval) {
  pipelineReport(timeframe: $t, filters: $f, trendInterval: $i) {
    timeframe totalOpportunities totalValue weightedValue averageDealSize averageSalesCycle winRate wonCount lostCount
    stageDistribution { stage count value }
    conversionRates { fromStage toStage entered advanced rate }
    velocity { averageDaysToClose closedCount salesVelocity openOpportunities winRate averageWonDealSize
               averageSalesCycle stages { stage averageDays count } }
    trends { start end created createdValue won wonValue lost lostValue winRate } } }"""


def money(value) -> str:
    return str(Decimal(value).quantize(CENT, ROUND_HALF_UP))


@dataclass
class Deal:
    owner: User
    account: Account
    moves: list[tuple[str, datetime]]  # the first is the creation
    value: Decimal = Decimal("1000.00")
    probability: int | None = None
    source: str = "other"
    categories: tuple[str, ...] = ()
    expected_close: date = date(2026, 12, 15)
    id: int | None = None

    @property
    def created(self) -> datetime:
        return self.moves[0][1]

    @property
    def stage(self) -> str:
        return self.moves[-1][0]

    @property
    def kind(self) -> str:
        return KIND[self.stage]

    @property
    def close(self) -> date | None:
        return self.moves[-1][1].date() if self.kind != "open" else None

    @property
    def p(self) -> int:
        default = {"discovery": 20, "qualification": 40, "proposal": 60, "negotiation": 80, "closed_won": 100,
                   "closed_lost": 0}[self.stage]
        return default if self.probability is None or self.kind != "open" else self.probability


async def store(deals: list[Deal], products: dict | None = None) -> None:
    pipeline = await ensure_default_pipeline()
    stage_ids = dict(await PipelineStage.filter(pipeline=pipeline).values_list("key", "id"))
    for d in deals:
        opp = await Opportunity.create(
            name=f"Deal {len(d.moves)}", account_id=d.account.id, pipeline=pipeline, stage_id=stage_ids[d.stage],
            stage_entered_at=d.moves[-1][1], probability=d.p, value=d.value, expected_close_date=d.expected_close,
            actual_close_date=d.close, source=d.source, assigned_to_id=d.owner.id, created_at=d.created)
        d.id = opp.id
        previous = None
        for stage, at in d.moves:
            await StageTransition.create(opportunity=opp, from_stage_id=previous, to_stage_id=stage_ids[stage], at=at,
                                         amount_after=d.value, probability_after=d.p)
            previous = stage_ids[stage]
        for category in d.categories:
            assert products is not None  # deals with categories come with the products
            product = products[category]
            await OpportunityProduct.create(opportunity=opp, product=product, quantity=1, unit_price=d.value,
                                            total_price=d.value / len(d.categories))


# The reference implementation ---------------------------------------------------------------


def expected_report(deals: list[Deal], start: datetime, end: datetime, weekly: bool = True) -> dict:
    first_day, end_day = start.date(), end.date()
    population = [d for d in deals if d.created < end and (d.kind == "open" or (d.close is not None and d.close >= first_day))]
    closed = [d for d in population if d.close is not None and first_day <= d.close < end_day]
    won = [d for d in closed if d.kind == "won"]
    lost = [d for d in closed if d.kind == "lost"]
    open_deals = [d for d in population if d.kind == "open"]
    cycle = lambda d: (d.close - d.created.astimezone(UTC).date()).days  # noqa: E731
    total = sum((d.value for d in population), Decimal(0))
    won_value = sum((d.value for d in won), Decimal(0))

    def avg(values, digits=4):
        return round(sum(values) / len(values), digits) if values else None

    win_rate = len(won) / len(closed) if closed else None
    velocity = None
    if closed and won and sum(cycle(d) for d in won):
        exact = (Fraction(len(open_deals)) * Fraction(len(won), len(closed)) * (Fraction(won_value) / len(won))
                 / (Fraction(sum(cycle(d) for d in won)) / len(won)))
        velocity = money(Decimal(exact.numerator) / Decimal(exact.denominator))

    conversions, stays = [], []
    chain = list(OPEN) + ["closed_won"]
    for current, following in pairwise(chain):
        entered = advanced = 0
        for d in deals:
            entries = [at for stage, at in d.moves if stage == current and start <= at < end]
            if not entries:
                continue
            entered += 1
            advanced += any(at > min(entries) and RANK[stage] > RANK[current] for stage, at in d.moves)
        conversions.append({"fromStage": current, "toStage": following, "entered": entered, "advanced": advanced,
                            "rate": advanced / entered if entered else None})
    for stage_key in OPEN:
        durations = [(d.moves[i + 1][1] - at).total_seconds() / 86400 for d in deals
                     for i, (stage, at) in enumerate(d.moves[:-1]) if stage == stage_key and start <= at < end]
        stays.append({"stage": stage_key, "averageDays": avg(durations), "count": len(durations)})

    buckets = []
    step = timedelta(days=7)
    key = first_day - timedelta(days=first_day.weekday()) if weekly else first_day.replace(day=1)
    while key < end_day:
        next_key = key + step if weekly else date(key.year + key.month // 12, key.month % 12 + 1, 1)
        lo, hi = max(key, first_day), min(next_key, end_day)
        made = [d for d in deals if lo <= d.created.date() < hi and start <= d.created < end]
        w = [d for d in won if d.close is not None and lo <= d.close < hi]
        lo_ = [d for d in lost if d.close is not None and lo <= d.close < hi]
        buckets.append({"start": lo.isoformat(), "end": hi.isoformat(), "created": len(made),
                        "createdValue": money(sum((d.value for d in made), Decimal(0))), "won": len(w),
                        "wonValue": money(sum((d.value for d in w), Decimal(0))), "lost": len(lo_),
                        "lostValue": money(sum((d.value for d in lo_), Decimal(0))),
                        "winRate": len(w) / (len(w) + len(lo_)) if w or lo_ else None})
        key = next_key

    return {
        "totalOpportunities": len(population),
        "totalValue": money(total),
        "weightedValue": money(sum((d.value * d.p for d in population), Decimal(0)) / 100),
        "averageDealSize": money(total / len(population)) if population else None,
        "averageSalesCycle": avg([cycle(d) for d in won]),
        "winRate": win_rate, "wonCount": len(won), "lostCount": len(lost),
        "stageDistribution": [{"stage": s, "count": sum(d.stage == s for d in population),
                               "value": money(sum((d.value for d in population if d.stage == s), Decimal(0)))}
                              for s in chain + ["closed_lost"]],
        "conversionRates": conversions,
        "velocity": {
            "averageDaysToClose": avg([cycle(d) for d in closed]), "closedCount": len(closed),
            "salesVelocity": velocity, "openOpportunities": len(open_deals), "winRate": win_rate,
            "averageWonDealSize": money(won_value / len(won)) if won else None,
            "averageSalesCycle": avg([cycle(d) for d in won]), "stages": stays,
        },
        "trends": buckets,
    }


def assert_report(actual: dict, expected: dict) -> None:
    for name, value in expected.items():
        if name == "velocity":
            stages = actual["velocity"].pop("stages")
            exp_stages = value.pop("stages")
            assert actual["velocity"] == pytest.approx(value), name
            for got, want in zip(stages, exp_stages, strict=True):
                assert got["stage"] == want["stage"] and got["count"] == want["count"]
                assert got["averageDays"] == pytest.approx(want["averageDays"], abs=1e-3)
        elif name in ("conversionRates", "trends", "stageDistribution"):
            assert actual[name] == [pytest.approx(v) for v in value], name
        else:
            assert actual[name] == pytest.approx(value), name


def random_deals(rng: random.Random, owners, accounts, count: int) -> list[Deal]:
    """Random walks through the pipeline: forward, skipping, backwards, won and lost."""
    deals = []
    for _ in range(count):
        at = datetime(2026, 5, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 200 * 24 * 60))
        stage = rng.choice(["discovery"] * 4 + ["qualification", "proposal"])
        moves = [(stage, at)]
        for _ in range(rng.randrange(0, 6)):
            at += timedelta(minutes=rng.randrange(60, 30 * 24 * 60))
            i = OPEN.index(stage)
            roll = rng.random()
            if roll < 0.15:
                stage = "closed_lost"
            elif roll < 0.27:
                stage = "closed_won"
            elif roll < 0.4 and i > 0:
                stage = OPEN[i - 1]  # backwards
            elif roll < 0.55 and i < 2:
                stage = OPEN[i + 2]  # skips a stage
            elif i < 3:
                stage = OPEN[i + 1]
            else:
                stage = "closed_won"
            moves.append((stage, at))
            if KIND[stage] != "open":
                break
        deals.append(Deal(rng.choice(owners), rng.choice(accounts), moves,
                          value=Decimal(rng.randrange(10_000, 2_000_000)) / 100,
                          probability=rng.choice([None, None, 35, 90]),
                          source=rng.choice(["referral", "trade_show", "website"])))
    return deals


@pytest.fixture
async def world(team):
    strategic = await factories.account(team.rep.user, "Harbor Grill", tier="strategic", industry="hotel")
    basic = await factories.account(team.manager.user, "Corner Cafe", tier="basic", industry="restaurant")
    other = await factories.account(team.other_rep.user, "Seaside Catering", tier="key", industry="catering")
    products = {"produce": await factories.product(team.admin.user, "POT-1"),
                "dairy": await factories.product(team.admin.user, "MILK-1", category="dairy")}
    rng = random.Random(6)
    deals = random_deals(rng, [team.rep.user], [strategic], 14)
    deals += random_deals(rng, [team.manager.user], [basic], 8)
    deals += random_deals(rng, [team.other_rep.user], [other], 10)
    for i, d in enumerate(deals):
        d.categories = (("produce",), ("dairy",), ("produce", "dairy"), ())[i % 4]
    await store(deals, products)
    return deals, {"strategic": strategic, "basic": basic, "other": other}


async def report(gql, actor, timeframe="2026-Q3", filters=None, interval=None) -> dict:
    return (await gql(REPORT, {"t": timeframe, "f": filters, "i": interval}, as_=actor))["pipelineReport"]


async def test_report_matches_the_reference_for_admin(gql, team, world):
    deals, _ = world
    actual = await report(gql, team.admin)
    assert actual.pop("timeframe") == "2026-Q3"
    assert_report(actual, expected_report(deals, Q3_START, Q3_END))
    monthly = await report(gql, team.admin, interval="MONTH")
    assert monthly["trends"] == [pytest.approx(b) for b in expected_report(deals, Q3_START, Q3_END, weekly=False)["trends"]]
    assert len(monthly["trends"]) == 3


async def test_report_sees_only_what_the_caller_may_see(gql, team, world):
    deals, _ = world
    mine = [d for d in deals if d.owner.id == team.rep.user.id]
    assert_report(await report(gql, team.rep), expected_report(mine, Q3_START, Q3_END))
    managed = [d for d in deals if d.owner.id in (team.rep.user.id, team.manager.user.id)]
    assert_report(await report(gql, team.manager), expected_report(managed, Q3_START, Q3_END))
    # a filter cannot widen the scope: the other team's rep through the team filter gives nothing to a rep
    empty = await report(gql, team.rep, filters={"team": team.other_manager.id})
    assert empty["totalOpportunities"] == 0 and empty["averageDealSize"] is None


async def test_filters(gql, team, world):
    deals, accounts = world
    cases = {
        "team": ({"team": team.manager.id}, lambda d: d.owner.id in (team.rep.user.id, team.manager.user.id)),
        "tier": ({"tier": ["STRATEGIC", "KEY"]}, lambda d: d.account.tier in ("strategic", "key")),
        "industry": ({"industry": ["RESTAURANT"]}, lambda d: d.account.industry == "restaurant"),
        "source": ({"source": ["REFERRAL"]}, lambda d: d.source == "referral"),
        "product": ({"productCategory": ["DAIRY"]}, lambda d: "dairy" in d.categories),
        "value": ({"valueMin": "5000", "valueMax": "15000.50"}, lambda d: Decimal(5000) <= d.value <= Decimal("15000.50")),
        "account": ({"accountId": gid(accounts["basic"])}, lambda d: d.account.id == accounts["basic"].id),
        "assigned": ({"assignedTo": [team.other_rep.id]}, lambda d: d.owner.id == team.other_rep.user.id),
        "combined": ({"source": ["WEBSITE", "REFERRAL"], "productCategory": ["PRODUCE"], "valueMin": "1000"},
                     lambda d: d.source in ("website", "referral") and "produce" in d.categories and d.value >= 1000),
    }
    for name, (filters, keep) in cases.items():
        subset = [d for d in deals if keep(d)]
        assert subset and len(subset) < len(deals), name
        assert_report(await report(gql, team.admin, filters=filters), expected_report(subset, Q3_START, Q3_END))


async def test_empty_pipeline(gql, team):
    r = await report(gql, team.rep, "last_30_days")
    assert (r["totalOpportunities"], r["totalValue"], r["weightedValue"], r["averageDealSize"]) == (0, "0.00", "0.00", None)
    assert r["averageSalesCycle"] is None and r["winRate"] is None
    assert [c["rate"] for c in r["conversionRates"]] == [None] * 4
    assert r["velocity"]["salesVelocity"] is None and r["velocity"]["averageDaysToClose"] is None
    assert all(s == {"stage": s["stage"], "averageDays": None, "count": 0} for s in r["velocity"]["stages"])
    assert len(r["trends"]) in (5, 6) and all(b["created"] == 0 and b["winRate"] is None for b in r["trends"])


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 7, day, hour, tzinfo=UTC)


async def test_skipping_and_moving_backwards(gql, team):
    acct = await factories.account(team.rep.user)
    rep, a = team.rep.user, acct
    deals = [
        # skips qualification and proposal: discovery counts as advanced; nobody entered the skipped stages
        Deal(rep, a, [("discovery", at(1)), ("negotiation", at(3)), ("closed_won", at(11))], Decimal("3000.00")),
        # backwards: proposal → qualification → proposal, then lost
        Deal(rep, a, [("qualification", at(2)), ("proposal", at(4)), ("qualification", at(6)), ("proposal", at(9)),
                      ("closed_lost", at(20))], Decimal("1000.00")),
        # still in discovery
        Deal(rep, a, [("discovery", at(5))], Decimal("500.00")),
    ]
    await store(deals)
    r = await report(gql, team.rep)
    assert r["conversionRates"] == [
        {"fromStage": "discovery", "toStage": "qualification", "entered": 2, "advanced": 1, "rate": 0.5},
        {"fromStage": "qualification", "toStage": "proposal", "entered": 1, "advanced": 1, "rate": 1.0},
        {"fromStage": "proposal", "toStage": "negotiation", "entered": 1, "advanced": 0, "rate": 0.0},
        {"fromStage": "negotiation", "toStage": "closed_won", "entered": 1, "advanced": 1, "rate": 1.0},
    ]
    stays = {s["stage"]: s for s in r["velocity"]["stages"]}
    assert stays["discovery"] == {"stage": "discovery", "averageDays": 2.0, "count": 1}  # the open stay is not counted
    assert stays["qualification"] == {"stage": "qualification", "averageDays": 2.5, "count": 2}  # 2 days and 3 days
    assert stays["proposal"] == {"stage": "proposal", "averageDays": 6.5, "count": 2}  # 2 days and 11 days
    assert stays["negotiation"] == {"stage": "negotiation", "averageDays": 8.0, "count": 1}
    # won 10 days after creation, lost 18 days after; 1 open × ½ × 3000 ÷ 10 days
    assert (r["winRate"], r["averageSalesCycle"], r["velocity"]["averageDaysToClose"]) == (0.5, 10.0, 14.0)
    assert r["velocity"]["salesVelocity"] == "150.00"
    assert_report(r, expected_report(deals, Q3_START, Q3_END))


async def test_all_lost(gql, team):
    acct = await factories.account(team.rep.user)
    deals = [Deal(team.rep.user, acct, [("discovery", at(d)), ("closed_lost", at(d + 5))]) for d in (1, 2, 3)]
    await store(deals)
    r = await report(gql, team.rep)
    assert (r["winRate"], r["wonCount"], r["lostCount"], r["averageSalesCycle"]) == (0.0, 0, 3, None)
    assert r["weightedValue"] == "0.00" and r["velocity"]["salesVelocity"] is None
    assert r["conversionRates"][0] == {"fromStage": "discovery", "toStage": "qualification", "entered": 3,
                                       "advanced": 0, "rate": 0.0}
    assert r["velocity"]["stages"][0] == {"stage": "discovery", "averageDays": 5.0, "count": 3}


async def test_single_stage_pipeline(gql, team):
    """A pipeline with one open stage (plus won and lost): one conversion step, straight to won."""
    pipeline = await Pipeline.create(name="Renewals")
    for key, order, kind, p in (("renewal", 1, "open", 50), ("renewed", 2, "won", 100), ("churned", 3, "lost", 0)):
        await PipelineStage.create(pipeline=pipeline, key=key, name=key.title(), order=order, kind=kind, probability=p)
    ids = dict(await PipelineStage.filter(pipeline=pipeline).values_list("key", "id"))
    acct = await factories.account(team.rep.user)
    for i, final in enumerate(("renewal", "renewed", "renewed", "churned")):
        opp = await Opportunity.create(
            name=f"R{i}", account=acct, pipeline=pipeline, stage_id=ids[final], stage_entered_at=at(10), probability=50,
            value=Decimal("100.00"), expected_close_date=date(2026, 9, 1), assigned_to=team.rep.user,
            actual_close_date=date(2026, 7, 10) if final != "renewal" else None, created_at=at(1))
        await StageTransition.create(opportunity=opp, to_stage_id=ids["renewal"], at=at(1), amount_after=100,
                                     probability_after=50)
        if final != "renewal":
            await StageTransition.create(opportunity=opp, from_stage_id=ids["renewal"], to_stage_id=ids[final],
                                         at=at(10), amount_after=100, probability_after=50)
    r = await report(gql, team.rep, filters={"pipelineId": gid(pipeline)})
    assert r["conversionRates"] == [{"fromStage": "renewal", "toStage": "renewed", "entered": 4, "advanced": 2,
                                     "rate": 0.5}]
    assert [(s["stage"], s["count"]) for s in r["stageDistribution"]] == [("renewal", 1), ("renewed", 2), ("churned", 1)]
    assert r["velocity"]["stages"] == [{"stage": "renewal", "averageDays": 9.0, "count": 3}]
    # the default pipeline is empty
    assert (await report(gql, team.rep))["totalOpportunities"] == 0


async def test_bad_input_is_a_typed_error_naming_the_accepted_forms(gql, team):
    body = await gql.raw(REPORT, {"t": "last_quarter"}, team.rep.token)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "this_quarter" in error["message"]
    body = await gql.raw(REPORT, {"t": "2026-Q3", "f": {"valueMin": "-5"}}, team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "valueMin" in body["errors"][0]["message"]
    body = await gql.raw(REPORT, {"t": "2026-Q3", "f": {"pipelineId": "999"}}, team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql.raw(FORECAST, {"p": "2026-W48"}, team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "next_quarter" in body["errors"][0]["message"]
    body = await gql.raw(FORECAST, {"p": "this_quarter", "m": "GUESS"}, team.rep.token)
    assert "ForecastMethod" in body["errors"][0]["message"]
    assert (await gql.raw(REPORT, {"t": "2026-Q3"}))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# Forecasts -------------------------------------------------------------------------------

FORECAST = """query($p: String!, $m: ForecastMethod, $f: PipelineFilterInput) {
  salesForecast(period: $p, method: $m, filters: $f) {
    period firstDay lastDay method totalForecast bestCase worstCase confidence methodology assumptions
    byRep { userId user { email } closedWon weighted total openDeals }
    byProduct { category closedWon weighted total deals }
    byCategory { category deals value weighted }
    pipeline { total closedWon weighted bestCase worstCase openDeals confidence }
    historical { model monthsUsed total trendAdjustment seasonalAdjustment }
    simulation { runs seed p10 p50 p90 mean intervalLow intervalHigh } } }"""

NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)
TODAY = NOW.date()


def weight(expected: date, first: date, end: date) -> Decimal:
    """The documented time weight, restated."""
    if expected >= end:
        return Decimal(0)
    if expected < TODAY:
        return Decimal("0.5") if first <= TODAY < end else Decimal(0)
    return Decimal(1) if expected >= first else Decimal(0)


def closed_at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=15)


@pytest.fixture
async def forecast_world(team):
    acct = await factories.account(team.rep.user)
    other = await factories.account(team.other_rep.user, "Seaside")
    products = {"produce": await factories.product(team.admin.user, "POT-1"),
                "dairy": await factories.product(team.admin.user, "MILK-1", category="dairy")}
    created = datetime(2026, 6, 1, tzinfo=UTC)

    def open_deal(owner, account, stage, value, expected, probability=None, categories=()):
        return Deal(owner, account, [("discovery", created)] + ([(stage, created + timedelta(days=3))] if stage != "discovery" else []),
                    Decimal(value), probability, expected_close=expected, categories=categories)

    def won(owner, account, day, value, categories=()):
        return Deal(owner, account, [("discovery", created), ("closed_won", closed_at(day))], Decimal(value),
                    categories=categories)

    rep, other_rep = team.rep.user, team.other_rep.user
    deals = [
        won(rep, acct, date(2026, 10, 10), "4000.00", ("produce",)),  # booked in Q4
        won(other_rep, other, date(2026, 11, 2), "6000.00"),  # booked in Q4
        Deal(rep, acct, [("discovery", created), ("closed_lost", closed_at(date(2026, 11, 3)))], Decimal("9999")),
        open_deal(rep, acct, "negotiation", "10000.00", date(2026, 12, 10), categories=("produce", "dairy")),  # w 1
        open_deal(rep, acct, "proposal", "8000.00", date(2026, 11, 1)),  # overdue: ½
        open_deal(other_rep, other, "qualification", "5000.00", date(2027, 2, 1), categories=("dairy",)),  # Q1
        open_deal(other_rep, other, "discovery", "20000.00", date(2025, 12, 1), probability=95),  # long overdue: ½
        open_deal(rep, acct, "negotiation", "7000.00", date(2027, 5, 1)),  # after both quarters
        # history: July 2000, August 0, September 4000, October (in Q4) 4000
        won(rep, acct, date(2026, 7, 20), "2000.00"),
        won(other_rep, other, date(2026, 9, 5), "1500.00"),
        won(other_rep, other, date(2026, 9, 25), "2500.00"),
    ]
    await store(deals, products)
    return deals


def expected_pipeline(deals: list[Deal], first: date, end: date) -> dict:
    booked = [d for d in deals if d.kind == "won" and d.close is not None and first <= d.close < end]
    counted = [(d, weight(d.expected_close, first, end)) for d in deals if d.kind == "open"]
    counted = [(d, w) for d, w in counted if w > 0]
    b = sum((d.value for d in booked), Decimal(0))

    def total(prob):
        return b + sum((d.value * prob(d.p) * w for d, w in counted), Decimal(0)) / 100

    return {"booked": b, "total": total(lambda p: p), "best": total(lambda p: min(100, p + 20)),
            "worst": total(lambda p: max(0, p - 20)), "open": len(counted), "counted": counted, "won": booked}


async def test_pipeline_forecast_matches_the_reference(team, forecast_world):
    deals = forecast_world
    admin = await scope_for(team.admin.user)
    f = await forecasts.sales_forecast(admin, "this_quarter", "pipeline", now=NOW)
    exp = expected_pipeline(deals, date(2026, 10, 1), date(2027, 1, 1))
    assert f.period.label == "2026-Q4"
    assert (f.estimate.total, f.estimate.best, f.estimate.worst) == tuple(
        Decimal(money(exp[k])) for k in ("total", "best", "worst"))
    assert f.pipeline_figures.open_deals == exp["open"] == 3
    # rep by rep
    for r in f.by_rep:
        mine = [(d, w) for d, w in exp["counted"] if d.owner.id == r.user_id]
        won = sum((d.value for d in exp["won"] if d.owner.id == r.user_id), Decimal(0))
        assert r.closed_won == won
        # Rounded so that the parts add up (below): within a cent of rounding each rep on its own.
        assert abs(r.weighted - Decimal(money(sum((d.value * d.p * w for d, w in mine), Decimal(0)) / 100))) <= CENT
        assert r.open_deals == len(mine)
        assert r.worst_case <= r.total <= r.best_case and r.worst_case >= r.closed_won
    assert {r.user_id for r in f.by_rep} == {team.rep.user.id, team.other_rep.user.id}
    # The reps' parts add up to the pipeline method's figures, closed-won included in all three.
    assert sum(r.total for r in f.by_rep) == f.estimate.total
    assert sum(r.best_case for r in f.by_rep) == f.estimate.best
    assert sum(r.worst_case for r in f.by_rep) == f.estimate.worst
    # product categories: lines split the value evenly in this data set
    by_product = {p.category: p for p in f.by_product}
    produce = Decimal("4000") + Decimal("5000") * 80 / 100
    assert by_product["produce"].total == Decimal(money(produce))
    assert by_product["dairy"].total == Decimal(money(Decimal("5000") * 80 / 100))
    assert by_product[None].total == Decimal(money(Decimal("6000") + (Decimal("8000") * 60 + Decimal("20000") * 95) / 200))
    categories = {c.category.value: c for c in f.by_category}
    assert categories["closed"].value == Decimal("10000.00") and categories["commit"].deals == 1
    assert categories["best_case"].weighted == Decimal("2400.00") and categories["pipeline"].weighted == Decimal("9500.00")
    # the simulation is centred on the forecast and reproducible
    s = f.simulation
    assert s.p10 <= s.p50 <= s.p90 and abs(s.mean - f.estimate.total) < Decimal("0.02") * f.estimate.total
    again = await forecasts.sales_forecast(admin, "2026-Q4", "pipeline", now=NOW)
    assert again.simulation == s and again.estimate.confidence == f.estimate.confidence
    assert 0 < f.estimate.confidence < 1


async def test_historical_and_hybrid(team, forecast_world):
    admin = await scope_for(team.admin.user)
    q4 = await forecasts.sales_forecast(admin, "2026-Q4", "historical", now=NOW)
    # months before the period: July 2000, August 0, September 4000 → the mean, three months of it
    assert (q4.historical.model, q4.historical.months_used) == ("mean", 3)
    assert q4.estimate.total == Decimal("6000.00")
    q1 = await forecasts.sales_forecast(admin, "next_quarter", "historical", now=NOW)
    # next quarter: every complete month before the current one, October included
    assert (q1.period.label, q1.historical.months_used, q1.estimate.total) == ("2027-Q1", 4, Decimal("7500.00"))
    hybrid = await forecasts.sales_forecast(admin, "2026-Q4", now=NOW)
    assert hybrid.method.value == "hybrid"
    assert hybrid.estimate.total == Decimal(money(hybrid.pipeline.total * Decimal("0.6") + Decimal("6000") * Decimal("0.4")))
    assert hybrid.estimate.confidence == round(0.6 * hybrid.pipeline.confidence + 0.4 * q4.historical.estimate.confidence, 4)
    # visibility: the rep's forecast only holds the rep's deals and history
    rep = await forecasts.sales_forecast(await scope_for(team.rep.user), "2026-Q4", "historical", now=NOW)
    assert rep.historical.months_used == 3 and rep.estimate.total == Decimal("2000.00")  # (2000 + 0 + 0) ÷ 3 × 3
    filtered = await forecasts.sales_forecast(admin, "2026-Q4", "pipeline", PipelineFilters(assigned_to=(team.rep.user.id,)),
                                              now=NOW)
    assert {r.user_id for r in filtered.by_rep} == {team.rep.user.id}


async def test_sales_forecast_through_graphql(gql, team, forecast_world):
    data = (await gql(FORECAST, {"p": "next_quarter", "m": "PIPELINE"}, as_=team.admin))["salesForecast"]
    assert data["method"] == "PIPELINE" and data["period"] == data["firstDay"][:4] + "-Q" + str(
        (int(data["firstDay"][5:7]) - 1) // 3 + 1)
    assert data["totalForecast"] == data["pipeline"]["total"] and data["simulation"]["runs"] == 10_000
    assert data["methodology"].startswith("pipeline") and any("Monte Carlo" in a for a in data["assumptions"])
    assert Decimal(data["worstCase"]) <= Decimal(data["totalForecast"]) <= Decimal(data["bestCase"])
    emails = {r["user"]["email"] for r in data["byRep"]}
    assert emails <= {"rep@pantry.test", "other.rep@pantry.test"}
    rep_view = (await gql(FORECAST, {"p": "next_quarter"}, as_=team.rep))["salesForecast"]
    assert {r["user"]["email"] for r in rep_view["byRep"]} <= {"rep@pantry.test"}
    assert rep_view["method"] == "HYBRID" and rep_view["historical"]["model"] in ("none", "mean")


async def test_report_forecast_is_the_current_quarter_with_the_report_filters(gql, team, forecast_world):
    q = """query($f: PipelineFilterInput) { pipelineReport(timeframe: "this_month", filters: $f) {
      forecast { period method totalForecast } } }"""
    f = {"assignedTo": [team.rep.id]}
    data = (await gql(q, {"f": f}, as_=team.admin))["pipelineReport"]["forecast"]
    direct = (await gql(FORECAST, {"p": "this_quarter", "f": f}, as_=team.admin))["salesForecast"]
    assert data == {"period": direct["period"], "method": "HYBRID", "totalForecast": direct["totalForecast"]}


BY_REP = """query($t: String!) { pipelineReport(timeframe: $t) {
  totalOpportunities totalValue weightedValue wonCount lostCount openOpportunities
  byRep { userId user { email } totalOpportunities totalValue weightedValue averageDealSize averageSalesCycle
          winRate wonCount lostCount openOpportunities stageDistribution { stage count value } } } }"""


async def test_by_rep_gives_each_owner_s_report_in_one_request_and_adds_up(gql, team, world, count_queries):
    deals, _ = world
    count_queries.queries.clear()
    got = (await gql(BY_REP, {"t": "2026-Q3"}, as_=team.manager))["pipelineReport"]
    assert len([q for q in count_queries.queries if "GROUP BY" in q]) == 2  # the totals and the totals per owner
    owners = {team.rep.id: team.rep.user, team.manager.id: team.manager.user}
    assert {r["userId"] for r in got["byRep"]} == set(owners)  # the manager's team only
    values = [Decimal(r["totalValue"]) for r in got["byRep"]]
    assert values == sorted(values, reverse=True)
    for part in got["byRep"]:
        row = dict(part)
        owner = owners[row["userId"]]
        assert row.pop("userId") and row.pop("user") == {"email": owner.email}
        expected = expected_report([d for d in deals if d.owner.id == owner.id], Q3_START, Q3_END)
        assert row["openOpportunities"] == sum(s["count"] for s in expected["stageDistribution"]
                                               if s["stage"] not in ("closed_won", "closed_lost"))
        row.pop("openOpportunities")
        assert_report(row, {k: expected[k] for k in row})
    for figure in ("totalOpportunities", "wonCount", "lostCount", "openOpportunities"):
        assert got[figure] == sum(r[figure] for r in got["byRep"]), figure
    for figure in ("totalValue", "weightedValue"):
        assert Decimal(got[figure]) == sum(Decimal(r[figure]) for r in got["byRep"]), figure


async def test_only_the_selected_parts_are_computed_and_fragments_count(gql, team, count_queries):
    acct = await factories.account(team.rep.user)
    await store([Deal(team.rep.user, acct, [("discovery", at(1)), ("closed_won", at(4))], Decimal("700.00"))])
    q = """query { pipelineReport(timeframe: "2026-Q3") { ...Totals ... on PipelineAnalytics { winRate } } }
           fragment Totals on PipelineAnalytics { totalValue stageDistribution { stage count } }"""
    count_queries.queries.clear()
    data = (await gql(q, as_=team.rep))["pipelineReport"]
    assert (data["totalValue"], data["winRate"]) == ("700.00", 1.0)
    analytics_sql = [s for s in count_queries.queries if "stage_transitions" in s or "UNION ALL" in s]
    assert analytics_sql == []  # neither the cohort nor the trend query ran


async def test_forecast_of_nothing(gql, team):
    data = (await gql(FORECAST, {"p": "this_quarter"}, as_=team.rep))["salesForecast"]
    assert (data["totalForecast"], data["bestCase"], data["worstCase"], data["confidence"]) == ("0.00", "0.00", "0.00", 0.0)
    assert data["historical"]["model"] == "none" and data["pipeline"]["openDeals"] == 0
    assert data["byRep"] == [] and data["byProduct"] == [] and data["byCategory"] == []
    assert data["simulation"]["p90"] == "0.00" and any("no closed-won history" in a for a in data["assumptions"])
