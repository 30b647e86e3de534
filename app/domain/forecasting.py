"""Sales forecasting rules: forecast periods, time weights, best/worst case, the Monte Carlo simulation
of the open pipeline, Holt-Winters on the closed-won history, the hybrid blend, the confidence figure
and the forecast categories.

Pure functions (numpy and statsmodels, no database): app.queries.analytics gathers the aggregates,
app.services.forecasts assembles the forecast. The README section "Pipeline analytics and
forecasting" states the same definitions in prose.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any, Sequence

import numpy as np

from app.domain.enums import ForecastCategory, StageKind
from app.domain.errors import ErrorCode, ValidationFailed
from app.domain.opportunities import CENT
from app.domain.timeframes import parse_timeframe

PERIOD_FORMS = ("this_month, next_month, this_quarter, next_quarter, a quarter like 2026-Q4 "
                "or a month like 2026-12")
_CALENDAR_LABEL = re.compile(r"^\d{4}-(Q[1-4]|\d{2})$")

# Pipeline method ------------------------------------------------------------------------
FULL_WEIGHT = Decimal("1")
# An open deal whose expected close date has passed still counts toward the period that contains
# today, at half weight: it slipped once and may slip again.
OVERDUE_WEIGHT = Decimal("0.5")
NO_WEIGHT = Decimal("0")
# Best / worst case: every deal's probability moved up / down by 20 points, kept within 0–100
# (applied per deal in SQL: app.queries.analytics.forecast_by_rep_and_stage).
SCENARIO_POINTS = 20

# Monte Carlo ----------------------------------------------------------------------------
SIMULATION_RUNS = 10_000
SIMULATION_SEED = 2026
# The largest open deals are simulated one by one; the rest are summarised (see `simulate`).
SIMULATED_DEALS = 2_000
_CELLS_PER_CHUNK = 2_000_000  # bounds the memory of one batch of runs (≈ 2 MB of booleans)
# confidence = P(actual within ±20 % of the forecast) under the method's own uncertainty model.
CONFIDENCE_BAND = 0.20
INTERVAL_PERCENTILES = (10, 50, 90)

# Historical method ----------------------------------------------------------------------
SEASONAL_FROM_MONTHS = 24  # Holt-Winters with additive trend and additive yearly seasonality
TREND_FROM_MONTHS = 6  # Holt's linear trend
SEASON_LENGTH = 12
HISTORY_MONTHS_MAX = 60
HISTORY_SIMULATIONS = 2_000

# Hybrid ---------------------------------------------------------------------------------
PIPELINE_WEIGHT = Decimal("0.6")
HISTORICAL_WEIGHT = Decimal("0.4")


class ForecastMethod(str, Enum):
    PIPELINE = "pipeline"
    HISTORICAL = "historical"
    HYBRID = "hybrid"


def parse_method(text: object) -> ForecastMethod:
    try:
        return ForecastMethod(str(text).strip().lower())
    except ValueError:
        raise ValidationFailed.single("method", f"unknown method {text!r}: use PIPELINE, HISTORICAL or HYBRID",
                                      ErrorCode.INVALID) from None


def to_money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


# Periods --------------------------------------------------------------------------------


def _month_start(year: int, month: int) -> date:
    """First day of a month; months past December roll into the next year."""
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


@dataclass(frozen=True)
class ForecastPeriod:
    """Whole calendar months [first_day, end_date); `label` is the canonical name (2026-Q4, 2026-12)."""

    label: str
    first_day: date
    end_date: date

    @property
    def month_starts(self) -> list[date]:
        months, day = [], self.first_day
        while day < self.end_date:
            months.append(day)
            day = _month_start(day.year, day.month + 1)
        return months

    def contains(self, day: date) -> bool:
        return self.first_day <= day < self.end_date


def month_period(year: int, month: int) -> ForecastPeriod:
    start = _month_start(year, month)
    return ForecastPeriod(f"{start.year:04d}-{start.month:02d}", start, _month_start(start.year, start.month + 1))


def quarter_period(year: int, quarter: int) -> ForecastPeriod:
    start = _month_start(year, (quarter - 1) * 3 + 1)
    q = (start.month - 1) // 3 + 1
    return ForecastPeriod(f"{start.year:04d}-Q{q}", start, _month_start(start.year, start.month + 3))


def current_quarter(today: date) -> ForecastPeriod:
    return quarter_period(today.year, (today.month - 1) // 3 + 1)


def next_quarter(today: date) -> ForecastPeriod:
    return quarter_period(today.year, (today.month - 1) // 3 + 2)


def _invalid_period(text: object) -> ValidationFailed:
    return ValidationFailed.single("period", f"unknown period {text!r}: use {PERIOD_FORMS}", ErrorCode.INVALID)


def parse_period(text: object, today: date) -> ForecastPeriod:
    """The forecast period `text` names (relative keywords against `today`, UTC).

    Raises ValidationFailed (field "period") for anything else, naming the accepted forms."""
    if not isinstance(text, str):
        raise _invalid_period(text)
    keyword = text.strip().lower()
    relative = {
        "this_month": lambda: month_period(today.year, today.month),
        "next_month": lambda: month_period(today.year, today.month + 1),
        "this_quarter": lambda: current_quarter(today),
        "next_quarter": lambda: next_quarter(today),
    }
    if keyword in relative:
        return relative[keyword]()
    try:
        timeframe = parse_timeframe(text)  # the colleague's parser knows the calendar forms
    except ValidationFailed:
        raise _invalid_period(text) from None
    if not _CALENDAR_LABEL.match(timeframe.label):
        raise _invalid_period(text)
    year, rest = timeframe.label.split("-")
    if rest.startswith("Q"):
        return quarter_period(int(year), int(rest[1]))
    return month_period(int(year), int(rest))


def months_between(earlier: date, later: date) -> int:
    """Whole months from one month start to another."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month


# Pipeline method ------------------------------------------------------------------------


def time_weight_steps(period: ForecastPeriod, today: date) -> tuple[tuple[date, Decimal], ...]:
    """How much of an open deal counts toward the period, by its expected close date, as a step
    function: (before, weight) pairs in ascending order; a date takes the weight of the first step
    it is before, and NO_WEIGHT after the last. The SQL (app.queries.analytics) renders these steps.

    - on or after the period's end: 0 (it belongs to a later period);
    - before today (overdue): OVERDUE_WEIGHT when the period contains today, else 0;
    - within the period, today or later: 1;
    - before the period (a future period) but not overdue: 0."""
    if period.contains(today):
        return (today, OVERDUE_WEIGHT), (period.end_date, FULL_WEIGHT)
    if today < period.first_day:
        return (period.first_day, NO_WEIGHT), (period.end_date, FULL_WEIGHT)
    return ()  # a past period: every date is either after it or overdue for it


def time_weight(expected_close: date, period: ForecastPeriod, today: date) -> Decimal:
    return next((weight for before, weight in time_weight_steps(period, today) if expected_close < before), NO_WEIGHT)


def counted_close_dates(period: ForecastPeriod, today: date) -> tuple[date | None, date]:
    """The expected close dates whose time weight is above 0, as [first, end) (first None: unbounded;
    first == end: none). The SQL filters with it, so indexes apply."""
    steps = time_weight_steps(period, today)
    counted = [i for i, (_, weight) in enumerate(steps) if weight > NO_WEIGHT]
    if not counted:
        return period.end_date, period.end_date
    # The weights above 0 are one run of steps: from the step before the first to the last one.
    return (steps[counted[0] - 1][0] if counted[0] else None), steps[counted[-1]][0]


def forecast_category(kind: StageKind, configured: ForecastCategory) -> ForecastCategory:
    """Salesforce-style category of a deal from its stage: won → closed, lost → omitted, open → the
    stage's configured category (pipeline, best case or commit; a misconfigured "closed" reads as commit)."""
    if kind is StageKind.WON:
        return ForecastCategory.CLOSED
    if kind is StageKind.LOST:
        return ForecastCategory.OMITTED
    if configured is ForecastCategory.CLOSED:
        return ForecastCategory.COMMIT
    return configured


@dataclass(frozen=True)
class Estimate:
    total: Decimal
    best: Decimal
    worst: Decimal
    confidence: float


# Monte Carlo ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Moments:
    """Count, mean and variance of the summed wins of deals that are not simulated one by one."""

    count: int = 0
    mean: float = 0.0
    variance: float = 0.0


@dataclass(frozen=True)
class Simulation:
    runs: int
    seed: int
    p10: Decimal
    p50: Decimal
    p90: Decimal
    mean: Decimal
    within_band: float  # share of runs within ±CONFIDENCE_BAND of the target
    simulated_deals: int
    summarised_deals: int


def rest_moments(count: int, mean: float, variance: float, simulated: Sequence[tuple[float, float]]) -> Moments:
    """Moments of all open deals minus those of the simulated ones (value, win probability)."""
    sim_mean = sum(v * q for v, q in simulated)
    sim_var = sum(v * v * q * (1 - q) for v, q in simulated)
    rest = count - len(simulated)
    if rest <= 0:
        return Moments()
    return Moments(rest, max(0.0, mean - sim_mean), max(0.0, variance - sim_var))


def band_share(totals: np.ndarray, target: float) -> float:
    """Share of outcomes within ±CONFIDENCE_BAND × target of the target."""
    if totals.size == 0:
        return 0.0
    return float(np.mean(np.abs(totals - target) <= CONFIDENCE_BAND * abs(target) + 1e-9))


def simulate(booked: float, deals: Sequence[tuple[float, float]], rest: Moments, target: float,
             runs: int = SIMULATION_RUNS, seed: int = SIMULATION_SEED) -> Simulation:
    """The period's closed-won revenue when every open deal independently wins with its probability.

    `deals` are (value, win probability) of the largest open deals, simulated one by one; `rest`
    summarises the others (none larger than the smallest simulated one) by one normal draw per run with
    their exact mean and variance (central limit theorem). `booked` (already won) is added to every run."""
    rng = np.random.default_rng(seed)
    totals = np.full(runs, float(booked))
    if deals:
        values = np.array([v for v, _ in deals], dtype=float)
        probabilities = np.array([q for _, q in deals], dtype=float)
        chunk = max(1, _CELLS_PER_CHUNK // len(deals))
        for start in range(0, runs, chunk):
            n = min(chunk, runs - start)
            totals[start:start + n] += (rng.random((n, len(deals))) < probabilities) @ values
    if rest.count:
        totals += np.maximum(0.0, rng.normal(rest.mean, math.sqrt(rest.variance), runs))
    p10, p50, p90 = np.percentile(totals, INTERVAL_PERCENTILES)
    return Simulation(runs, seed, to_money(p10), to_money(p50), to_money(p90), to_money(totals.mean()),
                      band_share(totals, target), len(deals), rest.count)


@dataclass(frozen=True)
class PipelineFigures:
    """SQL aggregates of one period: deals already won in it and the open deals that count toward it."""

    booked: Decimal = Decimal("0.00")  # closed-won value with the actual close date in the period
    weighted: Decimal = Decimal("0.00")  # Σ value × probability/100 × time weight over open deals
    best: Decimal = Decimal("0.00")  # Σ value × best probability/100 × time weight
    worst: Decimal = Decimal("0.00")
    open_deals: int = 0  # open deals with a time weight above 0


def apportion(shares: Sequence[Decimal]) -> list[Decimal]:
    """Exact shares rounded to cents so that they add up to their rounded sum (the whole, rounded half
    up): each share rounded down, then the cents left over to the largest remainders (ties: first)."""
    whole = Decimal(sum(shares, Decimal(0))).quantize(CENT, ROUND_HALF_UP)
    floors = [share.quantize(CENT, rounding=ROUND_FLOOR) for share in shares]
    left = int((whole - sum(floors, Decimal(0))) / CENT)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in by_remainder[:left]:
        floors[i] += CENT
    return floors


def pipeline_estimate(figures: PipelineFigures, simulation: Simulation) -> Estimate:
    """Pipeline total = booked + weighted; best / worst add the shifted-probability sums; confidence is
    the simulated share of outcomes within ±20 % of the total (0 when there is nothing at all)."""
    confidence = simulation.within_band if (figures.open_deals or figures.booked) else 0.0
    return Estimate(figures.booked + figures.weighted, figures.booked + figures.best,
                    figures.booked + figures.worst, round(confidence, 4))


# Historical method ----------------------------------------------------------------------


@dataclass(frozen=True)
class HistoricalForecast:
    model: str  # holt_winters_seasonal, holt_trend, mean, none
    months_used: int
    estimate: Estimate
    baseline: Decimal  # the final level × months in the period
    trend_adjustment: Decimal
    seasonal_adjustment: Decimal
    residual_std: float | None


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _fit(series: np.ndarray, seasonal: bool) -> Any:  # statsmodels ships no types
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    # Seasonal fits start from Hyndman's heuristic (two full years are there by construction): fitting
    # the 12 initial seasonal terms too costs ~10× the time for no better forecasts on monthly revenue.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ExponentialSmoothing(
            series, trend="add", seasonal="add" if seasonal else None,
            seasonal_periods=SEASON_LENGTH if seasonal else None,
            initialization_method="heuristic" if seasonal else "estimated",
        )
        return model.fit(use_brute=False)


def _sum_over(values: np.ndarray, steps: Sequence[int]) -> np.ndarray:
    """Sum of the rows at 1-based forecast steps."""
    total: np.ndarray = values[[s - 1 for s in steps]].sum(axis=0)
    return total


def choose_model(months: int) -> str:
    if months >= SEASONAL_FROM_MONTHS:
        return "holt_winters_seasonal"
    if months >= TREND_FROM_MONTHS:
        return "holt_trend"
    return "mean" if months else "none"


def historical_forecast(history: Sequence[float], steps: Sequence[int], seed: int = SIMULATION_SEED) -> HistoricalForecast:
    """Forecast the period from monthly closed-won revenue.

    `history` is consecutive months, oldest first, ending with the last complete month before the
    period (or before the current month); `steps` are the period's months as 1-based steps after it.
    24+ months: Holt-Winters, additive trend and seasonality (12 months); 6–23: Holt's linear trend;
    1–5: the monthly mean; none: 0. Best / worst case are the 90th / 10th percentiles of 2 000
    simulated futures of the fitted model (for the mean: a normal with the sample's spread); confidence
    is their share within ±20 % of the forecast. Revenue is never below 0."""
    series = np.asarray(history, dtype=float)
    n, k = len(series), len(steps)
    model = choose_model(n)
    zero = Decimal("0.00")
    if n == 0:
        return HistoricalForecast("none", 0, Estimate(zero, zero, zero, 0.0), zero, zero, zero, None)
    if model != "mean" and np.ptp(series) == 0:
        model = "mean"  # a flat history has no trend or season to fit
    if model == "mean":
        return _mean_forecast(series, k)
    try:
        fit = _fit(series, seasonal=model == "holt_winters_seasonal")
    except Exception:  # a degenerate series the optimiser cannot handle: fall back to the mean
        return _mean_forecast(series, k)
    horizon = max(steps)
    forecast = np.asarray(fit.forecast(horizon), dtype=float)
    level, slope = float(fit.level[-1]), float(fit.trend[-1])
    total = float(_sum_over(forecast, steps))
    baseline = level * k
    trend = slope * sum(steps)
    seasonal = total - baseline - trend
    resid = np.asarray(fit.resid, dtype=float)
    params = 4 + (SEASON_LENGTH + 1 if model == "holt_winters_seasonal" else 0)
    sigma = math.sqrt(float(np.sum(resid ** 2)) / max(1, n - params))
    rng = np.random.default_rng(seed)
    errors = rng.standard_normal((horizon, HISTORY_SIMULATIONS)) * sigma
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = np.asarray(fit.simulate(horizon, repetitions=HISTORY_SIMULATIONS, random_errors=errors), dtype=float)
    sums = np.maximum(0.0, _sum_over(paths.reshape(horizon, -1), steps))
    point = max(0.0, total)
    p10, p90 = np.percentile(sums, (10, 90))
    estimate = Estimate(to_money(point), to_money(max(point, p90)), to_money(min(point, p10)),
                        round(band_share(sums, point), 4))
    return HistoricalForecast(model, n, estimate, to_money(baseline), to_money(trend), to_money(seasonal), round(sigma, 2))


def _mean_forecast(series: np.ndarray, k: int) -> HistoricalForecast:
    """k × the monthly mean; the sum's spread is σ√(k + k²/n) (monthly noise plus the mean's own error)."""
    n = len(series)
    mean = float(series.mean())
    point = mean * k
    if n < 2:
        estimate = Estimate(to_money(point), to_money(point), to_money(point), 0.0)
        return HistoricalForecast("mean", n, estimate, to_money(point), Decimal("0.00"), Decimal("0.00"), None)
    sigma = float(series.std(ddof=1))
    spread = sigma * math.sqrt(k + k * k / n)
    z90 = 1.2815515655446004
    confidence = 1.0 if spread == 0 else 2 * _normal_cdf(CONFIDENCE_BAND * point / spread) - 1
    estimate = Estimate(to_money(point), to_money(point + z90 * spread), to_money(max(0.0, point - z90 * spread)),
                        round(confidence, 4))
    return HistoricalForecast("mean", n, estimate, to_money(point), Decimal("0.00"), Decimal("0.00"), round(sigma, 2))


# Hybrid ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blend:
    estimate: Estimate
    pipeline_weight: Decimal
    historical_weight: Decimal
    notes: list[str] = field(default_factory=list)


def hybrid(pipeline: Estimate, historical: Estimate, months_used: int) -> Blend:
    """0.6 × pipeline + 0.4 × historical for the total, best and worst case and the confidence;
    the pipeline alone when there is no closed-won history at all."""
    if months_used == 0:
        return Blend(pipeline, Decimal(1), Decimal(0), ["no closed-won history: the hybrid is the pipeline forecast"])
    wp, wh = PIPELINE_WEIGHT, HISTORICAL_WEIGHT

    def mix(a: Decimal, b: Decimal) -> Decimal:
        return (a * wp + b * wh).quantize(CENT, ROUND_HALF_UP)

    confidence = round(float(wp) * pipeline.confidence + float(wh) * historical.confidence, 4)
    return Blend(Estimate(mix(pipeline.total, historical.total), mix(pipeline.best, historical.best),
                          mix(pipeline.worst, historical.worst), confidence), wp, wh)
