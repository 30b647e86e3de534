"""Archive and restore (issue 16.1, app.domain.archive): archived records leave lists, search and the
open pipeline but are found by id and keep counting in what already happened; restore brings them
back; reps do not archive closed deals; only admins delete for good; every archive and restore is an
event and the change log's tombstone."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from app.models import Contact, CustomerInteraction, DomainEvent, FieldHistoryEntry, Opportunity, OpportunityActivity, PipelineStage
from tests import factories
from tests.factories import gid

ERR = "errors { field code message }"
DEAL = "id name archivedAt"
ARCHIVE_DEAL = f"mutation($id: ID!) {{ archiveOpportunity(id: $id) {{ opportunity {{ {DEAL} }} {ERR} }} }}"
RESTORE_DEAL = f"mutation($id: ID!) {{ restoreOpportunity(id: $id) {{ opportunity {{ {DEAL} }} {ERR} }} }}"
ARCHIVE_ACCOUNT = f"mutation($id: ID!) {{ archiveAccount(id: $id) {{ account {{ id archivedAt }} {ERR} }} }}"
RESTORE_ACCOUNT = f"mutation($id: ID!) {{ restoreAccount(id: $id) {{ account {{ id archivedAt }} {ERR} }} }}"
ARCHIVE_CONTACT = f"mutation($id: ID!) {{ archiveContact(id: $id) {{ contact {{ id archivedAt }} {ERR} }} }}"
RESTORE_CONTACT = f"mutation($id: ID!) {{ restoreContact(id: $id) {{ contact {{ id archivedAt }} {ERR} }} }}"
LISTS = """query($archived: Boolean!, $q: String!) {
  opportunities(filter: {archived: $archived}) { totalCount nodes { id } }
  accounts(filter: {archived: $archived}) { totalCount nodes { id } }
  contacts(filter: {archived: $archived}) { totalCount nodes { id } }
  interactions(filter: {archived: $archived}) { totalCount nodes { id } }
  search(query: $q) { node { id } }
}"""
FIGURES = """query($period: String!) { pipelineReport(timeframe: "this_year") { totalOpportunities openOpportunities wonCount totalValue }
  salesForecast(period: $period, method: PIPELINE) { pipeline { openDeals weighted } } }"""


async def _figures(gql, actor, deal: Opportunity) -> dict:
    """The year's report and the forecast of the month the deal is expected to close in."""
    return await gql(FIGURES, {"period": deal.expected_close_date.strftime("%Y-%m")}, as_=actor)
NESTED = """query($id: ID!) { account(id: $id) { archivedAt contacts { id } opportunities { id }
  interactions { totalCount } } }"""


async def _ids(gql, actor, archived: bool, q: str = "harbor") -> dict[str, list[str]]:
    data = await gql(LISTS, {"archived": archived, "q": q}, as_=actor)
    found = {name: [n["id"] for n in data[name]["nodes"]] for name in ("opportunities", "accounts", "contacts", "interactions")}
    found["search"] = [hit["node"]["id"] for hit in data["search"]]
    return found


async def _won(deal: Opportunity) -> None:
    won = await PipelineStage.get(pipeline_id=deal.pipeline_id, key="closed_won")
    await Opportunity.filter(id=deal.id).update(stage_id=won.id, probability=100,
                                                actual_close_date=datetime.now(timezone.utc).date())


async def _world(team):
    account = await factories.account(team.rep.user, "Harbor Grill")
    contact = await Contact.create(account=account, first_name="Ana", last_name="Harborside", email="ana@harbor.test")
    deal = await factories.opportunity(team.rep.user, account.id, "Harbor weekly produce", value="5000.00")
    interaction = await CustomerInteraction.create(account=account, contact=contact, type="meeting", subject="Tasting",
                                                   occurred_at=datetime.now(timezone.utc) - timedelta(days=1),
                                                   created_by=team.rep.user)
    return account, contact, deal, interaction


async def test_an_archived_deal_leaves_lists_search_and_the_open_pipeline_and_comes_back(gql, team):
    account, _, deal, _ = await _world(team)
    before = await _figures(gql, team.rep, deal)
    archived = (await gql(ARCHIVE_DEAL, {"id": gid(deal)}, as_=team.rep))["archiveOpportunity"]
    assert archived["errors"] == [] and archived["opportunity"]["archivedAt"] is not None

    active = await _ids(gql, team.rep, archived=False)
    assert gid(deal) not in active["opportunities"] and gid(deal) not in active["search"]
    assert gid(account) in active["accounts"]  # only the deal was put away
    assert (await _ids(gql, team.rep, archived=True))["opportunities"] == [gid(deal)]
    nested = (await gql(NESTED, {"id": gid(account)}, as_=team.rep))["account"]
    assert nested["opportunities"] == []
    # Found by id, on both read paths (plain and Apollo-shaped documents).
    one = "query($id: ID!) { opportunity(id: $id) { id archivedAt } }"
    assert (await gql(one, {"id": gid(deal)}, as_=team.rep))["opportunity"]["archivedAt"] == archived["opportunity"]["archivedAt"]
    apollo = "query($id: ID!) { opportunity(id: $id) { __typename id archivedAt } }"
    assert (await gql(apollo, {"id": gid(deal)}, as_=team.rep))["opportunity"]["archivedAt"] is not None
    after = await _figures(gql, team.rep, deal)
    assert after["pipelineReport"]["openOpportunities"] == before["pipelineReport"]["openOpportunities"] - 1
    assert after["salesForecast"]["pipeline"]["openDeals"] == before["salesForecast"]["pipeline"]["openDeals"] - 1 == 0

    # Archiving again changes nothing and records nothing.
    again = (await gql(ARCHIVE_DEAL, {"id": gid(deal)}, as_=team.rep))["archiveOpportunity"]
    assert again["opportunity"]["archivedAt"] == archived["opportunity"]["archivedAt"]
    assert await DomainEvent.filter(kind="opportunity.archived", opportunity_id=deal.id).count() == 1

    restored = (await gql(RESTORE_DEAL, {"id": gid(deal)}, as_=team.rep))["restoreOpportunity"]
    assert restored["errors"] == [] and restored["opportunity"]["archivedAt"] is None
    assert gid(deal) in (await _ids(gql, team.rep, archived=False))["opportunities"]
    assert await _figures(gql, team.rep, deal) == before
    assert await DomainEvent.filter(kind="opportunity.restored", opportunity_id=deal.id).count() == 1
    # The field history has both.
    changes = await FieldHistoryEntry.filter(opportunity_id=deal.id, field="archivedAt").order_by("id")
    assert [(c.before is None, c.after is None) for c in changes] == [(True, False), (False, True)]


async def test_reps_do_not_archive_closed_deals_and_a_won_deal_keeps_counting(gql, team):
    _, _, deal, _ = await _world(team)
    await _won(deal)
    refused = await gql.raw(ARCHIVE_DEAL, {"id": gid(deal)}, team.rep.token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Opportunity.get(id=deal.id)).archived_at is None
    before = (await _figures(gql, team.manager, deal))["pipelineReport"]
    assert (await gql(ARCHIVE_DEAL, {"id": gid(deal)}, as_=team.manager))["archiveOpportunity"]["errors"] == []
    after = (await _figures(gql, team.manager, deal))["pipelineReport"]
    assert after["wonCount"] == before["wonCount"] == 1 and after["totalValue"] == before["totalValue"]
    # Another team's rep cannot reach it at all: the same answer as for a missing deal.
    hidden = (await gql(RESTORE_DEAL, {"id": gid(deal)}, as_=team.other_rep))["restoreOpportunity"]
    assert hidden["errors"] == [{"field": "id", "code": "NOT_FOUND", "message": "opportunity not found"}]


async def test_archiving_an_account_puts_away_what_hangs_under_it_and_restore_brings_back_exactly_that(gql, team):
    account, contact, deal, interaction = await _world(team)
    earlier = await Contact.create(account=account, first_name="Old", last_name="Harborman")
    assert (await gql(ARCHIVE_CONTACT, {"id": gid(earlier)}, as_=team.rep))["archiveContact"]["errors"] == []

    assert (await gql(ARCHIVE_ACCOUNT, {"id": gid(account)}, as_=team.rep))["archiveAccount"]["errors"] == []
    active = await _ids(gql, team.rep, archived=False)
    assert active == {"opportunities": [], "accounts": [], "contacts": [], "interactions": [], "search": []}
    archived = await _ids(gql, team.rep, archived=True)
    assert sorted(archived["contacts"]) == sorted([gid(contact), gid(earlier)])
    assert archived["opportunities"] == [gid(deal)] and archived["interactions"] == [gid(interaction)]
    event = await DomainEvent.get(kind="account.archived")
    assert (event.payload["contact_ids"], event.payload["opportunity_ids"], event.payload["interaction_ids"]) == (
        [contact.id], [deal.id], [interaction.id])

    # Under an archived account nothing comes back on its own.
    refused = (await gql(RESTORE_CONTACT, {"id": gid(contact)}, as_=team.rep))["restoreContact"]
    assert refused["errors"][0]["code"] == "INVALID" and "restore the account" in refused["errors"][0]["message"]
    refused = (await gql(RESTORE_DEAL, {"id": gid(deal)}, as_=team.rep))["restoreOpportunity"]
    assert refused["errors"][0]["code"] == "INVALID"

    assert (await gql(RESTORE_ACCOUNT, {"id": gid(account)}, as_=team.rep))["restoreAccount"]["errors"] == []
    active = await _ids(gql, team.rep, archived=False)
    assert active["accounts"] == [gid(account)] and active["opportunities"] == [gid(deal)]
    assert active["contacts"] == [gid(contact)] and active["interactions"] == [gid(interaction)]
    # The contact archived on its own before stays archived.
    assert (await _ids(gql, team.rep, archived=True))["contacts"] == [gid(earlier)]


async def test_a_rep_cannot_archive_an_account_that_would_take_a_closed_deal(gql, team):
    account, _, deal, _ = await _world(team)
    await _won(deal)
    refused = await gql.raw(ARCHIVE_ACCOUNT, {"id": gid(account)}, team.rep.token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Opportunity.get(id=deal.id)).archived_at is None
    assert (await gql(ARCHIVE_ACCOUNT, {"id": gid(account)}, as_=team.manager))["archiveAccount"]["errors"] == []


async def test_only_admins_delete_for_good(gql, team):
    account, contact, deal, _ = await _world(team)
    activity = await OpportunityActivity.create(opportunity=deal, type="proposal", subject="Price idea")
    deletes = [("deleteOpportunityActivity", gid(activity)), ("deleteOpportunity", gid(deal)),
               ("deleteContact", gid(contact)), ("deleteAccount", gid(account))]
    for mutation, record_id in deletes:
        for actor in (team.rep, team.manager):
            refused = await gql.raw(f"mutation($id: ID!) {{ {mutation}(id: $id) {{ deletedId }} }}", {"id": record_id},
                                    actor.token)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", (mutation, refused)
    assert await Opportunity.exists(id=deal.id) and await Contact.exists(id=contact.id)
    for mutation, record_id in deletes:
        done = await gql(f"mutation($id: ID!) {{ {mutation}(id: $id) {{ deletedId {ERR} }} }}", {"id": record_id},
                         as_=team.admin)
        assert done[mutation] == {"deletedId": record_id, "errors": []}
    assert not await Opportunity.exists(id=deal.id)


async def test_a_logged_contact_is_archived_with_its_activity_and_sync_sees_a_tombstone(gql, team):
    account, _, deal, _ = await _world(team)
    logged = await gql("""mutation($o: ID!, $in: ActivityInput!) { addOpportunityActivity(opportunityId: $o, input: $in) {
      activity { id interaction { id } } } }""", {"o": gid(deal), "in": {
        "type": "CALL", "subject": "Menu call", "completedAt": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()}},
        as_=team.rep)
    activity = logged["addOpportunityActivity"]["activity"]
    cursor = (await gql("{ changes(first: 100) { cursor } }", as_=team.rep))["changes"]["cursor"]
    archived = await gql("""mutation($id: ID!) { archiveInteraction(id: $id) { interaction { id archivedAt } errors { code } } }""",
                         {"id": activity["interaction"]["id"]}, as_=team.rep)
    assert archived["archiveInteraction"]["errors"] == []
    deal_read = (await gql("query($id: ID!) { opportunity(id: $id) { activities { id } } }", {"id": gid(deal)},
                           as_=team.rep))["opportunity"]
    assert activity["id"] not in [a["id"] for a in deal_read["activities"]]  # both sides went

    changes = (await gql("""query($after: String) { changes(after: $after, types: [INTERACTION, ACTIVITY]) {
      cursor changes { type id action interaction { id } activity { id } } } }""", {"after": cursor},
                         as_=team.rep))["changes"]
    assert {(c["type"], c["id"], c["action"]) for c in changes["changes"]} == {
        ("INTERACTION", activity["interaction"]["id"], "ARCHIVED"), ("ACTIVITY", activity["id"], "ARCHIVED")}
    assert all(c["interaction"] is None and c["activity"] is None for c in changes["changes"])

    restored = await gql("""mutation($id: ID!) { restoreOpportunityActivity(id: $id) { activity { id archivedAt } errors { code } } }""",
                         {"id": activity["id"]}, as_=team.rep)
    assert restored["restoreOpportunityActivity"] == {"activity": {"id": activity["id"], "archivedAt": None}, "errors": []}
    after = (await gql("""query($after: String) { changes(after: $after, types: [INTERACTION, ACTIVITY]) {
      changes { type action } } }""", {"after": changes["cursor"]}, as_=team.rep))["changes"]["changes"]
    assert sorted((c["type"], c["action"]) for c in after) == [("ACTIVITY", "UPDATED"), ("INTERACTION", "UPDATED")]
    assert await DomainEvent.filter(kind__in=["interaction.archived", "opportunity.activity_restored"]).count() == 2


async def test_an_archived_deal_leaves_the_at_risk_list(gql, team):
    _, _, deal, _ = await _world(team)
    # Long in its stage: stale, so at risk.
    await Opportunity.filter(id=deal.id).update(stage_entered_at=datetime.now(timezone.utc) - timedelta(days=90))
    at_risk = "{ atRiskOpportunities { nodes { opportunity { id } } } }"

    async def listed() -> list[str]:
        return [n["opportunity"]["id"] for n in (await gql(at_risk, as_=team.rep))["atRiskOpportunities"]["nodes"]]

    assert await listed() == [gid(deal)]
    assert (await gql(ARCHIVE_DEAL, {"id": gid(deal)}, as_=team.rep))["archiveOpportunity"]["errors"] == []
    assert await listed() == []
    assert (await gql(RESTORE_DEAL, {"id": gid(deal)}, as_=team.rep))["restoreOpportunity"]["errors"] == []
    assert await listed() == [gid(deal)]


async def test_concurrent_archives_record_one_change(gql, team):
    _, contact, deal, interaction = await _world(team)
    mutations = [("archiveInteraction", gid(interaction)), ("archiveContact", gid(contact)),
                 ("archiveOpportunity", gid(deal))]
    for mutation, record_id in mutations:
        document = f"mutation($id: ID!) {{ {mutation}(id: $id) {{ errors {{ code }} }} }}"
        answers = await asyncio.gather(*(gql(document, {"id": record_id}, as_=team.rep) for _ in range(4)))
        assert all(a[mutation]["errors"] == [] for a in answers)
    assert [await DomainEvent.filter(kind=kind).count()
            for kind in ("interaction.archived", "contact.archived", "opportunity.archived")] == [1, 1, 1]
