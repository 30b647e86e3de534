"""Faults: Redis down during a mutation, a worker SIGKILLed mid-job. Nothing lost, nothing twice."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from app.models import DomainEvent, OutgoingMail, Task
from app.runtime import EmbeddedRedis
from app.services import queue
from app.settings import get_settings
from tests.conftest import TEST_REDIS_URL
from tests.smtp_server import SMTPServer
from tests.test_automations import EVERY_ACTION, _configure, _deal
from tests.test_automations import _only_the_automations_each_test_configures  # noqa: F401 (autouse fixture)
from tests.test_pipeline_gates import advance
from tests.worker_utils import run_worker_burst


@pytest.fixture
async def private_redis(monkeypatch):
    """A Redis server of this test's own, so it can be stopped without touching anyone else's."""
    servers: list[EmbeddedRedis] = []

    async def start() -> str:
        server = EmbeddedRedis()
        servers.append(server)
        url = await asyncio.to_thread(server.start)
        monkeypatch.setattr(get_settings(), "redis_url", url)
        await queue.close_pool()
        return url

    yield start, servers
    for server in servers:
        if server.proc and server.proc.poll() is None:
            server.stop()
    await queue.close_pool()


async def test_redis_down_during_the_mutation_delays_but_never_loses_the_automation(gql, team, private_redis):
    start, servers = private_redis
    await _configure("qualification", [EVERY_ACTION[0]])
    opp = await _deal(team)
    await start()
    servers[-1].stop()  # Redis goes away right before the stage change

    started = time.monotonic()
    moved = await advance(gql, team.rep, opp.id, "qualification")
    assert moved["errors"] == [] and moved["opportunity"]["stage"] == "qualification"
    assert time.monotonic() - started < 10
    event = await DomainEvent.get(kind="opportunity.stage_changed", opportunity_id=opp.id)
    assert event.dispatched_at is None  # waiting in the outbox

    await start()  # Redis is back: the relay (start-up and cron) delivers what waited
    await queue.enqueue("relay_outbox", job_id="relay-now")
    await run_worker_burst()
    assert (await DomainEvent.get(id=event.id)).dispatched_at is not None
    assert await Task.filter(opportunity_id=opp.id).count() == 1
    # a second relay run finds nothing to do and the task is still single
    await queue.enqueue("relay_outbox", job_id="relay-again")
    await run_worker_burst()
    assert await Task.filter(opportunity_id=opp.id).count() == 1


def _spawn_worker(database_url: str, smtp_url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": TEST_REDIS_URL, "SMTP_URL": smtp_url,
           "JOB_TIMEOUT_SECONDS": "3"}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--processes", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_worker_killed_mid_job_still_delivers_each_effect_exactly_once(gql, team, database_url):
    await _configure("qualification", [EVERY_ACTION[0], EVERY_ACTION[1]])
    opp = await _deal(team)
    with SMTPServer() as smtp:
        smtp.handler.hold.clear()  # the SMTP server stalls: the worker will be stuck mid-job
        first = _spawn_worker(database_url, smtp.url)
        try:
            await advance(gql, team.rep, opp.id, "qualification")
            await _wait_for(lambda: asyncio.to_thread(smtp.handler.receiving.wait, 0.1), 30, "the worker to start sending")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        smtp.handler.hold.set()
        assert await Task.filter(opportunity_id=opp.id).count() == 1
        assert (await OutgoingMail.get(opportunity_id=opp.id)).status != "sent"

        second = _spawn_worker(database_url, smtp.url)
        try:
            # arq hands the job to another worker once the dead one's in-progress key expires (timeout + 10 s)
            await _wait_for(lambda: OutgoingMail.filter(opportunity_id=opp.id, status="sent").exists(), 60,
                            "the retried job to send the mail")
            # and the database records the event as done once its reactions committed
            await _wait_for(lambda: DomainEvent.filter(kind="opportunity.stage_changed", opportunity_id=opp.id,
                                                       completed_at__isnull=False).exists(), 60, "the event to complete")
        finally:
            second.terminate()
            second.wait(15)
        assert len(smtp.handler.messages) == 1
        assert await Task.filter(opportunity_id=opp.id).count() == 1
        assert await OutgoingMail.filter(opportunity_id=opp.id).count() == 1
