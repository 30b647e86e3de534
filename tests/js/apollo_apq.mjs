// Apollo Client 4 with its persisted-queries link against a live server:
//   node tests/js/apollo_apq.mjs <url> <token> <GET|POST>
// Runs one query with a fresh client twice and prints every HTTP exchange the link made, as JSON.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createHash } from "node:crypto";

const [url, token, method] = process.argv.slice(2);
const exchanges = [];

async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  const copy = response.clone();
  exchanges.push({
    method: init?.method ?? "GET",
    url: String(input),
    sent: init?.body ? JSON.parse(init.body) : null,
    status: response.status,
    contentType: response.headers.get("content-type"),
    received: await copy.json(),
  });
  return response;
}

function client() {
  const persisted = new PersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
    useGETForHashedQueries: method === "GET",
  });
  const http = new HttpLink({ uri: url, fetch: recordingFetch, headers: { authorization: `Bearer ${token}` } });
  return new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
}

// One document per method, so a server that already remembers the other method's hash still misses first.
const query = gql(`
  query OpenDeals${method}($first: Int!) {
    opportunities(first: $first) {
      totalCount
      edges { node { id name } }
    }
  }
`);
const results = [];
for (const round of [1, 2]) {
  const { data, error } = await client().query({ query, variables: { first: 2 }, fetchPolicy: "network-only" });
  results.push({ round, data, error: error ? String(error) : null });
}
console.log(JSON.stringify({ results, exchanges }));
