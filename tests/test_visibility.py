"""Roles and record visibility on lists, node look-ups and mutations."""

from datetime import date

from app.domain.enums import TeamRole
from app.models import AccountTeamMember, Opportunity
from tests import factories

OPPS = "{ opportunities(first: 100) { totalCount edges { node { name } } } }"
ACCOUNTS = "{ accounts(first: 100) { totalCount edges { node { name } } } }"


async def _world(team):
    mine = await factories.account(team.rep.user, "Rep Diner")
    theirs = await factories.account(team.other_rep.user, "Other Bistro")
    managers = await factories.account(team.manager.user, "Manager Hotel")
    await factories.opportunity(team.rep.user, mine.id, "rep deal")
    await factories.opportunity(team.other_rep.user, theirs.id, "other deal")
    await factories.opportunity(team.manager.user, managers.id, "manager deal")
    return mine, theirs, managers


def _names(data, key):
    return sorted(e["node"]["name"] for e in data[key]["edges"])


async def test_each_role_sees_its_scope(gql, team):
    await _world(team)
    assert _names(await gql(OPPS, as_=team.rep), "opportunities") == ["rep deal"]
    assert _names(await gql(OPPS, as_=team.manager), "opportunities") == ["manager deal", "rep deal"]
    assert _names(await gql(OPPS, as_=team.other_manager), "opportunities") == ["other deal"]
    assert _names(await gql(OPPS, as_=team.admin), "opportunities") == ["manager deal", "other deal", "rep deal"]
    assert _names(await gql(ACCOUNTS, as_=team.rep), "accounts") == ["Rep Diner"]
    assert (await gql(ACCOUNTS, as_=team.admin))["accounts"]["totalCount"] == 3


async def test_team_membership_grants_account_visibility_while_current(gql, team):
    _, theirs, _ = await _world(team)
    member = await AccountTeamMember.create(account=theirs, user=team.rep.user, role=TeamRole.SUPPORT,
                                            start_date=date(2026, 1, 1))
    assert _names(await gql(ACCOUNTS, as_=team.rep), "accounts") == ["Other Bistro", "Rep Diner"]
    member.end_date = date(2026, 2, 1)
    await member.save()
    assert _names(await gql(ACCOUNTS, as_=team.rep), "accounts") == ["Rep Diner"]


async def test_hidden_record_answers_like_a_missing_one(gql, team):
    await _world(team)
    hidden = await Opportunity.get(name="other deal")
    query = "query($id: ID!) { opportunity(id: $id) { name } }"
    assert (await gql(query, {"id": str(hidden.id)}, as_=team.rep))["opportunity"] is None
    assert (await gql(query, {"id": "999999"}, as_=team.rep))["opportunity"] is None
    mutation = """mutation($id: ID!) { updateOpportunity(id: $id, input: {name: "mine now"}) {
        opportunity { name } errors { field message code } } }"""
    hidden_result = (await gql(mutation, {"id": str(hidden.id)}, as_=team.rep))["updateOpportunity"]
    missing_result = (await gql(mutation, {"id": "999999"}, as_=team.rep))["updateOpportunity"]
    assert hidden_result == missing_result
    assert hidden_result["errors"] == [{"field": "id", "message": "opportunity not found", "code": "NOT_FOUND"}]
    assert (await Opportunity.get(id=hidden.id)).name == "other deal"


async def test_rep_cannot_assign_records_outside_their_scope(gql, team):
    mutation = """mutation($u: ID!) { createAccount(input: {name: "Sneaky", assignedToId: $u}) {
        account { id } errors { field code } } }"""
    result = (await gql(mutation, {"u": team.other_rep.id}, as_=team.rep))["createAccount"]
    assert result == {"account": None, "errors": [{"field": "assignedToId", "code": "NOT_FOUND"}]}
    ok = (await gql(mutation, {"u": team.rep.id}, as_=team.manager))["createAccount"]
    assert ok["errors"] == [] and ok["account"]["id"]


async def test_users_query_follows_the_hierarchy(gql, team):
    query = "{ users(first: 50) { edges { node { email } } } }"
    rep_sees = sorted(e["node"]["email"] for e in (await gql(query, as_=team.rep))["users"]["edges"])
    manager_sees = sorted(e["node"]["email"] for e in (await gql(query, as_=team.manager))["users"]["edges"])
    assert rep_sees == ["manager@pantry.test", "rep@pantry.test"]  # yourself and your own manager
    assert manager_sees == ["manager@pantry.test", "rep@pantry.test"]
    assert len((await gql(query, as_=team.admin))["users"]["edges"]) == 5


async def test_only_managers_and_admins_edit_the_catalogue(gql, team):
    mutation = """mutation { createProduct(input: {sku: "OIL-6", name: "Olive oil 6x1 gal", category: DRY_GOODS,
        unitPrice: "89.90"}) { product { sku unitPrice } errors { field code } } }"""
    denied = await gql.raw(mutation, token=team.rep.token)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    ok = (await gql(mutation, as_=team.manager))["createProduct"]
    assert ok == {"product": {"sku": "OIL-6", "unitPrice": "89.90"}, "errors": []}
    listed = await gql("{ products { edges { node { sku } } } }", as_=team.rep)
    assert [e["node"]["sku"] for e in listed["products"]["edges"]] == ["OIL-6"]
