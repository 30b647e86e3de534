// Apollo Client 4 reading a list page and then one deal the way an app does: named operations, fragments,
// aliases, variables, @include/@skip; Apollo itself adds `__typename` to every selection set for its cache.
//   node tests/js/apollo_documents.mjs <url> <token>
// Prints what the client got and every request body it sent, as JSON (the Python test replays the bodies).
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";

const [url, token] = process.argv.slice(2);
const sent = [];
const encodings = [];  // each answer's Content-Encoding (Node's fetch asks for gzip, as browsers do)

async function recordingFetch(input, init) {
  sent.push(JSON.parse(init.body));
  const response = await fetch(input, init);
  encodings.push(response.headers.get("content-encoding"));
  return response;
}

const client = new ApolloClient({
  link: new HttpLink({ uri: url, fetch: recordingFetch, headers: { authorization: `Bearer ${token}` } }),
  cache: new InMemoryCache(),
});

const LIST = gql`
  query DealsPage($first: Int!, $after: String, $withLines: Boolean!, $compact: Boolean! = false) {
    deals: opportunities(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ...DealRow } }
    }
  }
  fragment DealRow on Opportunity {
    id
    title: name
    value
    stage
    isStale @skip(if: $compact)
    account { ...AccountChip }
    owner: assignedTo { id name }
    products @include(if: $withLines) { id quantity totalPrice product { sku name } }
    ... on Opportunity { expectedCloseDate }
  }
  fragment AccountChip on Account { id name tier headquarters { city country } }
`;

const DETAIL = gql`
  query DealDetail($id: ID!, $withHistory: Boolean = true) {
    opportunity(id: $id) {
      ...DealHeader
      account {
        id
        name
        headquarters { street city region postalCode country }
        parent { id name }
        subsidiaries { id name }
        contacts { id name email }
        teamMembers { id role user { ...Person } }
        opportunities { id name stage }
        assignedTo { ...Person manager { ...Person } }
      }
      contact { id name email account { id } }
      assignedTo { ...Person }
      activities { id type subject createdBy { ...Person } }
      stageHistory @include(if: $withHistory) { id at fromStage { key } toStage { key } by { ...Person } }
      pipeline { id name stages { id key order } }
    }
  }
  fragment DealHeader on Opportunity { id name value probability stage daysInStage pipelineStage { id key name } }
  fragment Person on User { id name email role }
`;

const results = [];
const page = await client.query({ query: LIST, variables: { first: 5, withLines: true }, fetchPolicy: "network-only" });
results.push({ operation: "DealsPage", data: page.data ?? null, error: page.error ? String(page.error) : null });
const compact = await client.query({
  query: LIST, variables: { first: 2, withLines: false, compact: true }, fetchPolicy: "network-only",
});
results.push({ operation: "DealsPage", data: compact.data ?? null, error: compact.error ? String(compact.error) : null });
for (const edge of page.data?.deals?.edges ?? []) {
  const detail = await client.query({ query: DETAIL, variables: { id: edge.node.id }, fetchPolicy: "network-only" });
  results.push({ operation: "DealDetail", data: detail.data ?? null, error: detail.error ? String(detail.error) : null });
}
console.log(JSON.stringify({ results, sent, encodings }));
