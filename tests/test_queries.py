"""Lists: pagination, filters, ordering, DataLoaders (no N+1) and abuse limits."""

from datetime import date, timedelta
from decimal import Decimal

from app.domain.enums import ActivityType
from app.models import Opportunity, OpportunityActivity, OpportunityProduct
from tests import factories

PAGE = """query($first: Int, $after: String, $filter: OpportunityFilter, $order: OpportunityOrder) {
  opportunities(first: $first, after: $after, filter: $filter, orderBy: $order) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { name value stage account { name assignedTo { email } } assignedTo { email }
      products { quantity totalPrice product { sku } } activities { type subject } } } } }"""


async def _many(team, n: int):
    acct = await factories.account(team.rep.user)
    other = await factories.account(team.rep.user, "Lakeside Hospital", industry="hospital")
    prod = await factories.product(team.admin.user)
    for i in range(n):
        opp = await factories.opportunity(team.rep.user, (acct if i % 2 else other).id, f"deal {i:03d}",
                                          value=Decimal(1000 + i), expected_close_date=date(2026, 1, 1) + timedelta(days=i))
        await OpportunityProduct.create(opportunity=opp, product=prod, quantity=2, unit_price=Decimal("5"),
                                        total_price=Decimal("10"))
        await OpportunityActivity.create(opportunity=opp, type=ActivityType.CALL, subject=f"call {i}")


async def test_query_count_is_the_same_for_1_and_50_rows(gql, team, count_queries):
    await _many(team, 50)
    counts = {}
    for first in (1, 50):
        count_queries.queries.clear()
        data = await gql(PAGE, {"first": first}, as_=team.rep)
        assert len(data["opportunities"]["edges"]) == first
        counts[first] = len(count_queries.queries)
    assert counts[1] == counts[50], count_queries.queries
    # auth user + scope + count + page + account + users + products + product + activities + stage
    assert counts[50] <= 12


async def test_keyset_pagination_walks_every_row_once(gql, team):
    await _many(team, 25)
    seen, after = [], None
    while True:
        data = (await gql(PAGE, {"first": 10, "after": after, "order": {"field": "VALUE", "direction": "ASC"}},
                          as_=team.rep))["opportunities"]
        seen += [e["node"]["name"] for e in data["edges"]]
        assert data["totalCount"] == 25
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == [f"deal {i:03d}" for i in range(25)]


async def test_filters(gql, team):
    await _many(team, 12)
    await Opportunity.filter(name="deal 003").update(name="Hospital tray line")
    flt = {"valueMin": "1002", "valueMax": "1006", "expectedCloseFrom": "2026-01-04", "stage": ["discovery"]}
    names = [e["node"]["name"] for e in (await gql(PAGE, {"filter": flt, "order": {"field": "VALUE", "direction": "ASC"}},
                                                   as_=team.rep))["opportunities"]["edges"]]
    assert names == ["Hospital tray line", "deal 004", "deal 005", "deal 006"]
    by_text = await gql(PAGE, {"filter": {"search": "tray"}}, as_=team.rep)
    assert [e["node"]["name"] for e in by_text["opportunities"]["edges"]] == ["Hospital tray line"]
    none_in_stage = await gql(PAGE, {"filter": {"stage": ["negotiation"]}}, as_=team.rep)
    assert none_in_stage["opportunities"]["totalCount"] == 0


async def test_first_is_capped_and_bad_cursors_are_clear_errors(gql, team):
    body = await gql.raw(PAGE, {"first": 101}, token=team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "first" in body["errors"][0]["message"]
    body = await gql.raw(PAGE, {"after": "garbage!"}, token=team.rep.token)
    assert "malformed cursor" in body["errors"][0]["message"]


async def test_depth_alias_and_suggestion_limits(gql, team):
    deep = "{ me " + "{ manager " * 14 + "{ email }" + " }" * 14 + " }"
    body = await gql.raw(deep, token=team.rep.token)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: me {{ email }}" for i in range(40)) + " }"
    body = await gql.raw(aliases, token=team.rep.token)
    assert "aliases" in body["errors"][0]["message"].lower()
    body = await gql.raw("{ me { emali } }", token=team.rep.token)
    assert "Did you mean" not in body["errors"][0]["message"]


async def test_unexpected_errors_are_masked(gql, team, monkeypatch):
    from app.api import queries

    async def boom(*args, **kwargs):
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(queries, "_node", boom)
    body = await gql.raw('{ account(id: "1") { name } }', token=team.rep.token)
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in str(body)


async def test_health_and_readiness(gql):
    assert (await gql.http.get("/healthz")).json() == {"status": "ok"}
    ready = await gql.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok"}
