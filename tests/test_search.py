"""`search(query, types, first)` as a client uses it, on PostgreSQL (pg_trgm) and SQLite (FTS5): typos,
prefixes, phone digits, e-mail, ranking and its tie-breaks, the arguments' limits, visibility by role
(filtered before the page is cut), and an index that follows every write at once."""

from __future__ import annotations

import pytest

from app import models as m
from app.queries.visibility import scope_for
from app.services import accounts as account_service
from tests import factories

SEARCH = """query($q: String!, $types: [SearchType!], $first: Int) {
  search(query: $q, types: $types, first: $first) {
    score matchedField
    node { __typename id ... on Account { name } ... on Contact { name email phone }
           ... on Opportunity { name } ... on Product { name sku } }
  }
}"""


async def search(gql, actor, q, **variables) -> list[dict]:
    return (await gql(SEARCH, {"q": q, **variables}, as_=actor))["search"]


def names(hits: list[dict]) -> list[str]:
    return [h["node"]["name"] for h in hits]


async def contact(owner, account, first, last, **extra) -> m.Contact:
    return await account_service.create_contact(await scope_for(owner), {
        "account_id": account.id, "first_name": first, "last_name": last, **extra})


async def test_a_typo_a_prefix_and_a_misspelt_name_find_what_was_meant(gql, team):
    rep = team.rep
    restaurant = await factories.account(rep.user, "Restaurant Row")
    bagels = await factories.account(rep.user, "Bagel Barn")
    await factories.account(rep.user, "Harbor Grill")
    john = await contact(rep.user, restaurant, "John", "Smith", email="john.smith@row.example")

    hits = await search(gql, rep, "restaurnt")
    assert hits[0]["node"] == {"__typename": "Account", "id": factories.gid(restaurant), "name": "Restaurant Row"}
    assert hits[0]["matchedField"] == "name" and 0 < hits[0]["score"] < 1
    assert names(await search(gql, rep, "bag"))[0] == "Bagel Barn"
    assert (await search(gql, rep, "bag"))[0]["node"]["id"] == factories.gid(bagels)
    smith = await search(gql, rep, "jon smith")
    assert smith[0]["node"]["id"] == factories.gid(john) and smith[0]["matchedField"] == "name"
    assert await search(gql, rep, "zzqx") == []  # nothing like it


async def test_every_word_of_the_query_must_match_and_each_may_be_misspelt(gql, team):
    rep = team.rep
    wanted = await factories.account(rep.user, "Harbor Grill #4821")
    await factories.account(rep.user, "Harbor Grill #73")
    await factories.account(rep.user, "Bayside Grill #4821")
    steakhouse = await factories.account(rep.user, "Lone Star Steakhouse")
    assert [h["node"]["id"] for h in await search(gql, rep, "harbr grill 4821")] == [factories.gid(wanted)]
    assert [h["node"]["id"] for h in await search(gql, rep, "stakehouse")] == [factories.gid(steakhouse)]
    assert await search(gql, rep, "stakehouse harbor") == []
    cafe = await factories.account(rep.user, "Café Zürich")  # letters beyond ASCII are letters too
    assert [h["node"]["id"] for h in await search(gql, rep, "cafe zurich")] == [factories.gid(cafe)]
    assert [h["node"]["id"] for h in await search(gql, rep, "ZÜRICH")] == [factories.gid(cafe)]


async def test_best_match_first_and_ties_broken_by_type_then_id(gql, team):
    rep = team.rep
    exact = await factories.account(rep.user, "Harbor Grill")
    longer = await factories.account(rep.user, "Harbor Grill Catering of the West Side")
    twin = await factories.account(rep.user, "Harbor Grill")  # same name, later id
    deal = await factories.opportunity(rep.user, exact.id, "Harbor Grill")
    product = await factories.product(team.admin.user, "HG-1", name="Harbor Grill")

    hits = await search(gql, rep, "harbor grill")
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert [h["node"]["id"] for h in hits] == [factories.gid(r) for r in (exact, twin, deal, product, longer)]
    assert scores[0] == scores[3] == 1.0 and scores[4] < 1.0
    assert hits[0]["node"]["__typename"] == "Account" and hits[2]["node"]["__typename"] == "Opportunity"


async def test_phone_numbers_match_on_digits_only(gql, team):
    rep = team.rep
    acct = await factories.account(rep.user, "Corner Cafe")
    maria = await contact(rep.user, acct, "Maria", "Garcia", phone="(555) 010-0")
    await contact(rep.user, acct, "Tom", "Rossi", phone="+1 312 555 7788")

    [hit] = await search(gql, rep, "555 0100")
    assert hit["node"]["id"] == factories.gid(maria) and hit["matchedField"] == "phone" and hit["score"] == 1.0
    [fragment] = await search(gql, rep, "010-0")
    assert fragment["node"]["id"] == factories.gid(maria) and fragment["score"] < 1.0
    assert names(await search(gql, rep, "312-555")) == ["Tom Rossi"]
    assert await search(gql, rep, "55") == []  # two digits are no phone number


async def test_e_mail_addresses_and_skus_are_searched(gql, team):
    rep = team.rep
    acct = await factories.account(rep.user, "Lakeview Diner")
    buyer = await contact(rep.user, acct, "Ana", "Nguyen", email="purchasing@cornercafe.example")
    brisket = await factories.product(team.admin.user, "BRI-12", name="Smoked Brisket")

    [hit] = await search(gql, rep, "purchasing@cornercafe")
    assert hit["node"]["id"] == factories.gid(buyer) and hit["matchedField"] == "email"
    [sku] = await search(gql, rep, "bri-12")
    assert sku["node"] == {"__typename": "Product", "id": factories.gid(brisket), "name": "Smoked Brisket", "sku": "BRI-12"}
    assert sku["matchedField"] == "sku"


async def test_an_account_s_headquarters_city_is_searched(gql, team):
    rep = team.rep
    acct = await factories.account(rep.user, "Corner Deli", headquarters={"street": "1 Main St", "city": "Springfield"})
    await factories.account(rep.user, "Springfield Diner")
    hits = await search(gql, rep, "springfeld", types=["ACCOUNT"])
    assert [(h["node"]["name"], h["matchedField"]) for h in hits] == [
        ("Corner Deli", "headquarters.city"), ("Springfield Diner", "name")]
    assert hits[0]["node"]["id"] == factories.gid(acct) and hits[0]["score"] > hits[1]["score"]
    moved = await gql("""mutation($id: ID!) { updateAccount(id: $id, input: {headquarters: {city: "Shelbyville"}}) {
        errors { code } } }""", {"id": factories.gid(acct)}, as_=rep)
    assert moved["updateAccount"]["errors"] == []
    assert names(await search(gql, rep, "shelbyville")) == ["Corner Deli"]
    assert names(await search(gql, rep, "springfield", types=["ACCOUNT"])) == ["Springfield Diner"]


async def test_types_and_first_select_the_page(gql, team):
    rep = team.rep
    accts = [await factories.account(rep.user, f"Bistro Nova {i}") for i in range(4)]
    await factories.opportunity(rep.user, accts[0].id, "Bistro Nova produce")
    await factories.product(team.admin.user, "BN-1", name="Bistro Nova napkins")

    everything = await search(gql, rep, "bistro nova")
    assert {h["node"]["__typename"] for h in everything} == {"Account", "Opportunity", "Product"}
    only = await search(gql, rep, "bistro nova", types=["PRODUCT", "OPPORTUNITY"])
    assert {h["node"]["__typename"] for h in only} == {"Opportunity", "Product"}
    assert len(only) == 2
    two = await search(gql, rep, "bistro nova", first=2)
    assert two == everything[:2]
    assert len(await search(gql, rep, "bistro nova", first=100)) == len(everything) == 6


@pytest.mark.parametrize("variables, field", [
    ({"q": " a "}, "query"), ({"q": ""}, "query"), ({"q": "x" * 201}, "query"),
    ({"q": "bistro", "first": 0}, "first"), ({"q": "bistro", "first": 101}, "first"), ({"q": "bistro", "first": -5}, "first"),
])
async def test_bad_arguments_are_bad_user_input(gql, team, variables, field):
    body = await gql.raw(SEARCH, variables, team.rep.token)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, error
    assert error["message"].startswith(f"{field}: ")


async def test_search_needs_a_signed_in_caller(gql):
    body = await gql.raw(SEARCH, {"q": "bistro"})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_rep_never_finds_what_they_may_not_read_and_pages_stay_full(gql, team):
    """Hidden matches are filtered before the page is cut: a rep's page of 3 is 3 of their own, as good
    as the other rep's hidden better matches (exact names) may be."""
    rep, other = team.rep, team.other_rep
    mine = [await factories.account(rep.user, f"Sunrise Diner Annex {i}") for i in range(4)]
    theirs = [await factories.account(other.user, "Sunrise Diner") for _ in range(3)]
    their_contact = await contact(other.user, theirs[0], "Sunny", "Diner")
    their_deal = await factories.opportunity(other.user, theirs[0].id, "Sunrise Diner")
    product = await factories.product(team.admin.user, "SD-1", name="Sunrise Diner mugs")

    page = await search(gql, rep, "sunrise diner", types=["ACCOUNT"], first=3)
    assert [h["node"]["id"] for h in page] == [factories.gid(a) for a in mine[:3]]
    seen = {h["node"]["id"] for h in await search(gql, rep, "sunrise diner", first=100)}
    assert seen == {factories.gid(r) for r in (*mine, product)}
    assert await search(gql, rep, "sunny diner", types=["CONTACT"]) == []

    expected = {
        "other rep": {*theirs, their_contact, their_deal, product},
        "other manager": {*theirs, their_contact, their_deal, product},
        "manager": {*mine, product},
        "admin": {*mine, *theirs, their_contact, their_deal, product},
    }
    actors = {"other rep": other, "other manager": team.other_manager, "manager": team.manager, "admin": team.admin}
    for role, records in expected.items():
        found = {h["node"]["id"] for h in await search(gql, actors[role], "sunrise diner", first=100)}
        found |= {h["node"]["id"] for h in await search(gql, actors[role], "sunny diner", types=["CONTACT"])}
        assert found == {factories.gid(r) for r in records}, role


async def test_a_deal_s_account_is_found_by_whoever_may_see_the_deal(gql, team):
    """Implicit sharing (README "Who sees what"): a rep with a deal on another rep's account reads that
    account's own row, so search finds it; its contacts stay hidden."""
    rep, other = team.rep, team.other_rep
    their_account = await factories.account(other.user, "Lakeside Tavern")
    await contact(other.user, their_account, "Lake", "Side")
    deal = await factories.opportunity(other.user, their_account.id, "Lakeside Tavern produce")
    assert await search(gql, rep, "lakeside") == []
    await m.Opportunity.filter(id=deal.id).update(assigned_to_id=rep.user.id)
    found = await search(gql, rep, "lakeside")
    assert [h["node"]["__typename"] for h in found] == ["Account", "Opportunity"]


async def test_the_index_follows_every_write_at_once(gql, team):
    rep = team.rep
    acct = await factories.account(rep.user, "Old Mill Bakery")
    person = await contact(rep.user, acct, "Keiko", "Tanaka", phone="555-867-5309")
    assert names(await search(gql, rep, "old mill")) == ["Old Mill Bakery"]

    renamed = await gql("""mutation($id: ID!) { updateAccount(id: $id, input: {name: "Copper Kettle Bakery"}) {
        errors { code } } }""", {"id": factories.gid(acct)}, as_=rep)
    assert renamed["updateAccount"]["errors"] == []
    assert await search(gql, rep, "old mill") == []
    assert names(await search(gql, rep, "copper kettle")) == ["Copper Kettle Bakery"]

    changed = await gql("""mutation($id: ID!) { updateContact(id: $id, input: {phone: "(555) 222-1234"}) {
        errors { code } } }""", {"id": factories.gid(person)}, as_=rep)
    assert changed["updateContact"]["errors"] == []
    assert await search(gql, rep, "867 5309") == []
    assert names(await search(gql, rep, "2221234")) == ["Keiko Tanaka"]

    deleted = await gql("mutation($id: ID!) { deleteContact(id: $id) { errors { code } } }",
                        {"id": factories.gid(person)}, as_=team.admin)
    assert deleted["deleteContact"]["errors"] == []
    assert await search(gql, rep, "keiko tanaka") == []
    deal = await factories.opportunity(rep.user, acct.id, "Sourdough program")
    assert [h["node"]["id"] for h in await search(gql, rep, "sourdough")] == [factories.gid(deal)]


async def test_statements_do_not_grow_with_the_hits(gql, team, count_queries):
    rep = team.rep
    await factories.account(rep.user, "Pepper Pot")
    await search(gql, rep, "pepper pot")
    count_queries.queries.clear()
    assert len(await search(gql, rep, "pepper pot")) == 1
    one = len(count_queries.queries)
    for i in range(8):
        acct = await factories.account(rep.user, f"Pepper Pot {i}")
        await contact(rep.user, acct, "Pepper", f"Pot {i}")
        await factories.opportunity(rep.user, acct.id, f"Pepper Pot deal {i}")
    count_queries.queries.clear()
    assert len(await search(gql, rep, "pepper pot", first=100)) == 25
    assert len(count_queries.queries) == one + 2  # contacts and opportunities now have hits to load


@pytest.mark.postgres_only
async def test_writers_bringing_the_same_new_word_do_not_wait_for_each_other(gql, team, database_url):
    """The lexicon (PostgreSQL) takes a new word without a unique key: two open transactions that both
    bring "zanzibar" both go through at once (with ON CONFLICT the second would wait for the first)."""
    import asyncio

    import asyncpg

    first = await factories.product(team.admin.user, "ZZ-1")
    second = await factories.product(team.admin.user, "ZZ-2")
    url = database_url.replace("postgres://", "postgresql://", 1)
    a, b = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        in_a, in_b = a.transaction(), b.transaction()
        await in_a.start()
        await in_b.start()
        await a.execute("UPDATE products SET name = 'Zanzibar Spice One' WHERE id = $1", first.id)
        await asyncio.wait_for(b.execute("UPDATE products SET name = 'Zanzibar Spice Two' WHERE id = $1", second.id), 5)
        await in_b.commit()
        await in_a.commit()
    finally:
        await a.close()
        await b.close()
    assert names(await search(gql, team.rep, "zanzibr spice")) == ["Zanzibar Spice One", "Zanzibar Spice Two"]


async def test_a_query_of_many_words_matches_on_its_first_eight(gql, team):
    rep = team.rep
    deal_account = await factories.account(rep.user, "Harbor Grill One Two Three Four Five Six")
    words = "harbor grill one two three four five six seven eight nine ten eleven twelve"
    assert [h["node"]["id"] for h in await search(gql, rep, words)] == [factories.gid(deal_account)]
    assert await search(gql, rep, " ".join("abcdefghijklmnopqrstuvwxyz")) == []
