"""Sales forecasts: gather the period's aggregates (app.queries.analytics), apply the forecasting rules
(app.domain.forecasting), store snapshots, schedule their recomputation and measure their accuracy.

Snapshots are company-wide (every opportunity, no filter) for the current and the next quarter, one
row per method each time. They are recomputed by the worker: debounced after a change that moves the
forecast (`request_forecast_recompute`, one job id per period) and nightly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Sequence, cast

from tortoise.transactions import in_transaction

from app.domain.analytics import PipelineFilters, check_filters, money, rate
from app.domain.enums import ForecastCategory, Role, StageKind
from app.domain.errors import PermissionDenied
from app.domain.forecasting import (
    apportion,
    CONFIDENCE_BAND,
    HISTORY_MONTHS_MAX,
    OVERDUE_WEIGHT,
    SCENARIO_POINTS,
    SIMULATED_DEALS,
    Blend,
    Estimate,
    ForecastMethod,
    ForecastPeriod,
    HistoricalForecast,
    PipelineFigures,
    Simulation,
    current_quarter,
    forecast_category,
    historical_forecast,
    hybrid,
    months_between,
    next_quarter,
    parse_method,
    parse_period,
    pipeline_estimate,
    rest_moments,
    simulate,
)
from app.domain.events import Event, ForecastUpdated, parse_event
from app.models import DomainEvent, ForecastSnapshot, Opportunity, PipelineStage
from app.queries import analytics as sql
from app.queries.visibility import Scope
from app.services.events import Outbox
from app.services.queue import enqueue_debounced, still_deferred

log = logging.getLogger(__name__)

UNIT_STEP = Decimal("0.001")  # product quantities are NUMERIC(12, 3)
FORECAST_JOB = "recompute_forecast"
DEBOUNCE_SECONDS = 5.0
# A period is recomputed at most once per DUTY_FACTOR × its last recomputation's duration (seconds
# at 1M deals, milliseconds on small data): recomputations take at most ~1/10 of the database's time
# however fast the stage changes come.
DUTY_FACTOR = 10
MAX_SNAPSHOTS = 100
COMPANY = Scope(user_id=0, role=Role.ADMIN, user_ids=None)
CATEGORY_ORDER = (ForecastCategory.PIPELINE, ForecastCategory.BEST_CASE, ForecastCategory.COMMIT,
                  ForecastCategory.CLOSED, ForecastCategory.OMITTED)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# Breakdowns -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepForecast:
    user_id: int
    closed_won: Decimal
    weighted: Decimal
    best_case: Decimal
    worst_case: Decimal
    open_deals: int

    @property
    def total(self) -> Decimal:
        return self.closed_won + self.weighted


@dataclass(frozen=True)
class ProductForecast:
    category: str | None  # None: deals without product lines
    closed_won: Decimal
    weighted: Decimal
    deals: int
    # Weekly units of contract lines per unit: won, and open × p × w.
    won_weekly_volume: dict[str, Decimal] = field(default_factory=dict)
    weighted_weekly_volume: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return self.closed_won + self.weighted

    @property
    def weekly_volume(self) -> dict[str, Decimal]:
        return _add_volumes(self.won_weekly_volume, self.weighted_weekly_volume)


@dataclass(frozen=True)
class SkuForecast:
    """One product's part of the pipeline forecast, in value and in weekly units."""
    product_id: int
    category: str
    unit: str
    closed_won: Decimal
    weighted: Decimal
    deals: int
    won_weekly_volume: Decimal
    weighted_weekly_volume: Decimal

    @property
    def total(self) -> Decimal:
        return self.closed_won + self.weighted

    @property
    def weekly_volume(self) -> Decimal:
        return self.won_weekly_volume + self.weighted_weekly_volume


def _add_volumes(*volumes: dict[str, Decimal]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = defaultdict(Decimal)
    for volume in volumes:
        for unit, quantity in volume.items():
            total[unit] += quantity
    return dict(sorted(total.items()))


@dataclass(frozen=True)
class CategoryForecast:
    category: ForecastCategory
    deals: int
    value: Decimal
    weighted: Decimal


@dataclass(frozen=True)
class SalesForecast:
    """Every method's figures for one period; `method` picks the headline (`estimate`)."""

    period: ForecastPeriod
    method: ForecastMethod
    pipeline_figures: PipelineFigures
    pipeline: Estimate
    simulation: Simulation
    historical: HistoricalForecast
    blend: Blend
    by_rep: list[RepForecast]
    by_product: list[ProductForecast]
    by_category: list[CategoryForecast]
    computed_at: datetime
    by_sku: list[SkuForecast] = field(default_factory=list)

    @property
    def estimate(self) -> Estimate:
        return {ForecastMethod.PIPELINE: self.pipeline, ForecastMethod.HISTORICAL: self.historical.estimate,
                ForecastMethod.HYBRID: self.blend.estimate}[self.method]

    def using(self, method: ForecastMethod) -> "SalesForecast":
        return replace(self, method=method)

    @property
    def methodology(self) -> str:
        h = self.historical
        historical = f"historical: {_MODEL_NAMES[h.model]} on {h.months_used} months of closed-won revenue"
        pipeline = ("pipeline: closed-won in the period + Σ value × probability × time weight over "
                    f"{self.pipeline_figures.open_deals} open deals")
        if self.method is ForecastMethod.PIPELINE:
            return pipeline
        if self.method is ForecastMethod.HISTORICAL:
            return historical
        return (f"hybrid: {self.blend.pipeline_weight} × pipeline + {self.blend.historical_weight} × historical "
                f"({pipeline}; {historical})")

    @property
    def assumptions(self) -> list[str]:
        items = []
        if self.method is not ForecastMethod.HISTORICAL:
            items += [
                f"Period {self.period.label}: {self.period.first_day.isoformat()} to "
                f"{(self.period.end_date - timedelta(days=1)).isoformat()} (UTC).",
                "Deals already won with an actual close date in the period count in full.",
                "Open deals count with their probability and a time weight: 1 when the expected close date "
                f"is in the period (today or later), {OVERDUE_WEIGHT} when it has passed and the period is "
                "the current one, 0 otherwise.",
                f"Best / worst case move every open deal's probability {SCENARIO_POINTS} points up / down "
                "(within 0–100).",
                f"Monte Carlo: {self.simulation.runs} runs (seed {self.simulation.seed}), each open deal wins "
                f"independently with probability × time weight; the {SIMULATED_DEALS} largest deals are drawn "
                "one by one, the rest as one normal draw with their exact mean and variance.",
            ]
        if self.method is not ForecastMethod.PIPELINE:
            h = self.historical
            items += [
                f"History: closed-won revenue per month before the period (at most {HISTORY_MONTHS_MAX} months "
                f"from the first month with a win); {h.months_used} months used, model {h.model}.",
                "Historical best / worst case are the 90th / 10th percentiles of simulated futures of the "
                "fitted model.",
            ]
        items.append(f"Confidence: the probability, under the method's own uncertainty model, that the "
                     f"period's closed-won revenue lands within ±{int(CONFIDENCE_BAND * 100)} % of the forecast.")
        items += self.blend.notes if self.method is ForecastMethod.HYBRID else []
        items.append("byRep, byProduct and the categories break down the pipeline method.")
        return items


_MODEL_NAMES = {
    "holt_winters_seasonal": "Holt-Winters (additive trend and 12-month seasonality)",
    "holt_trend": "Holt's linear trend",
    "mean": "the monthly mean",
    "none": "no model (no closed-won history)",
}


# Gathering ---------------------------------------------------------------------------------


async def _stage_kinds() -> dict[int, tuple[StageKind, ForecastCategory]]:
    rows = await PipelineStage.all().values_list("id", "kind", "forecast_category")
    return {i: (StageKind(k), ForecastCategory(c)) for i, k, c in rows}


def _x100(raw) -> Decimal:
    return money(Decimal(str(raw or 0)) / 100)


def _pipeline_side(rows: list[dict], largest: list[dict], kinds: dict[int, tuple[StageKind, ForecastCategory]]):
    """Totals, breakdowns by rep and category, and the simulation, from the per-(rep, stage) aggregates
    and the largest open deals."""
    reps: dict[int, dict] = defaultdict(lambda: defaultdict(Decimal))
    categories: dict[ForecastCategory, dict] = defaultdict(lambda: defaultdict(Decimal))
    totals: dict[str, Decimal] = defaultdict(Decimal)
    win_mean = win_variance = 0.0
    for r in rows:
        kind, configured = kinds[r["stage_id"]]
        rep, category = reps[r["rep_id"]], categories[forecast_category(kind, configured)]
        category["deals"] += r["n"]
        category["value"] += money(r["value"])
        if kind is StageKind.WON:
            rep["closed_won"] += money(r["value"])
            category["weighted"] += money(r["value"]) * 100  # closed counts in full (×100 like the others)
            totals["booked"] += money(r["value"])
            continue
        for name in ("weighted", "best", "worst"):
            rep[name] += Decimal(str(r[f"{name}_x100"] or 0))
            totals[name] += Decimal(str(r[f"{name}_x100"] or 0))
        category["weighted"] += Decimal(str(r["weighted_x100"] or 0))
        rep["open_deals"] += r["n"]
        totals["open_deals"] += r["n"]
        win_mean += float(r["win_mean"] or 0)
        win_variance += float(r["win_variance"] or 0)
    figures = PipelineFigures(money(totals["booked"]), _x100(totals["weighted"]), _x100(totals["best"]),
                              _x100(totals["worst"]), int(totals["open_deals"]))
    # Each rep's figures on the basis of the totals (closed-won included in best and worst, as in the
    # pipeline method's), rounded so that the reps' parts add up to the totals to the cent.
    rep_ids = list(reps)
    shares = {name: apportion([Decimal(str(reps[i][name])) / 100 for i in rep_ids]) for name in ("weighted", "best", "worst")}
    by_rep = sorted(
        (RepForecast(user_id, money(reps[user_id]["closed_won"]), shares["weighted"][n],
                     money(reps[user_id]["closed_won"]) + shares["best"][n],
                     money(reps[user_id]["closed_won"]) + shares["worst"][n], int(reps[user_id]["open_deals"]))
         for n, user_id in enumerate(rep_ids)),
        key=lambda r: (-r.total, r.user_id))
    by_category = [CategoryForecast(c, int(categories[c]["deals"]), money(categories[c]["value"]),
                                    _x100(categories[c]["weighted"])) for c in CATEGORY_ORDER if c in categories]
    deals = [(float(r["value"]), float(r["q"])) for r in largest]
    rest = rest_moments(figures.open_deals, win_mean, win_variance, deals)
    simulation = simulate(float(figures.booked), deals, rest, float(figures.booked + figures.weighted))
    return figures, simulation, by_rep, by_category


def _units(raw: Any) -> Decimal:
    """A SQL sum of quantities (NUMERIC(12, 3); a float on SQLite) to the thousandth."""
    return Decimal(str(raw or 0)).quantize(UNIT_STEP, ROUND_HALF_UP)


def _by_sku(rows: list[dict]) -> list[SkuForecast]:
    grouped: dict[int, dict] = defaultdict(lambda: defaultdict(Decimal))
    kinds: dict[int, tuple[str, str]] = {}
    for r in rows:
        slot = grouped[r["product_id"]]
        kinds[r["product_id"]] = (_plain(r["category"]), _plain(r["unit"]))
        slot["deals"] += r["n"]
        if r["kind"] == StageKind.WON.value:
            slot["closed_won"] += money(r["value"])
            slot["won_weekly"] += Decimal(str(r["weekly"] or 0))
        else:
            slot["weighted"] += Decimal(str(r["weighted_x100"] or 0))
            slot["weighted_weekly"] += Decimal(str(r["weekly_weighted_x100"] or 0)) / 100
    skus = [SkuForecast(product_id, *kinds[product_id], closed_won=money(v["closed_won"]),
                        weighted=_x100(v["weighted"]), deals=int(v["deals"]), won_weekly_volume=_units(v["won_weekly"]),
                        weighted_weekly_volume=_units(v["weighted_weekly"]))
            for product_id, v in grouped.items()]
    return sorted(skus, key=lambda sku: (-sku.total, sku.product_id))


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _by_product(rows: list[dict], skus: list[SkuForecast]) -> list[ProductForecast]:
    grouped: dict[str | None, dict] = defaultdict(lambda: defaultdict(Decimal))
    for r in rows:
        slot = grouped[_plain(r["category"])]
        slot["deals"] += r["n"]
        if r["kind"] == StageKind.WON.value:
            slot["closed_won"] += money(r["value"])
        else:
            slot["weighted"] += Decimal(str(r["weighted_x100"] or 0))
    won: dict[str | None, dict[str, Decimal]] = defaultdict(dict)
    weighted: dict[str | None, dict[str, Decimal]] = defaultdict(dict)
    for sku in skus:
        won[sku.category] = _add_volumes(won[sku.category], {sku.unit: sku.won_weekly_volume})
        weighted[sku.category] = _add_volumes(weighted[sku.category], {sku.unit: sku.weighted_weekly_volume})
    products = [ProductForecast(c, money(v["closed_won"]), _x100(v["weighted"]), int(v["deals"]),
                                {u: q for u, q in won[c].items() if q}, {u: q for u, q in weighted[c].items() if q})
                for c, v in grouped.items()]
    return sorted(products, key=lambda p: (-p.total, p.category is None, p.category or ""))


def history_window(period: ForecastPeriod, today: date) -> tuple[date, date]:
    """[since, cutoff): the months of closed-won history a period's historical forecast reads."""
    cutoff = min(period.first_day, today.replace(day=1))
    return _add_months(cutoff, -HISTORY_MONTHS_MAX), cutoff


def _historical_side(rows: list[dict], period: ForecastPeriod, cutoff: date) -> HistoricalForecast:
    """Monthly closed-won revenue from the first month with a win (at most HISTORY_MONTHS_MAX back) to
    the last complete month before the period, zero-filled."""
    # Never NULL: the months of won deals' close dates, which the query bounds.
    by_month = {cast(date, sql.as_date(r["month"])): float(money(r["value"])) for r in rows}
    history: list[float] = []
    if by_month:
        month = min(by_month)
        while month < cutoff:
            history.append(by_month.get(month, 0.0))
            month = _add_months(month, 1)
    steps = [months_between(cutoff, m) + 1 for m in period.month_starts]
    return historical_forecast(history, steps)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


async def compute_forecast(scope: Scope, period: ForecastPeriod, filters: PipelineFilters = PipelineFilters(),
                           method: ForecastMethod = ForecastMethod.HYBRID, now: datetime | None = None) -> SalesForecast:
    now = now or _now()
    today = now.astimezone(timezone.utc).date()
    d = sql.dialect()
    since, cutoff = history_window(period, today)
    # Independent read-only aggregates: run side by side on the pool (never inside a transaction).
    rows, largest, product_rows, sku_rows, month_rows, kinds = await asyncio.gather(
        sql.run(sql.forecast_by_rep_and_stage(d, scope, filters, period, today)),
        sql.run(sql.forecast_largest_open(d, scope, filters, period, today, SIMULATED_DEALS)),
        sql.run(sql.forecast_by_product_category(d, scope, filters, period, today)),
        sql.run(sql.forecast_by_product(d, scope, filters, period, today)),
        sql.run(sql.monthly_won_revenue(d, scope, filters, since, cutoff)),
        _stage_kinds(),
    )
    figures, simulation, by_rep, by_category = _pipeline_side(rows, largest, kinds)
    historical = _historical_side(month_rows, period, cutoff)
    pipeline = pipeline_estimate(figures, simulation)
    blend = hybrid(pipeline, historical.estimate, historical.months_used)
    skus = _by_sku(sku_rows)
    return SalesForecast(period, method, figures, pipeline, simulation, historical, blend, by_rep,
                         _by_product(product_rows, skus), by_category, now, skus)


async def sales_forecast(scope: Scope, period: str, method: str | ForecastMethod = ForecastMethod.HYBRID,
                         filters: PipelineFilters = PipelineFilters(), now: datetime | None = None) -> SalesForecast:
    """The forecast of a period for what the caller may see. ValidationFailed for an unknown period or
    method or a bad filter."""
    now = now or _now()
    chosen = parse_method(method.value if isinstance(method, ForecastMethod) else method)
    resolved = parse_period(period, now.astimezone(timezone.utc).date())
    check_filters(filters)
    return await compute_forecast(scope, resolved, filters, chosen, now)


# Snapshots ---------------------------------------------------------------------------------


def forecast_job_id(period_label: str) -> str:
    return f"forecast:{period_label}"


def snapshot_periods(today: date) -> list[ForecastPeriod]:
    """What the worker keeps snapshots of: the current and the next quarter."""
    return [current_quarter(today), next_quarter(today)]


async def _earliest_recompute(label: str) -> datetime | None:
    """The last recomputation's start + DUTY_FACTOR × its duration, if there was one."""
    last = await ForecastSnapshot.filter(period=label).order_by("-computed_at", "-id").first().values(
        "computed_at", "details")
    if not last:
        return None
    duration = float((last["details"] or {}).get("duration_ms", 0)) / 1000
    return last["computed_at"] + timedelta(seconds=DUTY_FACTOR * duration)


async def request_forecast_recompute(now: datetime | None = None, delay_seconds: float | None = None) -> int:
    """Recompute the current and next quarter soon: after the debounce delay, and not before the
    period's duty-cycle limit. Requests while a job is queued share it (same job id). Returns how many
    were queued (0 when Redis is down: the nightly run catches up)."""
    now = now or _now()
    delay = DEBOUNCE_SECONDS if delay_seconds is None else delay_seconds
    queued = 0
    for period in snapshot_periods(now.date()):
        if still_deferred(forecast_job_id(period.label)):  # before the snapshot query below
            queued += 1
            continue
        at = now + timedelta(seconds=delay)
        earliest = await _earliest_recompute(period.label)
        queued += await enqueue_debounced(FORECAST_JOB, period.label, job_id=forecast_job_id(period.label),
                                          defer_until=max(at, earliest) if earliest else at)
    return queued


async def request_owed_recompute(now: datetime | None = None, window: timedelta = timedelta(hours=24)) -> int:
    """Cron: the database decides whether a recomputation is owed — an opportunity changed after a
    snapshot period's latest snapshot — so a debounced job lost with Redis is made up here."""
    now = now or _now()
    last_change = await Opportunity.filter(updated_at__gte=now - window).order_by("-updated_at").first() \
        .values_list("updated_at", flat=True)
    if last_change is None:
        return 0
    for period in snapshot_periods(now.date()):
        latest = await ForecastSnapshot.filter(period=period.label).order_by("-computed_at").first() \
            .values_list("computed_at", flat=True)
        if latest is None or latest < last_change:
            return await request_forecast_recompute(now)
    return 0


def moves_forecast(kind: str, payload: dict) -> bool:
    """Whether a logged event may move the forecast (the typed event decides)."""
    event = parse_event(kind, payload)
    return event is not None and event.moves_forecast


async def on_domain_event(record: DomainEvent, event: Event) -> bool:
    """A reaction (app.services.reactions): request a recompute when the forecast may move."""
    if not event.moves_forecast:
        return False
    await request_forecast_recompute()
    return True


def _snapshot_details(f: SalesForecast) -> dict:
    s, h, p = f.simulation, f.historical, f.pipeline_figures
    return {
        "first_day": f.period.first_day.isoformat(), "end_date": f.period.end_date.isoformat(),
        "pipeline": {"total": str(f.pipeline.total), "booked": str(p.booked), "weighted": str(p.weighted),
                     "best_case": str(f.pipeline.best), "worst_case": str(f.pipeline.worst),
                     "open_deals": p.open_deals, "confidence": f.pipeline.confidence},
        "simulation": {"runs": s.runs, "seed": s.seed, "p10": str(s.p10), "p50": str(s.p50), "p90": str(s.p90),
                       "mean": str(s.mean)},
        "historical": {"model": h.model, "months_used": h.months_used, "total": str(h.estimate.total),
                       "trend_adjustment": str(h.trend_adjustment),
                       "seasonal_adjustment": str(h.seasonal_adjustment), "confidence": h.estimate.confidence},
        "by_rep": [{"user_id": r.user_id, "total": str(r.total)} for r in f.by_rep],
    }


async def recompute_forecasts(periods: Sequence[str] | None = None, now: datetime | None = None) -> list[ForecastSnapshot]:
    """Store one snapshot per method for each period (default: the current and the next quarter)."""
    now = now or _now()
    today = now.date()
    resolved = [parse_period(p, today) for p in periods] if periods else snapshot_periods(today)
    stored = []
    for period in resolved:
        started = time.perf_counter()
        forecast = await compute_forecast(COMPANY, period, now=now)
        details = {**_snapshot_details(forecast), "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
        outbox = Outbox()
        summary = {}
        async with in_transaction():
            for method in ForecastMethod:
                e = forecast.using(method).estimate
                stored.append(await ForecastSnapshot.create(
                    period=period.label, method=method.value, total_forecast=e.total, best_case=e.best,
                    worst_case=e.worst, confidence=e.confidence, details=details, computed_at=now))
                summary[method.value] = {"totalForecast": str(e.total), "bestCase": str(e.best),
                                         "worstCase": str(e.worst), "confidence": e.confidence}
            # Subscribers of forecastUpdated(period) learn of it through the event log.
            await outbox.record(ForecastUpdated(period=period.label, forecast=summary))
        await outbox.publish()
    log.info("stored forecast snapshots for %s", ", ".join(p.label for p in resolved))
    return stored


def _require_admin(scope: Scope) -> None:
    if not scope.is_admin:
        raise PermissionDenied("forecast snapshots are company-wide: only admins can read them")


async def forecast_snapshots(scope: Scope, period: str, method: str | None = None, first: int = 30,
                             now: datetime | None = None) -> list[ForecastSnapshot]:
    _require_admin(scope)
    resolved = parse_period(period, (now or _now()).date())
    qs = ForecastSnapshot.filter(period=resolved.label)
    if method is not None:
        qs = qs.filter(method=parse_method(method).value)
    return await qs.order_by("-computed_at", "-id").limit(max(0, min(first, MAX_SNAPSHOTS)))


@dataclass(frozen=True)
class SnapshotAccuracy:
    snapshot: ForecastSnapshot
    error: Decimal  # forecast − actual
    absolute_percent_error: float | None  # |error| ÷ actual; None when nothing was won
    within_range: bool  # worst case ≤ actual ≤ best case


@dataclass(frozen=True)
class MethodAccuracy:
    method: ForecastMethod
    snapshots: int
    mean_absolute_percent_error: float | None
    hit_rate: float | None  # share of snapshots whose best/worst range held the actual


@dataclass(frozen=True)
class ForecastAccuracy:
    period: ForecastPeriod
    complete: bool  # the period has ended: the actual is final
    actual: Decimal
    won_deals: int
    snapshots: list[SnapshotAccuracy]
    by_method: list[MethodAccuracy]


async def forecast_accuracy(scope: Scope, period: str, now: datetime | None = None) -> ForecastAccuracy:
    """Every stored snapshot of the period against the closed-won revenue of the period so far."""
    _require_admin(scope)
    now = now or _now()
    resolved = parse_period(period, now.date())
    row = (await sql.run(sql.won_in_period(sql.dialect(), resolved.first_day, resolved.end_date)))[0]
    actual, won = money(row["value"]), int(row["n"] or 0)
    snapshots = await ForecastSnapshot.filter(period=resolved.label).order_by("computed_at", "id").limit(
        MAX_SNAPSHOTS * len(ForecastMethod))
    measured = []
    for s in snapshots:
        error = s.total_forecast - actual
        measured.append(SnapshotAccuracy(s, error, rate(abs(error), actual), s.worst_case <= actual <= s.best_case))
    by_method = []
    for method in ForecastMethod:
        mine = [m for m in measured if m.snapshot.method == method.value]
        errors = [m.absolute_percent_error for m in mine if m.absolute_percent_error is not None]
        by_method.append(MethodAccuracy(method, len(mine), round(sum(errors) / len(errors), 4) if errors else None,
                                        rate(sum(m.within_range for m in mine), len(mine))))
    return ForecastAccuracy(resolved, now.date() >= resolved.end_date, actual, won, measured, by_method)
