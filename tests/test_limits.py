"""Abuse limits: query cost (static maximum, per-caller budget, extensions.cost on every response),
the request body limit and introspection for anonymous callers in production."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from app.runtime import EmbeddedRedis
from app.services import query_budget, queue
from app.settings import get_settings
from tests import factories

NESTED = ("accounts(first: 100) { edges { node { id name contacts { email } contracts { name value } "
          "opportunities { name value products { quantity } } } } }")
ONE_NESTED = "{ " + NESTED + " }"
TEN_ALIASES = "{ " + " ".join(f"a{i}: {NESTED}" for i in range(10)) + " }"
SMALL = "{ accounts(first: 30) { edges { node { id contacts { id } } } } }"  # 30 + 30 + 30 + 30 × 20 = 690
FAST_LIST = "query ($first: Int) { opportunities(first: $first) { edges { node { id name account { name } } } } }"


@pytest.fixture(autouse=True)
def fresh_budget():
    query_budget.budget._skip_until = 0.0
    yield
    query_budget.budget._skip_until = 0.0


async def _post(gql, query: str, variables: dict | None = None, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await gql.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


def _cost(body: dict) -> dict:
    cost = body["extensions"]["cost"]
    assert set(cost) >= {"requested", "maximum", "budgetRemaining", "budgetCapacity", "refillPerSecond"}
    return cost


async def test_ten_aliases_of_a_nested_query_are_refused_before_any_resolver_runs(gql, team, count_queries):
    await factories.account(team.rep.user, "Harbor Grill")
    count_queries.queries.clear()
    response = await _post(gql, TEN_ALIASES, token=team.rep.token)
    body = response.json()
    assert body.get("data") is None  # a request error: nothing executed
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > error["extensions"]["maximum"] == get_settings().max_query_cost
    assert _cost(body)["requested"] == error["extensions"]["cost"]
    assert not any("account" in q.split("FROM", 1)[-1].split("WHERE", 1)[0] for q in count_queries.queries), \
        count_queries.queries  # the token's user was read, no account was
    # one of them: priced the same way, over the maximum too (each account's opportunities and their
    # products multiply); without the products it fits
    single = (await _post(gql, ONE_NESTED, token=team.rep.token)).json()
    assert single["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert single["errors"][0]["extensions"]["cost"] * 10 == error["extensions"]["cost"]
    lighter = (await _post(gql, ONE_NESTED.replace(" products { quantity }", ""), token=team.rep.token)).json()
    assert "errors" not in lighter and lighter["data"]["accounts"]["edges"][0]["node"]["name"] == "Harbor Grill"
    assert _cost(lighter)["requested"] == 100 * 3 + 100 * 20 * 3


async def test_cost_counts_page_sizes_variables_and_fragments(gql, team):
    by_variable = (await _post(gql, "query ($n: Int) { accounts(first: $n) { nodes { contacts { id } } } }",
                               {"n": 7}, team.rep.token)).json()
    assert _cost(by_variable)["requested"] == 7 + 7 + 7 * 20
    by_default = (await _post(gql, "{ accounts { nodes { id } } }", token=team.rep.token)).json()
    assert _cost(by_default)["requested"] == 20 + 20  # the field's default page size
    fragment = ("query { accounts(first: 5) { nodes { ...A } } } "
                "fragment A on Account { contacts { id } assignedTo { id } }")
    assert _cost((await _post(gql, fragment, token=team.rep.token)).json())["requested"] == 5 + 5 + 5 * 20 + 5
    scalars_only = (await _post(gql, "{ me { id email } }", token=team.rep.token)).json()
    assert _cost(scalars_only)["requested"] == 1


async def test_every_response_carries_the_cost_on_every_path(gql, app, team, monkeypatch):
    await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
    monkeypatch.setattr(get_settings(), "cost_budget_refill_per_second", 0.001)  # what is charged stays charged
    capacity = get_settings().cost_budget_capacity
    # standard execution
    standard = (await _post(gql, SMALL, token=team.rep.token)).json()
    assert _cost(standard)["requested"] == 690 and _cost(standard)["budgetRemaining"] <= capacity - 690
    # the compiled read path, served by the plan itself, charged to the same budget
    served = await app.state.fast_path.execute(FAST_LIST, {"first": 10}, None, f"Bearer {team.rep.token}")
    assert served is not None
    fast = orjson.loads(served.body())
    assert fast["data"]["opportunities"]["edges"][0]["node"]["account"]["name"] == "Harbor Grill"
    assert _cost(fast)["requested"] == 10 + 10 + 10 + 10
    assert _cost(fast)["budgetRemaining"] == _cost(standard)["budgetRemaining"] - 40
    over_http = (await _post(gql, FAST_LIST, {"first": 10}, team.rep.token)).json()
    assert _cost(over_http)["requested"] == 40
    # a mutation, an authentication failure, a validation error, a parse error, anonymous
    mutation = (await _post(gql, 'mutation { createAccount(input: {name: "X"}) { account { id } errors { code } } }',
                            token=team.rep.token)).json()
    settings = get_settings()  # the payload, its account, its errors (a list: assumed size) and the mutation itself
    assert _cost(mutation)["requested"] == 1 + 1 + settings.cost_assumed_list_size + settings.cost_per_mutation_field
    for body in [mutation, (await _post(gql, SMALL, token="bad")).json(),
                 (await _post(gql, "{ accounts { nodes { nmae } } }", token=team.rep.token)).json(),
                 (await _post(gql, "{ accounts {", token=team.rep.token)).json(),
                 (await _post(gql, SMALL)).json()]:
        assert _cost(body)["maximum"] == get_settings().max_query_cost


async def test_a_compiled_request_left_to_standard_execution_is_charged_once(gql, app, team, monkeypatch):
    """A bad cursor passes the compiled path's admission, then standard execution explains the error:
    the caller pays for one request, not two."""
    await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
    monkeypatch.setattr(get_settings(), "cost_budget_refill_per_second", 0.001)  # what is charged stays charged
    before = _cost((await _post(gql, "{ me { id } }", token=team.rep.token)).json())["budgetRemaining"]
    fallbacks = app.state.fast_path.fallbacks["user input"]
    paged = "query ($first: Int, $after: String) { opportunities(first: $first, after: $after) { edges { node { id } } } }"
    bad = (await _post(gql, paged, {"first": 10, "after": "not-a-cursor"}, team.rep.token)).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert app.state.fast_path.fallbacks["user input"] == fallbacks + 1  # it did go through the compiled path first
    after = _cost((await _post(gql, "{ me { id } }", token=team.rep.token)).json())["budgetRemaining"]
    assert before - after == _cost(bad)["requested"] + 1  # the failed list once, and this `me`


async def test_over_budget_is_rate_limited_with_retry_after_on_both_paths(gql, team, monkeypatch):
    await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
    monkeypatch.setattr(get_settings(), "cost_budget_capacity", 1000)
    monkeypatch.setattr(get_settings(), "cost_budget_refill_per_second", 1.0)
    first = await _post(gql, SMALL, token=team.rep.token)
    assert first.status_code == 200 and "errors" not in first.json()
    assert 300 <= _cost(first.json())["budgetRemaining"] <= 310
    second = await _post(gql, SMALL, token=team.rep.token)
    assert second.status_code == 429
    error = second.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] >= 380  # 690 - 310 units at 1 a second
    assert int(second.headers["retry-after"]) == error["extensions"]["retryAfter"]
    assert second.json().get("data") is None
    # the compiled path answers the same (its refusal is standard execution's)
    fast = await _post(gql, "query { opportunities(first: 100) { edges { node { id account { name } } } } }",
                       token=team.rep.token)
    assert fast.status_code == 429 and fast.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # a refusal charges nothing; another caller has a budget of its own
    cheap = await _post(gql, "{ me { id } }", token=team.rep.token)
    assert cheap.status_code == 200 and _cost(cheap.json())["budgetRemaining"] >= 300
    other = await _post(gql, SMALL, token=team.other_rep.token)
    assert other.status_code == 200 and "errors" not in other.json()


async def test_anonymous_callers_are_budgeted_by_address(gql, monkeypatch):
    monkeypatch.setattr(get_settings(), "cost_budget_capacity", 50)
    monkeypatch.setattr(get_settings(), "cost_budget_refill_per_second", 0.01)
    query = "{ accounts(first: 10) { nodes { id } } }"  # 20
    assert (await _post(gql, query)).json()["extensions"]["cost"]["budgetRemaining"] <= 30
    assert (await _post(gql, query)).status_code != 429  # 401 (no credentials) but still within the budget
    refused = await _post(gql, query)
    assert refused.status_code == 429 and refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_redis_down_fails_open_for_the_budget_but_keeps_the_static_maximum(gql, team, monkeypatch):
    server = EmbeddedRedis()
    url = await asyncio.to_thread(server.start)
    try:
        monkeypatch.setattr(get_settings(), "redis_url", url)
        await queue.close_pool()
        up = (await _post(gql, SMALL, token=team.rep.token)).json()
        assert _cost(up)["budgetRemaining"] is not None
        server.stop()
        down = await _post(gql, SMALL, token=team.rep.token)
        assert down.status_code == 200 and "errors" not in down.json()
        assert _cost(down.json())["budgetRemaining"] is None  # not consulted
        refused = (await _post(gql, TEN_ALIASES, token=team.rep.token)).json()
        assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        fast = (await _post(gql, FAST_LIST, {"first": 5}, team.rep.token))
        assert fast.status_code == 200 and _cost(fast.json())["budgetRemaining"] is None
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
        await queue.close_pool()
        await query_budget.budget.close()


async def test_a_body_over_the_limit_is_refused_with_413_without_being_read(gql, team):
    limit = get_settings().max_body_bytes
    padding = "#" + "x" * (limit + 10) + "\n"
    declared = await gql.http.post("/graphql", content=orjson.dumps({"query": padding + "{ me { id } }"}),
                                   headers={"Content-Type": "application/json",
                                            "Authorization": f"Bearer {team.rep.token}"})
    assert declared.status_code == 413
    assert declared.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    sent = 0

    async def fifty_megabytes():  # streamed without a Content-Length
        nonlocal sent
        yield b'{"query": "#'
        for _ in range(50 * 16):
            sent += 65536
            yield b"x" * 65536
        yield b'\\n{ me { id } }"}'

    streamed = await gql.http.post("/graphql", content=fifty_megabytes(),
                                   headers={"Content-Type": "application/json",
                                            "Authorization": f"Bearer {team.rep.token}"})
    assert streamed.status_code == 413 and streamed.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert sent <= limit + 2 * 65536  # stopped at the limit, not after 50 MB
    ok = await _post(gql, "{ me { id } }", token=team.rep.token)
    assert ok.status_code == 200 and ok.json()["data"]["me"]["id"] == team.rep.id


INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_introspection_is_refused_to_anonymous_callers_in_production(gql, team, monkeypatch):
    assert (await _post(gql, INTROSPECTION)).json()["data"]["__schema"]["queryType"]["name"] == "Query"  # test env
    monkeypatch.setattr(get_settings(), "environment", "production")
    refused = (await _post(gql, INTROSPECTION)).json()
    assert refused.get("data") is None and refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    hidden_in_fragment = (await _post(gql, "query { ...F } fragment F on Query { __type(name: \"Account\") { name } }")).json()
    assert hidden_in_fragment["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    allowed = (await _post(gql, INTROSPECTION, token=team.rep.token)).json()
    assert allowed["data"]["__schema"]["queryType"]["name"] == "Query"
    assert (await _post(gql, "{ __typename }")).json()["data"] == {"__typename": "Query"}
    monkeypatch.setattr(get_settings(), "anonymous_introspection", True)  # the setting overrides
    assert "errors" not in (await _post(gql, INTROSPECTION)).json()


async def test_websocket_results_carry_the_cost_and_costly_operations_are_refused(database_url, team):
    from tests.servers import ApiProcess
    from tests.test_subscriptions import Client

    with ApiProcess(database_url) as api:
        client = await Client.open(api, team.rep.token)
        assert (await client.recv())["type"] == "connection_ack"
        await client.subscribe("1", "{ me { id } }")
        message = await client.recv()
        assert message["type"] == "next" and message["payload"]["data"] == {"me": {"id": team.rep.id}}
        assert message["payload"]["extensions"]["cost"]["requested"] == 1
        assert message["payload"]["extensions"]["cost"]["budgetRemaining"] is not None
        await client.subscribe("2", TEN_ALIASES)
        refused = await client.recv()
        while refused["type"] != "next" and refused["type"] != "error":
            refused = await client.recv()
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        await client.ws.close()


async def _remaining(budget: query_budget.QueryBudget, caller: str) -> int:
    charge = await budget.charge(caller, 0)
    assert charge.remaining is not None
    return charge.remaining


async def test_concurrent_charges_share_a_pipeline_and_each_is_charged_once_in_order(monkeypatch):
    monkeypatch.setattr(get_settings(), "cost_budget_capacity", 1000)
    monkeypatch.setattr(get_settings(), "cost_budget_refill_per_second", 0.001)  # what is charged stays charged
    budget = query_budget.QueryBudget()
    pipelines: list[int] = []
    send = query_budget.QueryBudget._pipeline

    async def counted(client, sha, batch):
        pipelines.append(len(batch))
        return await send(client, sha, batch)

    monkeypatch.setattr(query_budget.QueryBudget, "_pipeline", staticmethod(counted))
    caller = f"test-batch-{id(budget)}"
    try:
        charges = await asyncio.gather(*(budget.charge(caller, 150) for _ in range(10)))
        # 1000 holds six charges of 150; the other four are refused and charge nothing
        assert [c.admitted for c in charges] == [True] * 6 + [False] * 4
        assert [c.remaining for c in charges[:6]] == [850, 700, 550, 400, 250, 100]
        assert all(c.remaining == 100 and c.retry_after >= 1 for c in charges[6:])
        assert len(pipelines) <= 2 and sum(pipelines) == 10  # ten requests, not ten round trips
        assert await _remaining(budget, caller) == 100
    finally:
        await budget.close()


async def test_a_flushed_script_cache_is_reloaded_without_charging_twice(monkeypatch):
    monkeypatch.setattr(get_settings(), "cost_budget_capacity", 1000)
    monkeypatch.setattr(get_settings(), "cost_budget_refill_per_second", 0.001)
    budget = query_budget.QueryBudget()
    caller = f"test-flush-{id(budget)}"
    try:
        assert await _remaining(budget, caller) == 1000
        client, _ = budget._connect()
        await client.script_flush()  # as after a Redis restart
        charges = await asyncio.gather(*(budget.charge(caller, 100) for _ in range(3)))
        assert all(c.admitted for c in charges) and sorted(c.remaining or 0 for c in charges) == [700, 800, 900]
        assert await _remaining(budget, caller) == 700
    finally:
        await budget.close()


async def test_concurrent_charges_fail_open_together_when_redis_is_gone(monkeypatch):
    server = EmbeddedRedis()
    url = await asyncio.to_thread(server.start)
    budget = query_budget.QueryBudget()
    try:
        monkeypatch.setattr(get_settings(), "redis_url", url)
        assert (await budget.charge("test-down", 10)).remaining is not None
        server.stop()
        charges = await asyncio.gather(*(budget.charge("test-down", 10) for _ in range(5)))
        assert all(c.admitted and c.remaining is None for c in charges)  # served, budget not consulted
        assert budget._skip_until > 0  # and not asked again for a while
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
        await budget.close()
