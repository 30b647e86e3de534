"""Resume under concurrent writers on two real API processes: the union of what a subscriber that keeps
disconnecting receives equals the event log, in its order, with no gap and no duplicate."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from app.models import DomainEvent
from app.domain.changelog import decode_cursor
from app.queries.changelog import now_position, position_of
from tests import factories
from tests.servers import post_graphql
from tests.test_changelog import settled
from tests.test_subscriptions import _acked, _until_live, two_apis  # noqa: F401 (fixture)
from tests.factories import gid

WRITERS = 12
UPDATES_PER_WRITER = 8
SUBSCRIPTION = """subscription($after: String) {
  opportunityEvents(after: $after, filter: {kinds: [UPDATED]}) { cursor opportunityId changes { current } } }"""
UPDATE = """mutation($id: ID!, $n: String!) { updateOpportunity(id: $id, input: {nextStep: $n}) { errors { code } } }"""


# Twelve writers through two API processes on one SQLite file end in "database is locked" (SQLite has
# one writer; id order is commit order there): the cross-process proof runs on PostgreSQL.
@pytest.mark.postgres_only
async def test_resume_under_concurrent_writers_on_two_processes_has_no_gap_and_no_duplicate(two_apis, team):  # noqa: F811
    a, b = two_apis
    acct = await factories.account(team.rep.user)
    deals = [await factories.opportunity(team.rep.user, acct.id, f"Deal {i}") for i in range(WRITERS)]
    await settled()
    start = (await post_graphql(b, "{ eventCursor }", None, team.admin.token))["data"]["eventCursor"]
    start_position = await now_position()

    async def writer(i: int) -> None:
        for n in range(UPDATES_PER_WRITER):
            api = (a, b)[(i + n) % 2]  # every writer goes through both processes
            result = await post_graphql(api, UPDATE, {"id": gid(deals[i]), "n": f"{i}:{n}"}, team.rep.token)
            assert result["data"]["updateOpportunity"]["errors"] == [], result

    writing = asyncio.gather(*(writer(i) for i in range(WRITERS)))
    expected = WRITERS * UPDATES_PER_WRITER
    received: list[dict] = []
    cursor, sessions = start, 0
    while len(received) < expected:
        client = await _acked((a, b)[sessions % 2], team.admin)  # resume on either process
        await client.subscribe("s", SUBSCRIPTION, {"after": cursor})
        for _ in range(1 + sessions % 5):  # take a few events, then drop the connection
            if len(received) == expected:
                break
            event = (await client.next_data("s", timeout=60))["opportunityEvents"]
            received.append(event)
            cursor = event["cursor"]
        await client.ws.close()
        sessions += 1
    await writing
    await settled()

    log = await DomainEvent.filter(kind="opportunity.updated").order_by("txid", "id")
    log_positions = [(e.txid, e.id) for e in log if position_of(e) > start_position]
    now = datetime.now(timezone.utc)
    received_positions = [(p.txid, p.id) for p in (decode_cursor(e["cursor"], now) for e in received)]
    assert len(log_positions) == expected
    assert len(set(received_positions)) == len(received_positions)  # no duplicate
    assert received_positions == log_positions  # no gap, and in the log's order
    # Each deal's own updates arrive in the order they were made.
    for i, deal in enumerate(deals):
        steps = [e["changes"][0]["current"] for e in received if e["opportunityId"] == gid(deal)]
        assert steps == [f"{i}:{n}" for n in range(UPDATES_PER_WRITER)]
    assert sessions >= expected // 5  # it really did disconnect and resume many times

    # Nothing more is pending after the last cursor.
    client = await _acked(a, team.admin)
    await client.subscribe("s", SUBSCRIPTION, {"after": cursor})
    await _until_live()
    result = await post_graphql(b, UPDATE, {"id": gid(deals[0]), "n": "after"}, team.rep.token)
    assert result["data"]["updateOpportunity"]["errors"] == []
    assert (await client.next_data("s", timeout=60))["opportunityEvents"]["changes"][0]["current"] == "after"
    await client.ws.close()


async def test_a_subscriber_without_cursor_starts_from_now(two_apis, team):  # noqa: F811
    a, b = two_apis
    acct = await factories.account(team.rep.user)
    deal = await factories.opportunity(team.rep.user, acct.id)
    await post_graphql(b, UPDATE, {"id": gid(deal), "n": "before"}, team.rep.token)
    await settled()
    client = await _acked(a, team.rep)
    await client.subscribe("s", SUBSCRIPTION)
    await _until_live()

    async def keep_writing() -> None:  # the server takes "now" when it starts the stream: write until seen
        for n in range(1000):
            await post_graphql(b, UPDATE, {"id": gid(deal), "n": f"after {n}"}, team.rep.token)
            await asyncio.sleep(0.2)

    writing = asyncio.create_task(keep_writing())
    try:
        event = (await client.next_data("s", timeout=60))["opportunityEvents"]
    finally:
        writing.cancel()
    assert event["changes"][0]["current"].startswith("after")  # never the earlier one
    await client.ws.close()
