"""Follow-ups and health recomputation through a real arq worker against real Redis."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from arq import create_pool

from app.models import Account, AccountHealthSnapshot, Contract, CustomerInteraction, Notification, Task
from app.queries.visibility import scope_for
from app.services import health, interactions
from app.services.redis import arq_redis_settings
from tests import factories
from tests.worker_utils import run_worker_burst


@pytest.fixture(autouse=True)
def quick_debounce(monkeypatch):
    # The debounced health job would otherwise keep a burst worker waiting 5 seconds.
    monkeypatch.setattr(health, "DEBOUNCE_SECONDS", 0.2)


@pytest.fixture
async def redis():
    pool = await create_pool(arq_redis_settings())
    yield pool
    await pool.aclose()


def _soon(seconds: float) -> datetime:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).replace(microsecond=0) + timedelta(seconds=1)


async def _record(owner, account, follow_up: datetime | None, subject="Tasting with Chef Ana"):
    return await interactions.record_interaction(await scope_for(owner), {
        "account_id": account.id, "type": "meeting", "subject": subject,
        "description": "Chef loved the brisket samples and wants pricing on a standing weekly order.",
        "next_steps": "Send the weekly order price sheet", "follow_up_date": follow_up,
    })


async def _queued_at(redis, job_id: str) -> float | None:
    return await redis.zscore("arq:queue", job_id)


async def test_follow_up_fires_through_a_real_worker_at_its_time_and_only_once(team, redis):
    account = await factories.account(team.rep.user, "Harbor Grill")
    when = _soon(2)
    interaction = await _record(team.rep.user, account, when)
    job_id = interactions.follow_up_key(interaction.id, when)
    assert job_id == f"followup:{interaction.id}:{int(when.timestamp())}"
    assert await _queued_at(redis, job_id) == int(when.timestamp()) * 1000  # deferred to the moment itself

    await asyncio.sleep(max(0.0, (when - datetime.now(timezone.utc)).total_seconds()) + 0.1)
    await run_worker_burst()

    task = await Task.get(source_key=job_id)
    assert (task.assignee_id, task.account_id, task.due_date) == (team.rep.user.id, account.id, when)
    assert task.title == "Follow up with Harbor Grill: Tasting with Chef Ana"
    assert task.description == "Send the weekly order price sheet"
    assert task.created_at >= when
    note = await Notification.get(source_key=job_id)
    assert (note.user_id, note.kind, note.payload["taskId"]) == (team.rep.user.id, "interaction_follow_up", task.id)

    # arq is at-least-once: the same job again (another job id) and a direct call change nothing.
    await redis.enqueue_job("run_follow_up", interaction.id, int(when.timestamp()), _job_id="again")
    await run_worker_burst()
    assert await interactions.run_follow_up(interaction.id, int(when.timestamp())) == "already_done"
    assert await Task.filter(account_id=account.id).count() == 1
    assert await Notification.all().count() == 1


async def test_rescheduling_aborts_the_old_job_and_the_new_date_creates_the_task(team, redis):
    account = await factories.account(team.rep.user)
    first, second = _soon(30), _soon(2)
    interaction = await _record(team.rep.user, account, first)
    old_id = interactions.follow_up_key(interaction.id, first)
    assert await _queued_at(redis, old_id) is not None

    scope = await scope_for(team.rep.user)
    await interactions.update_interaction(scope, interaction.id, {"follow_up_date": second})
    new_id = interactions.follow_up_key(interaction.id, second)
    assert await _queued_at(redis, old_id) is None
    assert await _queued_at(redis, new_id) == int(second.timestamp()) * 1000

    # A job for the old date that fires anyway (its abort was lost) does nothing.
    await redis.enqueue_job("run_follow_up", interaction.id, int(first.timestamp()), _job_id="stale-first")
    await asyncio.sleep(max(0.0, (second - datetime.now(timezone.utc)).total_seconds()) + 0.1)
    await run_worker_burst()
    assert await Task.filter(source_key=new_id).count() == 1
    assert not await Task.exists(source_key=old_id)
    assert await interactions.run_follow_up(interaction.id, int(first.timestamp())) == "outdated"


async def test_clearing_the_date_cancels_the_follow_up(team, redis):
    account = await factories.account(team.rep.user)
    when = _soon(2)
    interaction = await _record(team.rep.user, account, when)
    job_id = interactions.follow_up_key(interaction.id, when)
    await interactions.update_interaction(await scope_for(team.rep.user), interaction.id, {"follow_up_date": None})
    assert await _queued_at(redis, job_id) is None
    assert (await CustomerInteraction.get(id=interaction.id)).follow_up_date is None

    await redis.enqueue_job("run_follow_up", interaction.id, int(when.timestamp()), _job_id="stale")
    await asyncio.sleep(max(0.0, (when - datetime.now(timezone.utc)).total_seconds()) + 0.1)
    await run_worker_burst()
    assert await Task.all().count() == 0 and await Notification.all().count() == 0


async def test_a_job_that_fires_early_does_nothing(team):
    account = await factories.account(team.rep.user)
    when = _soon(3600)
    interaction = await _record(team.rep.user, account, when)
    assert await interactions.run_follow_up(interaction.id, int(when.timestamp())) == "not_due"
    assert await interactions.run_follow_up(interaction.id + 1, int(when.timestamp())) == "missing"
    assert await Task.all().count() == 0


async def test_catch_up_runs_follow_ups_whose_job_never_reached_redis(team, redis):
    account = await factories.account(team.rep.user)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    base = dict(account=account, type="phone", subject="Price check", occurred_at=now - timedelta(days=3))
    missed = await CustomerInteraction.create(**base, follow_up_date=now - timedelta(hours=2))
    too_old = await CustomerInteraction.create(**base, follow_up_date=now - timedelta(days=3))
    upcoming = await CustomerInteraction.create(**base, follow_up_date=now + timedelta(minutes=5))
    later = await CustomerInteraction.create(**base, follow_up_date=now + timedelta(hours=5))

    def key(interaction: CustomerInteraction) -> str:
        assert interaction.follow_up_date is not None
        return interactions.follow_up_key(interaction.id, interaction.follow_up_date)

    assert await interactions.catch_up_follow_ups(now) == 2  # one run now, one queued
    assert await Task.filter(source_key=key(missed)).count() == 1
    assert not await Task.exists(source_key=key(too_old))
    assert await _queued_at(redis, key(upcoming)) is not None
    assert await _queued_at(redis, key(later)) is None
    # Idempotent: the next run finds the task and re-queues the upcoming one (a no-op in arq).
    assert await interactions.catch_up_follow_ups(now) == 1
    assert await Task.all().count() == 1


async def test_health_recomputation_is_debounced_and_stored_through_a_real_worker(team, redis):
    account = await factories.account(team.rep.user)
    await Contract.create(account=account, name="Produce 2026", value=Decimal("150000.00"),
                          start_date=datetime.now(timezone.utc).date() - timedelta(days=10),
                          end_date=datetime.now(timezone.utc).date() + timedelta(days=300))
    for _ in range(3):  # three changes in a row: one job
        assert await health.request_health_recompute(account.id)
    queued = await redis.zrange("arq:queue", 0, -1)  # besides the account's own event job (account.created)
    assert [job for job in queued if not job.startswith(b"event:")] == [health.health_job_id(account.id).encode()]
    assert await _queued_at(redis, health.health_job_id(account.id)) is not None
    await run_worker_burst()

    # No interaction (5) + contracts 150,000 (15) + no engagement (0) + new business (25) = 45.
    assert (await Account.get(id=account.id)).health_score == 45
    snapshots = await AccountHealthSnapshot.filter(account_id=account.id)
    assert [(s.score, s.risk_level) for s in snapshots] == [(45, "medium")]

    # The id is free again once the job ran: the next change is recomputed too.
    meeting = await _record(team.rep.user, account, None)
    await run_worker_burst()
    # Engagement of one meeting without participants: 3 × (1 + sentiment / 2), rounded half up.
    engagement = int(Decimal(3 * (1 + meeting.sentiment / 2)).quantize(Decimal(1), "ROUND_HALF_UP"))
    assert (await Account.get(id=account.id)).health_score == 25 + 15 + engagement + 25
    assert await AccountHealthSnapshot.filter(account_id=account.id).count() == 2


async def test_nightly_and_changed_sweeps_queue_recomputations(team, redis):
    fresh = await factories.account(team.rep.user, "Fresh")
    await factories.account(team.rep.user, "Quiet")
    await Contract.create(account=fresh, name="Dairy", value=Decimal("1000.00"), start_date=datetime(2026, 1, 1).date(),
                          end_date=datetime(2026, 12, 31).date())
    assert await health.request_recompute_changed() == 1  # only the account whose contract changed
    assert await _queued_at(redis, health.health_job_id(fresh.id)) is not None
    assert await health.request_recompute_all() == 2
    await run_worker_burst()
    assert await AccountHealthSnapshot.all().count() == 2
