"""GraphQL for pipeline analytics and sales forecasts: pipelineReport, salesForecast,
forecastSnapshots and forecastAccuracy. Definitions: README "Pipeline analytics and forecasting"."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Optional, cast

import strawberry

from app.api.context import CtxInfo
from app.api.enums import AccountTier, ForecastCategory, Industry, OpportunitySource, ProductCategory, ProductUnit
from app.api.errors import parse_id, require_scope, top_level_error
from app.api.user_input import bad_user_input
from app.api.types import Node, Product, UnitVolume, User, node_id, node_pk
from app.domain.analytics import PipelineFilters, TrendInterval as TrendIntervalEnum
from app.domain.errors import PermissionDenied, ValidationFailed
from app.domain.forecasting import ForecastMethod as ForecastMethodEnum
from app.domain.forecasting import ForecastPeriod
from app.services import analytics as reports
from app.services import forecasts

ID = strawberry.ID
# GraphQL enums: the domain classes themselves, marked in place (strawberry.enum returns the class it is given).
ForecastMethod = ForecastMethodEnum
strawberry.enum(ForecastMethod, name="ForecastMethod")
TrendInterval = TrendIntervalEnum
strawberry.enum(TrendInterval, name="TrendInterval")


async def _guarded(call):
    """Expected failures of these read-only queries are top-level errors: bad input or forbidden."""
    try:
        return await call
    except ValidationFailed as exc:
        raise bad_user_input(exc) from None
    except PermissionDenied as exc:
        raise top_level_error(str(exc), "FORBIDDEN") from None


# Forecast types ----------------------------------------------------------------------------


@strawberry.type(description=(
    "One rep's part of the pipeline method's forecast (`pipeline`), on the same basis: closed-won counts in total, "
    "best and worst case alike, and the reps' parts add up to `pipeline`'s totalForecast, bestCase and worstCase "
    "to the cent. (The forecast's own totalForecast/bestCase/worstCase follow the chosen method; byRep always "
    "breaks down the pipeline method.)"))
class RepForecast:
    user_id: ID
    closed_won: Decimal = strawberry.field(description="Won in the period (actual close date in it).")
    weighted: Decimal = strawberry.field(description="Σ value × probability × time weight of their open deals.")
    best_case: Decimal = strawberry.field(
        description="closedWon + Σ value × (probability + 20 points, at most 100) × time weight of their open deals.")
    worst_case: Decimal = strawberry.field(
        description="closedWon + Σ value × (probability − 20 points, at least 0) × time weight of their open deals.")
    open_deals: int
    total: Decimal = strawberry.field(description="closedWon + weighted.")

    @strawberry.field
    async def user(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(node_pk(self.user_id, "User"))


_SHARES = ("A deal's value is shared among its product lines in proportion to their totals (so the parts add up to "
           "the forecast's figures whether the value follows the lines or was typed).")
_VOLUMES = ("Weekly units of contract lines: closed-won in full, open deals × probability × time weight, like the "
            "values.")


@strawberry.type(description="One product category's part of the pipeline forecast (category null: deals without "
                             f"products). {_SHARES} {_VOLUMES}")
class ProductForecast:
    category: Optional[ProductCategory]
    closed_won: Decimal
    weighted: Decimal
    total: Decimal
    deals: int
    closed_won_weekly_volume: list[UnitVolume]
    weighted_weekly_volume: list[UnitVolume]
    weekly_volume: list[UnitVolume] = strawberry.field(description="closedWonWeeklyVolume + weightedWeeklyVolume.")


@strawberry.type(description=f"One product's part of the pipeline forecast, in value and in its unit. {_SHARES} "
                             f"{_VOLUMES}")
class SkuForecast:
    product_id: strawberry.Private[int]
    category: ProductCategory
    unit: ProductUnit
    closed_won: Decimal
    weighted: Decimal
    total: Decimal
    deals: int
    closed_won_weekly_volume: Decimal
    weighted_weekly_volume: Decimal
    weekly_volume: Decimal = strawberry.field(description="closedWonWeeklyVolume + weightedWeeklyVolume, in `unit`.")

    @strawberry.field
    async def product(self, info: CtxInfo) -> Product:
        return await info.context.loaders.product.load(self.product_id)


@strawberry.type(description="Deals per Salesforce-style forecast category, from their stage.")
class CategoryForecast:
    category: ForecastCategory
    deals: int
    value: Decimal
    weighted: Decimal = strawberry.field(description="closed: the won value; open categories: Σ value × probability × time weight.")


@strawberry.type(description="Monte Carlo of the open deals as independent wins (seeded).")
class ForecastSimulation:
    runs: int
    seed: int
    p10: Decimal
    p50: Decimal
    p90: Decimal
    mean: Decimal
    interval_low: Decimal = strawberry.field(description="80 % interval: P10.")
    interval_high: Decimal = strawberry.field(description="80 % interval: P90.")
    simulated_deals: int = strawberry.field(description="Largest open deals drawn one by one.")
    summarised_deals: int = strawberry.field(description="Other open deals, drawn together as one normal.")


@strawberry.type
class PipelineMethodFigures:
    total: Decimal
    closed_won: Decimal
    weighted: Decimal
    best_case: Decimal
    worst_case: Decimal
    open_deals: int
    confidence: float


@strawberry.type
class HistoricalMethodFigures:
    total: Decimal
    best_case: Decimal
    worst_case: Decimal
    confidence: float
    model: str = strawberry.field(description="holt_winters_seasonal (24+ months), holt_trend (6+), mean (1+), none.")
    months_used: int
    baseline: Decimal = strawberry.field(description="Final level × months in the period.")
    trend_adjustment: Decimal
    seasonal_adjustment: Decimal
    residual_std_dev: Optional[float]


@strawberry.type
class SalesForecast:
    period: str
    first_day: date
    last_day: date
    method: ForecastMethod
    total_forecast: Decimal
    best_case: Decimal
    worst_case: Decimal
    confidence: float = strawberry.field(
        description="Probability (0–1), under the method's uncertainty model, that actual closed-won revenue "
                    "lands within ±20 % of totalForecast.")
    by_rep: list[RepForecast]
    by_product: list[ProductForecast] = strawberry.field(description="By product category.")
    by_category: list[CategoryForecast]
    skus: strawberry.Private[list[SkuForecast]]
    methodology: str
    assumptions: list[str]
    pipeline: PipelineMethodFigures
    historical: HistoricalMethodFigures
    simulation: ForecastSimulation
    computed_at: datetime

    @strawberry.field(description="By product, largest total first (the first `first`, at most 500).")
    def by_sku(self, first: int = 50) -> list[SkuForecast]:
        if not 0 <= first <= 500:
            raise bad_user_input(ValidationFailed.single("first", "must be between 0 and 500"))
        return self.skus[:first]

    @classmethod
    def build(cls, f: forecasts.SalesForecast) -> "SalesForecast":
        e, s, h, p = f.estimate, f.simulation, f.historical, f.pipeline_figures
        return cls(
            period=f.period.label, first_day=f.period.first_day, last_day=_last_day(f.period), method=f.method,
            total_forecast=e.total, best_case=e.best, worst_case=e.worst, confidence=e.confidence,
            by_rep=[RepForecast(user_id=node_id("User", r.user_id), closed_won=r.closed_won, weighted=r.weighted,
                                best_case=r.best_case, worst_case=r.worst_case, open_deals=r.open_deals, total=r.total)
                    for r in f.by_rep],
            # The category's value: strawberry serializes an enum's value as it does the member.
            by_product=[ProductForecast(category=cast(Optional[ProductCategory], r.category), closed_won=r.closed_won,
                                        weighted=r.weighted, total=r.total, deals=r.deals,
                                        closed_won_weekly_volume=UnitVolume.listed(r.won_weekly_volume),
                                        weighted_weekly_volume=UnitVolume.listed(r.weighted_weekly_volume),
                                        weekly_volume=UnitVolume.listed(r.weekly_volume)) for r in f.by_product],
            skus=[SkuForecast(product_id=r.product_id, category=ProductCategory(r.category), unit=ProductUnit(r.unit),
                              closed_won=r.closed_won, weighted=r.weighted, total=r.total, deals=r.deals,
                              closed_won_weekly_volume=r.won_weekly_volume,
                              weighted_weekly_volume=r.weighted_weekly_volume, weekly_volume=r.weekly_volume)
                  for r in f.by_sku],
            by_category=[CategoryForecast(category=c.category, deals=c.deals, value=c.value, weighted=c.weighted)
                         for c in f.by_category],
            methodology=f.methodology, assumptions=f.assumptions,
            pipeline=PipelineMethodFigures(total=f.pipeline.total, closed_won=p.booked, weighted=p.weighted,
                                           best_case=f.pipeline.best, worst_case=f.pipeline.worst,
                                           open_deals=p.open_deals, confidence=f.pipeline.confidence),
            historical=HistoricalMethodFigures(
                total=h.estimate.total, best_case=h.estimate.best, worst_case=h.estimate.worst,
                confidence=h.estimate.confidence, model=h.model, months_used=h.months_used, baseline=h.baseline,
                trend_adjustment=h.trend_adjustment, seasonal_adjustment=h.seasonal_adjustment,
                residual_std_dev=h.residual_std),
            simulation=ForecastSimulation(runs=s.runs, seed=s.seed, p10=s.p10, p50=s.p50, p90=s.p90, mean=s.mean,
                                          interval_low=s.p10, interval_high=s.p90, simulated_deals=s.simulated_deals,
                                          summarised_deals=s.summarised_deals),
            computed_at=f.computed_at,
        )


def _last_day(period: ForecastPeriod) -> date:
    return period.end_date - timedelta(days=1)


# Report types ------------------------------------------------------------------------------


@strawberry.type(description="Cohort conversion: of the opportunities that entered fromStage in the window, "
                             "those that later reached toStage or beyond.")
class StageConversion:
    from_stage: str
    to_stage: str
    entered: int
    advanced: int
    rate: Optional[float] = strawberry.field(description="advanced ÷ entered; null when none entered.")


@strawberry.type(description="Opportunities of the report per current stage.")
class StageDistribution:
    stage: str
    name: str
    count: int
    value: Decimal


@strawberry.type(description="Average completed stay in a stage; null with count 0 when nobody left it.")
class StageDuration:
    stage: str
    average_days: Optional[float]
    count: int


@strawberry.type
class PipelineVelocity:
    average_days_to_close: Optional[float] = strawberry.field(
        description="Days from creation to close over deals won or lost in the window.")
    closed_count: int
    stages: list[StageDuration]
    sales_velocity: Optional[Decimal] = strawberry.field(
        description="openOpportunities × winRate × averageWonDealSize ÷ averageSalesCycle: value per day.")
    open_opportunities: int
    win_rate: Optional[float]
    average_won_deal_size: Optional[Decimal]
    average_sales_cycle: Optional[float]


@strawberry.type(description="One week (Monday, UTC) or month of the window, clipped to it.")
class TrendBucket:
    start: date
    end: date = strawberry.field(description="Exclusive.")
    created: int
    created_value: Decimal
    won: int
    won_value: Decimal
    lost: int
    lost_value: Decimal
    win_rate: Optional[float]


def _require(part, name: str):
    if part is None:  # the resolver computes what the selection needs; this is a programming error
        raise RuntimeError(f"{name} was not computed")
    return part


@strawberry.type
class PipelineTotals:
    """The report's totals, for the whole report (PipelineAnalytics) and for each owner (RepPipeline)."""

    totals: strawberry.Private[reports.Totals | None]

    def _totals(self) -> reports.Totals:
        return _require(self.totals, "totals")

    @strawberry.field
    def total_opportunities(self) -> int:
        return self._totals().count

    @strawberry.field
    def total_value(self) -> Decimal:
        return self._totals().value

    @strawberry.field(description="Σ value × probability ÷ 100.")
    def weighted_value(self) -> Decimal:
        return self._totals().weighted

    @strawberry.field(description="totalValue ÷ totalOpportunities; null when there are none.")
    def average_deal_size(self) -> Optional[Decimal]:
        return self._totals().average_deal_size

    @strawberry.field(description="Days from creation to close, over deals won in the window; null when none.")
    def average_sales_cycle(self) -> Optional[float]:
        return self._totals().closed.average_sales_cycle

    @strawberry.field(description="Won ÷ (won + lost) over deals closed in the window; null when none closed.")
    def win_rate(self) -> Optional[float]:
        return self._totals().closed.win_rate

    @strawberry.field
    def won_count(self) -> int:
        return self._totals().closed.won

    @strawberry.field
    def lost_count(self) -> int:
        return self._totals().closed.lost

    @strawberry.field(description="Deals in an open stage now.")
    def open_opportunities(self) -> int:
        return self._totals().open_count

    @strawberry.field
    def stage_distribution(self) -> list[StageDistribution]:
        return [StageDistribution(stage=s.stage.key, name=s.stage.name, count=s.count, value=s.value)
                for s in self._totals().distribution]


@strawberry.type(description="One owner's part of the pipeline report (same population, same rules): the "
                             "owners' parts add up to the report's totals.")
class RepPipeline(PipelineTotals):
    user_id: ID

    @strawberry.field(description="The owner; null when the user is outside what you may see.")
    async def user(self, info: CtxInfo) -> Optional[User]:
        return await info.context.loaders.user.load(node_pk(self.user_id, "User"))


@strawberry.type(description="Deals closed as lost in the window with one lost reason.")
class LostReasonTotal:
    key: Optional[str] = strawberry.field(description="The `lostReasons` entry (null: losses that named none).")
    name: str
    count: int
    value: Decimal


@strawberry.type
class PipelineAnalytics(PipelineTotals):
    timeframe: str
    period_start: datetime
    period_end: datetime = strawberry.field(description="Exclusive.")
    pipeline_id: ID
    trend_interval: TrendInterval
    report: strawberry.Private[reports.PipelineReport]

    @strawberry.field(description="Deals lost in the window by lost reason (the picklist), most frequent first.")
    def lost_reasons(self) -> list[LostReasonTotal]:
        return [LostReasonTotal(key=r.key, name=r.name, count=r.count, value=r.value)
                for r in _require(self.report.lost_reasons, "lost_reasons")]

    @strawberry.field(description="The totals per owner, largest pipeline value first, in the same request.")
    def by_rep(self) -> list[RepPipeline]:
        return [RepPipeline(totals=r.totals, user_id=node_id("User", r.user_id))
                for r in _require(self.report.reps, "reps")]

    @strawberry.field
    def conversion_rates(self) -> list[StageConversion]:
        return [StageConversion(from_stage=c.from_stage, to_stage=c.to_stage, entered=c.entered,
                                advanced=c.advanced, rate=c.rate)
                for c in _require(self.report.cohorts, "cohorts").conversions]


    @strawberry.field
    def velocity(self) -> PipelineVelocity:
        _require(self.report.totals, "totals"), _require(self.report.cohorts, "cohorts")
        v = self.report.velocity
        return PipelineVelocity(
            average_days_to_close=v.average_days_to_close, closed_count=v.closed_count,
            stages=[StageDuration(stage=s.stage, average_days=s.average_days, count=s.count) for s in v.stages],
            sales_velocity=v.sales_velocity, open_opportunities=v.open_opportunities, win_rate=v.win_rate,
            average_won_deal_size=v.average_won_deal_size, average_sales_cycle=v.average_sales_cycle)

    @strawberry.field
    def trends(self) -> list[TrendBucket]:
        return [TrendBucket(start=b.start, end=b.end, created=b.created, created_value=b.created_value, won=b.won,
                            won_value=b.won_value, lost=b.lost, lost_value=b.lost_value, win_rate=b.win_rate)
                for b in _require(self.report.trends, "trends")]

    @strawberry.field(description="The current quarter's hybrid forecast with the report's filters.")
    def forecast(self) -> SalesForecast:
        return SalesForecast.build(_require(self.report.forecast, "forecast"))


# Which report parts a selection needs.
_PARTS = {
    "totalOpportunities": {"totals"}, "totalValue": {"totals"}, "weightedValue": {"totals"},
    "averageDealSize": {"totals"}, "averageSalesCycle": {"totals"}, "winRate": {"totals"}, "wonCount": {"totals"},
    "lostCount": {"totals"}, "stageDistribution": {"totals"}, "conversionRates": {"cohorts"},
    "velocity": {"totals", "cohorts"}, "trends": {"trends"}, "forecast": {"forecast"},
    "openOpportunities": {"totals"}, "byRep": {"reps"}, "lostReasons": {"lost_reasons"},
}


def _selected_parts(info: CtxInfo) -> set[str]:
    parts: set[str] = set()

    def walk(selections) -> None:
        for s in selections:
            name = getattr(s, "name", None)
            if name is None or not hasattr(s, "arguments"):  # fragment spread / inline fragment
                walk(getattr(s, "selections", []))
            else:
                parts.update(_PARTS.get(name, ()))

    for field in info.selected_fields:
        walk(field.selections)
    return parts


# Inputs and roots --------------------------------------------------------------------------


@strawberry.input(description="Narrows a report or forecast; every field set must match. Visibility applies on top.")
class PipelineFilterInput:
    assigned_to: Optional[list[ID]] = None
    team: Optional[ID] = strawberry.field(default=None, description="A manager: their own and their reps' deals.")
    account_id: Optional[ID] = None
    tier: Optional[list[AccountTier]] = None
    industry: Optional[list[Industry]] = None
    source: Optional[list[OpportunitySource]] = None
    product_category: Optional[list[ProductCategory]] = strawberry.field(
        default=None, description="Deals with at least one product line in one of these categories.")
    value_min: Optional[Decimal] = None
    value_max: Optional[Decimal] = None
    pipeline_id: Optional[ID] = strawberry.field(default=None, description="Default: the default pipeline.")


def _values(items) -> tuple[str, ...]:
    return tuple(getattr(i, "value", i) for i in items or ())


def to_filters(f: Optional[PipelineFilterInput]) -> PipelineFilters:
    if f is None:
        return PipelineFilters()
    return PipelineFilters(
        assigned_to=tuple(parse_id(i, "filters.assigned_to") for i in f.assigned_to or ()),
        team_manager_id=parse_id(f.team, "filters.team") if f.team is not None else None,
        account_id=parse_id(f.account_id, "filters.account_id") if f.account_id is not None else None,
        tiers=_values(f.tier), industries=_values(f.industry), sources=_values(f.source),
        product_categories=_values(f.product_category), value_min=f.value_min, value_max=f.value_max,
        pipeline_id=parse_id(f.pipeline_id, "filters.pipeline_id") if f.pipeline_id is not None else None,
    )


@strawberry.type
class ForecastSnapshot(Node):
    pk: strawberry.Private[int]
    period: str
    method: ForecastMethod
    total_forecast: Decimal
    best_case: Decimal
    worst_case: Decimal
    confidence: float
    computed_at: datetime

    @classmethod
    def from_model(cls, s) -> "ForecastSnapshot":
        return cls(pk=s.id, period=s.period, method=ForecastMethodEnum(s.method),
                   total_forecast=s.total_forecast, best_case=s.best_case, worst_case=s.worst_case,
                   confidence=s.confidence, computed_at=s.computed_at)


@strawberry.type
class SnapshotAccuracy:
    snapshot: ForecastSnapshot
    error: Decimal = strawberry.field(description="totalForecast − actual.")
    absolute_percent_error: Optional[float] = strawberry.field(description="|error| ÷ actual; null when actual is 0.")
    within_range: bool = strawberry.field(description="worstCase ≤ actual ≤ bestCase.")


@strawberry.type
class MethodAccuracy:
    method: ForecastMethod
    snapshots: int
    mean_absolute_percent_error: Optional[float]
    hit_rate: Optional[float] = strawberry.field(description="Share of snapshots whose best/worst range held the actual.")


@strawberry.type
class ForecastAccuracy:
    period: str
    first_day: date
    last_day: date
    complete: bool = strawberry.field(description="The period has ended, so actual is final.")
    actual: Decimal = strawberry.field(description="Closed-won value with an actual close date in the period (company-wide).")
    won_deals: int
    snapshots: list[SnapshotAccuracy]
    by_method: list[MethodAccuracy]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(description="Pipeline report over a timeframe (last_7_days, last_30_days, last_90_days, "
                                  "this_month, this_quarter, this_year, 2026-Q3, 2026-11, 2026-01-01..2026-03-31) "
                                  "for the opportunities you may see.")
    async def pipeline_report(self, info: CtxInfo, timeframe: str, filters: Optional[PipelineFilterInput] = None,
                              trend_interval: Optional[TrendInterval] = None) -> PipelineAnalytics:
        scope = require_scope(info)

        async def build():
            return await reports.pipeline_report(scope, timeframe, to_filters(filters), parts=_selected_parts(info),
                                                  trend_interval=trend_interval)

        r = await _guarded(build())
        return PipelineAnalytics(totals=r.totals, timeframe=r.timeframe.label, period_start=r.timeframe.start,
                                 period_end=r.timeframe.end, pipeline_id=node_id("Pipeline", r.pipeline_id),
                                 trend_interval=r.trend_interval, report=r)

    @strawberry.field(description="Sales forecast for a period (this_month, next_month, this_quarter, next_quarter, "
                                  "2026-Q4, 2026-12) over the opportunities you may see.")
    async def sales_forecast(self, info: CtxInfo, period: str, method: ForecastMethod = ForecastMethodEnum.HYBRID,
                             filters: Optional[PipelineFilterInput] = None) -> SalesForecast:
        scope = require_scope(info)

        async def build():
            return await forecasts.sales_forecast(scope, period, method, to_filters(filters))

        return SalesForecast.build(await _guarded(build()))

    @strawberry.field(description="Stored company-wide forecasts of a period, newest first (admins).")
    async def forecast_snapshots(self, info: CtxInfo, period: str, method: Optional[ForecastMethod] = None,
                                 first: int = 30) -> list[ForecastSnapshot]:
        scope = require_scope(info)
        rows = await _guarded(forecasts.forecast_snapshots(scope, period, method.value if method else None, first))
        return [ForecastSnapshot.from_model(s) for s in rows]

    @strawberry.field(description="Stored forecasts of a period against what actually closed won in it (admins).")
    async def forecast_accuracy(self, info: CtxInfo, period: str) -> ForecastAccuracy:
        scope = require_scope(info)
        a = await _guarded(forecasts.forecast_accuracy(scope, period))
        return ForecastAccuracy(
            period=a.period.label, first_day=a.period.first_day, last_day=_last_day(a.period), complete=a.complete,
            actual=a.actual, won_deals=a.won_deals,
            snapshots=[SnapshotAccuracy(snapshot=ForecastSnapshot.from_model(s.snapshot), error=s.error,
                                        absolute_percent_error=s.absolute_percent_error, within_range=s.within_range)
                       for s in a.snapshots],
            by_method=[MethodAccuracy(method=m.method, snapshots=m.snapshots,
                                      mean_absolute_percent_error=m.mean_absolute_percent_error, hit_rate=m.hit_rate)
                       for m in a.by_method],
        )
