"""GraphQL subscriptions across two real API processes, over graphql-transport-ws."""

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from app.settings import get_settings
from tests import factories
from tests.conftest import TEST_REDIS_URL
from tests.servers import ApiProcess, post_graphql
from tests.factories import gid

PROTOCOL = [Subprotocol("graphql-transport-ws")]
OPP_EVENTS = """subscription($after: String, $filter: OpportunityEventFilter) {
  opportunityEvents(after: $after, filter: $filter) { cursor kind opportunityId fromStage toStage
    changes { field previous current } by { email } opportunity { name stage } } }"""
ADVANCE = """mutation($id: ID!, $stage: String!) { advanceOpportunity(input: {id: $id, stage: $stage}) { errors { code } } }"""
UPDATE = """mutation($id: ID!, $n: String!) { updateOpportunity(id: $id, input: {nextStep: $n}) { errors { code } } }"""


@pytest.fixture
def two_apis(database_url):
    url = database_url
    with ApiProcess(url, WS_CONNECTION_INIT_TIMEOUT_SECONDS="1", WS_MAX_SUBSCRIPTIONS_PER_CONNECTION="3") as a, ApiProcess(url) as b:
        yield a, b


class Client:
    def __init__(self, ws):
        self.ws = ws

    @classmethod
    async def open(cls, api, token: str | None):
        # Unbounded receive buffer: a test that stops reading mid-stream and closes must not stall the
        # close handshake behind a full buffer (websockets stops reading then, like a slow real client).
        ws = await connect(api.ws, subprotocols=PROTOCOL, max_queue=None)
        client = cls(ws)
        await client.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"} if token else {}})
        return client

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = 10) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    async def next_data(self, op_id: str, timeout: float = 10) -> dict:
        while True:
            message = await self.recv(timeout)
            if message["type"] == "next" and message["id"] == op_id:
                assert "errors" not in message["payload"], message
                return message["payload"]["data"]
            assert message["type"] in ("pong", "ping"), message

    async def close_code(self, timeout: float = 10) -> int:
        try:
            await asyncio.wait_for(self.ws.recv(), timeout)
            await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed:
            return self.ws.close_code
        raise AssertionError("the server did not close the connection")


async def _subscribers() -> int:
    channel = get_settings().events_channel
    redis = aioredis.Redis.from_url(TEST_REDIS_URL)
    try:
        return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0)
    finally:
        await redis.aclose()


async def _until_live(processes: int = 1) -> None:
    """Wait until the API processes hold their Redis subscription (not a fixed sleep: CI may be slow)."""
    for _ in range(100):
        if await _subscribers() >= processes:
            await asyncio.sleep(0.05)
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the subscription never became live")


async def _acked(api, actor) -> Client:
    client = await Client.open(api, actor.token)
    assert (await client.recv())["type"] == "connection_ack"
    return client


async def test_event_made_on_one_process_reaches_a_subscriber_on_the_other(two_apis, team):
    a, b = two_apis
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id, "Stadium concessions")
    await factories.ready_to_leave_discovery(opp)
    other = await factories.opportunity(team.other_rep.user, (await factories.account(team.other_rep.user, "Other")).id, "not yours")
    rep_client = await _acked(a, team.rep)
    other_client = await _acked(a, team.other_rep)
    await rep_client.subscribe("1", OPP_EVENTS)
    await other_client.subscribe("1", OPP_EVENTS)
    await _until_live()

    assert (await post_graphql(b, ADVANCE, {"id": gid(opp), "stage": "qualification"}, team.rep.token))["data"]["advanceOpportunity"]["errors"] == []
    event = (await rep_client.next_data("1"))["opportunityEvents"]
    assert (event["kind"], event["fromStage"], event["toStage"], event["by"]) == ("STAGE_CHANGED", "discovery", "qualification", {"email": "rep@pantry.test"})
    assert event["opportunity"] == {"name": "Stadium concessions", "stage": "qualification"}

    # the other rep saw nothing of it, but does see their own
    await post_graphql(b, UPDATE, {"id": gid(other), "n": "call buyer"}, team.other_rep.token)
    theirs = (await other_client.next_data("1"))["opportunityEvents"]
    assert theirs["opportunityId"] == gid(other) and theirs["kind"] == "UPDATED"
    assert theirs["changes"] == [{"field": "nextStep", "previous": "", "current": "call buyer"}]

    # Archiving and restoring are events too (the rep, who cannot see that deal, hears nothing of them).
    for verb, kind in (("archive", "ARCHIVED"), ("restore", "RESTORED")):
        done = await post_graphql(b, f"mutation($id: ID!) {{ {verb}Opportunity(id: $id) {{ errors {{ code }} }} }}",
                                  {"id": gid(other)}, team.other_rep.token)
        assert done["data"][f"{verb}Opportunity"]["errors"] == []
        event = (await other_client.next_data("1"))["opportunityEvents"]
        assert (event["kind"], event["opportunityId"]) == (kind, gid(other))
        assert [c["field"] for c in event["changes"]] == ["archivedAt"]
        assert (event["changes"][0]["previous"] is None) == (kind == "ARCHIVED")

    # A close is a stage change and a close: two events, each with its own cursor.
    lose = """mutation($id: ID!) { advanceOpportunity(input: {id: $id, stage: "closed_lost",
      data: {lostReasonKey: "price"}}) { errors { code } } }"""
    assert (await post_graphql(b, lose, {"id": gid(opp)}, team.rep.token))["data"]["advanceOpportunity"]["errors"] == []
    moved = (await rep_client.next_data("1"))["opportunityEvents"]
    closed = (await rep_client.next_data("1"))["opportunityEvents"]
    assert (moved["kind"], moved["fromStage"], moved["toStage"]) == ("STAGE_CHANGED", "qualification", "closed_lost")
    assert (closed["kind"], closed["toStage"]) == ("CLOSED_LOST", "closed_lost") and closed["cursor"] != moved["cursor"]
    await rep_client.ws.close()
    await other_client.ws.close()


async def test_resume_from_a_cursor_without_gap_or_duplicate(two_apis, team):
    a, b = two_apis
    acct = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, acct.id)
    client = await _acked(a, team.rep)
    await client.subscribe("s", OPP_EVENTS, {"filter": {"kinds": ["UPDATED"]}})
    await _until_live()
    await post_graphql(b, UPDATE, {"id": gid(opp), "n": "step 1"}, team.rep.token)
    first = (await client.next_data("s"))["opportunityEvents"]
    await client.ws.close()

    for n in (2, 3):  # missed while disconnected
        await post_graphql(b, UPDATE, {"id": gid(opp), "n": f"step {n}"}, team.rep.token)
    client = await _acked(a, team.rep)
    await client.subscribe("s", OPP_EVENTS, {"after": first["cursor"], "filter": {"kinds": ["UPDATED"]}})
    replayed = [(await client.next_data("s"))["opportunityEvents"] for _ in range(2)]
    assert [e["changes"][0]["current"] for e in replayed] == ["step 2", "step 3"]
    await post_graphql(b, UPDATE, {"id": gid(opp), "n": "step 4"}, team.rep.token)
    live = (await client.next_data("s"))["opportunityEvents"]
    assert live["changes"][0]["current"] == "step 4"
    cursors = [first["cursor"]] + [e["cursor"] for e in replayed] + [live["cursor"]]
    assert len(set(cursors)) == 4  # opaque cursors, one per event
    with pytest.raises(asyncio.TimeoutError):
        await client.next_data("s", timeout=1)  # and nothing twice
    await client.ws.close()


async def test_protocol_close_codes_ping_and_limits(two_apis, team):
    a, _ = two_apis
    bad = await Client.open(a, "not-a-token")
    assert await bad.close_code() == 4403
    anonymous = await Client.open(a, None)
    assert await anonymous.close_code() == 4403

    early = await connect(a.ws, subprotocols=PROTOCOL)
    await early.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": OPP_EVENTS}}))
    assert await Client(early).close_code() == 4401

    silent = await connect(a.ws, subprotocols=PROTOCOL)
    assert await Client(silent).close_code(timeout=5) == 4408  # no connection_init within 1 s

    garbage = await _acked(a, team.rep)
    await garbage.ws.send("{not json")
    assert await garbage.close_code() == 4400

    twice = await _acked(a, team.rep)
    await twice.send({"type": "connection_init", "payload": {}})
    assert await twice.close_code() == 4429

    client = await _acked(a, team.rep)
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"
    await client.subscribe("dup", OPP_EVENTS)
    await client.subscribe("dup", OPP_EVENTS)
    assert await client.close_code() == 4409

    capped = await _acked(a, team.rep)
    for i in range(3):
        await capped.subscribe(str(i), OPP_EVENTS)
    await capped.subscribe("4", OPP_EVENTS)
    error = await capped.recv()
    assert error["type"] == "error" and "limit" in error["payload"][0]["message"].lower()
    await capped.ws.close()


async def _settles_at(expected: int, timeout: float = 10) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while (count := await _subscribers()) != expected and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return count


async def test_unsubscribing_leaves_no_redis_subscription(two_apis, team):
    a, _ = two_apis
    client = await _acked(a, team.rep)
    await client.subscribe("1", OPP_EVENTS)
    await client.subscribe("2", OPP_EVENTS)
    assert await _settles_at(1) == 1  # one Redis subscription per process, shared
    await client.send({"id": "1", "type": "complete"})
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"  # "complete" was handled before the ping
    await asyncio.sleep(0.3)
    assert await _subscribers() == 1  # the other subscription keeps it
    await client.send({"id": "2", "type": "complete"})
    assert await _settles_at(0) == 0
    await client.subscribe("3", OPP_EVENTS)
    assert await _settles_at(1) == 1
    await client.ws.close()  # a dropped connection cleans up too
    assert await _settles_at(0) == 0


async def test_forecast_updates_reach_admin_subscribers(two_apis, team):
    from app.services.forecasts import recompute_forecasts

    a, _ = two_apis
    admin = await _acked(a, team.admin)
    await admin.subscribe("f", "subscription { forecastUpdated(period: \"2026-Q4\") { cursor period forecast } }")
    rep = await _acked(a, team.rep)
    await rep.subscribe("f", "subscription { forecastUpdated(period: \"2026-Q4\") { period } }")
    refused = await rep.recv()
    assert refused["type"] in ("next", "error") and "admins only" in json.dumps(refused)
    await _until_live()
    await recompute_forecasts(["2026-Q4"])
    update = (await admin.next_data("f"))["forecastUpdated"]
    assert update["period"] == "2026-Q4" and set(update["forecast"]) == {"pipeline", "historical", "hybrid"}
    await admin.ws.close()
    await rep.ws.close()
