"""The pipeline report: resolve the timeframe, the pipeline and the filters, run the aggregates
(app.queries.analytics), apply the rules (app.domain.analytics) and attach the current quarter's forecast.

Only the parts a caller asks for are computed: "totals" (totals, stage distribution, win rate, cycle),
"cohorts" (conversion, time in stage), "trends", "forecast" and "reps" (the totals per owner); velocity needs
totals and cohorts."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Collection, cast

from app.domain.analytics import (
    ClosedFigures,
    Conversion,
    PipelineFilters,
    StageTime,
    TrendBucket,
    TrendInterval,
    average_money,
    check_filters,
    conversions,
    money,
    pick_interval,
    sales_velocity,
    stage_ranks,
    stage_times,
    trend_buckets,
)
from app.domain.enums import StageKind
from app.domain.errors import not_found
from app.domain.pipeline import StageSpec
from app.domain.pipeline_defaults import UNSPECIFIED_LOSS
from app.domain.timeframes import Timeframe, parse_timeframe
from app.models import Pipeline
from app.queries import analytics as sql
from app.queries.visibility import Scope
from app.services import forecasts
from app.services.lost_reasons import ensure_default_lost_reasons
from app.services.pipelines import ensure_default_pipeline
from app.services.stages import stage_specs

ALL_PARTS = frozenset({"totals", "cohorts", "trends", "forecast", "reps", "lost_reasons"})
FORECAST_PERIOD = "this_quarter"


@dataclass(frozen=True)
class StageSlice:
    stage: StageSpec
    count: int
    value: Decimal


@dataclass(frozen=True)
class Velocity:
    average_days_to_close: float | None  # over deals closed (won or lost) in the window
    closed_count: int
    stages: list[StageTime]
    sales_velocity: Decimal | None
    open_opportunities: int
    win_rate: float | None
    average_won_deal_size: Decimal | None
    average_sales_cycle: float | None


@dataclass(frozen=True)
class Totals:
    count: int
    value: Decimal
    weighted: Decimal
    open_count: int
    closed: ClosedFigures
    distribution: list[StageSlice]

    @property
    def average_deal_size(self) -> Decimal | None:
        return average_money(self.value, self.count)


@dataclass(frozen=True)
class LostReasonTotal:
    key: str | None  # None: losses that name no picklist entry
    name: str
    count: int
    value: Decimal


@dataclass(frozen=True)
class RepTotals:
    """One owner's part of the report's totals: the owners' parts add up to the totals."""

    user_id: int
    totals: Totals


@dataclass(frozen=True)
class Cohorts:
    conversions: list[Conversion]
    stage_times: list[StageTime]


@dataclass(frozen=True)
class PipelineReport:
    timeframe: Timeframe
    pipeline_id: int
    filters: PipelineFilters
    totals: Totals | None
    cohorts: Cohorts | None
    trend_interval: TrendInterval
    trends: list[TrendBucket] | None
    forecast: forecasts.SalesForecast | None
    reps: list[RepTotals] | None = None
    lost_reasons: list[LostReasonTotal] | None = None

    @property
    def velocity(self) -> Velocity:
        totals, cohorts = self.totals, self.cohorts
        assert totals is not None and cohorts is not None  # read only from a report with both (app/api/analytics.py checks)
        closed = totals.closed
        return Velocity(
            average_days_to_close=closed.average_days_to_close, closed_count=closed.closed,
            stages=cohorts.stage_times, sales_velocity=sales_velocity(totals.open_count, closed),
            open_opportunities=totals.open_count, win_rate=closed.win_rate,
            average_won_deal_size=closed.average_won_deal_size, average_sales_cycle=closed.average_sales_cycle,
        )


def window(timeframe: Timeframe) -> sql.Window:
    return sql.Window(timeframe.start, timeframe.end, timeframe.first_day, timeframe.end_date)


async def _totals(d: sql.Dialect, scope: Scope, filters: PipelineFilters, w: sql.Window,
                  stages: list[StageSpec]) -> Totals:
    rows = {r["stage_id"]: r for r in await sql.run(sql.report_stage_totals(d, scope, filters, w))}
    return _totals_of(rows, stages)


async def _rep_totals(d: sql.Dialect, scope: Scope, filters: PipelineFilters, w: sql.Window,
                      stages: list[StageSpec]) -> list[RepTotals]:
    """The same figures per owner, from one grouped query; largest pipeline value first."""
    by_rep: dict[int, dict[int, Any]] = defaultdict(dict)
    for r in await sql.run(sql.report_stage_totals(d, scope, filters, w, by_rep=True)):
        by_rep[r["rep_id"]][r["stage_id"]] = r
    reps = [RepTotals(rep_id, _totals_of(rows, stages)) for rep_id, rows in by_rep.items()]
    return sorted(reps, key=lambda r: (-r.totals.value, r.user_id))


async def _lost_reasons(d: sql.Dialect, scope: Scope, filters: PipelineFilters, w: sql.Window) -> list[LostReasonTotal]:
    await ensure_default_lost_reasons()  # the picklist names the rows
    return [LostReasonTotal(r["reason_key"] or None, r["name"] or UNSPECIFIED_LOSS, int(r["n"]), money(r["value"]))
            for r in await sql.run(sql.report_lost_reasons(d, scope, filters, w))]


def _totals_of(rows: dict[int, Any], stages: list[StageSpec]) -> Totals:
    count = open_count = won = lost = won_cycle = closed_cycle = 0
    value = weighted = won_value = Decimal(0)
    distribution = []
    for stage in stages:
        r = rows.get(stage.id)
        if r is None:
            distribution.append(StageSlice(stage, 0, Decimal("0.00")))
            continue
        distribution.append(StageSlice(stage, r["n"], money(r["value"])))
        count += r["n"]
        value += money(r["value"])
        weighted += Decimal(str(r["value_x_probability"] or 0))
        if stage.kind is StageKind.OPEN:
            open_count += r["n"]
        elif stage.kind is StageKind.WON:
            won += int(r["closed"] or 0)
            won_value += money(r["closed_value"])
            won_cycle += int(r["cycle_days"] or 0)
            closed_cycle += int(r["cycle_days"] or 0)
        else:
            lost += int(r["closed"] or 0)
            closed_cycle += int(r["cycle_days"] or 0)
    closed = ClosedFigures(won, lost, money(won_value), won_cycle, closed_cycle)
    return Totals(count, money(value), money(weighted / 100), open_count, closed, distribution)


async def _cohorts(d: sql.Dialect, scope: Scope, filters: PipelineFilters, w: sql.Window,
                   stages: list[StageSpec]) -> Cohorts:
    rows = await sql.run(sql.report_stage_cohorts(d, scope, filters, w, stage_ranks(stages)))
    entered = {r["stage_id"]: int(r["entered"]) for r in rows}
    advanced = {r["stage_id"]: int(r["advanced"]) for r in rows}
    seconds = {r["stage_id"]: float(r["stay_seconds"] or 0) for r in rows}
    stays = {r["stage_id"]: int(r["stays"] or 0) for r in rows}
    return Cohorts(conversions(stages, entered, advanced), stage_times(stages, seconds, stays))


async def _trends(d: sql.Dialect, scope: Scope, filters: PipelineFilters, w: sql.Window,
                  interval: TrendInterval) -> list[TrendBucket]:
    rows = await sql.run(sql.report_trends(d, scope, filters, w, interval))
    return trend_buckets(w.first_day, w.end_date, interval,
                         # Never NULL: buckets of created_at and of close dates the query bounds.
                         ((r["kind"], cast(date, sql.as_date(r["bucket"])), r["n"], r["value"]) for r in rows))


async def _pipeline_id(filters: PipelineFilters) -> int:
    if filters.pipeline_id is None:
        return (await ensure_default_pipeline()).id
    if not await Pipeline.exists(id=filters.pipeline_id):
        raise not_found("filters.pipeline_id", "pipeline")
    return filters.pipeline_id


async def pipeline_report(scope: Scope, timeframe: str, filters: PipelineFilters = PipelineFilters(), *,
                          parts: Collection[str] = ALL_PARTS, trend_interval: TrendInterval | None = None,
                          now: datetime | None = None) -> PipelineReport:
    """The report over one pipeline (the filter's, else the default one) for the opportunities the
    caller may see. ValidationFailed for an unknown timeframe or a bad filter."""
    now = now or datetime.now(timezone.utc)
    frame = parse_timeframe(timeframe, now)
    check_filters(filters)
    pipeline_id = await _pipeline_id(filters)
    filters = replace(filters, pipeline_id=pipeline_id)
    stages = await stage_specs(pipeline_id)
    d, w = sql.dialect(), window(frame)
    interval = pick_interval(frame.first_day, frame.end_date, trend_interval)
    wanted = set(parts)

    async def nothing() -> None:
        return None

    # Independent read-only aggregates: run side by side on the pool (never inside a transaction).
    totals, cohorts, trends, forecast, reps, lost = await asyncio.gather(
        _totals(d, scope, filters, w, stages) if "totals" in wanted else nothing(),
        _cohorts(d, scope, filters, w, stages) if "cohorts" in wanted else nothing(),
        _trends(d, scope, filters, w, interval) if "trends" in wanted else nothing(),
        forecasts.sales_forecast(scope, FORECAST_PERIOD, filters=filters, now=now) if "forecast" in wanted else nothing(),
        _rep_totals(d, scope, filters, w, stages) if "reps" in wanted else nothing(),
        _lost_reasons(d, scope, filters, w) if "lost_reasons" in wanted else nothing(),
    )
    return PipelineReport(frame, pipeline_id, filters, totals, cohorts, interval, trends, forecast, reps, lost)
