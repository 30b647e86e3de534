"""Realistic food-service data generated inside the database (INSERT … SELECT over a number series).

PostgreSQL uses generate_series; SQLite (the quick test only) a recursive CTE. Pseudo-random values
come from integer hashing of the row number, so a size always produces the same data."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tortoise import connections

BENCH_PASSWORD = "bench-password-2026"
N_MANAGERS = 10
N_REPS = 100
ADMIN_EMAIL = "admin@bench.example"
ADVANCE_FROM, ADVANCE_TO = "discovery", "qualification"
AUTOMATION = {"trigger": "stage_entered", "action": "create_task", "parameters": {
    "title": "Follow up on {opportunity}", "description": "Qualify {account}: budget, volumes, delivery days",
    "dueDate": "+2 business days", "priority": "high", "assignee": "owner"}}

INDUSTRIES = ["restaurant", "multi_unit_chain", "hotel", "catering", "school", "hospital", "senior_living",
              "corporate_dining"]
CATEGORIES = ["produce", "dairy", "meat_poultry", "seafood", "dry_goods", "frozen", "bakery", "beverages",
              "paper_disposables", "cleaning_chemicals"]
PRODUCT_WORDS = ["Romaine Hearts", "Heavy Cream", "Chicken Thighs", "Atlantic Salmon", "Basmati Rice",
                 "Fries 3/8 in", "Brioche Buns", "Cold Brew", "Clamshell 9 in", "Degreaser"]
ACCOUNT_WORDS = ["Harbor Grill", "Bistro", "Tavern", "Hotel", "Catering Co", "School District", "Medical Center",
                 "Senior Living", "Campus Dining", "Steakhouse"]
OPP_WORDS = ["produce program", "protein contract", "seafood trial", "dry goods conversion", "bakery program",
             "beverage program", "disposables bid", "chemical program"]
ACTIVITY_TYPES = ["call", "email", "meeting", "tasting", "sample_delivery", "site_visit", "proposal", "demo"]
SUBJECTS = ["Intro call with the chef", "Sent price list", "Menu review", "Brisket tasting",
            "Dropped off samples", "Walk-in cooler visit", "Proposal sent", "Ordering portal demo"]
SOURCES = ["inbound", "outbound", "referral", "trade_show", "partner", "existing_customer", "website"]
NOTES = ["Chef loved the new brisket samples, wants a standing weekly order",
         "Owner is frustrated: last two deliveries arrived late and the produce was damaged",
         "Discussed volumes for the spring menu, no decision yet",
         "Purchasing asked for a contract price on dairy"]
# stage key -> weight out of 20 (most deals are early in the pipeline)
STAGE_MIX = ["discovery"] * 6 + ["qualification"] * 4 + ["proposal"] * 3 + ["negotiation"] * 2 + \
            ["closed_won"] * 3 + ["closed_lost"] * 2


@dataclass
class Dialect:
    postgres: bool

    def insert(self, table: str, columns: str, select: str, n: int) -> str:
        if self.postgres:
            return f"INSERT INTO {table} ({columns}) SELECT {select} FROM generate_series(1, {n}) AS s(i)"
        return (f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
                f"INSERT INTO {table} ({columns}) SELECT {select} FROM s")

    def ago(self, days: str) -> str:
        """A timestamp `days` (an SQL number) before now."""
        if self.postgres:
            return f"(now() - ({days}) * interval '1 day')"
        return f"strftime('%Y-%m-%d %H:%M:%f+00:00', 'now', (-1.0 * ({days})) || ' days')"

    def ahead(self, days: str) -> str:
        """A date `days` (integer SQL) from today."""
        if self.postgres:
            return f"(current_date + ({days})::int)"
        return f"date('now', ({days}) || ' days')"

    def money(self, expr: str) -> str:
        return f"round(({expr})::numeric, 2)" if self.postgres else f"printf('%.2f', {expr})"

    def json(self, literal: str) -> str:
        return f"'{literal}'::jsonb" if self.postgres else f"'{literal}'"


def h(expr: str, salt: int, mod: int) -> str:
    """A pseudo-random integer in [0, mod) from the row number (Knuth multiplicative hashing)."""
    return f"((({expr}) * 2654435761 + {salt * 40503}) % 1000003 % {mod})"


def pick(options: list[str], expr: str) -> str:
    whens = " ".join(f"WHEN {k} THEN '{v}'" for k, v in enumerate(options))
    return f"(CASE ({expr}) % {len(options)} {whens} END)"


def sizes(n_opps: int) -> dict[str, int]:
    return {
        "opportunities": n_opps,
        "accounts": max(20, n_opps // 10),
        "products": max(50, min(2000, n_opps // 20)),
        "users": 1 + N_MANAGERS + N_REPS,
    }


async def _exec(sql: str) -> None:
    await connections.get("default").execute_script(sql)


async def generate(n_opps: int, *, log=print) -> dict[str, int]:
    """Fill an empty, migrated database. Returns row counts per table."""
    from app.services.auth import hash_password
    from app.services.pipelines import ensure_default_pipeline
    from app.models import Pipeline, PipelineStage

    conn = connections.get("default")
    d = Dialect(conn.capabilities.dialect == "postgres")
    n = sizes(n_opps)
    n_acc, n_prod = n["accounts"], n["products"]
    started = time.perf_counter()

    pipeline = await ensure_default_pipeline()
    # The bench's automation: a task when a deal enters qualification. Discovery's duration alarm is
    # removed so the worker's start-up scan does not notify managers about thousands of old deals, and
    # its exit gate (a completed call and a budget) so that every measured move goes through: the gate's
    # facts are read for every move either way, so the move costs the same SQL.
    await PipelineStage.filter(pipeline_id=pipeline.id, key="discovery").update(automations=[], requirements=[])
    await PipelineStage.filter(pipeline_id=pipeline.id, key=ADVANCE_TO).update(automations=[AUTOMATION])
    stages = {s.key: s for s in await PipelineStage.filter(pipeline_id=pipeline.id)}
    stage_of = [stages[k] for k in STAGE_MIX]
    stage_case = "(CASE ({e}) % 20 " + " ".join(
        f"WHEN {k} THEN {{s{k}}}" for k in range(20)) + " END)"

    def by_stage(expr: str, attr) -> str:
        return stage_case.format(e=expr, **{f"s{k}": attr(s) for k, s in enumerate(stage_of)})

    pw = hash_password(BENCH_PASSWORD).replace("'", "''")
    mgr0, rep0 = 2, 2 + N_MANAGERS  # user ids: 1 admin, managers, then reps
    await _exec(d.insert(
        "users", "id, email, name, password_hash, role, timezone, is_active, created_at, updated_at, manager_id",
        f"i, CASE WHEN i = 1 THEN '{ADMIN_EMAIL}' WHEN i < {rep0} THEN 'manager' || i || '@bench.example' "
        f"ELSE 'rep' || i || '@bench.example' END, "
        f"CASE WHEN i = 1 THEN 'Bench Admin' WHEN i < {rep0} THEN 'Manager ' || i ELSE 'Rep ' || i END, "
        f"'{pw}', CASE WHEN i = 1 THEN 'admin' WHEN i < {rep0} THEN 'manager' ELSE 'rep' END, "
        f"{pick(['America/New_York', 'America/Chicago', 'America/Los_Angeles', 'UTC'], 'i')}, true, "
        f"{d.ago('400')}, {d.ago('400')}, CASE WHEN i >= {rep0} THEN {mgr0} + (i - {rep0}) % {N_MANAGERS} END",
        n["users"]))
    owner = f"({rep0} + {h('{x}', 1, N_REPS)})"  # a rep, from a row number
    await _exec(d.insert(
        "accounts", "id, name, industry, size, annual_revenue, status, tier, assigned_to_id, created_at, updated_at",
        f"i, {pick(ACCOUNT_WORDS, 'i')} || ' #' || i, {pick(INDUSTRIES, h('i', 2, 97))}, "
        f"{pick(['small', 'medium', 'large', 'enterprise'], h('i', 3, 89))}, "
        f"{d.money(h('i', 4, 500) + ' * 10000 + 50000')}, {pick(['prospect', 'customer', 'customer', 'partner'], 'i')}, "
        f"{pick(['strategic', 'key', 'standard', 'standard', 'basic'], h('i', 5, 83))}, "
        f"{owner.format(x='i')}, {d.ago(h('i', 6, 700))}, {d.ago(h('i', 7, 30))}",
        n_acc))
    await _exec(d.insert(
        "contacts", "id, account_id, first_name, last_name, email, phone, title, role, is_primary, created_at, updated_at",
        f"i, i, {pick(['Maria', 'James', 'Ana', 'Luis', 'Priya', 'Tom', 'Keiko'], 'i')}, "
        f"{pick(['Garcia', 'Smith', 'Nguyen', 'Rossi', 'Patel', 'Okafor'], h('i', 8, 61))}, "
        f"'buyer' || i || '@customer.example', "
        f"'(' || (200 + {h('i', 27, 800)}) || ') 555-' || (1000 + {h('i', 28, 9000)}), "
        f"{pick(['Executive Chef', 'Purchasing Manager', 'Owner', 'F&B Director'], 'i')}, "
        f"{pick(['decision_maker', 'influencer', 'champion', 'gatekeeper'], 'i')}, true, {d.ago('300')}, {d.ago('10')}",
        n_acc))
    await _exec(d.insert(
        "products", "id, sku, name, category, unit, unit_price, description, is_active, created_at, updated_at",
        f"i, 'SKU-' || (100000 + i), {pick(PRODUCT_WORDS, 'i')} || ' ' || (i / {len(PRODUCT_WORDS)} + 1), "
        f"{pick(CATEGORIES, 'i')}, {pick(['case', 'case', 'lb', 'each', 'gallon'], h('i', 9, 53))}, "
        f"{d.money(h('i', 10, 20000) + ' / 100.0 + 5')}, '', true, {d.ago('500')}, {d.ago('20')}",
        n_prod))
    acct = h("i", 11, n_acc) + " + 1"
    won, lost = stages["closed_won"].id, stages["closed_lost"].id
    sid = by_stage(h("i", 12, 20), lambda s: s.id)
    await _exec(d.insert(
        "opportunities",
        "id, name, account_id, contact_id, pipeline_id, stage_id, stage_entered_at, probability, probability_overridden, "
        "value, budget, expected_close_date, actual_close_date, source, lost_reason, next_step, description, "
        "forecast_category, version, assigned_to_id, created_at, updated_at",
        f"i, {pick(ACCOUNT_WORDS, acct)} || ' #' || ({acct}) || ' — ' || {pick(OPP_WORDS, 'i')}, {acct}, {acct}, {pipeline.id}, {sid}, "
        f"{d.ago(h('i', 13, 60) + ' + 0.5')}, {by_stage(h('i', 12, 20), lambda s: s.probability)}, false, "
        f"{d.money(h('i', 14, 90000) + ' + 1000')}, "
        f"CASE WHEN i % 3 = 0 THEN NULL ELSE {d.money(h('i', 15, 100000) + ' + 1000')} END, "
        f"{d.ahead(h('i', 16, 365) + ' - 120')}, "
        f"CASE WHEN {sid} IN ({won}, {lost}) THEN {d.ahead('-' + h('i', 17, 90))} END, "
        f"{pick(SOURCES, h('i', 18, 71))}, CASE WHEN {sid} = {lost} THEN 'Price' END, "
        f"'Follow up with the chef', '', "
        f"{by_stage(h('i', 12, 20), lambda s: repr(s.forecast_category.value))}, 1, "
        f"{owner.format(x=acct)}, {d.ago(h('i', 19, 730) + ' + 60 + i / 1000000.0')}, {d.ago('1')}",
        n_opps))
    # ~3 product lines per deal (2–4), ~3 activities (2–4), 2 stage transitions, 1 interaction.
    lines = 3 * n_opps
    await _exec(d.insert(
        "opportunity_products",
        "opportunity_id, product_id, quantity, unit_price, discount, total_price, created_at",
        f"(i - 1) / 3 + 1, {h('i', 20, n_prod)} + 1, {h('i', 21, 40)} + 1, "
        f"{d.money(h('i', 22, 20000) + ' / 100.0 + 5')}, 0, "
        f"{d.money('(' + h('i', 21, 40) + ' + 1) * (' + h('i', 22, 20000) + ' / 100.0 + 5)')}, {d.ago('30')}",
        lines))
    await _exec(d.insert(
        "opportunity_activities",
        "opportunity_id, type, subject, description, outcome, next_steps, scheduled_at, completed_at, created_by_id, created_at",
        f"(i - 1) / 3 + 1, {pick(ACTIVITY_TYPES, h('i', 23, 101))}, {pick(SUBJECTS, h('i', 23, 101))}, '', "
        f"{pick(['positive', 'neutral', 'negative', 'positive'], 'i')}, '', NULL, "
        f"CASE WHEN i % 3 = 0 THEN NULL ELSE {d.ago(h('i', 24, 90) + ' + 0.25')} END, "
        f"{owner.format(x=h('(i - 1) / 3 + 1', 11, n_acc) + ' + 1')}, {d.ago(h('i', 24, 90) + ' + 1 + i / 10000000.0')}",
        lines))
    first = stages["discovery"].id
    await _exec(d.insert(
        "stage_transitions",
        "opportunity_id, from_stage_id, to_stage_id, at, by_id, source, amount_before, amount_after, "
        "probability_before, probability_after",
        f"(i - 1) / 2 + 1, CASE WHEN i % 2 = 0 THEN {first} END, CASE WHEN i % 2 = 1 THEN {first} ELSE "
        f"{by_stage(h('(i - 1) / 2 + 1', 12, 20), lambda s: s.id)} END, {d.ago('100 - i % 2 * 40')}, NULL, 'import', "
        f"NULL, {d.money('1000')}, NULL, 20",
        2 * n_opps))
    await _exec(d.insert(
        "customer_interactions",
        "account_id, opportunity_id, contact_id, type, direction, subject, description, outcome, sentiment, "
        "sentiment_label, next_steps, attachments, location, occurred_at, created_at",
        f"{h('i', 11, n_acc)} + 1, i, {h('i', 11, n_acc)} + 1, {pick(['phone', 'email', 'meeting', 'demo'], 'i')}, "
        f"'outbound', 'Check-in', {pick([x.replace(chr(39), '') for x in NOTES], h('i', 25, 31))}, NULL, "
        f"(CASE {h('i', 25, 31)} % 4 WHEN 0 THEN 0.6 WHEN 1 THEN -0.87 WHEN 2 THEN -0.3 ELSE 0.1 END), "
        f"{pick(['positive', 'negative', 'neutral', 'neutral'], h('i', 25, 31))}, '', {d.json('[]')}, '', "
        f"{d.ago(h('i', 26, 120))}, {d.ago(h('i', 26, 120))}",
        n_opps))
    if d.postgres:
        for table in ("users", "accounts", "contacts", "products", "opportunities", "opportunity_products",
                      "opportunity_activities", "stage_transitions", "customer_interactions"):
            await _exec(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        # As autovacuum would leave it: statistics, and visibility maps for index-only scans (count(*)).
        await _exec("VACUUM ANALYZE")
    log(f"generated {n_opps} opportunities in {time.perf_counter() - started:.1f} s")
    return {**n, "opportunity_products": lines, "opportunity_activities": lines, "stage_transitions": 2 * n_opps,
            "customer_interactions": n_opps, "pipelines": await Pipeline.all().count()}


# Indexes the migrations do not have (see bench/README.md): without them every child batch of the
# list query is a sequential scan, which at 1M deals hides the API's own cost entirely.
MISSING_INDEXES = {
    "bench_opp_products_opp": "opportunity_products (opportunity_id)",
    "bench_opp_activities_opp": "opportunity_activities (opportunity_id, created_at DESC, id DESC)",
    "bench_stage_transitions_opp": "stage_transitions (opportunity_id, at, id)",
    "bench_opps_created": "opportunities (created_at DESC, id DESC)",
    "bench_interactions_opp": "customer_interactions (opportunity_id)",
    "bench_tasks_opp": "tasks (opportunity_id)",
}


async def add_missing_indexes() -> None:
    for name, target in MISSING_INDEXES.items():
        await _exec(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    if connections.get("default").capabilities.dialect == "postgres":
        await _exec("ANALYZE")


async def drop_missing_indexes() -> None:
    for name in MISSING_INDEXES:
        await _exec(f"DROP INDEX IF EXISTS {name}")
