"""Roles and record visibility on lists, node look-ups and mutations."""

from datetime import date

from app.domain.enums import TeamRole
from app.models import AccountTeamMember, Opportunity
from tests import factories
from app.domain.global_ids import global_id
from tests.factories import gid

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
    assert (await gql(query, {"id": gid(hidden)}, as_=team.rep))["opportunity"] is None
    assert (await gql(query, {"id": global_id("Opportunity", 999999)}, as_=team.rep))["opportunity"] is None
    mutation = """mutation($id: ID!) { updateOpportunity(id: $id, input: {name: "mine now"}) {
        opportunity { name } errors { field message code } } }"""
    hidden_result = (await gql(mutation, {"id": gid(hidden)}, as_=team.rep))["updateOpportunity"]
    missing_result = (await gql(mutation, {"id": global_id("Opportunity", 999999)}, as_=team.rep))["updateOpportunity"]
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


# The leaks the security review found (issue 12), each closed on both read paths ------------------

LEAKY_DEAL = """query($id: ID!) { opportunity(id: $id) { name contact { email }
  account { name assignedTo { email } contacts { email } contracts { name value } locations { street }
            teamMembers { id } opportunities { name } parent { name contacts { email } contracts { value } }
            subsidiaries { name contacts { email } } }
  assignedTo { email manager { email manager { email } } } } }"""
FAST_DEAL = """query($id: ID!) { opportunity(id: $id) { name contact { email }
  account { name assignedTo { email manager { email } } parent { name assignedTo { email } } }
  assignedTo { email manager { email } } } }"""


async def _deal_on_someone_elses_account(team):
    """Rep A's deal on rep B's account, which has a parent and a subsidiary of B's, B's contact and contract."""
    from decimal import Decimal

    from app.models import Account, Contact, Contract, Location

    parent = await factories.account(team.other_rep.user, "B Group")
    theirs = await factories.account(team.other_rep.user, "B Bistro", parent_id=parent.id)
    await factories.account(team.other_rep.user, "B Annex", parent_id=theirs.id)
    contact = await Contact.create(account=theirs, first_name="Bea", last_name="B", email="bea@b.example")
    await Contact.create(account=parent, first_name="Pat", last_name="P", email="pat@b.example")
    await Contract.create(account=theirs, name="Supply", value=Decimal("777777.00"), start_date=date(2026, 1, 1),
                          end_date=date(2027, 1, 1))
    await Location.create(account=theirs, name="Main", street="1 Hidden St", city="X", region="R", postal_code="1",
                          country="US")
    deal = await factories.opportunity(team.other_rep.user, theirs.id, "A's deal", contact_id=contact.id)
    await Opportunity.filter(id=deal.id).update(assigned_to_id=team.rep.user.id)
    await factories.opportunity(team.other_rep.user, theirs.id, "B's own deal")
    return deal, await Account.get(id=theirs.id)


async def test_a_deal_owner_reads_the_account_row_but_nothing_hanging_off_it(gql, team):
    deal, theirs = await _deal_on_someone_elses_account(team)
    seen = (await gql(LEAKY_DEAL, {"id": gid(deal)}, as_=team.rep))["opportunity"]
    assert seen == {
        "name": "A's deal", "contact": None,
        "account": {"name": "B Bistro", "assignedTo": None, "contacts": [], "contracts": [], "locations": [],
                    "teamMembers": [], "opportunities": [{"name": "A's deal"}], "parent": None, "subsidiaries": []},
        "assignedTo": {"email": "rep@pantry.test", "manager": {"email": "manager@pantry.test", "manager": None}},
    }
    # The same account by look-up and in the list: its row, consistently.
    by_id = await gql("query($id: ID!) { account(id: $id) { name contacts { email } } }", {"id": gid(theirs)},
                      as_=team.rep)
    assert by_id["account"] == {"name": "B Bistro", "contacts": []}
    assert _names(await gql(ACCOUNTS, as_=team.rep), "accounts") == ["B Bistro"]
    # Its owner's manager sees everything.
    full = (await gql(LEAKY_DEAL, {"id": gid(deal)}, as_=team.other_manager))["opportunity"]
    assert full is None  # the deal itself is the rep's, outside the other manager's scope
    account = (await gql("query($id: ID!) { account(id: $id) { contacts { email } contracts { value } } }",
                         {"id": gid(theirs)}, as_=team.other_manager))["account"]
    assert account == {"contacts": [{"email": "bea@b.example"}], "contracts": [{"value": "777777.00"}]}


async def test_the_compiled_path_hides_the_same_relations(team, orm):
    import httpx
    import orjson

    from app.api.app import create_app
    from app.api.fastpath import FastPath
    from app.api.schema import schema

    deal, _ = await _deal_on_someone_elses_account(team)
    variables = {"id": gid(deal)}
    served = await FastPath(schema).execute(FAST_DEAL, variables, None, f"Bearer {team.rep.token}")
    assert served is not None  # the compiled plan itself answered
    expected = {"opportunity": {
        "name": "A's deal", "contact": None,
        "account": {"name": "B Bistro", "assignedTo": None, "parent": None},
        "assignedTo": {"email": "rep@pantry.test", "manager": {"email": "manager@pantry.test"}}}}
    assert orjson.loads(served.body())["data"] == expected  # extensions.cost aside
    standard = create_app(manage_database=False, fast_path=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=standard), base_url="http://t") as client:
        body = (await client.post("/graphql", json={"query": FAST_DEAL, "variables": variables},
                                  headers={"Authorization": f"Bearer {team.rep.token}"})).json()
    assert "errors" not in body and body["data"] == expected


# Mutations that grant access ------------------------------------------------------------------------

TEAM_ADD = """mutation($a: ID!, $u: ID!) { addAccountTeamMember(input: {accountId: $a, userId: $u, role: SUPPORT}) {
    teamMember { user { email } } errors { field message code } } }"""


async def test_sharing_an_account_only_with_users_you_may_see_and_hidden_answers_like_missing(gql, team):
    from app.models import AccountTeamMember

    mine, _, _ = await _world(team)
    outside = (await gql(TEAM_ADD, {"a": gid(mine), "u": team.other_rep.id}, as_=team.rep))["addAccountTeamMember"]
    missing = (await gql(TEAM_ADD, {"a": gid(mine), "u": global_id("User", 999999)}, as_=team.rep))["addAccountTeamMember"]
    assert outside == missing == {"teamMember": None,
                                  "errors": [{"field": "userId", "message": "user not found", "code": "NOT_FOUND"}]}
    assert not await AccountTeamMember.filter(account_id=mine.id).exists()
    # Your own manager, or (for a manager) their reps, may be given access.
    ok = (await gql(TEAM_ADD, {"a": gid(mine), "u": team.manager.id}, as_=team.rep))["addAccountTeamMember"]
    assert ok == {"teamMember": {"user": {"email": "manager@pantry.test"}}, "errors": []}
    admin_adds = (await gql(TEAM_ADD, {"a": gid(mine), "u": team.other_rep.id}, as_=team.admin))
    assert admin_adds["addAccountTeamMember"]["errors"] == []


async def test_reassignment_only_to_users_you_may_see_and_hidden_answers_like_missing(gql, team):
    await _world(team)
    deal = await Opportunity.get(name="rep deal")
    mutation = """mutation($id: ID!, $u: ID!) { updateOpportunity(id: $id, input: {assignedToId: $u}) {
        opportunity { name } errors { field message code } } }"""
    outside = (await gql(mutation, {"id": gid(deal), "u": team.other_rep.id}, as_=team.manager))["updateOpportunity"]
    missing = (await gql(mutation, {"id": gid(deal), "u": global_id("User", 999999)}, as_=team.manager))["updateOpportunity"]
    assert outside == missing == {"opportunity": None, "errors": [
        {"field": "assignedToId", "message": "user not found", "code": "NOT_FOUND"}]}
    assert (await Opportunity.get(id=deal.id)).assigned_to_id == team.rep.user.id
    account = """mutation($u: ID!) { createAccount(input: {name: "Handed over", assignedToId: $u}) {
        account { name } errors { field message code } } }"""
    assert (await gql(account, {"u": team.other_manager.id}, as_=team.manager))["createAccount"] == \
        (await gql(account, {"u": global_id("User", 999999)}, as_=team.manager))["createAccount"]


async def test_joining_the_account_team_shows_the_contact_through_the_read_cache(team):
    """Team membership changes what the compiled path shows: the cached result is voided (migration 0010)."""
    import asyncio

    from tests.conftest import TEST_BACKEND
    from tests.test_read_cache import running_app

    deal, theirs = await _deal_on_someone_elses_account(team)
    query = "query($id: ID!) { opportunity(id: $id) { name contact { email } } }"
    async with running_app(read_cache=TEST_BACKEND == "postgres") as (post, fast):
        before = await post(query, {"id": gid(deal)}, team.rep.token)
        assert before["data"]["opportunity"]["contact"] is None
        generation = fast.cache.feed.generation if fast.cache else None
        await AccountTeamMember.create(account=theirs, user=team.rep.user, role=TeamRole.SALES_REP,
                                       start_date=date(2026, 1, 1))
        if fast.cache:
            deadline = asyncio.get_running_loop().time() + 5
            while fast.cache.feed.generation == generation:
                assert asyncio.get_running_loop().time() < deadline, "no change notification for the team table"
                await asyncio.sleep(0.01)
        after = await post(query, {"id": gid(deal)}, team.rep.token)
        assert after["data"]["opportunity"]["contact"] == {"email": "bea@b.example"}


async def test_a_deal_owner_cannot_attach_a_contact_he_may_not_see(gql, team):
    from app.models import Contact

    deal, theirs = await _deal_on_someone_elses_account(team)
    hidden = await Contact.get(account_id=theirs.id)
    mutation = """mutation($id: ID!, $c: ID!) { updateOpportunity(id: $id, input: {contactId: $c}) {
        opportunity { name } errors { field message code } } }"""
    await Opportunity.filter(id=deal.id).update(contact_id=None)
    attach_hidden = (await gql(mutation, {"id": gid(deal), "c": gid(hidden)}, as_=team.rep))["updateOpportunity"]
    attach_missing = (await gql(mutation, {"id": gid(deal), "c": global_id("Contact", 999999)}, as_=team.rep))["updateOpportunity"]
    assert attach_hidden == attach_missing
    assert attach_hidden["errors"][0]["code"] == "NOT_FOUND"
    assert (await Opportunity.get(id=deal.id)).contact_id is None
