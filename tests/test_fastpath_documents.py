"""The compiled read path takes documents as clients send them, and answers them as standard execution does.

- Every field of every type the compiled path reaches is either compiled or listed as standard-only
  (app.api.fastpath.STANDARD_ONLY): a field the schema gains fails here until it is classified.
- Documents generated from the schema (every compiled field) and documents shaped like Apollo Client's
  (`__typename` in every selection set, named and inline fragments, aliases, variables, @include/@skip)
  give the same status, data and errors both ways, as a rep, another rep, managers and an admin, on the
  sharing walk's world (tests/test_sharing_walk.py), where relations cross scope boundaries.
- They are served by the compiled plans themselves (FastPath.served / FastPath.fallbacks), not by
  a fallback that happens to give the same answer.
- An unexpected failure inside the compiled path gives what standard execution gives (masked), never a 500.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict

import httpx
import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_named_type, parse

from app import models as m
from app.api import fastpath
from app.api.app import create_app
from app.api.cost import operation_cost
from app.api.fastpath import (
    CONNECTION_FIELDS,
    EDGE_FIELDS,
    EMBEDDED_TYPES,
    PAGE_INFO_FIELDS,
    ROOTS,
    STANDARD_ONLY,
    TYPES,
    One,
)
from app.api.schema import schema
from app.settings import get_settings
from app.domain.global_ids import global_id
from tests.conftest import TEST_BACKEND
from tests.servers import ApiProcess
from tests.test_http_conformance import node_script
from tests.test_sharing_walk import _build

GRAPHQL = schema._schema


def _object(name: str) -> GraphQLObjectType:
    t = GRAPHQL.get_type(name)
    assert isinstance(t, GraphQLObjectType), name
    return t


def _is_list(t) -> bool:
    if isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


# (a) Every field classified ------------------------------------------------------------------------


def _compiled_fields(type_name: str) -> set[str]:
    if type_name in TYPES:
        return TYPES[type_name].field_names()
    if type_name in EMBEDDED_TYPES:
        return set(EMBEDDED_TYPES[type_name])
    return set()


def _covered_types() -> dict[str, set[str]]:
    """Type -> the fields the compiled path serves on it, for every type reachable from the compiled root
    fields through compiled fields (found in the schema, not in the compiled path's own tables)."""
    covered: dict[str, set[str]] = {}
    frontier: list[str] = []
    for root in ROOTS:
        target = get_named_type(_object("Query").fields[root].type).name
        if ROOTS[root] == "list":
            connection = _object(target)
            covered[target] = set(CONNECTION_FIELDS)
            covered[get_named_type(connection.fields["edges"].type).name] = set(EDGE_FIELDS)
            covered[get_named_type(connection.fields["pageInfo"].type).name] = set(PAGE_INFO_FIELDS)
            target = get_named_type(connection.fields["nodes"].type).name
        frontier.append(target)
    while frontier:
        name = frontier.pop()
        if name in covered:
            continue
        covered[name] = fields = _compiled_fields(name)
        for field_name in fields & set(_object(name).fields):
            target = get_named_type(_object(name).fields[field_name].type)
            if isinstance(target, GraphQLObjectType):
                frontier.append(target.name)
    return covered


def test_every_field_of_every_compiled_type_is_compiled_or_listed_as_standard_only():
    covered = _covered_types()
    assert {"Opportunity", "Account", "Address", "OpportunityConnection", "PageInfo"} <= set(covered)
    problems = []
    for type_name, compiled in sorted(covered.items()):
        schema_fields = set(_object(type_name).fields)
        standard = set(STANDARD_ONLY.get(type_name, {}))
        problems += [f"{type_name}.{f}: neither compiled nor in STANDARD_ONLY" for f in sorted(schema_fields - compiled - standard)]
        problems += [f"{type_name}.{f}: not in the schema" for f in sorted((compiled | standard) - schema_fields)]
        problems += [f"{type_name}.{f}: both compiled and standard-only" for f in sorted(compiled & standard)]
    problems += [f"STANDARD_ONLY names {t}, a type the compiled path does not reach" for t in STANDARD_ONLY if t not in covered]
    problems += [f"TYPES[{t!r}] is reached by no compiled field" for t in TYPES if t not in covered]
    assert problems == [], "\n".join(problems)


def test_compiled_relations_have_the_schemas_shape():
    """A relation's target type, and list or not, as the schema declares them."""
    for type_name, spec in TYPES.items():
        fields = _object(type_name).fields
        for name, relation in spec.relations.items():
            target = get_named_type(fields[name].type)
            if isinstance(relation, One) and relation.column is not None:
                assert not isinstance(target, GraphQLObjectType), f"{type_name}.{name} projects a column"
                continue
            assert target.name == relation.type_name, f"{type_name}.{name}"
            assert _is_list(fields[name].type) == (not isinstance(relation, One)), f"{type_name}.{name}"
        for name, embedded in spec.embedded.items():
            assert get_named_type(fields[name].type).name == embedded.type_name in EMBEDDED_TYPES


# Documents generated from the schema ---------------------------------------------------------------


def _all_fields(type_name: str, covered: dict[str, set[str]], with_typename: bool = False) -> str:
    """A selection of every compiled field of the type, each object field expanded where it is first
    reached (breadth first), leaves everywhere: the whole compiled surface in one document."""
    tree: dict[str, dict | None] = {}
    expanded: set[tuple[str, str]] = set()
    frontier: list[tuple[str, dict]] = [(type_name, tree)]
    while frontier:
        following = []
        for parent, node in frontier:
            for name in sorted(covered[parent]):
                target = get_named_type(_object(parent).fields[name].type)
                if not isinstance(target, GraphQLObjectType):
                    node[name] = None
                elif (parent, name) not in expanded:
                    expanded.add((parent, name))
                    child: dict[str, dict | None] = {}
                    node[name] = child
                    following.append((target.name, child))
        frontier = following

    def text(t: str, node: dict) -> str:
        parts = ["__typename"] if with_typename else []
        for name, sub in node.items():
            if sub is None:
                parts.append(name)
            else:
                parts.append(f"{name} {text(get_named_type(_object(t).fields[name].type).name, sub)}")
        return "{ " + " ".join(parts) + " }"

    return text(type_name, tree)


def _generated_documents() -> list[tuple[str, str]]:
    covered = _covered_types()
    node = _all_fields("Opportunity", covered)
    apollo_node = _all_fields("Opportunity", covered, with_typename=True)
    page = ("totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename } "
            f"edges {{ cursor node {node} __typename }} nodes {node} __typename")
    return [
        ("detail", "query($id: ID!) { opportunity(id: $id) " + node + " }"),
        ("detail", "query($id: ID!) { opportunity(id: $id) " + apollo_node + " }"),
        ("list", "query($first: Int, $after: String) { opportunities(first: $first, after: $after) { " + page + " } }"),
    ]


def test_the_generated_documents_stay_within_the_limits_and_ask_for_everything():
    settings = get_settings()
    covered = _covered_types()

    def walk(obj, asked: dict[str, set[str]]) -> None:
        for key, kind, payload in obj.fields:
            asked[obj.type_name].add(key)
            if kind in ("one", "many"):
                walk(payload.target, asked)
            elif kind == "embedded":
                walk(payload[1], asked)

    for _, document in _generated_documents():
        assert operation_cost(GRAPHQL, parse(document), None, {"first": 20}) <= settings.max_query_cost
        plan = fastpath.compile_document(GRAPHQL, document, None)
        asked: dict[str, set[str]] = defaultdict(set)
        walk(plan.plan.node if isinstance(plan.plan, fastpath.ConnectionPlan) else plan.plan, asked)
        for type_name in TYPES:
            assert covered[type_name] <= asked[type_name], (type_name, covered[type_name] - asked[type_name])


# Documents as Apollo Client sends them ------------------------------------------------------------

APOLLO_LIST = """query OpportunitiesPage($first: Int, $after: String, $withProducts: Boolean!, $compact: Boolean! = false) {
  opportunities(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor __typename }
    edges { cursor node { ...OpportunityListItem __typename } __typename }
    __typename
  }
}

fragment OpportunityListItem on Opportunity {
  id
  name
  amount: value
  stage
  isStale @skip(if: $compact)
  account { ...AccountChip __typename }
  assignedTo { id name __typename }
  products @include(if: $withProducts) { id quantity totalPrice product { sku name __typename } __typename }
  ... on Opportunity { probability expectedCloseDate }
  ... @include(if: $withProducts) { documents { id name __typename } }
  __typename
}

fragment AccountChip on Account {
  id
  name
  tier
  headquarters { city country __typename }
  __typename
}
"""

APOLLO_DETAIL = """query OpportunityDetail($id: ID!, $withHistory: Boolean = true) {
  deal: opportunity(id: $id) {
    ...OpportunityHeader
    ...OpportunityRelations
    account { id ...AccountDetail __typename }
    stageHistory @include(if: $withHistory) {
      id at source fromStage { key __typename } toStage { key __typename } by { ...UserChip __typename } __typename
    }
    legacy: description @skip(if: true)
    nextStep @include(if: false)
    __typename
  }
  rootType: __typename
}

fragment OpportunityHeader on Opportunity {
  id
  name
  value
  probability
  stage
  daysInStage
  isStale
  pipelineStage { id key name requirements __typename }
  pipeline { id name stages { id key order __typename } __typename }
  __typename
}

fragment OpportunityRelations on Opportunity {
  contact { id name email account { id name __typename } __typename }
  assignedTo { ...UserChip __typename }
  account { id name __typename }
  activities { id type subject createdBy { ...UserChip __typename } __typename }
  documents { id name type __typename }
  __typename
}

fragment AccountDetail on Account {
  name
  headquarters { ...AddressFields }
  parent { id name __typename }
  subsidiaries { id name __typename }
  contacts { id name email account { id __typename } __typename }
  teamMembers { id role isPrimary startDate endDate user { ...UserChip __typename } __typename }
  opportunities { id name stage isStale assignedTo { id __typename } __typename }
  assignedTo { ...UserChip manager { ...UserChip __typename } __typename }
  __typename
}

fragment UserChip on User { id name email role __typename }

fragment AddressFields on Address { street city region postalCode country __typename }
"""

# A list item a client keeps next to the page (nodes instead of edges, fragments spread twice).
APOLLO_NODES = """query Board($first: Int = 10) {
  board: opportunities(first: $first) {
    items: nodes { ...Card ...Card __typename }
    info: pageInfo { more: hasNextPage __typename }
    __typename
  }
}
fragment Card on Opportunity { id title: name stage account { id name __typename } __typename }
"""

# Fragments at the root, directives on spreads and inline fragments, a field asked twice with different
# subselections (merged).
ROOT_SHAPES = """query RootShapes($withAccount: Boolean!) {
  ...Root
  kind: __typename
}
fragment Root on Query {
  opportunities(first: 3) {
    nodes {
      id
      ...AccountPart @include(if: $withAccount)
      ... on Opportunity @skip(if: $withAccount) { stage account { id } }
      account { tier }
    }
  }
}
fragment AccountPart on Opportunity { account { name parent { name } } }
"""


def _apollo_cases(world) -> list[tuple[str, str, dict]]:
    """(operation name, document, variables): each Apollo-shaped document with several variable values."""
    deals = sorted(world.records["Opportunity"])
    cases: list[tuple[str, str, dict]] = []
    for first, with_products, compact in ((50, True, False), (1, False, True), (2, True, True)):
        cases.append(("OpportunitiesPage", APOLLO_LIST, {"first": first, "withProducts": with_products, "compact": compact}))
    cases.append(("OpportunitiesPage", APOLLO_LIST, {"withProducts": False}))  # $compact's default
    for deal in deals:
        cases.append(("OpportunityDetail", APOLLO_DETAIL, {"id": global_id("Opportunity", deal)}))
        cases.append(("OpportunityDetail", APOLLO_DETAIL, {"id": global_id("Opportunity", deal), "withHistory": False}))
    cases.append(("OpportunityDetail", APOLLO_DETAIL, {"id": global_id("Opportunity", 999999)}))  # no such deal
    cases.append(("Board", APOLLO_NODES, {}))
    cases += [("RootShapes", ROOT_SHAPES, {"withAccount": flag}) for flag in (True, False)]
    return cases


# Running them both ways -----------------------------------------------------------------------------


def _roles(team):
    return {"rep": team.rep, "other rep": team.other_rep, "manager": team.manager,
            "other manager": team.other_manager, "admin": team.admin}


@pytest.fixture
async def apps(orm):
    """The API as deployed (compiled path on, no read cache: nothing is served from memory) and with
    standard execution only."""
    fast, standard = create_app(manage_database=False, fast_path=True), create_app(manage_database=False, fast_path=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as f, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=standard), base_url="http://t") as s:
        async def post(client, document: str, variables: dict, token: str, operation: str | None = None):
            body = {"query": document, "variables": variables, **({"operationName": operation} if operation else {})}
            response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
            out = response.json()
            out.get("extensions", {}).get("cost", {}).pop("budgetRemaining", None)  # spent by every request
            return response.status_code, out

        async def both(document: str, variables: dict, token: str, operation: str | None = None):
            return (await post(f, document, variables, token, operation), await post(s, document, variables, token, operation))

        yield both, fast.state.fast_path


async def test_generated_and_apollo_documents_are_served_compiled_and_identically_as_every_role(apps, team):
    world = await _build(team)
    both, compiled = apps
    deals = sorted(world.records["Opportunity"])
    cases: list[tuple[str | None, str, dict]] = []
    for kind, document in _generated_documents():
        if kind == "detail":
            cases += [(None, document, {"id": global_id("Opportunity", deal)}) for deal in deals]
        else:
            cases += [(None, document, {"first": first}) for first in (20, 1)]
    cases += _apollo_cases(world)
    compared = 0
    for role, actor in _roles(team).items():
        for operation, document, variables in cases:
            served_before, fallbacks_before = compiled.served, sum(compiled.fallbacks.values())
            fast, standard = await both(document, variables, actor.token, operation)
            assert compiled.served == served_before + 1, (role, operation, variables, dict(compiled.fallbacks))
            assert sum(compiled.fallbacks.values()) == fallbacks_before
            assert standard[0] == 200 and "errors" not in standard[1], (role, standard)
            assert fast == standard, (role, operation, variables)
            compared += 1
    # The documents reach what they should: hidden rows are where the roles differ.
    assert compiled.fallbacks == {}
    print(f"\ncompiled path: {compared} documents x roles identical to standard execution, all served compiled")


async def test_apollo_clients_own_requests_are_served_compiled_and_identically(apps, team, database_url):
    """Apollo Client 4 itself (tests/js/apollo_documents.mjs) against a live API: its requests carry the
    `__typename`s it adds, and each, replayed, is served by the compiled plans as every role."""
    await _build(team)
    with ApiProcess(database_url, READ_CACHE_ENABLED="false") as api:
        run = node_script("apollo_documents.mjs", f"{api.http}/graphql", team.rep.token)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    print("\nwhat Apollo Client sent first:\n" + out["sent"][0]["query"])
    assert [r["error"] for r in out["results"]] == [None] * len(out["results"])
    page = out["results"][0]["data"]["deals"]
    assert page["__typename"] == "OpportunityConnection" and page["edges"][0]["node"]["account"]["__typename"] == "Account"
    assert len(out["sent"]) == len(out["results"]) >= 3  # both pages and a detail per deal of the first
    assert "gzip" in out["encodings"]  # the detail answers at least: Node's fetch decoded the compiled path's gzip
    both, compiled = apps
    for body in out["sent"]:
        assert body["operationName"] in ("DealsPage", "DealDetail") and "__typename" in body["query"]
        for role, actor in _roles(team).items():
            served = compiled.served
            fast, standard = await both(body["query"], body["variables"], actor.token, body["operationName"])
            assert compiled.served == served + 1, (role, body["operationName"], dict(compiled.fallbacks))
            assert fast == standard and "errors" not in standard[1], (role, body)
    assert compiled.fallbacks == {}


async def test_what_the_roles_see_through_apollo_documents_differs_where_the_sharing_model_says(apps, team):
    """The comparison above is only as good as its data: the documents return hidden and visible rows
    across scopes (a deal on someone else's account: its account's team and contacts hidden)."""
    world = await _build(team)
    both, _ = apps
    deal = world.ids["a_on_b"]
    seen: dict[str, tuple | None] = {}
    for role, actor in _roles(team).items():
        (status, body), _ = await both(APOLLO_DETAIL, {"id": global_id("Opportunity", deal)}, actor.token, "OpportunityDetail")
        assert status == 200
        opportunity = body["data"]["deal"]
        seen[role] = None if opportunity is None else (
            len(opportunity["account"]["contacts"]), len(opportunity["account"]["teamMembers"]),
            opportunity["account"]["headquarters"])
    assert seen["rep"] == (0, 0, {"street": "B Bistro HQ", "city": None, "region": None, "postalCode": None,
                                  "country": None, "__typename": "Address"})
    assert seen["other rep"] is None  # not B's deal
    assert seen["other manager"] is None and seen["admin"] is not None and seen["manager"] is not None
    assert seen["admin"][:2] == (1, 1) and seen["manager"][:2] == (0, 0)


async def test_errors_and_refusals_are_identical_and_left_to_standard_execution(apps, team):
    world = await _build(team)
    both, compiled = apps
    deal = global_id("Opportunity", world.ids["a_on_b"])
    competitors = APOLLO_DETAIL.replace("documents { id name type __typename }",
                                        "documents { id name type __typename } competitors { id name __typename }")
    cases = [
        ("OpportunitiesPage", APOLLO_LIST, {"first": 500, "withProducts": True}, team.rep.token, "cost"),
        ("OpportunitiesPage", APOLLO_LIST, {"first": 101, "withProducts": False}, team.rep.token, "user input"),
        ("OpportunitiesPage", APOLLO_LIST, {"first": -1, "withProducts": True}, team.rep.token, "user input"),
        ("OpportunitiesPage", APOLLO_LIST, {"first": 2}, team.rep.token, "variables"),  # $withProducts missing
        ("OpportunitiesPage", APOLLO_LIST, {"withProducts": "yes"}, team.rep.token, "variables"),
        ("OpportunitiesPage", APOLLO_LIST, {"withProducts": True, "after": "not-a-cursor"}, team.rep.token, "user input"),
        ("OpportunityDetail", APOLLO_DETAIL, {"id": deal}, "not-a-token", "credentials"),
        ("OpportunityDetail", APOLLO_DETAIL, {"id": deal}, "", "credentials"),
        ("OpportunityDetail", competitors, {"id": deal}, team.rep.token, "Opportunity.competitors"),
        ("Nope", APOLLO_DETAIL, {"id": deal}, team.rep.token, "no single operation to run: standard execution reports it"),
        (None, APOLLO_DETAIL + APOLLO_NODES, {"id": deal}, team.rep.token,
         "no single operation to run: standard execution reports it"),
        (None, "query { opportunity(id: 1) { id ...Missing } }", {}, team.rep.token,
         "invalid document: standard execution reports the errors"),
        (None, "query { opportunities { nodes { id } } me { id } }", {}, team.rep.token,
         "one root field of the compiled path (and __typename) only"),
        (None, "query { opportunities { nodes { " + " ".join(f"a{i}: id" for i in range(40)) + " } } }", {},
         team.rep.token, "invalid document: standard execution reports the errors"),  # the alias limit
        (None, "query { opportunities { nodes { ...on Opportunity { ...F } } } } fragment F on Opportunity { id "
         + "account { parent { " * 8 + "id" + " } }" * 8 + " }", {}, team.rep.token,
         "invalid document: standard execution reports the errors"),  # the depth limit, through fragments
    ]
    for operation, document, variables, token, reason in cases:
        before = compiled.fallbacks[reason]
        fast, standard = await both(document, variables, token, operation)
        assert fast == standard, (operation, variables, fast, standard)
        assert compiled.fallbacks[reason] == before + 1, (reason, dict(compiled.fallbacks))
    # and a document with a standard-only field still answers, with its data
    fast, _ = await both(competitors, {"id": deal}, team.rep.token, "OpportunityDetail")
    assert fast[1]["data"]["deal"]["competitors"] == [{"id": global_id("Competitor", world.ids["rival"]), "name": "Sysco-ish",
                                                       "__typename": "Competitor"}]


async def test_an_unexpected_failure_in_the_compiled_path_is_answered_as_standard_execution_answers(
        apps, team, monkeypatch, caplog):
    world = await _build(team)
    both, compiled = apps
    variables = {"id": global_id("Opportunity", world.ids["a_on_b"])}

    def broken(*_args):
        raise RuntimeError("secret internals")

    # A bug of the compiled path alone: the client still gets the right data (standard execution answers).
    derived = TYPES["Opportunity"].derived
    monkeypatch.setitem(derived, "isStale", dataclasses.replace(derived["isStale"], value=broken))
    compiled.plans.clear()  # plans hold the function they were compiled with
    with caplog.at_level(logging.ERROR, logger="app.api.fastpath"):
        fast, standard = await both(APOLLO_DETAIL, variables, team.rep.token, "OpportunityDetail")
    assert fast == standard and fast[0] == 200 and fast[1]["data"]["deal"]["isStale"] in (True, False)
    assert compiled.fallbacks["unexpected error"] == 1
    assert any(r.exc_info and "secret internals" in r.getMessage() for r in caplog.records)
    # The same bug in both paths: masked the same way ("Unexpected error.", the field's path, no internals).
    from app.api import types

    monkeypatch.setattr(types, "stale_rule", broken)
    fast, standard = await both(APOLLO_DETAIL, variables, team.rep.token, "OpportunityDetail")
    assert fast == standard and fast[0] == 200, (fast, standard)
    assert [(e["message"], e["path"]) for e in fast[1]["errors"]] == [("Unexpected error.", ["deal", "isStale"])]
    assert "secret internals" not in str(fast[1])


@pytest.mark.skipif(TEST_BACKEND != "postgres", reason="the read cache and its triggers are PostgreSQL only")
async def test_every_table_the_compiled_path_reads_voids_the_read_cache(orm):
    """Cached results stay right only if each table they read notifies at commit (migrations 0005, 0010)."""
    from tortoise import connections

    rows = await connections.get("default").execute_query_dict(
        "SELECT c.relname AS table FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgname = 'crm_notify_change'")
    notifying = {row["table"] for row in rows}
    read = {spec.model._meta.db_table for spec in TYPES.values()} | {m.AccountTeamMember._meta.db_table}
    assert read - notifying == set()
