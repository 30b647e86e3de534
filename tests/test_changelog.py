"""The change log: commit-ordered cursors, `eventCursor`, `changes` (sync with tombstones), `updatedSince`,
child changes moving their opportunity, and deletions reaching subscriptions' and webhooks' sources."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import cast

import asyncpg
import pytest

from app.domain.changelog import RETENTION, Position, encode_cursor
from app.domain.events import parse_event
from app.models import Account, Contact, CustomerInteraction, DomainEvent, Opportunity, Product, Task, Webhook, WebhookDelivery
from app.queries.changelog import now_position, read_after
from app.queries.visibility import scope_for
from app.services import accounts, interactions, webhooks
from app.domain.global_ids import global_id
from tests import factories
from tests.conftest import TEST_BACKEND
from tests.factories import gid

CHANGES = """query($after: String, $types: [ChangeRecordType!], $first: Int! = 100) {
  changes(after: $after, types: $types, first: $first) { cursor hasMore
    changes { cursor type id action at opportunity { name version } account { name } contact { firstName }
              activity { subject } interaction { subject } task { title } notification { title } product { sku } } } }"""
CURSOR = "{ eventCursor }"


async def settled() -> None:
    """Wait until every event written so far is final (PostgreSQL: no older transaction anywhere on the
    cluster, e.g. another test run's, is still in flight). Delivery waits for that by design."""
    from tortoise.functions import Max

    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the values themselves.
    last = cast("list[int | None]", await DomainEvent.annotate(m=Max("txid")).values_list("m", flat=True))[0] or 0
    for _ in range(1200):
        if (await now_position()).txid > last or TEST_BACKEND != "postgres":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("an older transaction never finished")


async def _changes(gql, actor, after=None, **variables) -> dict:
    await settled()
    return (await gql(CHANGES, {"after": after, **variables}, as_=actor))["changes"]


def _summary(page: dict) -> list[tuple[str, str, str]]:
    return [(c["type"], c["id"], c["action"]) for c in page["changes"]]


async def test_changes_lists_creates_updates_and_tombstones_in_commit_order(gql, team):
    start = (await gql(CURSOR, as_=team.rep))["eventCursor"]
    acct = await factories.account(team.rep.user, "Harbor Grill")
    opp = await factories.opportunity(team.rep.user, acct.id, "Weekly produce")
    contact = (await gql("""mutation($a: ID!) { createContact(accountId: $a, input: {firstName: "Ana", lastName: "Diaz"}) {
        contact { id } errors { code } } }""", {"a": gid(acct)}, as_=team.rep))["createContact"]["contact"]
    activity = (await gql("""mutation($o: ID!) { addOpportunityActivity(opportunityId: $o, input: {type: CALL, subject: "Intro"}) {
        activity { id } errors { code } } }""", {"o": gid(opp)}, as_=team.rep))["addOpportunityActivity"]["activity"]
    product = await factories.product(team.manager.user, "BRISKET-10")
    gone = await factories.opportunity(team.rep.user, acct.id, "Cancelled deal")
    deleted = (await gql("""mutation($id: ID!) { deleteOpportunity(id: $id) { deletedId errors { code } } }""",
                         {"id": gid(gone)}, as_=team.admin))["deleteOpportunity"]
    assert deleted == {"deletedId": gid(gone), "errors": []}
    await gql("""mutation($id: ID!) { deleteContact(id: $id) { errors { code } } }""", {"id": contact["id"]}, as_=team.admin)
    theirs = await factories.account(team.other_rep.user, "Not yours")

    page = await _changes(gql, team.rep, start)
    assert _summary(page) == [
        ("ACCOUNT", gid(acct), "CREATED"),
        ("OPPORTUNITY", gid(opp), "CREATED"),  # at its latest change: the activity moved it
        ("ACTIVITY", activity["id"], "CREATED"),
        ("PRODUCT", gid(product), "CREATED"),
        ("OPPORTUNITY", gid(gone), "DELETED"),
        ("CONTACT", contact["id"], "DELETED"),
    ]
    by_key = {(c["type"], c["id"]): c for c in page["changes"]}
    assert by_key[("OPPORTUNITY", gid(opp))]["opportunity"] == {"name": "Weekly produce", "version": 2}
    assert by_key[("ACCOUNT", gid(acct))]["account"] == {"name": "Harbor Grill"}
    assert by_key[("OPPORTUNITY", gid(gone))]["opportunity"] is None  # a tombstone carries the id only
    assert page["hasMore"] is False
    assert gid(theirs) not in {c["id"] for c in page["changes"] if c["type"] == "ACCOUNT"}

    # The other rep's sync sees their own account and the catalogue, nothing of the rep's.
    assert _summary(await _changes(gql, team.other_rep, start)) == [
        ("PRODUCT", gid(product), "CREATED"), ("ACCOUNT", gid(theirs), "CREATED")]

    # Nothing new since the page's cursor; a filter by type; pages of one follow each other without overlap.
    assert (await _changes(gql, team.rep, page["cursor"]))["changes"] == []
    assert _summary(await _changes(gql, team.rep, start, types=["CONTACT"])) == [("CONTACT", contact["id"], "DELETED")]
    seen, cursor = [], start
    for _ in range(20):
        small = await _changes(gql, team.rep, cursor, first=1)
        seen += [(c["type"], c["id"]) for c in small["changes"]]
        cursor = small["cursor"]
        if not small["hasMore"]:
            break
    assert set(seen) == set(by_key)


async def test_a_record_reassigned_away_is_removed_from_the_previous_owners_sync(gql, team):
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    await settled()  # "now" comes after what has committed and is final
    start = (await gql(CURSOR, as_=team.rep))["eventCursor"]
    moved = await gql("""mutation($id: ID!, $to: ID!) { updateOpportunity(id: $id, input: {assignedToId: $to}) {
        errors { code } } }""", {"id": gid(opp), "to": team.other_rep.id}, as_=team.admin)
    assert moved["updateOpportunity"]["errors"] == []
    assert _summary(await _changes(gql, team.rep, start)) == [("OPPORTUNITY", gid(opp), "REMOVED")]
    assert _summary(await _changes(gql, team.other_rep, start)) == [("OPPORTUNITY", gid(opp), "UPDATED")]
    assert _summary(await _changes(gql, team.other_manager, start)) == [("OPPORTUNITY", gid(opp), "UPDATED")]


async def test_cursor_errors_expired_and_malformed(gql, team):
    old = encode_cursor(Position(0, 1, datetime.now(timezone.utc) - RETENTION))
    for query in (CHANGES, ):
        body = await gql.raw(query, {"after": old}, team.rep.token)
        assert body["errors"][0]["extensions"]["code"] == "CURSOR_EXPIRED"
        assert "resync" in body["errors"][0]["message"]
        assert (await gql.raw(query, {"after": "42"}, team.rep.token))["errors"][0]["extensions"]["code"] == "CURSOR_EXPIRED"
        assert (await gql.raw(query, {"after": "%%not-a-cursor"}, team.rep.token))["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await gql.raw(CHANGES, {"first": 0}, team.rep.token))["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    fresh = encode_cursor(Position(0, 1, datetime.now(timezone.utc) - RETENTION + timedelta(days=1)))
    assert "errors" not in await gql.raw(CHANGES, {"after": fresh}, team.rep.token)


async def test_child_changes_move_the_opportunity(gql, team):
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    competitor = (await gql("""mutation { createCompetitor(input: {name: "FreshCo", marketShare: 0.2, pricing: LOWER}) {
        competitor { id } errors { code } } }""", as_=team.admin))["createCompetitor"]["competitor"]
    steps = [
        ("""mutation($o: ID!) { addOpportunityActivity(opportunityId: $o, input: {type: CALL, subject: "Intro"}) { errors { code } } }""",
         {"o": gid(opp)}),
        ("""mutation($o: ID!) { addOpportunityDocument(input: {opportunityId: $o, name: "Quote", url: "https://docs.example.com/q.pdf"}) {
            errors { code } } }""", {"o": gid(opp)}),
        ("""mutation($o: ID!, $c: ID!) { addOpportunityCompetitor(opportunityId: $o, competitorId: $c) { errors { code } } }""",
         {"o": gid(opp), "c": competitor["id"]}),
        ("""mutation($o: ID!, $c: ID!) { removeOpportunityCompetitor(opportunityId: $o, competitorId: $c) { errors { code } } }""",
         {"o": gid(opp), "c": competitor["id"]}),
    ]
    before = await Opportunity.get(id=opp.id)
    for mutation, variables in steps:
        result = next(iter((await gql(mutation, variables, as_=team.rep)).values()))
        assert result["errors"] == []
        after = await Opportunity.get(id=opp.id)
        assert after.version == before.version + 1 and after.updated_at > before.updated_at, mutation
        before = after
    added = await DomainEvent.filter(kind="opportunity.activity_added").first()
    document = await before.documents.all().first()
    assert added is not None and document is not None
    activity_id = added.payload["activity_id"]
    await gql("""mutation($id: ID!) { deleteOpportunityActivity(id: $id) { errors { code } } }""", {"id": global_id("OpportunityActivity", activity_id)}, as_=team.admin)
    await gql("""mutation($id: ID!) { deleteOpportunityDocument(id: $id) { errors { code } } }""", {"id": gid(document)}, as_=team.rep)
    assert (await Opportunity.get(id=opp.id)).version == before.version + 2


async def test_updated_since_on_lists(gql, team):
    acct = await factories.account(team.rep.user, "Old account")
    opp = await factories.opportunity(team.rep.user, acct.id, "Old deal")
    await factories.product(team.manager.user, "OLD-1")
    interaction = await interactions.record_interaction(await scope_for(team.rep.user), {
        "account_id": acct.id, "type": "email", "subject": "Old note"})
    contact = await accounts.create_contact(await scope_for(team.rep.user), {"account_id": acct.id, "first_name": "Old",
                                                                             "last_name": "Contact"})
    tasks = [await Task.create(title=title, assignee_id=team.rep.user.id, account_id=acct.id) for title in ("Old task", "Done task")]
    cut = datetime.now(timezone.utc)
    await Opportunity.filter(id=opp.id).update(updated_at=cut - timedelta(hours=1))
    await Account.all().update(updated_at=cut - timedelta(hours=1))
    await Product.all().update(updated_at=cut - timedelta(hours=1))
    await CustomerInteraction.filter(id=interaction.id).update(updated_at=cut - timedelta(hours=1))
    await Contact.filter(id=contact.id).update(updated_at=cut - timedelta(hours=1))
    await Task.all().update(updated_at=cut - timedelta(hours=1))
    await factories.account(team.rep.user, "New account")
    await gql("""mutation($id: ID!) { updateOpportunity(id: $id, input: {nextStep: "call"}) { errors { code } } }""",
              {"id": gid(opp)}, as_=team.rep)
    await factories.product(team.manager.user, "NEW-1")
    await gql("""mutation($id: ID!) { updateInteraction(id: $id, input: {description: "edited"}) { errors { code } } }""",
              {"id": gid(interaction)}, as_=team.rep)
    await gql("""mutation($id: ID!) { completeTask(id: $id) { errors { code } } }""", {"id": gid(tasks[1])}, as_=team.rep)
    await gql("""mutation($id: ID!) { updateContact(id: $id, input: {title: "Chef"}) { errors { code } } }""",
              {"id": gid(contact)}, as_=team.rep)
    since = {"s": cut.isoformat()}
    data = await gql("""query($s: DateTime!) {
        opportunities(filter: {updatedSince: $s}) { edges { node { name } } }
        accounts(filter: {updatedSince: $s}) { edges { node { name } } }
        products(filter: {updatedSince: $s}) { edges { node { sku } } }
        interactions(filter: {updatedSince: $s}) { edges { node { subject } } }
        contacts(filter: {updatedSince: $s}) { edges { node { title } } }
        tasks(filter: {updatedSince: $s}) { edges { node { title } } } }""", since, as_=team.rep)
    assert [e["node"]["title"] for e in data["contacts"]["edges"]] == ["Chef"]
    assert [e["node"]["title"] for e in data["tasks"]["edges"]] == ["Done task"]
    assert [e["node"]["name"] for e in data["opportunities"]["edges"]] == ["Old deal"]  # changed after the cut
    assert [e["node"]["name"] for e in data["accounts"]["edges"]] == ["New account"]
    assert [e["node"]["sku"] for e in data["products"]["edges"]] == ["NEW-1"]
    assert [e["node"]["subject"] for e in data["interactions"]["edges"]] == ["Old note"]


async def test_deletions_are_events_for_subscriptions_and_webhooks(gql, team):
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    hook = await Webhook.create(url="https://hooks.example.com/crm", events=["opportunity.deleted", "account.deleted"],
                                secret="s" * 32)
    await gql("""mutation($id: ID!) { deleteOpportunity(id: $id) { errors { code } } }""", {"id": gid(opp)}, as_=team.admin)
    await gql("""mutation($id: ID!) { deleteAccount(id: $id) { errors { code } } }""", {"id": gid(acct)}, as_=team.admin)
    events = await DomainEvent.filter(kind__in=["opportunity.deleted", "account.deleted"]).order_by("id")
    assert [(e.kind, e.owner_id) for e in events] == [("opportunity.deleted", team.rep.user.id),
                                                     ("account.deleted", team.rep.user.id)]
    for event in events:  # what the worker's process_event does with each
        parsed = parse_event(event.kind, event.payload)
        assert parsed is not None and await webhooks.fan_out(event, parsed) == 1
    assert await WebhookDelivery.filter(webhook_id=hook.id).count() == 2

    from app.api.realtime import OpportunityEventKind, opportunity_event_kind

    assert opportunity_event_kind(events[0]) == OpportunityEventKind.DELETED


@pytest.mark.postgres_only
async def test_an_event_committed_behind_an_open_transaction_waits_for_it(gql, team, database_url):
    """The bug this log fixes: ids are taken at insert and transactions commit in another order. A inserts
    first and stays open; B inserts later and commits. "id > cursor" would hand out B, move past A's id
    and never see A. The log holds B back until A has finished, then hands out both, in order."""
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    start = await now_position()
    start_cursor = (await gql(CURSOR, as_=team.admin))["eventCursor"]
    slow = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        a = slow.transaction()
        await a.start()
        # A names no opportunity: its foreign key would share-lock the row B's update locks, and B would wait for A.
        a_id = await slow.fetchval("""INSERT INTO domain_events (kind, opportunity_id, account_id, owner_id, payload,
            chain_depth, created_at) VALUES ('opportunity.updated', NULL, NULL, $1, '{}', 0, now()) RETURNING id""",
                                   team.rep.user.id)
        b = await gql("""mutation($id: ID!) { updateOpportunity(id: $id, input: {nextStep: "B"}) { errors { code } } }""",
                      {"id": gid(opp)}, as_=team.rep)
        assert b["updateOpportunity"]["errors"] == []
        b_event = await DomainEvent.filter(kind="opportunity.updated").order_by("-id").first()
        assert b_event is not None
        b_id = b_event.id
        assert a_id < b_id
        events, cursor, held = await read_after(start, ["opportunity.updated"], 100)
        assert (events, held) == ([], True)  # B is committed, but A (older) is still in flight
        page = await gql(CHANGES, {"after": start_cursor}, as_=team.admin)
        assert page["changes"]["changes"] == []
        await a.commit()
    finally:
        await slow.close()
    await settled()
    events, _, held = await read_after(cursor, ["opportunity.updated"], 100)
    assert ([e.id for e in events], held) == ([a_id, b_id], False)
    assert _summary(await _changes(gql, team.admin, start_cursor)) == [("OPPORTUNITY", gid(opp), "UPDATED")]
