"""Forecast snapshots through a real arq worker: recomputed after a stage change (debounced, one job per
period), nightly, listed by forecastSnapshots and measured by forecastAccuracy."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from arq import create_pool

from app.domain.forecasting import current_quarter, next_quarter, quarter_period
from app.models import ForecastSnapshot, Opportunity, PipelineStage
from app.services import forecasts
from app.services.redis import arq_redis_settings
from tests import factories
from tests.test_pipeline_gates import advance
from tests.worker_utils import run_worker_burst
from workers import forecasts as forecast_jobs

SNAPSHOTS = """query($p: String!, $m: ForecastMethod) { forecastSnapshots(period: $p, method: $m) {
  period method totalForecast bestCase worstCase confidence computedAt } }"""
ACCURACY = """query($p: String!) { forecastAccuracy(period: $p) {
  period complete actual wonDeals
  snapshots { snapshot { method totalForecast } error absolutePercentError withinRange }
  byMethod { method snapshots meanAbsolutePercentError hitRate } } }"""


@pytest.fixture(autouse=True)
def quick_debounce(monkeypatch):
    monkeypatch.setattr(forecasts, "DEBOUNCE_SECONDS", 0.5)


@pytest.fixture
async def redis():
    pool = await create_pool(arq_redis_settings())
    yield pool
    await pool.aclose()


def _today() -> date:
    return datetime.now(timezone.utc).date()


async def test_a_stage_change_recomputes_the_current_and_next_quarter(gql, team, redis):
    account = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, account.id, value=Decimal("5000.00"),
                                      expected_close_date=_today() + timedelta(days=1))
    await factories.ready_to_leave_discovery(opp)
    moved = await advance(gql, team.rep, opp.id, "qualification")
    assert moved["errors"] == []
    await run_worker_burst()

    labels = [current_quarter(_today()).label, next_quarter(_today()).label]
    rows = await ForecastSnapshot.all().order_by("period", "method")
    # two events (created, stage changed) but one debounced job per period: one snapshot per method
    assert sorted((r.period, r.method) for r in rows) == sorted(
        (label, m) for label in labels for m in ("hybrid", "historical", "pipeline"))
    period = current_quarter(_today())
    if period.contains(_today() + timedelta(days=1)):  # the deal closes tomorrow: in this quarter unless it ends today
        pipeline = next(r for r in rows if r.period == period.label and r.method == "pipeline")
        assert pipeline.total_forecast == Decimal("2000.00")  # 5000 × 40 %
        assert pipeline.details["pipeline"]["open_deals"] == 1
        assert Decimal(pipeline.details["simulation"]["p90"]) == Decimal("5000.00")
    assert await redis.zcard("arq:queue") == 0


async def test_requests_share_one_job_per_period(redis):
    assert await forecasts.request_forecast_recompute() == 2
    assert await forecasts.request_forecast_recompute() == 2  # refused as duplicates: the work is queued
    queued = sorted(j.decode() for j in await redis.zrange("arq:queue", 0, -1))
    labels = [current_quarter(_today()).label, next_quarter(_today()).label]
    assert queued == sorted(f"forecast:{label}" for label in labels)
    await run_worker_burst()
    assert await ForecastSnapshot.all().count() == 6
    # the id is free again once the job has run: a later change is recomputed again
    assert await forecasts.request_forecast_recompute(delay_seconds=0) == 2
    await run_worker_burst()
    assert await ForecastSnapshot.all().count() == 12


async def test_events_that_move_the_forecast():
    assert forecasts.moves_forecast("opportunity.stage_changed", {})
    assert forecasts.moves_forecast("opportunity.products_changed", {"changes": {"value": {}}})
    assert forecasts.moves_forecast("opportunity.updated", {"changes": {"expected_close_date": {}}})
    assert not forecasts.moves_forecast("opportunity.updated", {"changes": {"next_step": {}}})
    assert not forecasts.moves_forecast("task.created", {})


async def test_nightly_job_and_listing(gql, team):
    assert await forecast_jobs.recompute_forecasts_nightly({}) == 6
    await forecasts.recompute_forecasts(["this_quarter"])
    listed = (await gql(SNAPSHOTS, {"p": "this_quarter"}, as_=team.admin))["forecastSnapshots"]
    assert len(listed) == 6 and {s["period"] for s in listed} == {current_quarter(_today()).label}
    assert listed[0]["computedAt"] >= listed[-1]["computedAt"]
    only = (await gql(SNAPSHOTS, {"p": current_quarter(_today()).label, "m": "PIPELINE"}, as_=team.admin))
    assert [s["method"] for s in only["forecastSnapshots"]] == ["PIPELINE", "PIPELINE"]
    body = await gql.raw(SNAPSHOTS, {"p": "this_quarter"}, team.manager.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql.raw(SNAPSHOTS, {"p": "yesterday"}, team.admin.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_accuracy_compares_snapshots_with_what_closed(gql, team):
    today = _today()
    last = quarter_period(today.year, (today.month - 1) // 3)  # the quarter before this one
    account = await factories.account(team.rep.user)
    opp = await factories.opportunity(team.rep.user, account.id, value=Decimal("8000.00"))
    won_stage = await PipelineStage.get(key="closed_won")
    await Opportunity.filter(id=opp.id).update(stage_id=won_stage.id, actual_close_date=last.first_day + timedelta(days=3),
                                               probability=100)
    stamp = datetime.combine(last.first_day, datetime.min.time(), timezone.utc)
    for method, total, best, worst in (("pipeline", "10000", "12000", "9000"), ("historical", "6000", "9000", "5000"),
                                       ("hybrid", "8400", "10800", "7400")):
        await ForecastSnapshot.create(period=last.label, method=method, total_forecast=Decimal(total),
                                      best_case=Decimal(best), worst_case=Decimal(worst), confidence=0.5,
                                      computed_at=stamp)
    data = (await gql(ACCURACY, {"p": last.label}, as_=team.admin))["forecastAccuracy"]
    assert (data["period"], data["complete"], data["actual"], data["wonDeals"]) == (last.label, True, "8000.00", 1)
    got = {s["snapshot"]["method"]: s for s in data["snapshots"]}
    assert (got["PIPELINE"]["error"], got["PIPELINE"]["absolutePercentError"], got["PIPELINE"]["withinRange"]) == (
        "2000.00", 0.25, False)
    assert (got["HISTORICAL"]["error"], got["HISTORICAL"]["withinRange"]) == ("-2000.00", True)
    assert got["HYBRID"]["absolutePercentError"] == pytest.approx(0.05)
    by_method = {m["method"]: m for m in data["byMethod"]}
    assert by_method["PIPELINE"] == {"method": "PIPELINE", "snapshots": 1, "meanAbsolutePercentError": 0.25, "hitRate": 0.0}
    body = await gql.raw(ACCURACY, {"p": last.label}, team.rep.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_recomputations_keep_to_their_duty_cycle(redis):
    stored = await forecasts.recompute_forecasts(["this_quarter"])
    label = stored[0].period
    await ForecastSnapshot.filter(period=label).update(details={"duration_ms": 3000})  # as if it took 3 s
    now = datetime.now(timezone.utc)
    await forecasts.request_forecast_recompute(now=now, delay_seconds=0)
    score = await redis.zscore("arq:queue", f"forecast:{label}")
    expected = stored[0].computed_at + timedelta(seconds=forecasts.DUTY_FACTOR * 3)
    assert abs(score / 1000 - expected.timestamp()) < 0.01  # not before 10 × 3 s after the last one started
    nxt = next_quarter(now.date()).label  # never recomputed: only the debounce applies
    assert abs(await redis.zscore("arq:queue", f"forecast:{nxt}") / 1000 - now.timestamp()) < 0.01
