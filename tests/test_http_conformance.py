"""GraphQL over HTTP as the spec and real clients expect it: media types, status codes, batching, and no
request of any shape ever answered with a 500 (the compiled path included)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import factories
from tests.servers import ApiProcess
from tests.factories import gid

ROOT = Path(__file__).resolve().parent.parent
GRAPHQL_RESPONSE = "application/graphql-response+json"
# A document the compiled read path serves: a crash there used to be a text/plain 500.
COMPILED = "query Deals { opportunities(first: 2) { totalCount edges { node { id name value } } } }"


def _body(body: dict) -> dict:
    """The response without `extensions` (its cost block changes with every request)."""
    return {k: v for k, v in body.items() if k != "extensions"}


def node_script(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one of tests/js/*.mjs with the project's node_modules (installed by `npm ci`)."""
    assert (ROOT / "node_modules" / "graphql-http").is_dir(), "node_modules missing: run `npm ci` (make test does)"
    return subprocess.run(["node", str(ROOT / "tests" / "js" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ})


async def _post(gql, body, *, accept: str | None = GRAPHQL_RESPONSE, token: str | None = None,
                content_type: str | None = "application/json"):
    headers = {}
    if accept is not None:
        headers["Accept"] = accept
    if content_type is not None:
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return await gql.http.post("/graphql", content=content, headers=headers)


async def test_media_type_follows_accept(gql):
    for accept, expected in [(GRAPHQL_RESPONSE, GRAPHQL_RESPONSE), ("application/json", "application/json"),
                             ("*/*", "application/json"), (None, "application/json"),
                             (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE)]:
        response = await _post(gql, {"query": "{ __typename }"}, accept=accept)
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{expected}; charset=utf-8", accept
        assert _body(response.json()) == {"data": {"__typename": "Query"}}
    refused = await _post(gql, {"query": "{ __typename }"}, accept="text/csv")
    assert refused.status_code == 406
    assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize("document, variables", [
    ("{ opportunities(first: ", None),  # parse error
    ("{ noSuchField }", None),  # validation error
    ("query($first: Int!) { opportunities(first: $first) { totalCount } }", {"first": "many"}),  # variable coercion
])
async def test_request_errors_are_400_without_data_for_graphql_response_json_and_200_for_json(gql, team, document,
                                                                                              variables):
    body = {"query": document, "variables": variables}
    strict = await _post(gql, body, token=team.rep.token)
    assert strict.status_code == 400
    assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in strict.json() and strict.json()["errors"]
    legacy = await _post(gql, body, accept="application/json", token=team.rep.token)
    assert legacy.status_code == 200
    assert legacy.json()["errors"]


async def test_missing_or_bad_credentials_answer_401_when_nothing_could_be_served(gql, team):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        response = await gql.http.post("/graphql", json={"query": "{ me { id } }"},
                                       headers={"Accept": GRAPHQL_RESPONSE, **headers})
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Partial data is a 200 (the spec requires 2xx when data is present), and logging in works with a stale header.
    partial = await gql.http.post("/graphql", json={"query": '{ opportunity(id: "1") { id } }'},
                                  headers={"Accept": GRAPHQL_RESPONSE})
    assert partial.status_code == 200 and partial.json()["data"] == {"opportunity": None}
    login = await gql.http.post("/graphql", headers={"Authorization": "Bearer expired-or-garbage"}, json={
        "query": 'mutation { login(email: "rep@pantry.test", password: "correct-horse-1") { token errors { code } } }'})
    assert login.status_code == 200 and login.json()["data"]["login"]["token"]


async def test_a_subscription_over_http_is_told_to_use_a_websocket(gql, team):
    body = {"query": "subscription { opportunityEvents { cursor } }"}
    for accept, status in [(GRAPHQL_RESPONSE, 400), ("application/json", 200)]:
        response = await _post(gql, body, accept=accept, token=team.rep.token)
        assert response.status_code == status
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "WEBSOCKET_REQUIRED"
        assert "WebSocket" in error["message"] and "graphql-transport-ws" in error["message"]


async def test_get_runs_queries_and_refuses_mutations_with_405(gql, team):
    ok = await gql.http.get("/graphql", params={"query": "query($n: String!) { __type(name: $n) { name } }",
                                                "variables": json.dumps({"n": "Opportunity"})},
                            headers={"Accept": GRAPHQL_RESPONSE, "Authorization": f"Bearer {team.rep.token}"})
    assert ok.status_code == 200 and _body(ok.json()) == {"data": {"__type": {"name": "Opportunity"}}}
    compiled = await gql.http.get("/graphql", params={"query": COMPILED}, headers={"Authorization": f"Bearer {team.rep.token}"})
    assert compiled.status_code == 200 and compiled.json()["data"]["opportunities"]["totalCount"] == 0
    mutation = await gql.http.get("/graphql", params={"query": 'mutation { login(email: "a@b.c", password: "x") { token } }'})
    assert mutation.status_code == 405 and mutation.headers["allow"] == "POST"
    assert mutation.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_batched_requests_answer_a_list_in_order(gql, team):
    account = await factories.account(team.rep.user, "Batch Bistro")
    response = await _post(gql, [
        {"query": "{ me { email } }"},
        {"query": "mutation($a: ID!) { createOpportunity(input: {name: \"Batch deal\", accountId: $a, "
                  "expectedCloseDate: \"2027-03-01\"}) { opportunity { name } errors { code } } }",
         "variables": {"a": gid(account)}},
        {"query": "{ opportunities(first: 5) { edges { node { name } } } }"},
        {"query": "{ broken"},
        {"operationName": {"not": "a string"}, "query": "{ __typename }"},
    ], token=team.rep.token)
    assert response.status_code == 200
    first, created, listed, broken, malformed = response.json()
    assert _body(first) == {"data": {"me": {"email": "rep@pantry.test"}}}
    assert created["data"]["createOpportunity"] == {"opportunity": {"name": "Batch deal"}, "errors": []}
    assert listed["data"]["opportunities"]["edges"] == [{"node": {"name": "Batch deal"}}]
    assert "data" not in broken and broken["errors"]
    assert malformed["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


MALFORMED_POST_BODIES = [
    {"query": COMPILED, "operationName": {"obj": "ect"}}, {"query": COMPILED, "operationName": ["Deals"]},
    {"query": COMPILED, "operationName": 7}, {"query": COMPILED, "operationName": True},
    {"query": COMPILED, "operationName": "Nope"}, {"query": COMPILED, "operationName": ""},
    {"query": COMPILED, "variables": "{}"}, {"query": COMPILED, "variables": [1]}, {"query": COMPILED, "variables": 3},
    {"query": COMPILED, "variables": {"first": {"deep": [1, {"x": None}]}}},
    {"query": COMPILED, "extensions": "x"}, {"query": COMPILED, "extensions": [1]},
    {"query": COMPILED, "extensions": {"persistedQuery": "x"}},
    {"query": COMPILED, "extensions": {"persistedQuery": {"version": 2, "sha256Hash": "ab"}}},
    {"query": COMPILED, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": 12}}},
    {"query": COMPILED, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
    {"query": 1}, {"query": {"q": 1}}, {"query": ["{ __typename }"]}, {"query": ""}, {"query": None}, {},
    {"notquery": "{ __typename }"}, "a string", 42, None, [], [1, 2], [{"query": 3}], [[{"query": "{ __typename }"}]],
    [{"query": "{ __typename }"}] * 11, {"query": "query A { __typename } query B { __typename }"},
    {"query": "query A { __typename } query B { __typename }", "operationName": "C"},
    {"query": "{ __typename }" * 3000},
]


async def test_no_malformed_post_ever_answers_500(gql, team):
    for body in MALFORMED_POST_BODIES:  # one loop (not parametrized): a team costs five password hashes
        for accept in (GRAPHQL_RESPONSE, "application/json"):
            response = await _post(gql, body, accept=accept, token=team.rep.token)
            assert 200 <= response.status_code < 500, (body, response.status_code, response.text)
            payload = response.json()
            items = payload if isinstance(payload, list) else [payload]
            assert items and all("errors" in item or "data" in item for item in items), (body, payload)


CONTENT_VARIANTS = [
    (None, '{"query": "{ __typename }"}'), ("text/plain", '{"query": "{ __typename }"}'),
    ("application/x-www-form-urlencoded", "query=%7B__typename%7D"), ("application/graphql", "{ __typename }"),
    ("multipart/form-data; boundary=x", "--x--"), ("application/json", '{ "not a JSON'), ("application/json", ""),
    ("application/json; charset=utf-8", '{"query": "{ __typename }"}'), ("application/json", b"\xff\xfe\x00"),
]


async def test_content_types_and_bodies(gql):
    for content_type, content in CONTENT_VARIANTS:
        response = await _post(gql, content, content_type=content_type)
        assert 200 <= response.status_code < 500
        if content_type and content_type.startswith("application/json") and "__typename" in str(content):
            assert _body(response.json()) == {"data": {"__typename": "Query"}}
        elif content_type is None or not content_type.startswith("application/json"):
            assert response.status_code == 415, content_type
        else:
            assert response.status_code == 400 and response.json()["errors"], content


MALFORMED_GET_PARAMS = [
    {}, {"query": ""}, {"query": "{ __typename }", "variables": "{not json"}, {"query": "{ __typename }", "variables": "[1]"},
    {"query": "{ __typename }", "extensions": "3"}, {"query": COMPILED, "operationName": "Other"},
    {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "f" * 64}})},
    {"query": "subscription { opportunityEvents { cursor } }"},
]


async def test_no_malformed_get_ever_answers_500(gql, team):
    for params in MALFORMED_GET_PARAMS:
        response = await gql.http.get("/graphql", params=params, headers={"Accept": GRAPHQL_RESPONSE,
                                                                          "Authorization": f"Bearer {team.rep.token}"})
        assert 400 <= response.status_code < 500, (params, response.text)
        assert response.json()["errors"]


async def test_options_and_other_methods(gql):
    options = await gql.http.options("/graphql")
    assert options.status_code == 204 and "POST" in options.headers["allow"]
    assert (await gql.http.put("/graphql", json={"query": "{ __typename }"})).status_code == 405


def test_graphql_http_audit_passes_without_warnings_or_notices(database_url):
    with ApiProcess(database_url) as api:
        run = node_script("audit.mjs", f"{api.http}/graphql")
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["problems"] == [], summary["problems"]
    assert (summary["error"], summary["warn"], summary["notice"]) == (0, 0, 0)
    assert summary["ok"] == summary["total"] >= 60
    assert run.returncode == 0, run.stderr
