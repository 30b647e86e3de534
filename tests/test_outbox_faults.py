"""Delivery guarantees under faults, with a real Redis of the test's own, real PostgreSQL/SQLite and a
real arq worker: the database decides when work is done, so Redis losing everything loses nothing,
and re-running work doubles nothing.

Each burst test counts, per deal, the automation effects expected, lost (missing) and doubled (more
than one) and prints them (run with -s to see the numbers)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.models import DomainEvent, Notification, Task
from app.services import events, queue, realtime
from app.settings import get_settings
from tests import factories
from tests.private_redis import PrivateRedis
from tests.test_automations import EVERY_ACTION, _configure
from tests.test_pipeline_gates import advance
from tests.worker_utils import run_worker_burst

# Two effects per stage entry, both without SMTP: a task for the owner and a note to the manager.
AUTOMATIONS = [EVERY_ACTION[0], EVERY_ACTION[4]]
DEALS = 60


@pytest.fixture
async def private_redis(monkeypatch):
    server = PrivateRedis()
    url = await asyncio.to_thread(server.start)
    monkeypatch.setattr(get_settings(), "redis_url", url)
    await queue.close_pool()
    await realtime.close_publisher()
    yield server
    await queue.close_pool()
    await realtime.close_publisher()
    server.close()


async def _deals(team, count: int):
    account = await factories.account(team.rep.user, "Harbor Grill")
    return [await factories.opportunity(team.rep.user, account.id, name=f"Deal {i}") for i in range(count)]


async def effect_counts(deal_ids: list[int]) -> dict[str, int]:
    """Per deal: one automation task and one manager notification expected."""
    from collections import Counter

    tasks = Counter(await Task.filter(opportunity_id__in=deal_ids, source_key__startswith="entered:")
                    .values_list("opportunity_id", flat=True))
    notes = Counter(p["opportunity_id"] for p in await Notification.filter(kind="automation.qualification")
                    .values_list("payload", flat=True))
    lost = doubled = 0
    for deal_id in deal_ids:
        for produced in (tasks[deal_id], notes[deal_id]):
            lost += produced == 0
            doubled += max(0, produced - 1)
    return {"expected": 2 * len(deal_ids), "lost": lost, "doubled": doubled}


async def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def _no_incomplete_events() -> bool:
    return not await DomainEvent.filter(completed_at__isnull=True).exists()


def _lease_expired() -> datetime:
    """A moment after every lease handed out so far has run out (instead of waiting for it)."""
    return datetime.now(timezone.utc) + timedelta(seconds=events.lease_seconds() + 1)


async def test_flushall_during_a_burst_of_stage_moves_every_automation_runs_exactly_once(gql, team, private_redis):
    await _configure("qualification", AUTOMATIONS)
    deals = await _deals(team, DEALS)
    await run_worker_burst()  # the creation events: out of the way
    for i, deal in enumerate(deals):
        if i == DEALS // 3:
            private_redis.flushall()  # Redis loses every job it had accepted so far
        moved = await advance(gql, team.rep, deal.id, "qualification")
        assert moved["errors"] == []
    await run_worker_burst()
    ids = [d.id for d in deals]
    after_first_pass = await effect_counts(ids)
    assert after_first_pass["lost"] == 2 * (DEALS // 3)  # the flushed jobs: nothing in Redis recalls them
    flushed = await DomainEvent.filter(kind="opportunity.stage_changed", completed_at__isnull=True).count()
    assert flushed == DEALS // 3
    assert await events.relay() == 0  # still under lease: the relay does not hand them over yet

    assert await events.relay(now=_lease_expired()) == flushed  # the database knows they are not done
    await run_worker_burst()
    counts = await effect_counts(ids)
    print(f"\nFLUSHALL after {DEALS // 3} of {DEALS} stage moves: {counts}")
    assert counts == {"expected": 2 * DEALS, "lost": 0, "doubled": 0}
    assert await DomainEvent.filter(completed_at__isnull=True).count() == 0

    # Running everything again (a relay that re-hands over all of it) still doubles nothing.
    await DomainEvent.all().update(completed_at=None)
    await events.relay(now=_lease_expired())
    await run_worker_burst()
    assert await effect_counts(ids) == {"expected": 2 * DEALS, "lost": 0, "doubled": 0}


def _spawn_worker(database_url: str, redis_url: str, log_path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "JOB_TIMEOUT_SECONDS": "3"}
    with open(log_path, "wb") as log:  # the worker's log, shown when the test fails
        return subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--processes", "1"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)


async def test_redis_killed_and_restarted_empty_during_a_burst_the_worker_carries_on_and_nothing_is_lost(
        gql, team, private_redis, database_url, tmp_path):
    await _configure("qualification", AUTOMATIONS)
    deals = await _deals(team, DEALS)
    ids = [d.id for d in deals]
    log_path = tmp_path / "worker.log"
    worker = _spawn_worker(database_url, private_redis.url, log_path)
    try:
        await _wait_for(lambda: _no_incomplete_events(), 120, "the worker to start and handle the creations")
        for i, deal in enumerate(deals):
            if i == DEALS // 3:
                private_redis.kill()  # the worker's connection drops; moves go on with Redis away
            if i == 2 * DEALS // 3:
                await asyncio.to_thread(private_redis.start)  # back, empty, on the same address
            moved = await advance(gql, team.rep, deal.id, "qualification")
            assert moved["errors"] == []

        async def all_done() -> bool:
            return await _no_incomplete_events() and (await effect_counts(ids))["lost"] == 0

        await _wait_for(all_done, 120, "every event to complete after Redis came back")
        assert worker.poll() is None  # the same worker process rode out the outage
        counts = await effect_counts(ids)
        print(f"\nRedis killed after {DEALS // 3} and restarted empty after {2 * DEALS // 3} of {DEALS} moves: {counts}")
        assert counts == {"expected": 2 * DEALS, "lost": 0, "doubled": 0}

        # and it keeps working: a new move after the outage is handled without any restart
        extra = (await _deals(team, 1))[0]
        assert (await advance(gql, team.rep, extra.id, "qualification"))["errors"] == []
        await _wait_for(lambda: Task.filter(opportunity_id=extra.id, source_key__startswith="entered:").exists(),
                        60, "the worker to handle a move made after the outage")
        assert worker.poll() is None
    except AssertionError:
        print(log_path.read_text()[-6000:])
        raise
    finally:
        worker.terminate()
        worker.wait(20)
