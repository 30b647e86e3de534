"""Forecasting rules, pure: periods, time weights, scenarios, Monte Carlo, Holt-Winters model choice,
the hybrid blend and the confidence figure."""

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from app.domain import analytics as a
from app.domain import forecasting as f
from app.domain.enums import ForecastCategory, StageKind
from app.domain.errors import ValidationFailed

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize("text, label, first, end", [
    ("this_quarter", "2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
    ("next_quarter", "2027-Q1", date(2027, 1, 1), date(2027, 4, 1)),
    ("this_month", "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
    ("next_month", "2026-12", date(2026, 12, 1), date(2027, 1, 1)),
    (" NEXT_QUARTER ", "2027-Q1", date(2027, 1, 1), date(2027, 4, 1)),
    ("2026-Q4", "2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
    ("2026-q1", "2026-Q1", date(2026, 1, 1), date(2026, 4, 1)),
    ("2026-12", "2026-12", date(2026, 12, 1), date(2027, 1, 1)),
])
def test_periods(text, label, first, end):
    period = f.parse_period(text, TODAY)
    assert (period.label, period.first_day, period.end_date) == (label, first, end)


def test_next_month_and_quarter_roll_over_the_year():
    december = date(2026, 12, 31)
    assert f.parse_period("next_month", december).label == "2027-01"
    assert f.parse_period("next_quarter", december).label == "2027-Q1"
    assert f.parse_period("2026-Q4", december).month_starts == [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]


@pytest.mark.parametrize("bad", ["last_30_days", "this_year", "2026-13", "Q4", "2026-01-01..2026-03-31", "", 42, None])
def test_unknown_periods_name_the_accepted_forms(bad):
    with pytest.raises(ValidationFailed) as exc:
        f.parse_period(bad, TODAY)
    error = exc.value.errors[0]
    assert error.field == "period" and "next_quarter" in error.message and "2026-Q4" in error.message


def test_unknown_method():
    assert f.parse_method("Hybrid") is f.ForecastMethod.HYBRID
    with pytest.raises(ValidationFailed) as exc:
        f.parse_method("gut_feeling")
    assert "PIPELINE, HISTORICAL or HYBRID" in exc.value.errors[0].message


def test_time_weights():
    q4 = f.parse_period("2026-Q4", TODAY)  # contains today
    q1 = f.parse_period("2027-Q1", TODAY)
    assert f.time_weight(date(2026, 12, 31), q4, TODAY) == 1
    assert f.time_weight(TODAY, q4, TODAY) == 1  # due today is not overdue
    assert f.time_weight(date(2026, 11, 23), q4, TODAY) == Decimal("0.5")  # overdue, current period
    assert f.time_weight(date(2025, 3, 1), q4, TODAY) == Decimal("0.5")  # long overdue still may close now
    assert f.time_weight(date(2027, 1, 1), q4, TODAY) == 0  # after the period
    assert f.time_weight(date(2026, 11, 23), q1, TODAY) == 0  # overdue deals do not count for a later period
    assert f.time_weight(date(2026, 12, 15), q1, TODAY) == 0  # expected before the period
    assert f.time_weight(date(2027, 2, 1), q1, TODAY) == 1
    q3 = f.parse_period("2026-Q3", TODAY)  # in the past: nothing open can still close in it
    assert f.time_weight(date(2026, 8, 1), q3, TODAY) == 0


def test_the_sql_date_filter_selects_exactly_the_weighted_deals():
    for text in ("2026-Q4", "2027-Q1", "2026-Q3", "2026-11", "2026-12"):
        period = f.parse_period(text, TODAY)
        first, end = f.counted_close_dates(period, TODAY)
        for offset in range(-400, 400):
            day = TODAY + timedelta(days=offset)
            assert ((first is None or day >= first) and day < end) == (f.time_weight(day, period, TODAY) > 0), (text, day)


def test_forecast_categories_from_stages():
    assert f.forecast_category(StageKind.WON, ForecastCategory.PIPELINE) is ForecastCategory.CLOSED
    assert f.forecast_category(StageKind.LOST, ForecastCategory.COMMIT) is ForecastCategory.OMITTED
    assert f.forecast_category(StageKind.OPEN, ForecastCategory.BEST_CASE) is ForecastCategory.BEST_CASE
    assert f.forecast_category(StageKind.OPEN, ForecastCategory.CLOSED) is ForecastCategory.COMMIT


# Monte Carlo ------------------------------------------------------------------------------

DEALS = [(10_000.0, 0.8), (5_000.0, 0.5), (2_500.0, 0.2), (40_000.0, 0.1)]


def test_monte_carlo_is_reproducible_with_its_seed():
    target = 1_000 + sum(v * q for v, q in DEALS)
    first = f.simulate(1_000.0, DEALS, f.Moments(), target)
    again = f.simulate(1_000.0, DEALS, f.Moments(), target)
    other = f.simulate(1_000.0, DEALS, f.Moments(), target, seed=7)
    assert first == again
    assert first != other
    assert first.runs == 10_000 and first.seed == f.SIMULATION_SEED


def test_monte_carlo_percentiles_and_mean():
    target = 1_000 + sum(v * q for v, q in DEALS)
    s = f.simulate(1_000.0, DEALS, f.Moments(), target)
    assert s.p10 <= s.p50 <= s.p90
    assert abs(float(s.mean) - target) < 0.02 * target  # 10 000 runs: the mean is close to the expectation
    # every outcome is booked + a subset of the deals
    assert Decimal("1000") <= s.p10 and s.p90 <= Decimal(1_000 + 57_500)
    # the 80 % interval of a coin flip on one deal: 0 or all of it
    coin = f.simulate(0.0, [(100.0, 0.5)], f.Moments(), 50.0)
    assert (coin.p10, coin.p90) == (Decimal("0.00"), Decimal("100.00"))
    assert coin.within_band == 0  # never within ±20 % of 50: the forecast is a poor point estimate here


def test_certain_deals_give_full_confidence():
    s = f.simulate(0.0, [(100.0, 1.0), (50.0, 1.0)], f.Moments(), 150.0)
    assert (s.p10, s.p50, s.p90, s.within_band) == (Decimal("150.00"), Decimal("150.00"), Decimal("150.00"), 1.0)


def test_summarised_deals_keep_their_mean_and_variance():
    deals = [(1_000.0, 0.5)] * 3
    all_count, all_mean = 1_003, 1_500.0 + 1_000 * 10.0 * 0.5
    all_var = 3 * 1_000.0 ** 2 * 0.25 + 1_000 * 10.0 ** 2 * 0.25
    rest = f.rest_moments(all_count, all_mean, all_var, deals)
    assert rest.count == 1_000 and rest.mean == pytest.approx(5_000.0) and rest.variance == pytest.approx(25_000.0)
    s = f.simulate(0.0, deals, rest, all_mean)
    assert abs(float(s.mean) - all_mean) < 0.01 * all_mean
    assert s.summarised_deals == 1_000 and s.simulated_deals == 3


def test_confidence_follows_the_spread():
    tight = f.simulate(0.0, [(100.0, 0.9)] * 200, f.Moments(), 18_000.0)
    loose = f.simulate(0.0, [(18_000.0, 0.9)], f.Moments(), 16_200.0)
    assert tight.within_band > 0.99 and loose.within_band < 0.95


def test_pipeline_estimate_and_empty_pipeline():
    figures = f.PipelineFigures(booked=Decimal("1000.00"), weighted=Decimal("500.00"), best=Decimal("800.00"),
                                worst=Decimal("200.00"), open_deals=2)
    s = f.simulate(1_000.0, [(1_000.0, 0.5)], f.Moments(), 1_500.0)
    e = f.pipeline_estimate(figures, s)
    assert (e.total, e.best, e.worst) == (Decimal("1500.00"), Decimal("1800.00"), Decimal("1200.00"))
    assert e.confidence == round(s.within_band, 4)
    empty = f.pipeline_estimate(f.PipelineFigures(), f.simulate(0.0, [], f.Moments(), 0.0))
    assert empty == f.Estimate(Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), 0.0)


# Historical ------------------------------------------------------------------------------


@pytest.mark.parametrize("months, model", [(0, "none"), (1, "mean"), (5, "mean"), (6, "holt_trend"),
                                           (23, "holt_trend"), (24, "holt_winters_seasonal"), (60, "holt_winters_seasonal")])
def test_model_choice_by_history_length(months, model):
    assert f.choose_model(months) == model
    rng = np.random.default_rng(months)
    history = [10_000 + 100 * i + 2_000 * np.sin(i * np.pi / 6) + rng.normal(0, 200) for i in range(months)]
    result = f.historical_forecast(history, [1, 2, 3])
    assert result.model == model and result.months_used == months


def test_mean_model_sums_the_monthly_mean():
    result = f.historical_forecast([1_000.0, 2_000.0, 3_000.0], [1, 2, 3])
    assert result.estimate.total == Decimal("6000.00")
    assert (result.trend_adjustment, result.seasonal_adjustment) == (Decimal("0.00"), Decimal("0.00"))
    assert result.estimate.worst < result.estimate.total < result.estimate.best
    assert 0 < result.estimate.confidence < 1
    single = f.historical_forecast([1_000.0], [1, 2, 3])
    assert (single.estimate.total, single.estimate.confidence) == (Decimal("3000.00"), 0.0)
    nothing = f.historical_forecast([], [1, 2, 3])
    assert (nothing.model, nothing.estimate.total, nothing.estimate.confidence) == ("none", Decimal("0.00"), 0.0)


def test_holt_winters_reports_trend_and_seasonal_adjustments():
    season = [0, 500, 1_000, 1_500, 1_000, 500, 0, -500, -1_000, -1_500, -1_000, -500]
    history = [20_000 + 200 * i + season[i % 12] for i in range(36)]
    result = f.historical_forecast(history, [1, 2, 3])  # the next three months: season 0, 500, 1000
    truth = sum(20_000 + 200 * i + season[i % 12] for i in (36, 37, 38))
    assert result.model == "holt_winters_seasonal"
    assert abs(float(result.estimate.total) - truth) < 0.01 * truth
    assert result.estimate.total == result.baseline + result.trend_adjustment + result.seasonal_adjustment
    assert result.trend_adjustment > 0  # +200 a month
    assert abs(float(result.seasonal_adjustment) - 1_500) < 300
    assert result.estimate.worst <= result.estimate.total <= result.estimate.best


def test_trend_model_extrapolates():
    history = [1_000.0 * (i + 1) for i in range(12)]
    result = f.historical_forecast(history, [1])
    assert result.model == "holt_trend" and abs(float(result.estimate.total) - 13_000) < 50


def test_flat_history_is_a_mean_and_revenue_never_negative():
    assert f.historical_forecast([500.0] * 30, [1, 2]).estimate.total == Decimal("1000.00")
    falling = f.historical_forecast([10_000.0 - 1_000 * i for i in range(10)], [6, 7, 8])
    assert falling.estimate.total == Decimal("0.00") and falling.estimate.worst == Decimal("0.00")


def test_hybrid_blend():
    p = f.Estimate(Decimal("1000.00"), Decimal("1500.00"), Decimal("600.00"), 0.5)
    h = f.Estimate(Decimal("2000.00"), Decimal("2500.00"), Decimal("1500.00"), 0.9)
    blend = f.hybrid(p, h, months_used=12)
    assert blend.estimate == f.Estimate(Decimal("1400.00"), Decimal("1900.00"), Decimal("960.00"), 0.66)
    alone = f.hybrid(p, h, months_used=0)
    assert alone.estimate == p and alone.notes


# Analytics maths --------------------------------------------------------------------------


def test_null_safe_rates_and_velocity():
    assert a.rate(1, 0) is None and a.rate(1, 4) == 0.25
    assert a.average_money(Decimal("10"), 0) is None
    none_closed = a.ClosedFigures()
    assert (none_closed.win_rate, none_closed.average_sales_cycle, a.sales_velocity(5, none_closed)) == (None, None, None)
    all_lost = a.ClosedFigures(won=0, lost=3, closed_cycle_days=30)
    assert all_lost.win_rate == 0.0 and a.sales_velocity(5, all_lost) is None
    same_day = a.ClosedFigures(won=2, lost=0, won_value=Decimal("100"), won_cycle_days=0)
    assert a.sales_velocity(5, same_day) is None  # zero-day cycle: undefined, not infinite
    closed = a.ClosedFigures(won=2, lost=2, won_value=Decimal("3000.00"), won_cycle_days=30, closed_cycle_days=50)
    # 10 open × 0.5 win rate × 1500 average won deal ÷ 15 days
    assert a.sales_velocity(10, closed) == Decimal("500.00")
    assert closed.average_days_to_close == 12.5


def test_filters_reject_negative_or_inverted_ranges():
    with pytest.raises(ValidationFailed) as exc:
        a.check_filters(a.PipelineFilters(value_min=Decimal("-1")))
    assert exc.value.errors[0].field == "filters.value_min"
    with pytest.raises(ValidationFailed):
        a.check_filters(a.PipelineFilters(value_min=Decimal("10"), value_max=Decimal("5")))
    a.check_filters(a.PipelineFilters(value_min=Decimal("0"), value_max=Decimal("0")))


def test_trend_buckets_cover_the_window():
    weeks = a.trend_buckets(date(2026, 7, 1), date(2026, 7, 15), a.TrendInterval.WEEK, [("won", date(2026, 7, 6), 2, Decimal(300))])
    assert [(b.key, b.start, b.end) for b in weeks] == [
        (date(2026, 6, 29), date(2026, 7, 1), date(2026, 7, 6)),
        (date(2026, 7, 6), date(2026, 7, 6), date(2026, 7, 13)),
        (date(2026, 7, 13), date(2026, 7, 13), date(2026, 7, 15)),
    ]
    assert (weeks[1].won, weeks[1].won_value, weeks[1].win_rate, weeks[0].win_rate) == (2, Decimal("300.00"), 1.0, None)
    assert a.pick_interval(date(2026, 1, 1), date(2026, 4, 1), None) is a.TrendInterval.WEEK
    assert a.pick_interval(date(2026, 1, 1), date(2027, 1, 1), None) is a.TrendInterval.MONTH


def test_apportioned_shares_add_up_to_the_rounded_whole():
    from app.domain.forecasting import apportion

    assert apportion([Decimal("0.335"), Decimal("0.335"), Decimal("0.33")]) == [
        Decimal("0.34"), Decimal("0.33"), Decimal("0.33")]
    assert apportion([]) == []
    rng = random.Random(11)
    for _ in range(500):
        shares = [Decimal(rng.randint(0, 10**7)) / Decimal(rng.choice((100, 1000, 7, 300))) for _ in range(rng.randint(1, 9))]
        parts = apportion(shares)
        assert sum(parts, Decimal(0)) == sum(shares, Decimal(0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert all(abs(p - s) < Decimal("0.01") for p, s in zip(parts, shares, strict=True))
