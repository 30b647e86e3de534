"""A bench run: for each size, real uvicorn processes measured side by side with the baseline.

Imported by bench/__main__.py after it has set the environment (settings are read once)."""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import itertools
import json
import pstats
import random
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import httpx
from tortoise import Tortoise

from bench import datagen, queries as q
from app.domain.global_ids import global_id
from bench.checks import counting_queries, discovery_ids, run_quick_checks, schema_fields
from bench.procs import Server, Worker, load, wait_for_quiet

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("queries", "worker", "list", "detail", "apollo", "advance", "optional", "subscription", "search")


async def _admin_token() -> tuple[int, str]:
    from app.models import User
    from app.services.auth import issue_token

    admin = await User.get(email=datagen.ADMIN_EMAIL)
    return admin.id, issue_token(admin)[0]


async def _rep_token_and_terms() -> tuple[str, dict[str, str]]:
    """The first bench rep (about 1 % of the deals, the accounts they own and those of their deals) and the
    bench searches made of the rep's own records: their first account's name with a letter dropped, the
    prefix, their first account's contact's phone fragment, the account's exact name."""
    from app.models import Account, Contact, User
    from app.services.auth import issue_token

    rep = await User.filter(role="rep").order_by("id").first()
    assert rep is not None, "the bench data has no rep"
    account = await Account.filter(assigned_to_id=rep.id).order_by("id").first()
    if account is None:  # a small database (--quick): the admin's searches
        return issue_token(rep)[0], dict(q.SEARCH_TERMS)
    contact = await Contact.filter(account_id=account.id).order_by("id").first()
    first_word, _, rest = account.name.partition(" ")
    terms = {"typo": f"{first_word[:2]}{first_word[3:]} {rest.replace('#', '')}".lower(),
             "prefix": q.SEARCH_TERMS["prefix"],
             "phone fragment": contact.phone[-8:] if contact and contact.phone else q.SEARCH_TERMS["phone fragment"],
             "name": account.name}
    return issue_token(rep)[0], terms


async def _reset_moved(ids: list[int]) -> None:
    """Put the deals a scenario moved back into discovery, so the next run finds them there."""
    from app.models import Opportunity, PipelineStage, Task

    if not ids:
        return
    discovery = await PipelineStage.get(key=datagen.ADVANCE_FROM)
    await Opportunity.filter(id__in=ids).update(stage_id=discovery.id, probability=discovery.probability)
    await Task.filter(opportunity_id__in=ids).delete()


async def _wait_tasks(ids: list[int], timeout: float) -> dict[int, datetime]:
    from app.models import Task

    deadline = time.monotonic() + timeout
    while True:
        rows = await Task.filter(opportunity_id__in=ids).values_list("opportunity_id", "created_at")
        created: dict[int, datetime] = {}
        for opp, at in rows:
            created[opp] = min(at, created.get(opp, at))
        if len(created) >= len(ids) or time.monotonic() > deadline:
            return created
        await asyncio.sleep(0.2)


class Bench:
    def __init__(self, url: str, env: dict, levels: list[int], duration: float, log=print,
                 scenarios: set[str] | None = None) -> None:
        self.url, self.env, self.levels, self.duration, self.log = url, env, levels, duration, log
        self.only = scenarios or set(SCENARIOS)
        self.result: dict = {"scenarios": {}, "notes": []}

    def note(self, text: str) -> None:
        self.log(text)
        self.result["notes"].append(text)

    def _interleaved(self, targets: dict[str, tuple[str, list]], concurrency: int, rounds: int = 3,
                     accept_encoding: str = "identity") -> dict[str, dict]:
        """Each target (url, bodies) loaded in turn, `rounds` times for a `rounds`-th of the duration each,
        and summed up per target: the speed of a shared machine drifts by tens of per cent within a
        minute, and in turn it drifts under all targets alike instead of under whichever ran last.
        A round lasts at least ten of the target's median latencies in its previous round, up to 30 s
        (requests of seconds: otherwise each connection finishes about one per round), and the machine is left
        to finish what a round left in flight before the next one starts."""
        from statistics import median

        runs: dict[str, list] = {key: [] for key in targets}
        for _ in range(rounds):
            for key, (url, bodies) in targets.items():
                seconds = self.duration / rounds
                if runs[key]:
                    seconds = max(seconds, min(10 * runs[key][-1]["p50_ms"] / 1000, 30.0))
                runs[key].append(load(url, bodies, concurrency=concurrency, duration=seconds, token=self.token,
                                      accept_encoding=accept_encoding))
                wait_for_quiet()
        combined = {}
        for key, outs in runs.items():
            seconds = sum(o["seconds"] for o in outs)
            combined[key] = {
                "requests": sum(o["requests"] for o in outs), "errors": sum(o["errors"] for o in outs),
                "seconds": round(seconds, 3), "rps": round(sum(o["requests"] for o in outs) / seconds, 1) if seconds else 0.0,
                "p50_ms": round(median(o["p50_ms"] for o in outs), 2), "p95_ms": round(median(o["p95_ms"] for o in outs), 2),
                "p99_ms": max(o["p99_ms"] for o in outs), "rounds": [(o["rps"], o["p50_ms"]) for o in outs]}
        return combined

    async def measure_reads(self, name: str, api: Server, base: Server, gql_bodies: list, base_bodies: list,
                            path: str, variants: dict[str, Server]) -> None:
        """`graphql` is the API as deployed (read cache on: warm once a request has been seen); each variant
        is the same API with something switched off: `cold` the read cache, `standard` the fast path too.
        The cold API and the baseline, the comparison that matters, are measured interleaved."""
        rows = []
        for c in self.levels:
            g = load(f"{api.http}/graphql", gql_bodies, concurrency=c, duration=self.duration, token=self.token)
            targets = {"baseline": (f"{base.http}{path}", base_bodies)}
            if "cold" in variants:
                targets["cold"] = (f"{variants['cold'].http}/graphql", gql_bodies)
            measured = self._interleaved(targets, c)
            b = measured["baseline"]
            row = {"concurrency": c, "graphql": g, "baseline": b, "ratio": round(g["rps"] / b["rps"], 3) if b["rps"] else None,
                   "api_peak_rss_mb": api.peak_rss_mb(), "baseline_peak_rss_mb": base.peak_rss_mb()}
            line = f"  {name} c={c}: warm {g['rps']} req/s p50 {g['p50_ms']} ms p99 {g['p99_ms']}"
            for key, server in variants.items():
                v = measured.get(key) or load(f"{server.http}/graphql", gql_bodies, concurrency=c,
                                              duration=self.duration, token=self.token)
                row.update({key: v, f"{key}_ratio": round(v["rps"] / b["rps"], 3) if b["rps"] else None,
                            f"{key}_peak_rss_mb": server.peak_rss_mb()})
                line += f" | {key} {v['rps']} req/s p50 {v['p50_ms']} ms p99 {v['p99_ms']}"
            self.log(line + f" | baseline {b['rps']} req/s p50 {b['p50_ms']} ms p99 {b['p99_ms']}")
            rows.append(row)
        self.result["scenarios"][name] = rows

    async def measure_apollo(self, name: str, plain: list, apollo: list, servers: dict[str, Server]) -> None:
        """The same reads as plain documents and as Apollo Client sends them (named operation, fragments,
        `__typename` in every selection set), on the same server, interleaved in short rounds so that
        the load of a shared machine falls on both alike; once with uncompressed answers, once compressed
        ("gzip" rows: the Accept-Encoding that browsers and Apollo Client send)."""
        rows = []
        for c in self.levels:
            row: dict = {"concurrency": c}
            line = f"  {name} c={c}:"
            for (key, server), (suffix, encoding) in itertools.product(
                    servers.items(), (("", "identity"), (" gzip", "gzip, deflate, br"))):
                key += suffix
                measured = self._interleaved({"plain": (f"{server.http}/graphql", plain),
                                              "apollo": (f"{server.http}/graphql", apollo)}, c, accept_encoding=encoding)
                for side, out in measured.items():
                    row[f"{key}_{side}"] = out
                plain_rps, apollo_rps = row[f"{key}_plain"]["rps"], row[f"{key}_apollo"]["rps"]
                row[f"{key}_ratio"] = round(apollo_rps / plain_rps, 3) if plain_rps else None
                line += (f" | {key}: plain {plain_rps} req/s p50 {row[f'{key}_plain']['p50_ms']} ms, Apollo "
                         f"{apollo_rps} req/s p50 {row[f'{key}_apollo']['p50_ms']} ms ({row[f'{key}_ratio']})")
            self.log(line)
            rows.append(row)
        self.result["scenarios"][name] = rows

    async def measure_advance(self, api: Server, base: Server, counts: dict[int, int]) -> None:
        rows = []
        for c in self.levels:
            n = counts.get(c, 100)
            ids = await discovery_ids(2 * n)
            gql_ids, base_ids = ids[:n], ids[n:]
            row: dict = {"concurrency": c}
            for side, url, ids_, body in (
                    ("graphql", f"{api.http}/graphql", gql_ids,
                     lambda i: {"query": q.ADVANCE_OPPORTUNITY, "variables": {"id": global_id("Opportunity", i), "stage": datagen.ADVANCE_TO}}),
                    ("baseline", f"{base.http}/advance", base_ids,
                     lambda i: {"variables": {"id": global_id("Opportunity", i), "stage": datagen.ADVANCE_TO}})):
                out = load(url, [body(i) for i in ids_], concurrency=c, cycle=False, warmup=0, token=self.token,
                           keep_requests=True)
                created = await _wait_tasks(ids_, timeout=60)
                e2e = sorted(
                    (created[ids_[r["index"]]].timestamp() - r["start"]) for r in out.pop("per_request")
                    if ids_[r["index"]] in created)
                from bench.load import percentile

                out["e2e_p50_ms"] = round(percentile(e2e, 50) * 1000, 1)
                out["e2e_p95_ms"] = round(percentile(e2e, 95) * 1000, 1)
                out["tasks_missing"] = len(ids_) - len(created)
                row[side] = out
                await _reset_moved(ids_)
            row["ratio"] = round(row["graphql"]["rps"] / row["baseline"]["rps"], 3)
            row["api_peak_rss_mb"] = api.peak_rss_mb()
            self.log(f"  advance c={c}: graphql {row['graphql']['rps']} req/s p50 {row['graphql']['p50_ms']} ms, "
                     f"to task p50 {row['graphql']['e2e_p50_ms']} ms | baseline {row['baseline']['rps']} req/s")
            rows.append(row)
        self.result["scenarios"]["advance_opportunity"] = rows

    async def measure_worker_rate(self, api: Server, n: int) -> None:
        """Queue n moves with no worker running, then start `crm worker --processes 1`, then `2`, and time
        the automations they run, first Task to last."""
        for key, processes in (("worker", 1), ("worker_2_processes", 2)):
            ids = await discovery_ids(n)
            load(f"{api.http}/graphql", [{"query": q.ADVANCE_OPPORTUNITY, "variables": {
                "id": global_id("Opportunity", i), "stage": datagen.ADVANCE_TO}} for i in ids], concurrency=10, cycle=False, warmup=0,
                token=self.token)
            with Worker(self.env, processes=processes):
                created = await _wait_tasks(ids, timeout=300)
            times = sorted(created.values())
            span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else float("nan")
            rate = round((len(times) - 1) / span, 1) if span else float("nan")
            self.result["scenarios"][key] = {"automations": len(times), "queued": n, "seconds": round(span, 2),
                                             "automations_per_second": rate, "processes": processes}
            self.log(f"  {key}: {len(times)} of {n} queued automations in {span:.2f} s = {rate}/s")
            await _reset_moved(ids)

    async def measure_optional(self, api: Server) -> None:
        query_fields, mutation_fields = schema_fields()
        if "recordInteraction" in mutation_fields:
            from app.models import Account

            n_accounts = await Account.all().count()
            bodies = [{"query": q.RECORD_INTERACTION, "variables": {"input": {
                "accountId": str(1 + i % n_accounts), "type": "MEETING", "subject": "Tasting", "opportunityId": None,
                "description": datagen.NOTES[i % len(datagen.NOTES)]}}} for i in range(200)]
            rows = []
            for c in self.levels:
                out = load(f"{api.http}/graphql", bodies, concurrency=c, duration=self.duration, token=self.token)
                out["concurrency"] = c
                rows.append(out)
                self.log(f"  recordInteraction c={c}: {out['rps']} req/s p50 {out['p50_ms']} ms p99 {out['p99_ms']} ms")
            self.result["scenarios"]["record_interaction"] = rows
        else:
            self.note("recordInteraction is not in the schema: skipped")
        if "pipelineReport" in query_fields:
            for name, body in (("pipeline_report", {"query": q.PIPELINE_REPORT, "variables": {"timeframe": "this_year"}}),
                               ("sales_forecast", {"query": q.SALES_FORECAST, "variables": {"period": "this_quarter"}})):
                rows = []
                for c in [lvl for lvl in self.levels if lvl <= 10]:
                    out = load(f"{api.http}/graphql", [body], concurrency=c, duration=self.duration, token=self.token,
                               slow=True)
                    out["concurrency"] = c
                    rows.append(out)
                    self.log(f"  {name} c={c}: {out['rps']} req/s p50 {out['p50_ms']} ms p99 {out['p99_ms']} ms")
                self.result["scenarios"][name] = rows
        else:
            self.note("pipelineReport is not in the schema: skipped")

    async def measure_subscription(self, a: Server, b: Server, n: int) -> None:
        """Latency from sending advanceOpportunity to process B until the subscriber on process A has the event."""
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        ids = await discovery_ids(n)
        latencies = []
        async with connect(f"ws://127.0.0.1:{a.port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]) as ws, \
                httpx.AsyncClient(timeout=10) as http:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": q.OPPORTUNITY_EVENTS}}))
            await asyncio.sleep(0.5)
            for i in ids:
                t0 = time.perf_counter()
                await http.post(f"{b.http}/graphql", headers={"Authorization": f"Bearer {self.token}"},
                                json={"query": q.ADVANCE_OPPORTUNITY, "variables": {"id": global_id("Opportunity", i), "stage": datagen.ADVANCE_TO}})
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if msg["type"] == "next" and msg["payload"]["data"]["opportunityEvents"]["opportunityId"] == global_id("Opportunity", i):
                        break
                latencies.append(time.perf_counter() - t0)
        from bench.load import percentile

        ordered = sorted(latencies)
        out = {"events": len(ordered), "p50_ms": round(percentile(ordered, 50) * 1000, 1),
               "p95_ms": round(percentile(ordered, 95) * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}
        self.result["scenarios"]["subscription_fanout"] = out
        self.log(f"  subscription fan-out B→A: p50 {out['p50_ms']} ms p95 {out['p95_ms']} ms over {len(ordered)} events")
        await _reset_moved(ids)

    async def measure_search(self, api: Server) -> None:
        """Each bench search on its own, one client: as the admin (every record; bench/queries.py
        SEARCH_TERMS) and as a rep (a 1 % scope; the same kinds of search, made of the rep's own records):
        latency and the hits found. Search is never cached."""
        from bench.checks import counting_queries

        rows = []
        rep_token, rep_terms = await _rep_token_and_terms()
        tokens = {"admin": self.token, "rep": rep_token}
        for role, token in tokens.items():
            for label, term in (q.SEARCH_TERMS if role == "admin" else rep_terms).items():
                body = {"query": q.SEARCH, "variables": {"query": term, "first": 20}}
                with httpx.Client(timeout=60) as http:
                    answer = http.post(f"{api.http}/graphql", json=body, headers={"Authorization": f"Bearer {token}"}).json()
                assert "errors" not in answer, answer
                out = load(f"{api.http}/graphql", [body], concurrency=1, duration=self.duration, token=token)
                out.update(role=role, label=label, term=term, hits=len(answer["data"]["search"]))
                rows.append(out)
                self.log(f"  search {role} {label} ({term!r}): {out['hits']} hits, p50 {out['p50_ms']} ms "
                         f"p95 {out['p95_ms']} ms ({out['rps']} req/s)")
        from app.api.app import create_app

        app = create_app(manage_database=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            with counting_queries() as counter:
                await client.post("/graphql", json={"query": q.SEARCH, "variables": {"query": rep_terms["typo"]}},
                                  headers={"Authorization": f"Bearer {tokens['rep']}"})
        self.result["scenarios"]["search"] = rows
        self.result.setdefault("queries_per_request", {})["search_rep"] = counter.count
        self.log(f"  search SQL statements per request (rep, all types): {counter.count}")

    async def count_queries(self, base: Server, detail_id: int) -> None:
        """SQL statements per request, counted in-process (the ORM's logger), and the baseline's own count."""
        from app.api.app import create_app

        app = create_app(manage_database=False)
        await self._count_and_profile(app, base, detail_id, "")
        await self._count_warm(create_app(manage_database=False), detail_id)
        from app.settings import Settings

        if "fast_path_enabled" in Settings.model_fields:
            await self._count_and_profile(create_app(manage_database=False, fast_path=False), base, detail_id,
                                          "standard_")

    async def _count_warm(self, app, detail_id: int) -> None:
        """Statements for a request the read cache has seen (its lifespan starts the change feed)."""
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            counts = {}
            for name, query, variables in (("list_page_100_warm", q.OPPORTUNITIES_PAGE, {"first": 100}),
                                           ("detail_warm", q.OPPORTUNITY_DETAIL, {"id": global_id("Opportunity", detail_id)})):
                body = {"query": query, "variables": variables}
                headers = {"Authorization": f"Bearer {self.token}"}
                first = (await client.post("/graphql", json=body, headers=headers)).json()
                with counting_queries() as counter:
                    again = (await client.post("/graphql", json=body, headers=headers)).json()
                assert again == first, "a cached answer differs from the first"
                counts[name] = counter.count
        self.result["queries_per_request"].update(counts)
        self.log(f"  warm (read cache) SQL queries per request: {counts}")

    async def _count_and_profile(self, app, base: Server, detail_id: int, prefix: str) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            async def post(query: str, variables: dict) -> dict:
                return (await client.post("/graphql", json={"query": query, "variables": variables},
                                          headers={"Authorization": f"Bearer {self.token}"})).json()

            counts = {}
            for name, query, variables in (("list_page_1", q.OPPORTUNITIES_PAGE, {"first": 1}),
                                           ("list_page_100", q.OPPORTUNITIES_PAGE, {"first": 100}),
                                           ("list_page_100_no_count", q.OPPORTUNITIES_PAGE_NO_COUNT, {"first": 100}),
                                           ("detail", q.OPPORTUNITY_DETAIL, {"id": global_id("Opportunity", detail_id)}),
                                           ("list_page_100_apollo", q.OPPORTUNITIES_PAGE_APOLLO, {"first": 100}),
                                           ("detail_apollo", q.OPPORTUNITY_DETAIL_APOLLO, {"id": global_id("Opportunity", detail_id)})):
                with counting_queries() as counter:
                    body = await post(query, variables)
                assert "errors" not in body, body
                counts[name] = counter.count
            moved = (await discovery_ids(1))[0]
            with counting_queries() as counter:
                await post(q.ADVANCE_OPPORTUNITY, {"id": global_id("Opportunity", moved), "stage": datagen.ADVANCE_TO})
            counts["advance"] = counter.count
            await _reset_moved([moved])
            async with httpx.AsyncClient(base_url=base.http, headers={"Authorization": f"Bearer {self.token}"}) as bc:
                counts["baseline_list"] = int((await bc.post("/opportunities", json={"variables": {"first": 100}})).headers["x-queries"])
                counts["baseline_list_no_count"] = int((await bc.post("/opportunities", json={"variables": {
                    "first": 100, "count": False}})).headers["x-queries"])
                counts["baseline_detail"] = int((await bc.post("/opportunity", json={"variables": {"id": global_id("Opportunity", detail_id)}})).headers["x-queries"])
                moved = (await discovery_ids(1))[0]
                counts["baseline_advance"] = int((await bc.post("/advance", json={"variables": {
                    "id": global_id("Opportunity", moved), "stage": datagen.ADVANCE_TO}})).headers["x-queries"])
                await _reset_moved([moved])
            self.result[prefix + "queries_per_request"] = counts
            self.log(f"  {prefix}SQL queries per request: {counts}")
            # Where the time goes: the list query profiled in-process.
            await post(q.OPPORTUNITIES_PAGE, {"first": 100})
            profiler = cProfile.Profile()
            n, t0 = 20, time.perf_counter()
            profiler.enable()
            for _ in range(n):
                await post(q.OPPORTUNITIES_PAGE, {"first": 100})
            profiler.disable()
            wall_ms = (time.perf_counter() - t0) / n * 1000
            self.result[prefix + "profile"] = profile = profile_summary(profiler, n, wall_ms)
            self.log(f"  {prefix}list page of 100 in-process: {wall_ms:.1f} ms/request (under cProfile); "
                     f"by package: {profile['by_package_ms']}")
            for f in profile["top_functions"][:8]:
                self.log(f"    {f['own_ms']:6.2f} ms  {f['calls_per_request']:6d} calls  {f['function']}")

    async def run(self, *, worker_n: int, sub_n: int, advance_counts: dict[int, int]) -> dict:
        admin_id, self.token = await _admin_token()
        from app.models import Opportunity

        max_id = await Opportunity.all().count()
        rng = random.Random(7)
        detail_ids = [rng.randint(1, max_id) for _ in range(500)]
        with Server("app.api.app:create_app", self.env) as api, Server("bench.baseline_app:create_app", self.env) as base:
            if "queries" in self.only:
                await self.count_queries(base, detail_ids[0])
            if "worker" in self.only:
                await self.measure_worker_rate(api, worker_n)
            if "search" in self.only:
                await self.measure_search(api)
            variants = {"cold": Server("app.api.app:create_app", {**self.env, "READ_CACHE_ENABLED": "false"}),
                        "standard": Server("app.api.app:create_app", {**self.env, "FAST_PATH_ENABLED": "false"})}
            reads = {"list", "detail", "apollo"} & self.only
            with Worker(self.env), contextlib.ExitStack() as stack:
                if reads:
                    for server in variants.values():
                        stack.enter_context(server)
                if "list" in self.only:
                    await self.measure_reads(
                        "opportunities_page", api, base,
                        [{"query": q.OPPORTUNITIES_PAGE, "variables": {"first": 100}}], [{"variables": {"first": 100}}],
                        "/opportunities", variants)
                if "list" in self.only:
                    await self.measure_reads(
                        "opportunities_page_no_count", api, base,
                        [{"query": q.OPPORTUNITIES_PAGE_NO_COUNT, "variables": {"first": 100}}],
                        [{"variables": {"first": 100, "count": False}}], "/opportunities", {"cold": variants["cold"]})
                if "detail" in self.only:
                    await self.measure_reads(
                        "opportunity_detail", api, base,
                        [{"query": q.OPPORTUNITY_DETAIL, "variables": {"id": global_id("Opportunity", i)}} for i in detail_ids],
                        [{"variables": {"id": global_id("Opportunity", i)}} for i in detail_ids], "/opportunity", variants)
                if "apollo" in self.only:
                    servers = {"warm": api, "cold": variants["cold"]}
                    await self.measure_apollo(
                        "opportunities_page_apollo",
                        [{"query": q.OPPORTUNITIES_PAGE, "variables": {"first": 100}}],
                        [{"query": q.OPPORTUNITIES_PAGE_APOLLO, "operationName": "OpportunitiesPage",
                          "variables": {"first": 100}}], servers)
                    await self.measure_apollo(
                        "opportunity_detail_apollo",
                        [{"query": q.OPPORTUNITY_DETAIL, "variables": {"id": global_id("Opportunity", i)}} for i in detail_ids],
                        [{"query": q.OPPORTUNITY_DETAIL_APOLLO, "operationName": "OpportunityDetail",
                          "variables": {"id": global_id("Opportunity", i)}} for i in detail_ids], servers)
                if "advance" in self.only:
                    await self.measure_advance(api, base, advance_counts)
                if "optional" in self.only:
                    await self.measure_optional(api)
                if "subscription" in self.only:
                    with Server("app.api.app:create_app", self.env) as api_b:
                        await self.measure_subscription(api, api_b, sub_n)
            self.result["api_peak_rss_mb"] = api.peak_rss_mb()
            self.result["baseline_peak_rss_mb"] = base.peak_rss_mb()
        return self.result


def profile_summary(profiler: cProfile.Profile, n: int, wall_ms: float) -> dict:
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = defaultdict(float)
    top = []
    # typeshed leaves out Stats.stats, the table every pstats report reads.
    for (filename, line, func), (_cc, nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        path = filename.replace("\\", "/")
        if "site-packages/" in path:
            package = path.split("site-packages/", 1)[1].split("/", 1)[0]
        elif "/app/" in path:
            package = "app"
        elif path.startswith("~") or "<" in path:
            package = "builtins"
        else:
            package = "stdlib:" + Path(path).stem if "/lib/python" in path else Path(path).stem
        if package.startswith("stdlib:asyncio") or package in ("stdlib:events", "stdlib:base_events", "stdlib:selector_events"):
            package = "asyncio"
        by_package[package] += tt
        top.append((tt, nc, f"{Path(path).name}:{line}({func})"))
    ms = {k: round(v / n * 1000, 2) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])[:10]}
    functions = [{"own_ms": round(tt / n * 1000, 2), "calls_per_request": nc // n, "function": f}
                 for tt, nc, f in sorted(top, reverse=True)[:15]]
    return {"wall_ms_per_request_under_profile": round(wall_ms, 1), "by_package_ms": ms, "top_functions": functions}


def _flush_redis(env: dict) -> None:
    """Each database numbers its events from 1 and arq refuses a job id whose result it still keeps
    (`event:<id>`): the bench's own Redis database is emptied before every size."""
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


async def bench_size(n: int, url: str, env: dict, *, levels: list[int], duration: float, log=print,
                     scenarios: set[str] | None = None) -> dict:
    from app.db import tortoise_config

    _flush_redis(env)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    if float(load_before[0]) > 1.0:
        log(f"warning: load average {' '.join(load_before)} before the run: other processes share the 2 cores")
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    try:
        b = Bench(url, {**env, "DATABASE_URL": url}, levels, duration, log, scenarios)
        result = await b.run(worker_n=2000, sub_n=30,
                             advance_counts={1: 100, 10: 400, 50: 600})
    finally:
        await Tortoise.close_connections()
    result.update(size=n, at=datetime.now(timezone.utc).isoformat(timespec="seconds"), loadavg_before=load_before,
                  loadavg_after=Path("/proc/loadavg").read_text().split()[:3])
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if scenarios is None else "-" + "-".join(sorted(scenarios))
    (RESULTS / f"{n}{suffix}.json").write_text(json.dumps(result, indent=1))
    return result


async def quick(url: str, env: dict, log=print) -> dict:
    """Every scenario once on a small database, no timing assertions."""
    from app.api.app import create_app
    from app.db import tortoise_config

    _flush_redis(env)
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    try:
        _, token = await _admin_token()
        app = create_app(manage_database=False)
        with Server("bench.baseline_app:create_app", {**env, "DATABASE_URL": url}) as base, \
                Worker({**env, "DATABASE_URL": url}):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client, \
                    httpx.AsyncClient(base_url=base.http, headers={"Authorization": f"Bearer {token}"}) as bc:
                async def post(query: str, variables: dict) -> dict:
                    return (await client.post("/graphql", json={"query": query, "variables": variables},
                                              headers={"Authorization": f"Bearer {token}"})).json()

                async def baseline(path: str, variables: dict) -> dict:
                    return (await bc.post(path, json={"variables": variables})).json()

                async def worker() -> None:
                    await asyncio.sleep(3)  # the real worker picks the event up from Redis

                seen = await run_quick_checks(post, worker, baseline, log=log)
                # The compiled read path serves the Apollo-shaped documents itself (no fallback).
                fast, before = app.state.fast_path, app.state.fast_path.served
                page = await post(q.OPPORTUNITIES_PAGE_APOLLO, {"first": 10})
                await post(q.OPPORTUNITY_DETAIL_APOLLO, {"id": page["data"]["opportunities"]["edges"][0]["node"]["id"]})
                assert fast.served == before + 2, f"Apollo-shaped documents fell back: {dict(fast.fallbacks)}"
                seen["apollo_compiled"] = True
        log(f"in-process checks passed: {seen}")
        b = Bench(url, {**env, "DATABASE_URL": url}, [1], 1, log)
        result = await b.run(worker_n=20, sub_n=3, advance_counts={1: 5})
        result["checks"] = seen
    finally:
        await Tortoise.close_connections()
    return result
