"""The compiled read path gives exactly what standard execution gives, in fewer steps."""

import asyncio
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import orjson
import pytest

from app.api.app import create_app
from app.domain.enums import ActivityType
from app.models import Contact, Opportunity, OpportunityActivity, OpportunityProduct, PipelineStage
from tests import factories
from tests.factories import gid

LIST = """query($first: Int, $after: String, $filter: OpportunityFilter, $order: OpportunityOrder) {
  opportunities(first: $first, after: $after, filter: $filter, orderBy: $order) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name value budget probability probabilityOverridden stage expectedCloseDate
      actualCloseDate source forecastCategory version lostReason lostReasonKey nextStep createdAt updatedAt daysInStage __typename
      account { id name industry size annualRevenue tier status assignedTo { email role } }
      assignedTo { id name email role timezone isActive } contact { name email role }
      products { id quantity unitPrice discount totalPrice name product { sku name category unit unitPrice } }
      activities { id type subject outcome scheduledAt completedAt createdBy { email } }
      pipelineStage { key name order kind probability forecastCategory } } } } }"""
NODE = """query($id: ID!) { opportunity(id: $id) { id name value stage account { name } products { totalPrice }
  activities { type subject } assignedTo { email } nodeAlias: name } }"""
NODES = """{ opportunities(first: 5) { nodes { id name value } totalCount } }"""


def _bench_queries():
    from bench.queries import (
        OPPORTUNITIES_PAGE,
        OPPORTUNITIES_PAGE_APOLLO,
        OPPORTUNITIES_PAGE_NO_COUNT,
        OPPORTUNITY_DETAIL,
        OPPORTUNITY_DETAIL_APOLLO,
    )

    return OPPORTUNITIES_PAGE, OPPORTUNITIES_PAGE_NO_COUNT, OPPORTUNITY_DETAIL, OPPORTUNITIES_PAGE_APOLLO, \
        OPPORTUNITY_DETAIL_APOLLO


async def _world(team):
    acct = await factories.account(team.rep.user, "Harbor Grill", annual_revenue=Decimal("1250000.50"))
    contact = await Contact.create(account=acct, first_name="Ana", last_name="Ng", email="ana@harbor.example")
    prod = await factories.product(team.admin.user, "BRI-12", "87.25")
    for i in range(7):
        opp = await factories.opportunity(team.rep.user, acct.id, f"deal {i}", value=Decimal(f"{1000 + i * 10}.5"),
                                          expected_close_date=date(2026, 12, 1) + timedelta(days=i),
                                          contact_id=contact.id if i % 2 else None)
        if i % 3:
            await OpportunityProduct.create(opportunity=opp, product=prod, quantity=Decimal("2.5"), unit_price=prod.unit_price,
                                            discount=Decimal("5"), total_price=Decimal("207.22"))
        await OpportunityActivity.create(opportunity=opp, type=ActivityType.TASTING, subject=f"tasting {i}",
                                         completed_at=datetime(2026, 1, 2, tzinfo=timezone.utc), created_by=team.rep.user)
    await factories.opportunity(team.other_rep.user, (await factories.account(team.other_rep.user, "Other")).id, "hidden")


@pytest.fixture
async def both(orm):
    fast, standard = create_app(manage_database=False, fast_path=True), create_app(manage_database=False, fast_path=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as f, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=standard), base_url="http://t") as s:
        yield f, s


def _comparable(body: dict) -> dict:
    """What is left of the caller's query budget changes with every request: the rest must match."""
    body.get("extensions", {}).get("cost", {}).pop("budgetRemaining", None)
    return body


async def _both(both, query, variables, token):
    headers = {"Authorization": f"Bearer {token}"}
    fast, standard = both
    a = await fast.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    b = await standard.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    return _comparable(a.json()), _comparable(b.json())


@pytest.mark.parametrize("variables", [
    {"first": 3}, {"first": 100}, {"first": 2, "order": {"field": "VALUE", "direction": "ASC"}},
    {"filter": {"valueMin": "1020", "search": "deal"}}, {"first": 0}, {"filter": {"stage": ["proposal"]}},
])
async def test_list_query_is_identical_both_ways(both, team, variables):
    await _world(team)
    fast, standard = await _both(both, LIST, variables, team.rep.token)
    assert "errors" not in standard
    assert fast == standard


async def test_cursors_walk_identically(both, team):
    await _world(team)
    after = None
    for _ in range(4):
        fast, standard = await _both(both, LIST, {"first": 2, "after": after}, team.manager.token)
        assert fast == standard
        after = fast["data"]["opportunities"]["pageInfo"]["endCursor"]


async def test_page_statements_kept_per_shape_walk_every_order_and_caller_as_standard_execution(both, team, monkeypatch):
    """The compiled list builds a page's SQL once per list shape (filter, caller's scope, order) and
    reuses it for every cursor: the second walk builds nothing on PostgreSQL and still answers exactly as
    standard execution does, for every order and every caller (one rep's statement never serves another)."""
    from app.queries import pagination

    await _world(team)
    await factories.opportunity(team.other_rep.user, (await factories.account(team.other_rep.user, "Bistro")).id,
                                "other deal", value=Decimal("1010.5"))
    built: list = []
    build = pagination._parameterized

    def counted(query):
        built.append(query)
        return build(query)

    monkeypatch.setattr(pagination, "_parameterized", counted)

    async def walk(token: str, order: dict, list_filter: dict | None) -> list[str]:
        names, after = [], None
        for _ in range(5):
            variables = {"first": 2, "after": after, "order": order, "filter": list_filter}
            fast, standard = await _both(both, LIST, variables, token)
            assert "errors" not in standard and fast == standard
            connection = fast["data"]["opportunities"]
            names += [edge["node"]["name"] for edge in connection["edges"]]
            if not connection["pageInfo"]["hasNextPage"]:
                return names
            after = connection["pageInfo"]["endCursor"]
        raise AssertionError("more pages than deals")

    walks = [(caller, {"field": field, "direction": direction}, list_filter)
             for caller in (team.rep, team.other_rep, team.manager)
             for field in ("CREATED_AT", "VALUE", "NAME", "EXPECTED_CLOSE_DATE")
             for direction in ("ASC", "DESC")
             for list_filter in (None, {"valueMin": "1005"})]
    first = [await walk(caller.token, order, list_filter) for caller, order, list_filter in walks]
    built.clear()
    again = [await walk(caller.token, order, list_filter) for caller, order, list_filter in walks]
    assert again == first
    if pagination.connections.get("default").capabilities.dialect == "postgres":
        assert built == []  # every page and count statement was kept from the first walk
    seen_by: dict[str, set[str]] = {caller.token: set() for caller, _, _ in walks}
    for (caller, _, _), names in zip(walks, first, strict=True):
        seen_by[caller.token] |= set(names)
    assert "other deal" not in seen_by[team.rep.token] and "hidden" not in seen_by[team.rep.token]
    assert seen_by[team.other_rep.token] == {"other deal", "hidden"}
    assert {"deal 0", "deal 6"} <= seen_by[team.manager.token]


async def test_busy_lists_read_each_page_in_turn_on_one_connection_as_standard_execution(both, team, monkeypatch):
    """While the process answers other requests too, a list page's statements run one after the other on
    one pooled connection (on PostgreSQL), the visibility checks' own queries included: four times as
    many concurrent requests as the pool holds all finish, each exactly as standard execution answers it,
    and a request alone still reads concurrently."""
    from app.api import fastpath
    from app.settings import get_settings
    from tests.conftest import TEST_BACKEND

    await _world(team)
    held: list[int] = []
    one_connection = fastpath._one_connection

    def counted():
        held.append(1)
        return one_connection()

    monkeypatch.setattr(fastpath, "_one_connection", counted)
    fast, standard = both
    requests = [(caller, {"first": first, "filter": list_filter})
                for caller in (team.rep, team.other_rep, team.manager) for first in range(1, 8)
                for list_filter in (None, {"valueMin": "1005"}, {"search": "deal"})]
    assert len(requests) >= 4 * get_settings().db_pool_max_size

    async def ask(client, caller, variables) -> dict:
        response = await client.post("/graphql", json={"query": LIST, "variables": variables},
                                     headers={"Authorization": f"Bearer {caller.token}"})
        return _comparable(response.json())

    expected = [await ask(standard, caller, variables) for caller, variables in requests]
    assert all("errors" not in body for body in expected)
    answers = await asyncio.wait_for(asyncio.gather(*(ask(fast, caller, variables) for caller, variables in requests)),
                                     timeout=60)
    assert answers == expected
    assert {edge["node"]["name"] for body in answers[:21] for edge in body["data"]["opportunities"]["edges"]} \
        == {f"deal {i}" for i in range(7)}  # the rep's own, nothing of the other rep's
    if TEST_BACKEND == "postgres":
        assert held  # pages read in turn while others were answered
    else:
        assert not held
    held.clear()
    assert await ask(fast, team.rep, {"first": 5}) == await ask(standard, team.rep, {"first": 5})
    assert not held  # alone: its reads run concurrently


async def test_node_and_nodes_queries_are_identical(both, team):
    await _world(team)
    opp = await Opportunity.get(name="deal 2")
    hidden = await Opportunity.get(name="hidden")
    for variables in ({"id": gid(opp)}, {"id": gid(hidden)}, {"id": "garbage"}):
        fast, standard = await _both(both, NODE, variables, team.rep.token)
        assert fast == standard
    fast, standard = await _both(both, NODES, {}, team.rep.token)
    assert fast == standard


async def test_every_benchmark_query_is_identical_both_ways(both, team):
    """The documents bench/ measures: the fast path must serve them, and serve them identically."""
    await _world(team)
    page, page_no_count, detail, apollo_page, apollo_detail = _bench_queries()
    opp = await Opportunity.get(name="deal 3")
    await OpportunityActivity.create(opportunity=opp, type=ActivityType.DEMO, subject="Demo next week",
                                     scheduled_at=datetime.now(timezone.utc) + timedelta(days=3))
    await Opportunity.filter(name="deal 1").update(stage_entered_at=datetime.now(timezone.utc) - timedelta(days=40))
    from app.models import OpportunityDocument

    await OpportunityDocument.create(opportunity=opp, name="Menu costing", url="https://docs.example/menu.pdf",
                                     type="menu", uploaded_by=team.rep.user)
    cases: list[tuple[str, dict]] = [(page, {"first": 100}), (page, {"first": 3}), (page_no_count, {"first": 100}),
                                     (apollo_page, {"first": 3})]
    cases += [(query, {"id": gid(o)}) for o in await Opportunity.filter(assigned_to_id=team.rep.user.id)
              for query in (detail, apollo_detail)]
    from app.api.fastpath import FastPath
    from app.api.schema import schema

    compiled = FastPath(schema)
    for query, variables in cases:
        fast, standard = await _both(both, query, variables, team.rep.token)
        assert "errors" not in standard, standard
        assert fast == standard
        # served by the compiled plan itself, not by a fallback to standard execution
        served = await compiled.execute(query, variables, None, f"Bearer {team.rep.token}")
        assert served is not None and _comparable(orjson.loads(served.body())) == standard
    stale = [(await _both(both, detail, {"id": gid(o)}, team.rep.token))[0]["data"]["opportunity"]["isStale"]
             for o in await Opportunity.filter(name__in=["deal 1", "deal 3"]).order_by("name")]
    assert stale == [True, False]
    # and the fast path really serves them (compile_document raises Unsupported otherwise)
    from app.api.fastpath import compile_document

    for query in (page, page_no_count, detail, apollo_page, apollo_detail):
        assert compile_document(schema._schema, query, None).kind in ("list", "node")


async def test_errors_and_unsupported_documents_take_the_standard_path(both, team):
    await _world(team)
    for query, variables, token in [
        (LIST, {"first": 500}, team.rep.token),            # a service error
        (LIST, {"first": "many"}, team.rep.token),         # a variable error
        (LIST, {"first": 1}, "bad-token"),                 # not authenticated
        ("{ opportunities { edges { node { isStale competitors { name } } } } }", {}, team.rep.token),
        ("{ opportunities { edges { node { nmae } } } }", {}, team.rep.token),
        ("{ opportunities { edges { node { " + " ".join(f"a{i}: account {{ name }}" for i in range(40)) + " } } } }",
         {}, team.rep.token),                              # the alias limit still applies
    ]:
        fast, standard = await _both(both, query, variables, token)
        assert fast == standard


async def test_fast_path_query_count_is_constant(both, team, count_queries):
    await _world(team)
    fast, _ = both
    counts = []
    for first in (2, 7):  # both pages hold a contact, a product and an activity
        count_queries.queries.clear()
        await fast.post("/graphql", json={"query": LIST, "variables": {"first": first}},
                        headers={"Authorization": f"Bearer {team.rep.token}"})
        counts.append(len(count_queries.queries))
    assert counts[0] == counts[1]


async def test_the_status_filter_selects_by_the_kind_of_stage_both_ways(both, team):
    acct = await factories.account(team.rep.user, "Harbor Grill")
    for name in ("open one", "won one", "lost one", "open two"):
        await factories.opportunity(team.rep.user, acct.id, name)
    won = await factories.opportunity(team.rep.user, acct.id, "won two")
    await Opportunity.filter(name__in=["won one"]).update(
        stage_id=(await PipelineStage.get(key="closed_won")).id)
    await Opportunity.filter(id=won.id).update(stage_id=(await PipelineStage.get(key="closed_won")).id)
    await Opportunity.filter(name="lost one").update(stage_id=(await PipelineStage.get(key="closed_lost")).id)
    query = """query($filter: OpportunityFilter) { opportunities(first: 10, filter: $filter, orderBy: {field: NAME,
      direction: ASC}) { totalCount edges { node { name stage } } } }"""
    expected = {("OPEN",): ["open one", "open two"], ("WON",): ["won one", "won two"],
                ("WON", "LOST"): ["lost one", "won one", "won two"]}
    for status, names in expected.items():
        fast, standard = await _both(both, query, {"filter": {"status": list(status)}}, team.rep.token)
        assert fast == standard and "errors" not in fast, fast
        assert [e["node"]["name"] for e in fast["data"]["opportunities"]["edges"]] == names
        assert fast["data"]["opportunities"]["totalCount"] == len(names)


async def test_the_detail_reads_the_deal_and_everything_it_shows_in_one_statement(both, team):
    """PostgreSQL: the bench's detail document is the credential check plus ONE statement for the deal and
    all its relations (nested sub-selects); a rep's contact, which the sharing model does not vouch for
    through the deal, costs one visibility statement more. SQLite reads level by level (a constant count)."""
    from bench.checks import counting_queries
    from tests.conftest import TEST_BACKEND

    await _world(team)
    _, _, detail, _, apollo_detail = _bench_queries()
    opp = await Opportunity.get(name="deal 3")  # with a contact, a product line and an activity
    fast, _ = both
    counts = {}
    for who, token in (("admin", team.admin.token), ("rep", team.rep.token)):
        for name, query in (("plain", detail), ("apollo", apollo_detail)):
            with counting_queries() as counter:
                body = (await fast.post("/graphql", json={"query": query, "variables": {"id": gid(opp)}},
                                        headers={"Authorization": f"Bearer {token}"})).json()
            assert body["data"]["opportunity"]["contact"]["name"] == "Ana Ng", body
            counts[who, name] = counter.count
    assert counts["admin", "plain"] == counts["admin", "apollo"] and counts["rep", "plain"] == counts["rep", "apollo"]
    if TEST_BACKEND == "postgres":
        assert counts["admin", "plain"] == 2, counts
        assert counts["rep", "plain"] == 3, counts


async def test_the_one_statement_detail_keeps_to_the_sharing_model(both, team):
    """A rep's deal on another rep's account: the account renders (implicit sharing), its contact, owner and
    the other rep's activity author do not; a deal of another team is not there at all. Both paths agree."""
    _, _, detail, _, apollo_detail = _bench_queries()
    theirs = await factories.account(team.other_rep.user, "Their Diner")
    contact = await Contact.create(account=theirs, first_name="Bo", last_name="Li", email="bo@diner.example")
    mine = await factories.opportunity(team.other_rep.user, theirs.id, "on their account", contact_id=contact.id)
    await Opportunity.filter(id=mine.id).update(assigned_to_id=team.rep.user.id)  # handed over, account stays theirs
    await OpportunityActivity.create(opportunity=mine, type=ActivityType.CALL, subject="their call",
                                     created_by=team.other_rep.user)
    hidden = await factories.opportunity(team.other_rep.user, theirs.id, "their deal")
    for query in (detail, apollo_detail):
        for actor in (team.rep, team.manager, team.other_rep, team.admin):
            for opp in (mine, hidden):
                fast, standard = await _both(both, query, {"id": gid(opp)}, actor.token)
                assert "errors" not in standard, standard
                assert fast == standard
    fast, _ = await _both(both, detail, {"id": gid(mine)}, team.rep.token)
    deal = fast["data"]["opportunity"]
    assert deal["account"]["name"] == "Their Diner" and deal["account"]["assignedTo"] is None
    assert deal["contact"] is None and deal["activities"][0]["createdBy"] is None
    assert (await _both(both, detail, {"id": gid(hidden)}, team.rep.token))[0]["data"]["opportunity"] is None


async def test_the_list_page_joins_a_product_lines_product_on_postgresql(both, team):
    """PostgreSQL: the bench's list page is the credential check, the count, the page, its stages,
    accounts and owners, the product lines with their product joined in, and the activities: 8
    statements whatever the page size; SQLite reads the products on their own (constant too)."""
    from bench.checks import counting_queries
    from tests.conftest import TEST_BACKEND

    await _world(team)
    page, _, _, apollo_page, _ = _bench_queries()
    fast, _ = both
    counts = {}
    for first in (2, 7):  # both pages hold a product line and an activity
        for name, query in (("plain", page), ("apollo", apollo_page)):
            with counting_queries() as counter:
                body = (await fast.post("/graphql", json={"query": query, "variables": {"first": first}},
                                        headers={"Authorization": f"Bearer {team.rep.token}"})).json()
            assert len(body["data"]["opportunities"]["edges"]) == first, body
            counts[first, name] = counter.count
    assert len(set(counts.values())) == 1, counts
    if TEST_BACKEND == "postgres":
        assert counts[7, "plain"] == 8, counts
