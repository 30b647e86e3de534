"""Opportunity.tasks, Opportunity.interactions and Account.interactions: connections under each record,
newest first, under the visibility rules, paged with first/after, and batched (the statements a list
of deals takes do not grow with the number of deals)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app import models as m
from app.queries.visibility import scope_for
from app.services import interactions
from tests import factories
from tests.factories import gid

DEAL = """query($id: ID!, $first: Int, $after: String, $interactionsAfter: String) { opportunity(id: $id) {
  tasks(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { title } }
  interactions(first: $first, after: $interactionsAfter) { totalCount pageInfo { hasNextPage endCursor } nodes { subject } }
  account { interactions(first: $first) { totalCount nodes { subject } } } } }"""

LIST = """query($first: Int) { opportunities(first: 50) { nodes { name
  tasks(first: $first) { totalCount pageInfo { hasNextPage } nodes { title assignee { email } } }
  interactions(first: $first) { totalCount nodes { subject } }
  account { interactions(first: $first) { totalCount nodes { subject } } } } } }"""


async def _deal_with_work(team, name: str = "Weekly produce"):
    account = await factories.account(team.rep.user, f"{name} account")
    deal = await factories.opportunity(team.rep.user, account.id, name=name)
    for title in ("Send samples", "Call the chef", "Price the menu"):
        await m.Task.create(title=title, assignee=team.rep.user, opportunity=deal, account=account)
    # Someone else's task on the same deal: the rep may not read it.
    await m.Task.create(title="Other rep's follow-up", assignee=team.other_rep.user, opportunity=deal)
    scope = await scope_for(team.rep.user)
    start = datetime.now(timezone.utc) - timedelta(days=10)
    for day, subject in enumerate(("Intro call", "Tasting", "Menu review")):
        await interactions.record_interaction(scope, {"account_id": account.id, "opportunity_id": deal.id,
                                                      "type": "phone", "subject": subject,
                                                      "occurred_at": start + timedelta(days=day)})
    await interactions.record_interaction(scope, {"account_id": account.id, "type": "email",
                                                  "subject": "Account newsletter", "occurred_at": start})
    return account, deal


async def test_each_record_pages_its_own_children_newest_first(gql, team):
    _, deal = await _deal_with_work(team)
    first = (await gql(DEAL, {"id": gid(deal), "first": 2}, as_=team.rep))["opportunity"]
    assert first["tasks"]["nodes"] == [{"title": "Price the menu"}, {"title": "Call the chef"}]
    assert (first["tasks"]["totalCount"], first["tasks"]["pageInfo"]["hasNextPage"]) == (3, True)
    assert first["interactions"]["nodes"] == [{"subject": "Menu review"}, {"subject": "Tasting"}]
    assert first["interactions"]["totalCount"] == 3
    # The account's interactions include the one not logged on the deal.
    assert first["account"]["interactions"]["totalCount"] == 4
    assert first["account"]["interactions"]["nodes"] == [{"subject": "Menu review"}, {"subject": "Tasting"}]

    rest = (await gql(DEAL, {"id": gid(deal), "first": 2, "after": first["tasks"]["pageInfo"]["endCursor"],
                             "interactionsAfter": first["interactions"]["pageInfo"]["endCursor"]},
                      as_=team.rep))["opportunity"]
    assert rest["tasks"]["nodes"] == [{"title": "Send samples"}]
    assert rest["tasks"]["pageInfo"]["hasNextPage"] is False and rest["tasks"]["totalCount"] == 3
    assert rest["interactions"]["nodes"] == [{"subject": "Intro call"}]
    assert rest["interactions"]["pageInfo"]["hasNextPage"] is False

    # An admin also sees the other rep's task.
    everything = (await gql(DEAL, {"id": gid(deal), "first": 10}, as_=team.admin))["opportunity"]
    assert everything["tasks"]["totalCount"] == 4
    assert "Other rep's follow-up" in {t["title"] for t in everything["tasks"]["nodes"]}


async def test_a_list_of_deals_reads_its_children_in_a_fixed_number_of_statements(gql, team, count_queries):
    await _deal_with_work(team, "Deal 1")
    await _deal_with_work(team, "Deal 2")
    count_queries.queries.clear()
    two = (await gql(LIST, {"first": 2}, as_=team.rep))["opportunities"]["nodes"]
    with_two = len(count_queries.queries)
    for i in range(3, 7):
        await _deal_with_work(team, f"Deal {i}")
    count_queries.queries.clear()
    six = (await gql(LIST, {"first": 2}, as_=team.rep))["opportunities"]["nodes"]
    assert len(count_queries.queries) == with_two, count_queries.queries
    assert len(two) == 2 and len(six) == 6
    for deal in six:
        assert [t["title"] for t in deal["tasks"]["nodes"]] == ["Price the menu", "Call the chef"]
        assert {t["assignee"]["email"] for t in deal["tasks"]["nodes"]} == {team.rep.user.email}
        assert (deal["tasks"]["totalCount"], deal["tasks"]["pageInfo"]["hasNextPage"]) == (3, True)
        assert [i["subject"] for i in deal["interactions"]["nodes"]] == ["Menu review", "Tasting"]
        assert deal["account"]["interactions"]["totalCount"] == 4


async def test_bad_page_arguments_are_bad_user_input(gql, team):
    _, deal = await _deal_with_work(team)
    for variables, field in (({"first": 101}, "first"), ({"first": -1}, "first"), ({"after": "not a cursor"}, "after")):
        body = await gql.raw(DEAL, {"id": gid(deal), **variables}, team.rep.token)
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == field, body
