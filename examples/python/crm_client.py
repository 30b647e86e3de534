"""A Python client of the CRM with `gql`: HTTP (httpx) for queries and mutations, WebSocket
(graphql-transport-ws) for subscriptions, every document validated against schema.graphql before
it is sent.

    .venv/bin/python examples/python/crm_client.py [--http URL] [--ws URL] [--email E] [--password P]

Queries and mutations go to --http (one API process), the subscription to --ws (possibly another
process on the same database and Redis): the move made through the first reaches the second.
It logs in, pages through the qualification deals with cursors, reads one deal with its account,
contacts and products, moves it to proposal with expectedVersion, receives that move as a
subscription event, checks that a write at the old version is refused, and moves the deal back (so
the demo data is as it was). Any mismatch exits non-zero. Ids are opaque strings throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from gql import Client, GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from graphql import GraphQLSchema, build_schema

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"

LOG_IN = gql("""
mutation LogIn($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    token
    user { id name email role }
    errors { field message code }
  }
}""")

QUALIFICATION_DEALS = gql("""
query QualificationDeals($first: Int!, $after: String) {
  opportunities(first: $first, after: $after, filter: {stage: ["qualification"]},
                orderBy: {field: VALUE, direction: DESC}) {
    totalCount
    edges { cursor node { id name value stage products { id } } }
    pageInfo { hasNextPage endCursor }
  }
}""")

DEAL = gql("""
query Deal($id: ID!) {
  opportunity(id: $id) {
    id name stage value version probability
    account { id name industry contacts { id name title email isPrimary } }
    contact { id name }
    products { id name quantity unitPrice totalPrice product { sku } }
  }
}""")

EVENT_CURSOR = gql("query EventCursor { eventCursor }")

DEAL_EVENTS = gql("""
subscription DealEvents($after: String, $filter: OpportunityEventFilter) {
  opportunityEvents(after: $after, filter: $filter) {
    cursor kind opportunityId fromStage toStage
    by { email }
    opportunity { id stage version }
  }
}""")

ADVANCE = gql("""
mutation Advance($id: ID!, $stage: String!, $expectedVersion: Int!) {
  advanceOpportunity(input: {id: $id, stage: $stage, expectedVersion: $expectedVersion}) {
    opportunity { id stage version probability }
    errors { field message code }
    unmetRequirements { stage kind needed }
  }
}""")


class Failed(Exception):
    """A check of the example failed: one line, exit status 1."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failed(message)


def request(document: GraphQLRequest, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", default=env("CRM_HTTP_URL", "http://127.0.0.1:8000/graphql"),
                        help="queries and mutations (API process A)")
    parser.add_argument("--ws", default=env("CRM_WS_URL", "ws://127.0.0.1:8000/graphql"),
                        help="subscriptions (API process B, or the same)")
    parser.add_argument("--email", default=env("CRM_EMAIL", "marcus.bell@kitchenpantry.example"))
    parser.add_argument("--password", default=env("CRM_PASSWORD", "pantry-demo-2026"))
    parser.add_argument("--page-size", type=int, default=int(env("CRM_PAGE_SIZE", "5")))
    parser.add_argument("--timeout-seconds", type=float, default=20)
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="documents are validated against it locally")
    return parser.parse_args(argv)


async def log_in(args: argparse.Namespace, schema: GraphQLSchema) -> tuple[str, dict]:
    async with Client(transport=HTTPXAsyncTransport(url=args.http, timeout=10), schema=schema) as session:
        login = (await session.execute(request(LOG_IN, email=args.email, password=args.password)))["login"]
    check(not login["errors"] and login["token"] and login["user"], f"login as {args.email} failed: {login['errors']}")
    return login["token"], login["user"]


async def pick_deal(session: AsyncClientSession, page_size: int) -> dict:
    """Pages of qualification deals by cursor, until two pages are read and one deal has products
    (the proposal stage requires them)."""
    seen: set[str] = set()
    after: str | None = None
    pages = 0
    candidate: dict | None = None
    while True:
        page = (await session.execute(request(QUALIFICATION_DEALS, first=page_size, after=after)))["opportunities"]
        pages += 1
        ids = [edge["node"]["id"] for edge in page["edges"]]
        check(0 < len(ids) <= page_size, f"page {pages} has {len(ids)} deals for first: {page_size}")
        for deal_id in ids:
            check(deal_id not in seen, f"deal {deal_id} came twice: the cursor did not move on")
            seen.add(deal_id)
        check(all(edge["node"]["stage"] == "qualification" for edge in page["edges"]), "the stage filter let another stage through")
        print(f"page {pages}: {len(ids)} of {page['totalCount']} deals in qualification: {' '.join(ids)}")
        candidate = candidate or next((edge["node"] for edge in page["edges"] if edge["node"]["products"]), None)
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"] or (pages >= 2 and candidate):
            check(pages >= 2, f"one page held all {page['totalCount']} deals: use a smaller --page-size")
            check(page["pageInfo"]["hasNextPage"] or len(seen) == page["totalCount"],
                  f"the last page ends at {len(seen)} deals of {page['totalCount']}")
            break
    check(candidate, "no deal in qualification with products is visible to this user")
    assert candidate is not None
    return candidate


async def read_deal(session: AsyncClientSession, candidate: dict) -> dict:
    deal = (await session.execute(request(DEAL, id=candidate["id"])))["opportunity"]
    check(deal and deal["id"] == candidate["id"] and deal["stage"] == "qualification", f"deal {candidate['id']} is {deal}")
    account = deal["account"]
    print(f'deal: {deal["id"]} "{deal["name"]}" version {deal["version"]}, value {deal["value"]}')
    print(f"  account: {account['name']} ({account['industry']})")
    for contact in account["contacts"]:
        print(f"  contact: {contact['name']}{' (primary)' if contact['isPrimary'] else ''}")
    for line in deal["products"]:
        print(f"  product: {line['quantity']} x {line['name']} ({line['product']['sku']}) = {line['totalPrice']}")
    check(len(deal["products"]) == len(candidate["products"]), "the deal's products differ from its list row")
    return deal


class DealEvents:
    """The subscription's events, read in the background; those of one deal are handed out in order."""

    def __init__(self, ws: AsyncClientSession, subscription: GraphQLRequest, deal_id: str, timeout: float) -> None:
        self.queue: asyncio.Queue[dict | Exception] = asyncio.Queue()
        self.deal_id, self.timeout = deal_id, timeout
        self.task = asyncio.create_task(self._listen(ws, subscription))

    async def _listen(self, ws: AsyncClientSession, subscription: GraphQLRequest) -> None:
        try:
            async for data in ws.subscribe(subscription):
                await self.queue.put(data["opportunityEvents"])
        except Exception as exc:  # handed to the waiting side, which fails with it at once
            await self.queue.put(exc)

    async def _next_of_deal(self) -> dict:
        while True:
            item = await self.queue.get()
            if isinstance(item, Exception):
                raise Failed(f"the subscription failed: {item!r}")
            if item["opportunityId"] == self.deal_id:
                return item

    async def next(self) -> dict:
        try:
            return await asyncio.wait_for(self._next_of_deal(), self.timeout)
        except TimeoutError:
            raise Failed(f"no event for deal {self.deal_id} within {self.timeout} s") from None

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def move_and_watch(args: argparse.Namespace, session: AsyncClientSession, events: DealEvents, deal: dict, me: dict) -> None:
    async def move(stage: str, expected_version: int) -> dict:
        variables = {"id": deal["id"], "stage": stage, "expectedVersion": expected_version}
        return (await session.execute(request(ADVANCE, **variables)))["advanceOpportunity"]

    async def expect_event(source: str, target: str, version: int) -> None:
        event = await events.next()
        check((event["kind"], event["fromStage"], event["toStage"]) == ("STAGE_CHANGED", source, target),
              f"event {event} is not {source} -> {target}")
        check((event["by"] or {}).get("email") == me["email"], f"the event names {event['by']} as its author")
        check(event["opportunity"] and event["opportunity"]["id"] == deal["id"] and event["opportunity"]["version"] >= version,
              "the event's opportunity is stale")
        print(f"event: {event['opportunityId']} {event['kind']} {source} -> {target} by {event['by']['email']} (on {args.ws})")

    moved = await move("proposal", deal["version"])
    check(not moved["errors"] and not moved["unmetRequirements"] and moved["opportunity"],
          f"the move to proposal was refused: {json.dumps(moved)}")
    new_version = moved["opportunity"]["version"]
    check(moved["opportunity"]["stage"] == "proposal" and new_version > deal["version"], "the move did not take")
    print(f"moved: {deal['id']} qualification -> proposal, version {deal['version']} -> {new_version} (on {args.http})")
    await expect_event("qualification", "proposal", new_version)

    stale = await move("qualification", deal["version"])
    check(any(e["code"] == "STALE_VERSION" for e in stale["errors"]) and not stale["opportunity"],
          f"a move at the old version {deal['version']} was not refused: {json.dumps(stale)}")
    print(f"stale write refused: {' '.join(e['code'] for e in stale['errors'])} at version {deal['version']}")

    back = await move("qualification", new_version)
    check(not back["errors"] and back["opportunity"] and back["opportunity"]["stage"] == "qualification",
          f"the move back was refused: {json.dumps(back)}")
    print(f"moved: {deal['id']} proposal -> qualification, version {new_version} -> {back['opportunity']['version']} (on {args.http})")
    await expect_event("proposal", "qualification", back["opportunity"]["version"])


async def run(args: argparse.Namespace) -> None:
    schema = build_schema(args.schema.read_text())  # once, shared by the clients
    token, me = await log_in(args, schema)
    print(f"logged in: {me['name']} <{me['email']}> ({me['role']})")
    authorized = HTTPXAsyncTransport(url=args.http, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    # The token travels in connection_init; entering the client waits for the server's connection_ack,
    # so a socket that cannot be opened fails here, before anything is written.
    ws = WebsocketsTransport(url=args.ws, subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
                             init_payload={"authorization": f"Bearer {token}"})
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(Client(transport=authorized, schema=schema))
        try:
            ws_session = await stack.enter_async_context(Client(transport=ws, schema=schema))
        except Exception as exc:
            raise Failed(f"cannot open a socket to {args.ws}: {exc!r}") from None
        deal = await read_deal(session, await pick_deal(session, args.page_size))
        # From the log's current position: whatever the timing of the subscribe message, every event
        # committed from here on is delivered (the server replays from the cursor).
        cursor = (await session.execute(EVENT_CURSOR))["eventCursor"]
        account_id = deal["account"]["id"]
        subscription = request(DEAL_EVENTS, after=cursor, filter={"accountId": account_id, "kinds": ["STAGE_CHANGED"]})
        events = DealEvents(ws_session, subscription, deal["id"], args.timeout_seconds)
        print(f"subscribed on {args.ws}: opportunityEvents of account {account_id} after {cursor}")
        try:
            await move_and_watch(args, session, events, deal, me)
        finally:
            await events.close()
    print("done")


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        asyncio.run(asyncio.wait_for(run(args), 60))  # a hung socket must not hang CI
    except Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a transport or server error: one line, non-zero
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
