"""Lists that answer a manager's questions: stale and overdue deals, the longest in their stage first —
on both read paths, agreeing with what each deal says of itself (`isStale`), and never served from a
cache when only the clock changed."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from app.api.app import create_app
from app.domain.enums import ActivityType
from app.models import Opportunity, OpportunityActivity, PipelineStage
from tests import factories
from tests.test_read_cache import postgres_only, running_app

LIST = """query($filter: OpportunityFilter, $order: OpportunityOrder) {
  opportunities(first: 100, filter: $filter, orderBy: $order) { totalCount nodes { name isStale stage daysInStage } } }"""


@pytest.fixture
async def both(orm):
    fast, standard = create_app(manage_database=False, fast_path=True), create_app(manage_database=False, fast_path=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as f, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=standard), base_url="http://t") as s:
        async def post(variables: dict, token: str) -> tuple[dict, dict]:
            answers = []
            for client in (f, s):
                body = (await client.post("/graphql", json={"query": LIST, "variables": variables},
                                          headers={"Authorization": f"Bearer {token}"})).json()
                assert "errors" not in body, body
                answers.append(body["data"]["opportunities"])
            return answers[0], answers[1]

        yield post


async def _entered(deal: Opportunity, stage_key: str, days_ago: float) -> None:
    stage = await PipelineStage.get(key=stage_key, pipeline_id=deal.pipeline_id)
    await Opportunity.filter(id=deal.id).update(stage_id=stage.id,
                                                stage_entered_at=datetime.now(timezone.utc) - timedelta(days=days_ago))


async def _world(team) -> None:
    account = await factories.account(team.rep.user)
    today = date.today()
    deal = lambda name, **extra: factories.opportunity(team.rep.user, account.id, name, **extra)  # noqa: E731
    await _entered(await deal("rotting in discovery"), "discovery", 30)  # discovery expects 7 days
    waiting = await deal("long in discovery, call booked")
    await _entered(waiting, "discovery", 30)
    await OpportunityActivity.create(opportunity=waiting, type=ActivityType.CALL, subject="Booked",
                                     scheduled_at=datetime.now(timezone.utc) + timedelta(days=2))
    only_system = await deal("long in proposal, only a system note ahead")
    await _entered(only_system, "proposal", 20)  # proposal expects 14 days
    await OpportunityActivity.create(opportunity=only_system, type=ActivityType.SYSTEM, subject="Reminder",
                                     scheduled_at=datetime.now(timezone.utc) + timedelta(days=2))
    await _entered(await deal("fresh in proposal"), "proposal", 3)
    await _entered(await deal("won long ago", expected_close_date=today - timedelta(days=40)), "closed_won", 60)
    await deal("past its close date", expected_close_date=today - timedelta(days=1))
    await deal("closes today", expected_close_date=today)
    await factories.opportunity(team.other_rep.user, (await factories.account(team.other_rep.user)).id, "not yours",
                                expected_close_date=today - timedelta(days=5))


async def test_stale_lists_exactly_the_deals_that_say_they_are_stale(both, team):
    await _world(team)
    fast_all, standard_all = await both({}, team.rep.token)
    assert fast_all == standard_all
    said_stale = {d["name"] for d in standard_all["nodes"] if d["isStale"]}
    assert said_stale == {"rotting in discovery", "long in proposal, only a system note ahead"}
    fast, standard = await both({"filter": {"stale": True}}, team.rep.token)
    assert fast == standard and {d["name"] for d in standard["nodes"]} == said_stale
    assert standard["totalCount"] == 2
    fast, standard = await both({"filter": {"stale": False}}, team.rep.token)
    assert fast == standard
    assert {d["name"] for d in standard["nodes"]} == {d["name"] for d in standard_all["nodes"]} - said_stale


async def test_overdue_lists_open_deals_past_their_close_date(both, team):
    await _world(team)
    fast, standard = await both({"filter": {"overdue": True}}, team.rep.token)
    assert fast == standard and [d["name"] for d in standard["nodes"]] == ["past its close date"]
    fast, standard = await both({"filter": {"overdue": True}}, team.admin.token)
    assert fast == standard and {d["name"] for d in standard["nodes"]} == {"past its close date", "not yours"}
    fast, standard = await both({"filter": {"overdue": False, "status": ["OPEN"]}}, team.rep.token)
    assert fast == standard and "past its close date" not in {d["name"] for d in standard["nodes"]}
    assert len(standard["nodes"]) == 5
    fast, standard = await both({"filter": {"overdue": True, "stale": True}}, team.rep.token)
    assert fast == standard and standard["nodes"] == []


async def test_longest_in_stage_first(both, team):
    await _world(team)
    order = {"field": "STAGE_ENTERED_AT", "direction": "ASC"}
    fast, standard = await both({"order": order, "filter": {"status": ["OPEN"]}}, team.rep.token)
    assert fast == standard
    days = [d["daysInStage"] for d in standard["nodes"]]
    assert days == sorted(days, reverse=True) and days[0] == 30


@postgres_only
async def test_a_deal_that_goes_stale_with_time_alone_is_listed_at_once(team):
    """The read cache keeps answers until a write: a deal that turns stale while nothing is written
    must still show up (the filter is evaluated on every request)."""
    account = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, account.id, "about to rot")
    await _entered(deal, "discovery", 7 - 2 / 86400)  # stale two seconds from now
    async with running_app() as (post, _):
        first = await post(LIST, {"filter": {"stale": True}}, team.rep.token)
        assert first["data"]["opportunities"]["nodes"] == []
        await asyncio.sleep(2.5)
        later = await post(LIST, {"filter": {"stale": True}}, team.rep.token)
        assert [d["name"] for d in later["data"]["opportunities"]["nodes"]] == ["about to rot"]


PAGED = """query($first: Int, $after: String, $order: OpportunityOrder) {
  opportunities(first: $first, after: $after, orderBy: $order) {
    nodes { name lastActivityAt } pageInfo { hasNextPage endCursor } } }"""


async def test_by_last_activity_most_recently_worked_first_and_never_worked_last(gql, team):
    account = await factories.account(team.rep.user)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    deals = {name: await factories.opportunity(team.rep.user, account.id, name) for name in
             ("worked today", "worked last week", "never worked", "call undone", "only planned")}
    activity = """mutation($o: ID!, $in: ActivityInput!) { addOpportunityActivity(opportunityId: $o, input: $in) {
      activity { id } errors { field } } }"""

    async def log(name: str, **fields) -> str:
        done = (await gql(activity, {"o": factories.gid(deals[name]), "in": {"subject": "s", **fields}},
                          as_=team.rep))["addOpportunityActivity"]
        assert done["errors"] == []
        return done["activity"]["id"]

    await log("worked last week", type="PROPOSAL", completedAt=(now - timedelta(days=7)).isoformat())
    await log("worked today", type="TASTING", completedAt=(now - timedelta(hours=2)).isoformat())
    await log("worked today", type="PROPOSAL", completedAt=(now - timedelta(days=9)).isoformat())  # older: not it
    await log("only planned", type="PROPOSAL", scheduledAt=(now + timedelta(days=2)).isoformat())
    undone = await log("call undone", type="PROPOSAL", completedAt=(now - timedelta(days=1)).isoformat())
    deleted = await gql("mutation($id: ID!) { deleteOpportunityActivity(id: $id) { deletedId } }", {"id": undone},
                        as_=team.admin)
    assert deleted["deleteOpportunityActivity"]["deletedId"] == undone
    # A system entry (a stage move) is not work on the deal.
    await OpportunityActivity.create(opportunity=deals["never worked"], type=ActivityType.SYSTEM, subject="moved",
                                     completed_at=now)

    fast = create_app(manage_database=False, fast_path=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as client:
        for direction, expected in (("DESC", ["worked today", "worked last week"]),
                                    ("ASC", ["worked last week", "worked today"])):
            never = sorted(("never worked", "call undone", "only planned"), key=lambda n: deals[n].id,
                           reverse=direction == "DESC")
            variables = {"first": 2, "order": {"field": "LAST_ACTIVITY_AT", "direction": direction}}
            for path in ("standard", "compiled"):
                names, after = [], None
                while True:  # two at a time: the cursors cross from dated deals into the never-worked ones
                    body = {"query": PAGED, "variables": {**variables, "after": after}}
                    if path == "standard":
                        data = await gql(PAGED, body["variables"], as_=team.rep)
                    else:
                        answer = (await client.post("/graphql", json=body,
                                                    headers={"Authorization": f"Bearer {team.rep.token}"})).json()
                        assert "errors" not in answer, answer
                        data = answer["data"]
                    page = data["opportunities"]
                    names += [n["name"] for n in page["nodes"]]
                    if not page["pageInfo"]["hasNextPage"]:
                        break
                    after = page["pageInfo"]["endCursor"]
                assert names == expected + never, (path, direction, names)
    stored = await Opportunity.get(id=deals["worked today"].id)
    assert stored.last_activity_at == now - timedelta(hours=2)
    assert (await Opportunity.get(id=deals["call undone"].id)).last_activity_at is None
