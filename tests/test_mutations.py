"""Mutations: the happy paths, and bad input that answers typed errors and changes nothing."""

from decimal import Decimal

from app.models import Account, Contact, Opportunity, OpportunityProduct, StageTransition
from tests import factories
from app.domain.global_ids import global_id
from tests.factories import gid

ERR = "errors { field message code }"


async def _snapshot():
    return (
        await Account.all().order_by("id").values(),
        await Opportunity.all().order_by("id").values(),
        await OpportunityProduct.all().order_by("id").values(),
        await Contact.all().order_by("id").values(),
    )


async def test_create_opportunity_with_products_and_activity(gql, team):
    acct = await factories.account(team.rep.user)
    prod = await factories.product(team.admin.user, "CHK-40", "96.00")
    created = (await gql(f"""mutation($a: ID!) {{ createOpportunity(input: {{name: "Chicken program", accountId: $a,
        expectedCloseDate: "2026-12-31", budget: "12000.00"}}) {{ opportunity {{ id stage probability version value
        stageHistory {{ fromStage {{ key }} toStage {{ key }} source }} }} {ERR} }} }}""",
        {"a": gid(acct)}, as_=team.rep))["createOpportunity"]
    assert created["errors"] == []
    opp = created["opportunity"]
    assert (opp["stage"], opp["probability"], opp["version"], opp["value"]) == ("discovery", 20, 1, "0.00")
    assert opp["stageHistory"] == [{"fromStage": None, "toStage": {"key": "discovery"}, "source": "API"}]

    line = (await gql(f"""mutation($o: ID!, $p: ID!) {{ addOpportunityProduct(input: {{opportunityId: $o, productId: $p,
        quantity: "10", discount: "12.5"}}) {{ opportunityProduct {{ name unitPrice totalPrice }} {ERR} }} }}""",
        {"o": opp["id"], "p": gid(prod)}, as_=team.rep))["addOpportunityProduct"]
    # 10 × 96.00 × 0.875 = 840.00
    assert line == {"opportunityProduct": {"name": "Product CHK-40", "unitPrice": "96.00", "totalPrice": "840.00"}, "errors": []}

    activity = (await gql(f"""mutation($o: ID!) {{ addOpportunityActivity(opportunityId: $o, input: {{type: TASTING,
        subject: "Chef tasting", completedAt: "2026-01-05T15:00:00Z", outcome: POSITIVE}}) {{ activity {{ type createdBy {{ email }} }} {ERR} }} }}""",
        {"o": opp["id"]}, as_=team.rep))["addOpportunityActivity"]
    assert activity == {"activity": {"type": "TASTING", "createdBy": {"email": "rep@pantry.test"}}, "errors": []}

    after = (await gql("query($id: ID!) { opportunity(id: $id) { value version activities { subject } } }",
                       {"id": opp["id"]}, as_=team.rep))["opportunity"]
    # Version 1 → 2 with the product line, → 3 with the activity (a child's change moves its opportunity).
    assert after == {"value": "840.00", "version": 3, "activities": [{"subject": "Chef tasting"}]}


async def test_bad_line_input_is_rejected_with_every_error_and_changes_nothing(gql, team):
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    before = await _snapshot()
    result = (await gql(f"""mutation($o: ID!) {{ addOpportunityProduct(input: {{opportunityId: $o, productId: "{global_id('Product', 424242)}",
        quantity: "-3", discount: "120"}}) {{ opportunityProduct {{ id }} {ERR} }} }}""",
        {"o": gid(opp)}, as_=team.rep))["addOpportunityProduct"]
    assert result["opportunityProduct"] is None
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("productId", "NOT_FOUND"), ("quantity", "OUT_OF_RANGE"), ("discount", "OUT_OF_RANGE")}
    assert await _snapshot() == before


async def test_probability_override_rules(gql, team):
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    mutation = f"""mutation($id: ID!, $p: Int!) {{ updateOpportunity(id: $id, input: {{probability: $p}}) {{
        opportunity {{ probability probabilityOverridden }} {ERR} }} }}"""
    by_rep = (await gql(mutation, {"id": gid(opp), "p": 50}, as_=team.rep))["updateOpportunity"]
    assert [e["code"] for e in by_rep["errors"]] == ["FORBIDDEN"]
    too_high = (await gql(mutation, {"id": gid(opp), "p": 150}, as_=team.manager))["updateOpportunity"]
    assert [(e["field"], e["code"]) for e in too_high["errors"]] == [("probability", "OUT_OF_RANGE")]
    ok = (await gql(mutation, {"id": gid(opp), "p": 35}, as_=team.manager))["updateOpportunity"]
    assert ok == {"opportunity": {"probability": 35, "probabilityOverridden": True}, "errors": []}


async def test_stale_version_is_refused(gql, team):
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    mutation = f"""mutation($id: ID!, $v: Int) {{ updateOpportunity(id: $id, expectedVersion: $v, input: {{nextStep: "call chef"}}) {{
        opportunity {{ version nextStep }} {ERR} }} }}"""
    first = (await gql(mutation, {"id": gid(opp), "v": 1}, as_=team.rep))["updateOpportunity"]
    assert first["opportunity"] == {"version": 2, "nextStep": "call chef"}
    stale = (await gql(mutation, {"id": gid(opp), "v": 1}, as_=team.rep))["updateOpportunity"]
    assert stale["opportunity"] is None
    assert stale["errors"][0]["code"] == "STALE_VERSION" and "current version is 2" in stale["errors"][0]["message"]


async def test_a_typed_value_on_a_deal_with_products_makes_it_manual(gql, team):
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id, value=None)
    prod = await factories.product(team.admin.user)
    await OpportunityProduct.create(opportunity=opp, product=prod, quantity=1, unit_price=Decimal("1"), total_price=Decimal("1"))
    result = (await gql(f"""mutation($id: ID!) {{ updateOpportunity(id: $id, input: {{value: "10.00"}}) {{
        opportunity {{ value valueSource }} {ERR} }} }}""", {"id": gid(opp)}, as_=team.rep))["updateOpportunity"]
    assert result == {"opportunity": {"value": "10.00", "valueSource": "MANUAL"}, "errors": []}


async def test_malformed_email_and_blank_names(gql, team):
    acct = await factories.account(team.rep.user)
    before = await _snapshot()
    result = (await gql(f"""mutation($a: ID!) {{ createContact(accountId: $a, input: {{firstName: " ", lastName: "Ng",
        email: "chef@@kitchen"}}) {{ contact {{ id }} {ERR} }} }}""", {"a": gid(acct)}, as_=team.rep))["createContact"]
    assert {(e["field"], e["code"]) for e in result["errors"]} == {("firstName", "REQUIRED"), ("email", "INVALID")}
    assert await _snapshot() == before
    ok = (await gql(f"""mutation($a: ID!) {{ createContact(accountId: $a, input: {{firstName: "Ana", lastName: "Ng",
        email: "Ana.Ng@HarborGrill.com", title: "Executive Chef"}}) {{ contact {{ name email account {{ name }} }} {ERR} }} }}""",
        {"a": gid(acct)}, as_=team.rep))["createContact"]
    assert ok == {"contact": {"name": "Ana Ng", "email": "ana.ng@harborgrill.com", "account": {"name": "Harbor Grill"}}, "errors": []}


async def test_parent_account_cycles_are_rejected(gql, team):
    chain = await factories.account(team.rep.user, "Chain HQ")
    region = await factories.account(team.rep.user, "Region", parent_id=chain.id)
    unit = await factories.account(team.rep.user, "Unit 12", parent_id=region.id)
    mutation = f"""mutation($id: ID!, $p: ID) {{ updateAccount(id: $id, input: {{parentId: $p}}) {{ account {{ id }} {ERR} }} }}"""
    for child in (unit, chain):
        result = (await gql(mutation, {"id": gid(chain), "p": gid(child)}, as_=team.rep))["updateAccount"]
        assert [(e["field"], e["code"]) for e in result["errors"]] == [("parentId", "CYCLE")]
    assert (await Account.get(id=chain.id)).parent_id is None
    subs = await gql("query($id: ID!) { account(id: $id) { subsidiaries { name subsidiaries { name } } } }",
                     {"id": gid(chain)}, as_=team.rep)
    assert subs["account"]["subsidiaries"] == [{"name": "Region", "subsidiaries": [{"name": "Unit 12"}]}]


async def test_account_children_crud(gql, team):
    acct = await factories.account(team.rep.user)
    a = gid(acct)
    loc = (await gql(f"""mutation($a: ID!) {{ createLocation(accountId: $a, input: {{name: "Pier 39", city: "San Francisco"}}) {{
        location {{ id name city }} {ERR} }} }}""", {"a": a}, as_=team.rep))["createLocation"]
    assert loc["errors"] == [] and loc["location"]["city"] == "San Francisco"
    bad_contract = (await gql(f"""mutation($a: ID!) {{ createContract(accountId: $a, input: {{name: "Supply 2027", value: "-1",
        startDate: "2027-01-01", endDate: "2026-01-01"}}) {{ contract {{ id }} {ERR} }} }}""", {"a": a}, as_=team.rep))["createContract"]
    assert {(e["field"], e["code"]) for e in bad_contract["errors"]} == {("value", "OUT_OF_RANGE")}
    backwards = (await gql(f"""mutation($a: ID!) {{ createContract(accountId: $a, input: {{name: "Supply 2027", value: "150000.00",
        startDate: "2027-01-01", endDate: "2026-01-01"}}) {{ contract {{ id }} {ERR} }} }}""", {"a": a}, as_=team.rep))["createContract"]
    assert [(e["field"], e["code"]) for e in backwards["errors"]] == [("endDate", "OUT_OF_RANGE")]
    team_add = (await gql(f"""mutation($a: ID!, $u: ID!) {{ addAccountTeamMember(input: {{accountId: $a, userId: $u, role: SUPPORT,
        isPrimary: true}}) {{ teamMember {{ role isPrimary user {{ email }} }} {ERR} }} }}""",
        {"a": a, "u": team.manager.id}, as_=team.rep))["addAccountTeamMember"]
    assert team_add == {"teamMember": {"role": "SUPPORT", "isPrimary": True, "user": {"email": "manager@pantry.test"}}, "errors": []}
    dup = (await gql(f"""mutation($a: ID!, $u: ID!) {{ addAccountTeamMember(input: {{accountId: $a, userId: $u, role: SUPPORT}}) {{
        {ERR} }} }}""", {"a": a, "u": team.manager.id}, as_=team.rep))["addAccountTeamMember"]
    assert [(e["field"], e["code"]) for e in dup["errors"]] == [("userId", "DUPLICATE")]
    deleted = (await gql(f"""mutation($id: ID!) {{ deleteLocation(id: $id) {{ deletedId {ERR} }} }}""",
                         {"id": loc["location"]["id"]}, as_=team.rep))["deleteLocation"]
    assert deleted == {"deletedId": loc["location"]["id"], "errors": []}


async def test_account_with_opportunities_cannot_be_deleted(gql, team):
    acct = await factories.account(team.rep.user)
    await factories.opportunity(team.rep.user, acct.id)
    result = (await gql(f"""mutation($id: ID!) {{ deleteAccount(id: $id) {{ deletedId {ERR} }} }}""",
                        {"id": gid(acct)}, as_=team.admin))["deleteAccount"]
    assert result["deletedId"] is None and result["errors"][0]["code"] == "IN_USE"
    assert await Account.exists(id=acct.id)


async def test_unknown_stage_and_garbage_ids(gql, team):
    acct = await factories.account(team.rep.user)
    result = (await gql(f"""mutation($a: ID!) {{ createOpportunity(input: {{name: "X", accountId: $a, expectedCloseDate: "2026-12-01",
        stage: "tasting_room"}}) {{ opportunity {{ id }} {ERR} }} }}""", {"a": gid(acct)}, as_=team.rep))["createOpportunity"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("stage", "INVALID")]
    garbage = (await gql(f"""mutation {{ createOpportunity(input: {{name: "X", accountId: "abc", expectedCloseDate: "2026-12-01"}}) {{
        opportunity {{ id }} {ERR} }} }}""", as_=team.rep))["createOpportunity"]
    assert [(e["field"], e["code"]) for e in garbage["errors"]] == [("accountId", "NOT_FOUND")]
    assert await Opportunity.all().count() == 0 and await StageTransition.all().count() == 0


async def test_duplicate_sku(gql, team):
    await factories.product(team.admin.user, "SKU-1")
    result = (await gql(f"""mutation {{ createProduct(input: {{sku: "SKU-1", name: "Dup", category: DAIRY, unitPrice: "1.999"}}) {{
        product {{ id }} {ERR} }} }}""", as_=team.admin))["createProduct"]
    assert {(e["field"], e["code"]) for e in result["errors"]} == {("sku", "DUPLICATE"), ("unitPrice", "OUT_OF_RANGE")}
