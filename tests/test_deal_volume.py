"""A deal's value is typed (MANUAL) or follows its product lines (PRODUCTS), never silently replaced;
food-service lines are supply contracts (units per week for so many weeks) with weekly volumes and
annualised values on deals, accounts and the forecast."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from app.domain.enums import StageKind
from app.domain.opportunities import line_total
from app.models import Opportunity, OpportunityProduct, PipelineStage
from app.queries.visibility import scope_for
from app.services import forecasts
from app.services.pipelines import ensure_default_pipeline
from tests import factories
from tests.factories import gid, pk

DEAL = "{ value valueSource annualizedValue weeklyVolume { unit quantity } version }"
CREATE = f"""mutation($in: CreateOpportunityInput!) {{ createOpportunity(input: $in) {{
  opportunity {{ id {DEAL[2:-2]} }} errors {{ field code message }} }} }}"""
UPDATE = f"""mutation($id: ID!, $in: UpdateOpportunityInput!) {{ updateOpportunity(id: $id, input: $in) {{
  opportunity {DEAL} errors {{ field code message }} }} }}"""
LINE = "{ id quantity contractWeeks weeklyQuantity totalPrice annualizedValue }"
ADD = f"""mutation($in: AddOpportunityProductInput!) {{ addOpportunityProduct(input: $in) {{
  opportunityProduct {LINE} opportunity {DEAL} valueChanged errors {{ field code }} }} }}"""
EDIT = f"""mutation($id: ID!, $in: UpdateOpportunityProductInput!) {{ updateOpportunityProduct(id: $id, input: $in) {{
  opportunityProduct {LINE} opportunity {DEAL} valueChanged errors {{ field code }} }} }}"""
READ = f"query($id: ID!) {{ opportunity(id: $id) {{ {DEAL[2:-2]} products {LINE} }} }}"


async def _create(gql, actor, account, **fields) -> dict:
    made = (await gql(CREATE, {"in": {"name": "Weekly produce", "accountId": gid(account),
                                      "expectedCloseDate": str(date.today() + timedelta(days=30)), **fields}},
                      as_=actor))["createOpportunity"]
    assert made["errors"] == []
    return made["opportunity"]


async def _add(gql, actor, deal_id: str, product, quantity: str, **fields) -> dict:
    return (await gql(ADD, {"in": {"opportunityId": deal_id, "productId": gid(product), "quantity": quantity,
                                   **fields}}, as_=actor))["addOpportunityProduct"]


async def test_a_typed_value_is_never_replaced_by_product_lines(gql, team):
    account = await factories.account(team.rep.user)
    potatoes = await factories.product(team.admin.user, "POT-50", "32.50")
    deal = await _create(gql, team.rep, account, value="5000")
    assert (deal["value"], deal["valueSource"]) == ("5000.00", "MANUAL")

    added = await _add(gql, team.rep, deal["id"], potatoes, "10")
    assert added["errors"] == [] and added["valueChanged"] is False
    assert added["opportunityProduct"]["totalPrice"] == "325.00"
    assert (added["opportunity"]["value"], added["opportunity"]["valueSource"]) == ("5000.00", "MANUAL")

    # Asking for the lines' sum recomputes it, and from then on the lines move the value.
    follow = (await gql(UPDATE, {"id": deal["id"], "in": {"valueSource": "PRODUCTS"}}, as_=team.rep))["updateOpportunity"]
    assert follow["errors"] == [] and follow["opportunity"]["value"] == "325.00"
    more = await _add(gql, team.rep, deal["id"], potatoes, "2")
    assert more["valueChanged"] is True and more["opportunity"]["value"] == "390.00"

    # A typed value and "follow the lines" together contradict each other: refused, nothing changes.
    both = (await gql(UPDATE, {"id": deal["id"], "in": {"value": "7000", "valueSource": "PRODUCTS"}},
                      as_=team.rep))["updateOpportunity"]
    assert [(e["field"], e["code"]) for e in both["errors"]] == [("valueSource", "INVALID")], both
    stored = await Opportunity.get(id=pk(deal["id"]))
    assert (stored.value, stored.value_source.value) == (Decimal("390.00"), "products")

    # Typing a value makes it MANUAL again; the next line leaves it alone.
    typed = (await gql(UPDATE, {"id": deal["id"], "in": {"value": "7000"}}, as_=team.rep))["updateOpportunity"]
    assert (typed["opportunity"]["value"], typed["opportunity"]["valueSource"]) == ("7000.00", "MANUAL")
    third = await _add(gql, team.rep, deal["id"], potatoes, "1")
    assert third["valueChanged"] is False and third["opportunity"]["value"] == "7000.00"

    # Created without a value, a deal follows its lines from the first one.
    fresh = await _create(gql, team.rep, account)
    assert (fresh["value"], fresh["valueSource"]) == ("0.00", "PRODUCTS")
    first = await _add(gql, team.rep, fresh["id"], potatoes, "4")
    assert first["valueChanged"] is True and first["opportunity"]["value"] == "130.00"


async def test_contract_lines_give_weekly_volume_and_annualized_value(gql, team):
    account = await factories.account(team.rep.user)
    cases = await factories.product(team.admin.user, "ROMAINE", "25.00")
    pounds = await factories.product(team.admin.user, "CHEDDAR", "3.10", unit="lb", category="dairy")
    oven = await factories.product(team.admin.user, "OVEN", "1200.00", unit="each", category="equipment")
    deal = await _create(gql, team.rep, account)

    romaine = await _add(gql, team.rep, deal["id"], cases, "40", contractWeeks=26, discount="10")
    assert romaine["opportunityProduct"] == {
        "id": romaine["opportunityProduct"]["id"], "quantity": "40.000", "contractWeeks": 26, "weeklyQuantity": "40.000",
        "totalPrice": "23400.00", "annualizedValue": "46800.00"}  # 40 × 25 × 0.9 per week; × 26; × 52
    await _add(gql, team.rep, deal["id"], pounds, "100", contractWeeks=52)
    one_off = await _add(gql, team.rep, deal["id"], oven, "1")
    assert one_off["opportunityProduct"]["weeklyQuantity"] is None
    assert one_off["opportunityProduct"]["annualizedValue"] == "1200.00"

    read = (await gql(READ, {"id": deal["id"]}, as_=team.rep))["opportunity"]
    assert read["value"] == "40720.00"  # 23 400 + 16 120 + 1 200
    assert read["weeklyVolume"] == [{"unit": "CASE", "quantity": "40.000"}, {"unit": "POUND", "quantity": "100.000"}]
    assert read["annualizedValue"] == "64120.00"  # 46 800 + 16 120 + 1 200

    # Out of range: refused with the field named, nothing written.
    refused = await _add(gql, team.rep, deal["id"], cases, "5", contractWeeks=0)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("contractWeeks", "OUT_OF_RANGE")]
    assert await OpportunityProduct.filter(opportunity_id=pk(deal["id"])).count() == 3

    # A contract line made a one-off order: its total and the deal's volume follow.
    edited = (await gql(EDIT, {"id": romaine["opportunityProduct"]["id"], "in": {"contractWeeks": None}},
                        as_=team.rep))["updateOpportunityProduct"]
    assert edited["opportunityProduct"]["totalPrice"] == "900.00" and edited["valueChanged"] is True
    assert edited["opportunity"]["weeklyVolume"] == [{"unit": "POUND", "quantity": "100.000"}]
    assert edited["opportunity"]["value"] == "18220.00"

    # A typed value on the same lines is annualised in the lines' proportion (annual ÷ total).
    typed = (await gql(UPDATE, {"id": deal["id"], "in": {"value": "36440"}}, as_=team.rep))["updateOpportunity"]
    assert typed["opportunity"]["annualizedValue"] == "36440.00"  # the lines' annual = their total here: 900+16 120+1 200
    await _add(gql, team.rep, deal["id"], pounds, "50", contractWeeks=104)  # total 16 120, annual 8 060
    manual = (await gql(READ, {"id": deal["id"]}, as_=team.rep))["opportunity"]
    assert manual["value"] == "36440.00"
    assert manual["annualizedValue"] == str((Decimal(36440) * Decimal(26280) / Decimal(34340)).quantize(Decimal("0.01")))


async def _won(owner, account, closed_on: date, lines: list[tuple], *, value: str | None = None) -> Opportunity:
    pipeline = await ensure_default_pipeline()
    stage = await PipelineStage.get(pipeline=pipeline, kind=StageKind.WON)
    total = sum((line_total(Decimal(q), Decimal(price), Decimal(0), weeks) for _, q, price, weeks in lines), Decimal(0))
    deal = await Opportunity.create(
        name="Supply", account_id=account.id, pipeline=pipeline, stage=stage, probability=100,
        stage_entered_at=datetime.now(timezone.utc), expected_close_date=closed_on, actual_close_date=closed_on,
        value=Decimal(value) if value else total, value_source="manual" if value else "products",
        assigned_to_id=owner.id)
    for product, quantity, price, weeks in lines:
        await OpportunityProduct.create(opportunity=deal, product=product, quantity=Decimal(quantity),
                                        unit_price=Decimal(price), contract_weeks=weeks,
                                        total_price=line_total(Decimal(quantity), Decimal(price), Decimal(0), weeks))
    return deal


ACCOUNT = "query($id: ID!) { account(id: $id) { annualizedValue weeklyVolume { unit quantity } } }"


async def test_an_accounts_volume_is_its_running_contracts_and_hidden_deals_stay_out(gql, team):
    account = await factories.account(team.rep.user)
    cases = await factories.product(team.admin.user, "ROMAINE", "25.00")
    pounds = await factories.product(team.admin.user, "CHEDDAR", "3.10", unit="lb", category="dairy")
    today = datetime.now(timezone.utc).date()
    await _won(team.rep.user, account, today - timedelta(days=10), [(cases, "40", "25.00", 26), (pounds, "100", "3.10", 52)])
    await _won(team.rep.user, account, today - timedelta(days=400), [(cases, "99", "25.00", 52)])  # ended, and old
    await _won(team.rep.user, account, today - timedelta(days=30), [], value="1200")  # a one-off this year
    # Another rep's deal on the same account: the rep cannot see it, so it never counts for them.
    await _won(team.other_rep.user, account, today - timedelta(days=5), [(cases, "7", "25.00", 52)])

    mine = (await gql(ACCOUNT, {"id": gid(account)}, as_=team.rep))["account"]
    assert mine["weeklyVolume"] == [{"unit": "CASE", "quantity": "40.000"}, {"unit": "POUND", "quantity": "100.000"}]
    assert mine["annualizedValue"] == "69320.00"  # 40×25×52 + 100×3.10×52 + 1 200
    everything = (await gql(ACCOUNT, {"id": gid(account)}, as_=team.admin))["account"]
    assert everything["weeklyVolume"] == [{"unit": "CASE", "quantity": "47.000"}, {"unit": "POUND", "quantity": "100.000"}]
    assert everything["annualizedValue"] == "78420.00"  # + 7×25×52


FORECAST_NOW = datetime(2026, 11, 15, 12, tzinfo=timezone.utc)
SKUS = """{ salesForecast(period: "this_quarter", method: PIPELINE) {
  byProduct { category total weeklyVolume { unit quantity } closedWonWeeklyVolume { unit quantity } }
  bySku(first: 10) { product { sku } unit total closedWon weighted weeklyVolume closedWonWeeklyVolume weightedWeeklyVolume }
  totalForecast } }"""


async def test_the_forecast_by_product_and_category_in_value_and_volume(gql, team):
    account = await factories.account(team.rep.user)
    cases = await factories.product(team.admin.user, "ROMAINE", "25.00")
    pounds = await factories.product(team.admin.user, "CHEDDAR", "3.10", unit="lb", category="dairy")
    await _won(team.rep.user, account, date(2026, 11, 10), [(cases, "40", "25.00", 26), (pounds, "100", "3.10", 52)])
    # An open deal with a typed value: its lines share that value in proportion to their totals.
    open_deal = await factories.opportunity(team.rep.user, account.id, value=Decimal("10000.00"),
                                            expected_close_date=date(2026, 12, 10))
    for product, quantity, price, weeks in ((cases, "10", "25.00", 52), (pounds, "50", "3.00", None)):
        await OpportunityProduct.create(opportunity=open_deal, product=product, quantity=Decimal(quantity),
                                        unit_price=Decimal(price), contract_weeks=weeks,
                                        total_price=line_total(Decimal(quantity), Decimal(price), Decimal(0), weeks))

    f = await forecasts.sales_forecast(await scope_for(team.admin.user), "this_quarter", "pipeline", now=FORECAST_NOW)
    pw = Decimal(open_deal.probability) / 100  # closing inside the quarter: time weight 1
    assert f.pipeline_figures.weighted == (Decimal(10000) * pw).quantize(Decimal("0.01"))
    skus = {sku.product_id: sku for sku in f.by_sku}
    romaine, cheddar = skus[cases.id], skus[pounds.id]
    assert (romaine.closed_won, romaine.won_weekly_volume) == (Decimal("26000.00"), Decimal("40.000"))
    assert romaine.weighted == (Decimal(10000) * 13000 / 13150 * pw).quantize(Decimal("0.01"))
    assert romaine.weighted_weekly_volume == (10 * pw).quantize(Decimal("0.001"))
    assert (cheddar.closed_won, cheddar.won_weekly_volume, cheddar.weighted_weekly_volume) == (
        Decimal("16120.00"), Decimal("100.000"), Decimal("0.000"))  # the open deal's cheddar is a one-off
    assert cheddar.weighted == (Decimal(10000) * 150 / 13150 * pw).quantize(Decimal("0.01"))
    # The parts add up to the whole, in value (a cent of rounding per part at most).
    assert abs(sum(p.total for p in f.by_product) - f.estimate.total) <= Decimal("0.01") * len(f.by_product)
    categories = {p.category: p for p in f.by_product}
    assert categories["produce"].weekly_volume == {"case": Decimal(40) + (10 * pw).quantize(Decimal("0.001"))}
    assert categories["dairy"].weekly_volume == {"lb": Decimal("100.000")}

    # Through GraphQL: the same figures, each product named (the real clock: only the shape and sums).
    body = (await gql(SKUS, as_=team.admin))["salesForecast"]
    for sku in body["bySku"]:
        assert Decimal(sku["weeklyVolume"]) == Decimal(sku["closedWonWeeklyVolume"]) + Decimal(sku["weightedWeeklyVolume"])
        assert Decimal(sku["total"]) == Decimal(sku["closedWon"]) + Decimal(sku["weighted"])
    assert {s["product"]["sku"] for s in body["bySku"]} <= {"ROMAINE", "CHEDDAR"}
    refused = await gql.raw(SKUS.replace("first: 10", "first: 501"), token=team.admin.token)
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
