// graphql-http's GraphQL-over-HTTP audit suite against a live server: node tests/js/audit.mjs <url>
// Prints one JSON line {ok, warn, notice, error, problems}; exits 1 unless every audit passed.
import { auditServer } from "graphql-http";

const url = process.argv[2];
const results = await auditServer({ url });
const counts = { ok: 0, warn: 0, notice: 0, error: 0 };
const problems = [];
for (const result of results) {
  counts[result.status] += 1;
  if (result.status !== "ok") {
    let body = "";
    try {
      body = result.response ? await result.response.text() : "";
    } catch {}
    problems.push({ id: result.id, name: result.name, status: result.status, reason: result.reason, body: body.slice(0, 300) });
  }
}
console.log(JSON.stringify({ ...counts, total: results.length, problems }));
process.exit(counts.warn + counts.notice + counts.error === 0 ? 0 : 1);
