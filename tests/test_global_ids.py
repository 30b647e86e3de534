"""Global object identification (Relay): one opaque id per record, unique across types, `node(id:)` and
`nodes(ids:)` under the visibility rules. The walk in tests/test_sharing_walk.py asks `node` and `nodes`
for every record of the fixture as every role; these tests pin the id format and the edges."""

from __future__ import annotations

import base64

import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType

from app import models as m
from app.api.schema import schema
from app.domain.global_ids import (
    ID_FIELD_TYPES,
    InvalidGlobalId,
    decode_global_id,
    global_id,
    globalize_ids,
    node_type_of,
)
from app.queries.visibility import NODE_MODELS
from tests import factories
from tests.factories import gid

GRAPHQL = schema._schema

NODE = """query($id: ID!) { node(id: $id) { __typename id ... on Opportunity { name account { id name } }
  ... on Account { name } } }"""


def test_every_record_type_is_a_node_served_from_its_model():
    node = GRAPHQL.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    implementations = {t.name for t in GRAPHQL.get_possible_types(node)}
    with_ids = {name for name, t in GRAPHQL.type_map.items()
                if isinstance(t, GraphQLObjectType) and "id" in t.fields and not name.startswith("__")}
    # Change names the changed record by that record's id; every other type with an id is a record.
    assert with_ids - implementations == {"Change"}
    assert implementations == set(NODE_MODELS)
    assert all(model.__name__ == name for name, model in NODE_MODELS.items())


def test_the_id_format_is_one_canonical_spelling_per_record():
    assert global_id("Opportunity", 189) == base64.b64encode(b"Opportunity:189").decode()
    assert global_id("Opportunity", 189) != global_id("Account", 189)
    assert decode_global_id(global_id("Account", 7), "Account") == 7
    assert node_type_of(global_id("Task", 3)) == "Task"
    for bad, expected in [("189", "Opportunity"), (global_id("Account", 189), "Opportunity"),
                          (base64.b64encode(b"Opportunity:0189").decode(), "Opportunity"),
                          (base64.b64encode(b"Opportunity:-1").decode(), "Opportunity"),
                          (base64.b64encode(b"Opportunity:99999999999").decode(), "Opportunity"),
                          (global_id("Opportunity", 5).rstrip("="), "Opportunity"), ("", "Opportunity"),
                          (None, "Opportunity"), ("T3Bw b3J0", "Opportunity")]:
        with pytest.raises(InvalidGlobalId):
            decode_global_id(bad, expected)


def test_event_payloads_name_records_by_global_id():
    payload = {"opportunity_id": 4, "accountId": 2, "changes": {"assigned_to_id": {"from": 1, "to": 3},
                                                                "name": {"from": "a", "to": "b"}},
               "won": True, "transition_id": 9, "value": 5}
    assert globalize_ids(payload) == {
        "opportunity_id": global_id("Opportunity", 4), "accountId": global_id("Account", 2),
        "changes": {"assigned_to_id": {"from": global_id("User", 1), "to": global_id("User", 3)},
                    "name": {"from": "a", "to": "b"}},
        "won": True, "transition_id": global_id("StageTransition", 9), "value": 5}


async def test_node_refetches_what_the_caller_may_read_and_nothing_else(gql, team):
    account = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, account.id, name="Brisket program")
    mine = (await gql(NODE, {"id": gid(deal)}, as_=team.rep))["node"]
    assert mine == {"__typename": "Opportunity", "id": gid(deal), "name": "Brisket program",
                    "account": {"id": gid(account), "name": account.name}}
    assert (await gql(NODE, {"id": gid(account)}, as_=team.rep))["node"] == {
        "__typename": "Account", "id": gid(account), "name": account.name}
    # Another rep: hidden is answered exactly as missing, malformed and wrong-type ids the same way.
    missing = global_id("Opportunity", deal.id + 1000)
    for raw in (gid(deal), missing, str(deal.id), "not base64!", global_id("Webhook", deal.id)):
        assert await gql(NODE, {"id": raw}, as_=team.other_rep) == {"node": None}
    # The manager of the rep sees it.
    assert (await gql(NODE, {"id": gid(deal)}, as_=team.manager))["node"]["id"] == gid(deal)


async def test_nodes_answers_in_the_order_asked_with_nulls_where_node_would(gql, team):
    account = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, account.id)
    theirs = await factories.opportunity(team.other_rep.user, (await factories.account(team.other_rep.user)).id)
    product = await factories.product(team.admin.user)
    ids = [gid(product), gid(theirs), gid(deal), "garbage", gid(account), gid(deal), gid(team.rep.user)]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
    got = (await gql(query, {"ids": ids}, as_=team.rep))["nodes"]
    assert got == [{"__typename": "Product", "id": gid(product)}, None, {"__typename": "Opportunity", "id": gid(deal)},
                   None, {"__typename": "Account", "id": gid(account)}, {"__typename": "Opportunity", "id": gid(deal)},
                   {"__typename": "User", "id": team.rep.id}]
    too_many = await gql.raw(query, {"ids": [gid(deal)] * 101}, team.rep.token)
    assert too_many["data"] is None and too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_ids_of_another_type_are_refused_like_missing_records(gql, team):
    account = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, account.id)
    update = """mutation($id: ID!) { updateOpportunity(id: $id, input: {name: "Renamed"}) {
        opportunity { id } errors { field code } } }"""
    # The account's id where a deal's is expected: NOT_FOUND, and the deal with that key is untouched.
    wrong = (await gql(update, {"id": global_id("Account", deal.id)}, as_=team.rep))["updateOpportunity"]
    assert wrong == {"opportunity": None, "errors": [{"field": "id", "code": "NOT_FOUND"}]}
    legacy = (await gql(update, {"id": str(deal.id)}, as_=team.rep))["updateOpportunity"]
    assert legacy == wrong
    assert (await m.Opportunity.get(id=deal.id)).name != "Renamed"
    ok = (await gql(update, {"id": gid(deal)}, as_=team.rep))["updateOpportunity"]
    assert ok == {"opportunity": {"id": gid(deal)}, "errors": []}


async def test_ids_in_lists_payloads_and_filters_are_global(gql, team):
    account = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, account.id)
    page = (await gql("""query($a: ID!) { opportunities(filter: {accountId: $a}) {
        edges { cursor node { id account { id } assignedTo { id } pipeline { id } pipelineStage { id } } } } }""",
                      {"a": gid(account)}, as_=team.rep))["opportunities"]["edges"]
    node = page[0]["node"]
    assert node["id"] == gid(deal) and node["account"]["id"] == gid(account) and node["assignedTo"]["id"] == team.rep.id
    assert node_type_of(node["pipeline"]["id"]) == "Pipeline" and node_type_of(node["pipelineStage"]["id"]) == "PipelineStage"
    # The cursor is opaque (nothing readable in it).
    assert "{" not in page[0]["cursor"] and "created_at" not in page[0]["cursor"]
    deleted = (await gql("mutation($id: ID!) { deleteOpportunity(id: $id) { deletedId errors { code } } }",
                         {"id": gid(deal)}, as_=team.admin))["deleteOpportunity"]
    assert deleted == {"deletedId": gid(deal), "errors": []}


def test_every_id_a_client_sends_names_its_type():
    """Each ID-typed argument and input field other than `id`/`ids` decodes through ID_FIELD_TYPES."""
    from graphql import GraphQLInputObjectType, get_named_type

    def snake(name: str) -> str:
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)

    unknown = set()
    for type_name, t in GRAPHQL.type_map.items():
        if isinstance(t, GraphQLInputObjectType):
            unknown |= {f"{type_name}.{name}" for name, f in t.fields.items()
                        if get_named_type(f.type).name == "ID" and name != "id" and snake(name) not in ID_FIELD_TYPES}
        if isinstance(t, GraphQLObjectType):
            unknown |= {f"{type_name}.{field}({name})" for field, f in t.fields.items() for name, a in f.args.items()
                        if get_named_type(a.type).name == "ID" and name not in ("id", "ids")
                        and snake(name) not in ID_FIELD_TYPES}
    assert unknown == set()
