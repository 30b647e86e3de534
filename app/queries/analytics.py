"""The SQL behind pipeline analytics and forecasts: aggregates only, written once as SQL text for both
PostgreSQL and SQLite.

Each builder returns a `Query` (text + parameters) that `run` executes through the Tortoise
connection; the benchmark runs the very same `Query` through asyncpg. Everything dialect-specific
(placeholders, parameter encoding, epoch seconds, day differences, week/month buckets, money
comparisons) lives in `Dialect`. `OpportunityWhere` renders the caller's visibility and the report
filters as one WHERE clause on the alias `o` (opportunities)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Sequence

from tortoise import connections

from app.domain.analytics import PipelineFilters, TrendInterval
from app.domain.forecasting import (
    NO_WEIGHT,
    SCENARIO_POINTS,
    ForecastPeriod,
    counted_close_dates,
    time_weight_steps,
)
from app.queries.visibility import Scope


@dataclass(frozen=True)
class Dialect:
    name: str  # "postgres" or "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgres"

    def placeholder(self, n: int) -> str:
        """Numbered placeholders on both sides ($1 / ?1), so a parameter can be used twice."""
        return f"${n}" if self.is_postgres else f"?{n}"

    def encode(self, value: Any) -> Any:
        """SQLite stores datetimes as 'YYYY-MM-DD HH:MM:SS[.ffffff]+00:00' text (what Tortoise writes):
        parameters are given in that very form so text comparison orders them correctly."""
        if self.is_postgres:
            return value
        if isinstance(value, datetime):
            return str(value.astimezone(timezone.utc))
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)
        return value

    def epoch(self, expr: str) -> str:
        """Seconds since 1970 of a timestamp column."""
        if self.is_postgres:
            return f"EXTRACT(EPOCH FROM {expr})"
        return f"((julianday({expr}) - 2440587.5) * 86400.0)"

    def days_to_close(self, close_date: str, created_at: str) -> str:
        """Whole calendar days from a timestamp's UTC date to a date."""
        if self.is_postgres:
            return f"({close_date} - CAST({created_at} AT TIME ZONE 'UTC' AS DATE))"
        return f"CAST(julianday({close_date}) - julianday(date({created_at})) AS INTEGER)"

    def bucket(self, expr: str, interval: TrendInterval, is_date: bool = False) -> str:
        """The Monday of the ISO week / first of the month (UTC) containing a timestamp or date."""
        unit = "week" if interval is TrendInterval.WEEK else "month"
        if self.is_postgres:
            source = f"CAST({expr} AS TIMESTAMP)" if is_date else f"({expr} AT TIME ZONE 'UTC')"
            return f"CAST(date_trunc('{unit}', {source}) AS DATE)"
        if interval is TrendInterval.WEEK:
            return f"date({expr}, '-6 days', 'weekday 1')"
        return f"date({expr}, 'start of month')"

    def as_float(self, expr: str) -> str:
        return f"CAST({expr} AS DOUBLE PRECISION)" if self.is_postgres else f"CAST({expr} AS REAL)"

    def money(self, expr: str) -> str:
        """A money column usable in comparisons and ORDER BY (SQLite keeps decimals as text)."""
        return expr if self.is_postgres else f"CAST({expr} AS REAL)"

# The open pipeline: deals in an open stage that are not archived (app.domain.archive). Closed deals
# count whether archived or not: they are what happened.
OPEN_DEAL = "(s.kind = 'open' AND o.archived_at IS NULL)"


def dialect() -> Dialect:
    return Dialect("postgres" if connections.get("default").capabilities.dialect == "postgres" else "sqlite")


@dataclass
class Query:
    sql: str
    params: list[Any] = field(default_factory=list)


class Params:
    """Collects parameters; `add` returns the placeholder to write in the SQL text."""

    def __init__(self, d: Dialect) -> None:
        self.dialect = d
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(self.dialect.encode(value))
        return self.dialect.placeholder(len(self.values))

    def many(self, values: Sequence[Any]) -> str:
        return ", ".join(self.add(v) for v in values)

    def query(self, sql: str) -> Query:
        return Query(sql, list(self.values))


def opportunity_where(p: Params, scope: Scope, filters: PipelineFilters) -> str:
    """Visibility (non-admins: opportunities assigned to a user in scope) AND every set filter."""
    d = p.dialect
    clauses = ["1 = 1"]
    if scope.user_ids is not None:  # not an admin
        clauses.append(f"o.assigned_to_id IN ({p.many(sorted(scope.user_ids))})")
    f = filters
    if f.pipeline_id is not None:
        clauses.append(f"o.pipeline_id = {p.add(f.pipeline_id)}")
    if f.assigned_to:
        clauses.append(f"o.assigned_to_id IN ({p.many(sorted(set(f.assigned_to)))})")
    if f.team_manager_id is not None:
        manager = p.add(f.team_manager_id)
        clauses.append(f"o.assigned_to_id IN (SELECT u.id FROM users u WHERE u.id = {manager} OR u.manager_id = {manager})")
    if f.account_id is not None:
        clauses.append(f"o.account_id = {p.add(f.account_id)}")
    account_conditions = []
    if f.tiers:
        account_conditions.append(f"a.tier IN ({p.many(f.tiers)})")
    if f.industries:
        account_conditions.append(f"a.industry IN ({p.many(f.industries)})")
    if account_conditions:
        clauses.append(f"o.account_id IN (SELECT a.id FROM accounts a WHERE {' AND '.join(account_conditions)})")
    if f.sources:
        clauses.append(f"o.source IN ({p.many(f.sources)})")
    if f.product_categories:
        clauses.append(
            "EXISTS (SELECT 1 FROM opportunity_products op JOIN products pr ON pr.id = op.product_id "
            f"WHERE op.opportunity_id = o.id AND pr.category IN ({p.many(f.product_categories)}))")
    if f.value_min is not None:
        clauses.append(f"{d.money('o.value')} >= {p.add(f.value_min)}")
    if f.value_max is not None:
        clauses.append(f"{d.money('o.value')} <= {p.add(f.value_max)}")
    return " AND ".join(clauses)


@dataclass(frozen=True)
class Window:
    """A report timeframe: [start, end) as timestamps and [first_day, end_date) as dates."""

    start: datetime
    end: datetime
    first_day: date
    end_date: date


# Pipeline report ----------------------------------------------------------------------------


def report_stage_totals(d: Dialect, scope: Scope, filters: PipelineFilters, w: Window, by_rep: bool = False) -> Query:
    """Per current stage (and, `by_rep`, per owner: `rep_id`), over the report population (created
    before the window ends and not closed before it starts): count, value, Σ value × probability, and
    the deals closed in the window with their Σ days from creation to close."""
    p = Params(d)
    rep = "o.assigned_to_id AS rep_id, " if by_rep else ""
    start_day, end_day = p.add(w.first_day), p.add(w.end_date)
    closed_in_window = f"o.actual_close_date >= {start_day} AND o.actual_close_date < {end_day}"
    sql = f"""
SELECT {rep}o.stage_id AS stage_id,
       COUNT(*) AS n,
       SUM(o.value) AS value,
       SUM(o.value * o.probability) AS value_x_probability,
       SUM(CASE WHEN {closed_in_window} THEN 1 ELSE 0 END) AS closed,
       SUM(CASE WHEN {closed_in_window} THEN o.value ELSE 0 END) AS closed_value,
       SUM(CASE WHEN {closed_in_window} THEN {d.days_to_close('o.actual_close_date', 'o.created_at')} ELSE 0 END)
           AS cycle_days
FROM opportunities o
JOIN pipeline_stages s ON s.id = o.stage_id
WHERE o.created_at < {p.add(w.end)}
  AND ({OPEN_DEAL} OR o.actual_close_date >= {start_day})
  AND {opportunity_where(p, scope, filters)}
GROUP BY {"o.assigned_to_id, " if by_rep else ""}o.stage_id"""
    return p.query(sql)


def report_lost_reasons(d: Dialect, scope: Scope, filters: PipelineFilters, w: Window) -> Query:
    """Deals closed as lost in the window, per lost-reason key ('' for a loss that names none): count,
    value and the picklist entry's name; most frequent first."""
    p = Params(d)
    sql = f"""
SELECT COALESCE(o.lost_reason_key, '') AS reason_key, MIN(lr.name) AS name, COUNT(*) AS n, SUM(o.value) AS value
FROM opportunities o
JOIN pipeline_stages s ON s.id = o.stage_id
LEFT JOIN lost_reasons lr ON lr.key = o.lost_reason_key
WHERE s.kind = 'lost' AND o.actual_close_date >= {p.add(w.first_day)} AND o.actual_close_date < {p.add(w.end_date)}
  AND {opportunity_where(p, scope, filters)}
GROUP BY COALESCE(o.lost_reason_key, '')
ORDER BY COUNT(*) DESC, COALESCE(o.lost_reason_key, '')"""
    return p.query(sql)


def report_stage_cohorts(d: Dialect, scope: Scope, filters: PipelineFilters, w: Window, ranks: dict[int, int]) -> Query:
    """Per stage, from the StageTransition log, over entries into the stage within the window:
    `entered` (distinct opportunities), `advanced` (of those, the ones with a later transition to a
    higher-ranked stage), `stays` and `stay_seconds` (entries followed by any later transition, and the
    summed time until it). Transitions before the window are never needed: "later" is after an entry
    that is itself in the window. The pipeline is given by its stages (`ranks`); opportunities are
    joined only when visibility or a filter needs them."""
    p = Params(d)
    rank = "CASE st.to_stage_id " + " ".join(f"WHEN {int(k)} THEN {int(v)}" for k, v in ranks.items()) + " ELSE 0 END"
    order = "PARTITION BY st.opportunity_id ORDER BY st.at, st.id"
    narrowed = replace(filters, pipeline_id=None)
    join, where = "", ""
    if not scope.is_admin or narrowed != PipelineFilters():
        join = "JOIN opportunities o ON o.id = st.opportunity_id"
        where = f"AND {opportunity_where(p, scope, narrowed)}"
    sql = f"""
WITH t AS (
    SELECT st.opportunity_id, st.to_stage_id, st.at AS entered_at, {rank} AS rnk,
           LEAD(st.at) OVER ({order}) AS left_at,
           MAX({rank}) OVER ({order} ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later_rank
    FROM stage_transitions st {join}
    WHERE st.at >= {p.add(w.start)} AND st.to_stage_id IN ({", ".join(str(int(k)) for k in ranks)}) {where}
)
SELECT to_stage_id AS stage_id,
       COUNT(DISTINCT opportunity_id) AS entered,
       COUNT(DISTINCT CASE WHEN later_rank > rnk THEN opportunity_id END) AS advanced,
       SUM(CASE WHEN left_at IS NOT NULL THEN 1 ELSE 0 END) AS stays,
       SUM(CASE WHEN left_at IS NOT NULL THEN {d.epoch('left_at')} - {d.epoch('entered_at')} ELSE 0 END)
           AS stay_seconds
FROM t
WHERE entered_at < {p.add(w.end)}
GROUP BY to_stage_id"""
    return p.query(sql)


def report_trends(d: Dialect, scope: Scope, filters: PipelineFilters, w: Window, interval: TrendInterval) -> Query:
    """(kind, bucket, count, value) for deals created in the window and deals won / lost in it."""
    p = Params(d)
    where = opportunity_where(p, scope, filters)
    created, closed = d.bucket("o.created_at", interval), d.bucket("o.actual_close_date", interval, is_date=True)
    sql = f"""
SELECT 'created' AS kind, {created} AS bucket, COUNT(*) AS n, SUM(o.value) AS value
FROM opportunities o
WHERE o.created_at >= {p.add(w.start)} AND o.created_at < {p.add(w.end)} AND {where}
GROUP BY {created}
UNION ALL
SELECT s.kind AS kind, {closed} AS bucket, COUNT(*) AS n, SUM(o.value) AS value
FROM opportunities o
JOIN pipeline_stages s ON s.id = o.stage_id
WHERE s.kind IN ('won', 'lost') AND o.actual_close_date >= {p.add(w.first_day)}
  AND o.actual_close_date < {p.add(w.end_date)} AND {where}
GROUP BY s.kind, {closed}"""
    return p.query(sql)


# Forecasts --------------------------------------------------------------------------------


def _time_weight(p: Params, period: ForecastPeriod, today: date) -> str:
    """app.domain.forecasting.time_weight_steps as a SQL expression on o.expected_close_date."""
    steps = " ".join(f"WHEN o.expected_close_date < {p.add(before)} THEN {weight}"
                     for before, weight in time_weight_steps(period, today))
    return f"(CASE {steps} ELSE {NO_WEIGHT} END)" if steps else f"({NO_WEIGHT})"


def _forecast_rows(p: Params, scope: Scope, filters: PipelineFilters, period: ForecastPeriod, today: date,
                   joins: str = "") -> tuple[str, str]:
    """FROM … WHERE for the deals a period's forecast reads (open deals with a time weight above 0,
    and deals won in the period), and the weight expression."""
    weight = _time_weight(p, period, today)
    first, end = counted_close_dates(period, today)
    counted = f"o.expected_close_date < {p.add(end)}"
    if first is not None:
        counted += f" AND o.expected_close_date >= {p.add(first)}"
    from_where = f"""
FROM opportunities o
JOIN pipeline_stages s ON s.id = o.stage_id {joins}
WHERE (({OPEN_DEAL} AND {counted})
       OR (s.kind = 'won' AND o.actual_close_date >= {p.add(period.first_day)}
           AND o.actual_close_date < {p.add(period.end_date)}))
  AND {opportunity_where(p, scope, filters)}"""
    return from_where, weight


def forecast_by_rep_and_stage(d: Dialect, scope: Scope, filters: PipelineFilters, period: ForecastPeriod,
                              today: date) -> Query:
    """Per (rep, stage): count, value, Σ value × p × w and the best / worst variants (×100), and the
    mean and variance of the simulated wins (Σ v·q, Σ v²·q·(1 − q) with q = p/100 × w, as floats)."""
    p = Params(d)
    from_where, weight = _forecast_rows(p, scope, filters, period, today)
    q = f"({d.as_float('o.probability')} * {weight} / 100.0)"
    v = d.as_float("o.value")
    best = f"(CASE WHEN o.probability + {SCENARIO_POINTS} > 100 THEN 100 ELSE o.probability + {SCENARIO_POINTS} END)"
    worst = f"(CASE WHEN o.probability - {SCENARIO_POINTS} < 0 THEN 0 ELSE o.probability - {SCENARIO_POINTS} END)"
    sql = f"""
SELECT o.assigned_to_id AS rep_id, o.stage_id AS stage_id, COUNT(*) AS n, SUM(o.value) AS value,
       SUM(o.value * o.probability * {weight}) AS weighted_x100,
       SUM(o.value * {best} * {weight}) AS best_x100,
       SUM(o.value * {worst} * {weight}) AS worst_x100,
       SUM({v} * {q}) AS win_mean,
       SUM({v} * {v} * {q} * (1 - {q})) AS win_variance
{from_where}
GROUP BY o.assigned_to_id, o.stage_id"""
    return p.query(sql)


def forecast_largest_open(d: Dialect, scope: Scope, filters: PipelineFilters, period: ForecastPeriod, today: date,
                          limit: int) -> Query:
    """(value, win probability) of the `limit` largest open deals that count toward the period."""
    p = Params(d)
    from_where, weight = _forecast_rows(p, scope, filters, period, today)
    sql = f"""
SELECT {d.as_float('o.value')} AS value, ({d.as_float('o.probability')} * {weight} / 100.0) AS q
{from_where} AND {OPEN_DEAL}
ORDER BY {d.money('o.value')} DESC, o.id
LIMIT {int(limit)}"""
    return p.query(sql)


def _forecast_lines(p: Params, scope: Scope, filters: PipelineFilters, period: ForecastPeriod, today: date) -> str:
    """One row per product line of the forecast's deals (one per deal without lines): its share of the
    deal's value (apportioned by line totals, so a deal's shares add up to its value whether the value
    follows the lines or was typed), its weekly units on a contract line, and the deal's p × w."""
    joins = ("LEFT JOIN opportunity_products op ON op.opportunity_id = o.id "
             "LEFT JOIN products pr ON pr.id = op.product_id")
    from_where, weight = _forecast_rows(p, scope, filters, period, today, joins)
    return f"""
SELECT o.id AS deal_id, s.kind AS kind, o.value AS value, o.probability * {weight} AS pw,
       op.id AS line_id, op.total_price AS line_total, op.product_id AS product_id,
       pr.category AS category, pr.unit AS unit,
       CASE WHEN op.contract_weeks IS NOT NULL THEN op.quantity END AS weekly,
       SUM(op.total_price) OVER (PARTITION BY o.id) AS lines_total,
       COUNT(op.id) OVER (PARTITION BY o.id) AS lines
{from_where}"""


_LINE_SHARE = ("(CASE WHEN l.line_id IS NULL THEN l.value WHEN l.lines_total > 0 "
               "THEN l.value * l.line_total / l.lines_total ELSE l.value / l.lines END)")


def forecast_by_product_category(d: Dialect, scope: Scope, filters: PipelineFilters, period: ForecastPeriod,
                                 today: date) -> Query:
    """Per product category (NULL: deals without product lines) and stage kind: the lines' shares of
    their deals' value, and Σ share × p × w (×100)."""
    p = Params(d)
    sql = f"""
SELECT l.category AS category, l.kind AS kind, COUNT(DISTINCT l.deal_id) AS n, SUM({_LINE_SHARE}) AS value,
       SUM({_LINE_SHARE} * l.pw) AS weighted_x100
FROM ({_forecast_lines(p, scope, filters, period, today)}) l
GROUP BY l.category, l.kind"""
    return p.query(sql)


def forecast_by_product(d: Dialect, scope: Scope, filters: PipelineFilters, period: ForecastPeriod,
                        today: date) -> Query:
    """Per product and stage kind: deals, the lines' shares of value and Σ share × p × w (×100), weekly
    units of contract lines and Σ units × p × w (×100)."""
    p = Params(d)
    sql = f"""
SELECT l.product_id AS product_id, l.category AS category, l.unit AS unit, l.kind AS kind,
       COUNT(DISTINCT l.deal_id) AS n, SUM({_LINE_SHARE}) AS value, SUM({_LINE_SHARE} * l.pw) AS weighted_x100,
       SUM(l.weekly) AS weekly, SUM(l.weekly * l.pw) AS weekly_weighted_x100
FROM ({_forecast_lines(p, scope, filters, period, today)}) l
WHERE l.product_id IS NOT NULL
GROUP BY l.product_id, l.category, l.unit, l.kind"""
    return p.query(sql)


def monthly_won_revenue(d: Dialect, scope: Scope, filters: PipelineFilters, since: date, until: date) -> Query:
    """Closed-won value per month of the actual close date, for months in [since, until)."""
    p = Params(d)
    month = d.bucket("o.actual_close_date", TrendInterval.MONTH, is_date=True)
    sql = f"""
SELECT {month} AS month, SUM(o.value) AS value
FROM opportunities o
JOIN pipeline_stages s ON s.id = o.stage_id
WHERE s.kind = 'won' AND o.actual_close_date >= {p.add(since)} AND o.actual_close_date < {p.add(until)}
  AND {opportunity_where(p, scope, filters)}
GROUP BY {month}"""
    return p.query(sql)


def won_in_period(d: Dialect, first_day: date, end_date: date) -> Query:
    """Every closed-won deal of the period, company-wide: what forecast accuracy compares against."""
    p = Params(d)
    sql = f"""
SELECT COUNT(*) AS n, SUM(o.value) AS value
FROM opportunities o
JOIN pipeline_stages s ON s.id = o.stage_id
WHERE s.kind = 'won' AND o.actual_close_date >= {p.add(first_day)} AND o.actual_close_date < {p.add(end_date)}"""
    return p.query(sql)


async def run(query: Query) -> list[dict]:
    return await connections.get("default").execute_query_dict(query.sql, query.params)


def as_date(value: Any) -> date | None:
    """A DATE result: a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    return date.fromisoformat(str(value)[:10])
