// A typed client of the CRM: Apollo Client 4 over HTTP for queries and mutations, graphql-ws for
// subscriptions, every document and result typed by GraphQL Code Generator from schema.graphql.
//
//   npm run example:ts -- [--http URL] [--ws URL] [--email E] [--password P] [--page-size N]
//
// Queries and mutations go to --http (one API process), the subscription to --ws (possibly another
// process on the same database and Redis): the move made through the first reaches the second.
// It logs in, pages through the qualification deals with cursors, reads one deal with its account,
// contacts and products, moves it to proposal with expectedVersion, receives that move as a
// subscription event, checks that a write at the old version is refused, and moves the deal back
// (so the demo data is as it was). Any mismatch exits non-zero. Ids are opaque strings throughout.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { OperationTypeNode } from "graphql";
import { createClient } from "graphql-ws";
import { parseArgs } from "node:util";
import { ReplaySubject, elementAt, filter, firstValueFrom, throwError, timeout } from "rxjs";
import WebSocket from "ws";

import { graphql } from "./gql/index.js";
import type { DealEventsSubscription, QualificationDealsQuery } from "./gql/graphql.js";

const LogIn = graphql(`
  mutation LogIn($email: String!, $password: String!) {
    login(email: $email, password: $password) {
      token
      user { id name email role }
      errors { field message code }
    }
  }
`);

const QualificationDeals = graphql(`
  query QualificationDeals($first: Int!, $after: String) {
    opportunities(first: $first, after: $after, filter: {stage: ["qualification"]},
                  orderBy: {field: VALUE, direction: DESC}) {
      totalCount
      edges { cursor node { id name value stage products { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const Deal = graphql(`
  query Deal($id: ID!) {
    opportunity(id: $id) {
      id name stage value version probability
      account { id name industry contacts { id name title email isPrimary } }
      contact { id name }
      products { id name quantity unitPrice totalPrice product { sku } }
    }
  }
`);

const EventCursor = graphql(`
  query EventCursor { eventCursor }
`);

const DealEvents = graphql(`
  subscription DealEvents($after: String, $filter: OpportunityEventFilter) {
    opportunityEvents(after: $after, filter: $filter) {
      cursor kind opportunityId fromStage toStage
      by { email }
      opportunity { id stage version }
    }
  }
`);

const Advance = graphql(`
  mutation Advance($id: ID!, $stage: String!, $expectedVersion: Int!) {
    advanceOpportunity(input: {id: $id, stage: $stage, expectedVersion: $expectedVersion}) {
      opportunity { id stage version probability }
      errors { field message code }
      unmetRequirements { stage kind needed }
    }
  }
`);

type OpportunityEvent = DealEventsSubscription["opportunityEvents"];
type DealRow = QualificationDealsQuery["opportunities"]["edges"][number]["node"];

class Failed extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Failed(message);
}

const { values: args } = parseArgs({
  options: {
    http: { type: "string", default: process.env.CRM_HTTP_URL ?? "http://127.0.0.1:8000/graphql" },
    ws: { type: "string", default: process.env.CRM_WS_URL ?? "ws://127.0.0.1:8000/graphql" },
    email: { type: "string", default: process.env.CRM_EMAIL ?? "marcus.bell@kitchenpantry.example" },
    password: { type: "string", default: process.env.CRM_PASSWORD ?? "pantry-demo-2026" },
    "page-size": { type: "string", default: process.env.CRM_PAGE_SIZE ?? "5" },
    "timeout-seconds": { type: "string", default: "20" },
  },
});
const pageSize = Number(args["page-size"]);
const waitMs = Number(args["timeout-seconds"]) * 1000;

// Node 20 has no global WebSocket (22 has): graphql-ws could take `webSocketImpl`, but Apollo's
// GraphQLWsLink also looks for the global one when a connection fails.
globalThis.WebSocket ??= WebSocket as unknown as typeof globalThis.WebSocket;

let token: string | null = null;
// The token is read per request and per connection, so one client serves before and after login.
const auth = new SetContextLink((prev) => ({
  headers: { ...prev.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
}));
const wsClient = createClient({
  url: args.ws,
  connectionParams: () => ({ authorization: `Bearer ${token}` }), // the server reads it from connection_init
  retryAttempts: 0,
});
const connected = new Promise<void>((resolve, reject) => {
  wsClient.on("connected", () => resolve());
  wsClient.on("closed", (event) => reject(new Failed(`the socket to ${args.ws} closed: ${(event as { code?: number }).code}`)));
  wsClient.on("error", () => reject(new Failed(`cannot open a socket to ${args.ws}`)));
});
connected.catch(() => {}); // awaited later; never an unhandled rejection meanwhile
const client = new ApolloClient({
  link: ApolloLink.split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    new GraphQLWsLink(wsClient),
    ApolloLink.from([auth, new HttpLink({ uri: args.http })]),
  ),
  cache: new InMemoryCache(),
  defaultOptions: { query: { fetchPolicy: "network-only" } },
});

async function main(): Promise<void> {
  const login = (await client.mutate({ mutation: LogIn, variables: { email: args.email, password: args.password } })).data?.login;
  check(login && login.errors.length === 0 && login.token && login.user,
        `login as ${args.email} failed: ${JSON.stringify(login?.errors)}`);
  token = login.token;
  const me = login.user;
  console.log(`logged in: ${me.name} <${me.email}> (${me.role})`);

  // Pages of deals in qualification, by cursor, until two pages are read and one deal has products
  // (the proposal stage requires them).
  const seen = new Set<string>();
  let after: string | null = null;
  let pages = 0;
  let candidate: DealRow | undefined;
  const fetchPage = async (cursor: string | null) => {
    const { data } = await client.query({ query: QualificationDeals, variables: { first: pageSize, after: cursor } });
    check(data, "no data for the deals page");
    return data.opportunities;
  };
  for (;;) {
    const page = await fetchPage(after);
    pages += 1;
    const ids = page.edges.map((e) => e.node.id);
    check(ids.length > 0 && ids.length <= pageSize, `page ${pages} has ${ids.length} deals for first: ${pageSize}`);
    for (const id of ids) {
      check(!seen.has(id), `deal ${id} came twice: the cursor did not move on`);
      seen.add(id);
    }
    check(page.edges.every((e) => e.node.stage === "qualification"), "the stage filter let another stage through");
    console.log(`page ${pages}: ${ids.length} of ${page.totalCount} deals in qualification: ${ids.join(" ")}`);
    candidate ??= page.edges.map((e) => e.node).find((n) => n.products.length > 0);
    after = page.pageInfo.endCursor ?? null;
    if (!page.pageInfo.hasNextPage || (pages >= 2 && candidate)) {
      check(pages >= 2, `one page held all ${page.totalCount} deals: use a smaller --page-size`);
      check(page.pageInfo.hasNextPage || seen.size === page.totalCount,
            `the last page ends at ${seen.size} deals of ${page.totalCount}`);
      break;
    }
  }
  check(candidate, "no deal in qualification with products is visible to this user");

  const dealResult = await client.query({ query: Deal, variables: { id: candidate.id } });
  const deal = dealResult.data?.opportunity;
  check(deal, `deal ${candidate.id} not found`);
  check(deal.id === candidate.id && deal.stage === "qualification", `deal ${candidate.id} is in ${deal.stage}`);
  console.log(`deal: ${deal.id} "${deal.name}" version ${deal.version}, value ${deal.value}`);
  console.log(`  account: ${deal.account.name} (${deal.account.industry})`);
  for (const c of deal.account.contacts) console.log(`  contact: ${c.name}${c.isPrimary ? " (primary)" : ""}`);
  for (const line of deal.products) console.log(`  product: ${line.quantity} x ${line.name} (${line.product.sku}) = ${line.totalPrice}`);
  check(deal.products.length === candidate.products.length, "the deal's products differ from its list row");

  // Subscribe on the other process from the log's current position: whatever the timing of the
  // socket, every event committed from here on is delivered (the server replays from the cursor).
  const cursor = (await client.query({ query: EventCursor })).data?.eventCursor;
  check(cursor, "no event cursor");
  const events = new ReplaySubject<OpportunityEvent>();
  const subscription = client
    .subscribe({ query: DealEvents, variables: { after: cursor, filter: { accountId: deal.account.id, kinds: ["STAGE_CHANGED"] } } })
    .subscribe({
      next: ({ data, error }) => (error || !data ? events.error(error ?? new Failed("an event without data"))
                                                 : events.next(data.opportunityEvents)),
      error: (error: unknown) => events.error(error),
    });
  // The socket opens with the first subscription; wait for the server's connection_ack, so that a
  // socket that cannot be opened fails here, before anything is written.
  await connected;
  console.log(`subscribed on ${args.ws}: opportunityEvents of account ${deal.account.id} after ${cursor}`);
  const dealEvent = (n: number) => firstValueFrom(events.pipe(
    filter((e) => e.opportunityId === deal.id), elementAt(n),
    timeout({ first: waitMs, with: () => throwError(() => new Failed(`no event for deal ${deal.id} within ${waitMs / 1000} s`)) })));

  const move = async (stage: string, expectedVersion: number) => {
    const result = await client.mutate({ mutation: Advance, variables: { id: deal.id, stage, expectedVersion } });
    const payload = result.data?.advanceOpportunity;
    check(payload, `no payload for the move to ${stage}`);
    return payload;
  };

  const expectEvent = async (n: number, from: string, to: string, version: number): Promise<void> => {
    const event = await dealEvent(n);
    check(event.kind === "STAGE_CHANGED" && event.fromStage === from && event.toStage === to,
          `event ${JSON.stringify(event)} is not ${from} -> ${to}`);
    check(event.by?.email === me.email, `the event names ${event.by?.email} as its author`);
    check(event.opportunity?.id === deal.id && event.opportunity.version >= version, "the event's opportunity is stale");
    console.log(`event: ${event.opportunityId} ${event.kind} ${event.fromStage} -> ${event.toStage} by ${event.by.email} (on ${args.ws})`);
  };

  const moved = await move("proposal", deal.version);
  check(moved.errors.length === 0 && moved.unmetRequirements.length === 0 && moved.opportunity,
        `the move to proposal was refused: ${JSON.stringify(moved)}`);
  check(moved.opportunity.stage === "proposal" && moved.opportunity.version > deal.version, "the move did not take");
  console.log(`moved: ${deal.id} qualification -> proposal, version ${deal.version} -> ${moved.opportunity.version} (on ${args.http})`);
  await expectEvent(0, "qualification", "proposal", moved.opportunity.version);

  const stale = await move("qualification", deal.version);
  check(stale.errors.some((e) => e.code === "STALE_VERSION") && !stale.opportunity,
        `a move at the old version ${deal.version} was not refused: ${JSON.stringify(stale)}`);
  console.log(`stale write refused: ${stale.errors.map((e) => e.code).join(" ")} at version ${deal.version}`);

  const back = await move("qualification", moved.opportunity.version);
  check(back.errors.length === 0 && back.opportunity?.stage === "qualification", `the move back was refused: ${JSON.stringify(back)}`);
  console.log(`moved: ${deal.id} proposal -> qualification, version ${moved.opportunity.version} -> ${back.opportunity.version} (on ${args.http})`);
  await expectEvent(1, "proposal", "qualification", back.opportunity.version);
  subscription.unsubscribe();
  console.log("done");
}

// A hung socket must not hang CI: give up after a minute.
const watchdog = setTimeout(() => {
  console.error("FAILED: timed out");
  process.exit(2);
}, 60_000);

try {
  await main();
} catch (error) {
  console.error(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await wsClient.dispose();
  client.stop();
}
