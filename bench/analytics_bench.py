"""`python -m bench.analytics_bench [--sizes 10000,100000,1000000] [--runs 5] [--keep]`

pipelineReport and salesForecast on PostgreSQL at growing sizes, side by side with the very same SQL
run directly through asyncpg, and the peak memory of the process serving them.

A throwaway database (crm_bench_analytics_<random>) is created, migrated with the project's migrations,
filled inside PostgreSQL (INSERT … SELECT over generate_series; deterministic pseudo-random values from
bench.datagen's hashing) and grown size by size; it is dropped at the end unless --keep. Each size is
measured in a fresh subprocess (`--measure URL`) so its peak RSS belongs to that size alone: the
GraphQL app runs in-process (httpx ASGITransport, real schema, real resolvers), every figure is the
median of --runs runs after one warm-up. Results: Markdown on stdout, JSON in bench/results/."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import asyncpg

from bench.datagen import h, pick

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ENV = {"ENVIRONMENT": "production", "SECRET_KEY": "bench-secret-key-long-enough-for-hs256-signing",
       "TOKEN_TTL_MINUTES": "720",  # tokens issued directly must outlast the run
       "COST_BUDGET_CAPACITY": str(10**12), "COST_BUDGET_REFILL_PER_SECOND": str(10**12)}  # never refuse the bench
N_MANAGERS, N_REPS, N_ACCOUNTS, N_PRODUCTS = 10, 100, 20_000, 500
REP0 = 2 + N_MANAGERS  # user ids: 1 admin, 2…11 managers, then the reps
TIMEFRAME = "last_90_days"
FORECAST_PERIOD = "this_quarter"
CATEGORIES = ["produce", "dairy", "meat_poultry", "seafood", "dry_goods", "frozen", "bakery", "beverages"]
SOURCES = ["inbound", "outbound", "referral", "trade_show", "partner", "existing_customer", "website"]

REPORT_QUERY = """query($t: String!) { pipelineReport(timeframe: $t) {
  totalOpportunities totalValue weightedValue averageDealSize averageSalesCycle winRate
  stageDistribution { stage count value }
  conversionRates { fromStage toStage entered advanced rate }
  velocity { averageDaysToClose salesVelocity openOpportunities stages { stage averageDays count } }
  trends { start created createdValue won wonValue lost lostValue winRate } } }"""
FORECAST_FIELDS = """period totalForecast bestCase worstCase confidence methodology assumptions
  byRep { userId total } byProduct { category total } byCategory { category weighted }
  historical { model monthsUsed seasonalAdjustment trendAdjustment } simulation { p10 p50 p90 }"""
FORECAST_QUERY = "query($p: String!) { salesForecast(period: $p) { " + FORECAST_FIELDS + " } }"
FULL_REPORT_QUERY = REPORT_QUERY[:-4] + " forecast { " + FORECAST_FIELDS + " } } }"


# Data --------------------------------------------------------------------------------------


async def create_database() -> str:
    name = f"crm_bench_analytics_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgres://", 1) + f"/{name}"
    subprocess.run([str(Path(sys.executable).with_name("crm")), "migrate"], check=True, cwd=ROOT,
                   env={**os.environ, **ENV, "DATABASE_URL": url}, stdout=subprocess.DEVNULL)
    return url


async def drop_database(url: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await admin.close()


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def base_data(conn: asyncpg.Connection) -> dict[str, int]:
    """Users, accounts, products and the default pipeline; returns stage ids by key."""
    from app.domain.pipeline_defaults import DEFAULT_PIPELINE_NAME, DEFAULT_STAGES

    await conn.execute(f"""
INSERT INTO users (id, email, name, password_hash, role, timezone, is_active, created_at, updated_at, manager_id)
SELECT i, 'user' || i || '@bench.example', 'User ' || i, 'x',
       CASE WHEN i = 1 THEN 'admin' WHEN i < {REP0} THEN 'manager' ELSE 'rep' END, 'UTC', true, now(), now(),
       CASE WHEN i >= {REP0} THEN 2 + (i - {REP0}) % {N_MANAGERS} END
FROM generate_series(1, {REP0 + N_REPS - 1}) AS s(i)""")
    await conn.execute(f"""
INSERT INTO accounts (id, name, industry, size, status, tier, assigned_to_id, created_at, updated_at)
SELECT i, 'Account ' || i, {pick(['restaurant', 'hotel', 'catering', 'school', 'hospital'], h('i', 2, 97))}, 'small',
       'customer', {pick(['strategic', 'key', 'standard', 'standard', 'basic'], h('i', 5, 83))},
       {REP0} + {h('i', 1, N_REPS)}, now(), now()
FROM generate_series(1, {N_ACCOUNTS}) AS s(i)""")
    await conn.execute(f"""
INSERT INTO products (id, sku, name, category, unit, unit_price, description, is_active, created_at, updated_at)
SELECT i, 'SKU-' || i, 'Product ' || i, {pick(CATEGORIES, 'i')}, 'case', 10 + i % 90, '', true, now(), now()
FROM generate_series(1, {N_PRODUCTS}) AS s(i)""")
    pipeline = await conn.fetchval("INSERT INTO pipelines (name, is_default, created_at) VALUES ($1, true, now()) "
                                   "RETURNING id", DEFAULT_PIPELINE_NAME)
    for s in DEFAULT_STAGES:
        await conn.execute(
            'INSERT INTO pipeline_stages (pipeline_id, key, name, "order", kind, probability, expected_duration_days, '
            "forecast_category, requirements, automations) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '[]', '[]')",
            pipeline, s["key"], s["name"], s["order"], s["kind"], s["probability"], s["expected_duration_days"],
            s["forecast_category"])
    return dict(await conn.fetch("SELECT key, id FROM pipeline_stages")) | {"pipeline": pipeline}


async def grow(conn: asyncpg.Connection, stages: dict[str, int], first: int, last: int) -> None:
    """Opportunities first…last with their stage history and product lines.

    Each deal is created within the last 3 years, walks 1–4 open stages (one in twelve skips
    qualification) a few days to weeks apart; deals older than 45–165 days are closed, won more often
    the further they got. Probability, forecast category and close dates follow the stage."""
    open_keys = ["discovery", "qualification", "proposal", "negotiation"]
    prob = {"discovery": 20, "qualification": 40, "proposal": 60, "negotiation": 80}
    stage_of = "CASE g.reached " + " ".join(f"WHEN {i + 1} THEN {stages[k]}" for i, k in enumerate(open_keys)) + " END"
    prob_of = "CASE g.reached " + " ".join(f"WHEN {i + 1} THEN {prob[k]}" for i, k in enumerate(open_keys)) + " END"
    cat_of = "CASE g.reached WHEN 3 THEN 'best_case' WHEN 4 THEN 'commit' ELSE 'pipeline' END"
    await conn.execute("DROP TABLE IF EXISTS gen")
    await conn.execute(f"""
CREATE UNLOGGED TABLE gen AS
SELECT i, age, reached, closed, closed AND {h('i', 34, 100)} < 20 + 12 * reached AS won,
       LEAST(2 + {h('i', 37, 20)} + {h('i', 38, 100)} / 100.0, age / (reached + 1.0)) AS gap,
       {h('i', 35, 12)} = 0 AND reached >= 3 AS skips
FROM (SELECT i, {h('i', 31, 1095)} + {h('i', 36, 1440)} / 1440.0 AS age, 1 + {h('i', 32, 4)} AS reached,
             {h('i', 31, 1095)} > 45 + {h('i', 33, 120)} AS closed
      FROM generate_series({first}, {last}) AS s(i)) AS base""")
    now = "TIMESTAMPTZ '{}'".format(datetime.now(timezone.utc).replace(microsecond=0).isoformat())
    await conn.execute(f"""
INSERT INTO opportunities (id, name, account_id, pipeline_id, stage_id, stage_entered_at, probability,
    probability_overridden, value, expected_close_date, actual_close_date, source, next_step, description,
    forecast_category, version, assigned_to_id, created_at, updated_at)
SELECT g.i, 'Deal ' || g.i, 1 + {h('g.i', 41, N_ACCOUNTS)}, {stages['pipeline']},
       CASE WHEN g.won THEN {stages['closed_won']} WHEN g.closed THEN {stages['closed_lost']} ELSE {stage_of} END,
       {now} - (g.age - g.gap * (g.reached - 1 + g.closed::int)) * interval '1 day',
       CASE WHEN g.won THEN 100 WHEN g.closed THEN 0 ELSE {prob_of} END, false,
       round((500 + {h('g.i', 39, 150000)} + {h('g.i', 40, 100)} / 100.0)::numeric, 2),
       CASE WHEN g.closed THEN CAST({now} - (g.age - g.gap * g.reached) * interval '1 day' AS DATE)
            ELSE CURRENT_DATE - 30 + CAST({h('g.i', 42, 210)} AS INT) END,
       CASE WHEN g.closed THEN CAST({now} - (g.age - g.gap * g.reached) * interval '1 day' AS DATE) END,
       {pick(SOURCES, h('g.i', 18, 71))}, '', '',
       CASE WHEN g.won THEN 'closed' WHEN g.closed THEN 'omitted' ELSE {cat_of} END, 1,
       {REP0} + {h('g.i', 43, N_REPS)}, {now} - g.age * interval '1 day', {now}
FROM gen g""")
    await conn.execute(f"""
INSERT INTO stage_transitions (opportunity_id, from_stage_id, to_stage_id, at, source, amount_after, probability_after)
SELECT g.i,
       CASE WHEN k > 1 THEN (CASE k - 1 {' '.join(f'WHEN {i + 1} THEN {stages[s]}' for i, s in enumerate(open_keys))} END) END,
       CASE WHEN k <= g.reached THEN (CASE k {' '.join(f'WHEN {i + 1} THEN {stages[s]}' for i, s in enumerate(open_keys))} END)
            WHEN g.won THEN {stages['closed_won']} ELSE {stages['closed_lost']} END,
       {now} - (g.age - g.gap * (k - 1)) * interval '1 day', 'import', 0, 0
FROM gen g CROSS JOIN LATERAL generate_series(1, g.reached + g.closed::int) AS k
WHERE NOT (g.skips AND k = 2)""")
    await conn.execute(f"""
INSERT INTO opportunity_products (opportunity_id, product_id, quantity, unit_price, discount, total_price, created_at)
SELECT g.i, 1 + {h('g.i * 3 + k', 44, N_PRODUCTS)}, 1, 0, 0, round(o.value / (1 + g.i % 3), 2), {now}
FROM gen g JOIN opportunities o ON o.id = g.i CROSS JOIN LATERAL generate_series(1, 1 + g.i % 3) AS k""")
    await conn.execute("DROP TABLE gen")
    for table in ("opportunities", "stage_transitions", "opportunity_products"):
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    await conn.execute("ANALYZE")


# Measuring (subprocess) ----------------------------------------------------------------------


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def _median(call, runs: int) -> float:
    await call()  # warm-up: connections, caches, imports
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


async def measure(url: str, runs: int) -> dict:
    """Time the API and the raw SQL in this process; report its peak RSS."""
    import httpx
    from tortoise import Tortoise

    from app.api.app import create_app
    from app.db import tortoise_config
    from app.domain.analytics import PipelineFilters, pick_interval
    from app.domain.forecasting import SIMULATED_DEALS, parse_period
    from app.domain.timeframes import parse_timeframe
    from app.models import User
    from app.queries import analytics as sql
    from app.queries.visibility import Scope
    from app.domain.enums import Role
    from app.services.analytics import window
    from app.services.forecasts import history_window
    from app.services.auth import issue_token
    from app.services.stages import stage_specs
    from app.domain.analytics import stage_ranks

    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    app = create_app(manage_database=False)
    token = issue_token(await User.get(id=1))[0]
    rss_start = _rss_mb()
    raw = await asyncpg.create_pool(_dsn(url), min_size=8, max_size=8)

    # The SQL the services run, built by the same builders, for the raw side.
    now = datetime.now(timezone.utc)
    scope, f = Scope(1, Role.ADMIN, None), PipelineFilters(pipeline_id=1)
    d, frame = sql.Dialect("postgres"), parse_timeframe(TIMEFRAME, now)
    w, stages = window(frame), await stage_specs(1)
    report_sql = [sql.report_stage_totals(d, scope, f, w), sql.report_stage_cohorts(d, scope, f, w, stage_ranks(stages)),
                  sql.report_trends(d, scope, f, w, pick_interval(frame.first_day, frame.end_date, None))]
    period, today = parse_period(FORECAST_PERIOD, now.date()), now.date()

    def forecast_sql(filters: PipelineFilters) -> list:
        return [sql.forecast_by_rep_and_stage(d, scope, filters, period, today),
                sql.forecast_largest_open(d, scope, filters, period, today, SIMULATED_DEALS),
                sql.forecast_by_product_category(d, scope, filters, period, today),
                sql.monthly_won_revenue(d, scope, filters, *history_window(period, today))]

    async def run_raw(queries) -> None:
        """Side by side on a pool, as the services run them."""
        await asyncio.gather(*(raw.fetch(q.sql, *q.params) for q in queries))

    results: dict = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        async def post(query: str, variables: dict) -> None:
            body = (await client.post("/graphql", json={"query": query, "variables": variables},
                                      headers={"Authorization": f"Bearer {token}"})).json()
            if "errors" in body:
                raise RuntimeError(body["errors"])

        results["report_api_ms"] = await _median(lambda: post(REPORT_QUERY, {"t": TIMEFRAME}), runs)
        results["report_sql_ms"] = await _median(lambda: run_raw(report_sql), runs)
        results["forecast_api_ms"] = await _median(lambda: post(FORECAST_QUERY, {"p": FORECAST_PERIOD}), runs)
        results["forecast_sql_ms"] = await _median(lambda: run_raw(forecast_sql(PipelineFilters())), runs)
        results["full_api_ms"] = await _median(lambda: post(FULL_REPORT_QUERY, {"t": TIMEFRAME}), runs)
        results["full_sql_ms"] = await _median(lambda: run_raw(report_sql + forecast_sql(f)), runs)
    results["explain_cohorts"] = [r[0] for r in await raw.fetch(
        "EXPLAIN (ANALYZE, BUFFERS OFF) " + report_sql[1].sql, *report_sql[1].params)]
    await raw.close()
    await Tortoise.close_connections()
    results["rss_start_mb"], results["rss_peak_mb"] = rss_start, _rss_mb()
    return results


# Orchestration -----------------------------------------------------------------------------


def _measure_in_subprocess(url: str, runs: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.analytics_bench", "--measure", url, "--runs", str(runs)],
                         check=True, cwd=ROOT, env={**os.environ, **ENV, "DATABASE_URL": url}, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict]) -> str:
    lines = ["| opportunities | transitions | pipelineReport: API / SQL | salesForecast: API / SQL "
             "| report + forecast: API / SQL | peak RSS (at start) | load before |", "|---|---|---|---|---|---|---|"]

    def pair(r: dict, name: str) -> str:
        api, raw = r[f"{name}_api_ms"], r[f"{name}_sql_ms"]
        return f"{api:.0f} / {raw:.0f} ms ({api / raw:.2f}×)"

    for r in rows:
        lines.append(f"| {r['size']:,} | {r['transitions']:,} | {pair(r, 'report')} | {pair(r, 'forecast')} | "
                     f"{pair(r, 'full')} | {r['rss_peak_mb']} MB ({r['rss_start_mb']} MB) | {r['loadavg_before']} |")
    return "\n".join(lines)


async def orchestrate(sizes: list[int], runs: int, keep: bool) -> list[dict]:
    url = await create_database()
    print(f"database {url.rsplit('/', 1)[1]}", flush=True)
    rows = []
    try:
        conn = await asyncpg.connect(_dsn(url))
        stages = await base_data(conn)
        have = 0
        for size in sizes:
            started = time.perf_counter()
            await grow(conn, stages, have + 1, size)
            have = size
            transitions = await conn.fetchval("SELECT count(*) FROM stage_transitions")
            print(f"== {size:,} opportunities, {transitions:,} transitions (generated in "
                  f"{time.perf_counter() - started:.1f} s)", flush=True)
            row = {"size": size, "transitions": transitions, "loadavg_before": round(os.getloadavg()[0], 2),
                   **_measure_in_subprocess(url, runs)}
            print("\n".join(row.pop("explain_cohorts")), flush=True)
            print(json.dumps(row), flush=True)
            rows.append(row)
        await conn.close()
    finally:
        if not keep:
            await drop_database(url)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.update(ENV)  # before any app import: settings are read once
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.runs))))
        return
    rows = asyncio.run(orchestrate([int(s) for s in args.sizes.split(",")], args.runs, args.keep))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"analytics-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json").write_text(json.dumps(rows, indent=2))
    print(markdown(rows))


if __name__ == "__main__":
    main()
