"""The arq worker runs real jobs from real Redis against the test database."""

from datetime import date
from decimal import Decimal
from pathlib import Path

from arq import create_pool
from arq.worker import Worker

from app.domain.enums import ContractStatus
from app.models import Contract
from app.services.redis import arq_redis_settings
from tests import factories
from workers.settings import WorkerSettings, expire_contracts


async def test_expire_contracts_job_runs_through_a_real_worker(team):
    acct = await factories.account(team.rep.user)
    ended = await Contract.create(account=acct, name="2025 supply", value=Decimal("120000.00"),
                                  start_date=date(2025, 1, 1), end_date=date(2025, 12, 31))
    running = await Contract.create(account=acct, name="2026 supply", value=Decimal("150000.00"),
                                    start_date=date(2026, 1, 1), end_date=date(2099, 12, 31))
    settings = arq_redis_settings()
    redis = await create_pool(settings)
    job = await redis.enqueue_job("expire_contracts", _job_id="test-expire-contracts")
    # The ORM is already initialised by the test session, so the worker runs without its own start-up.
    worker = Worker(functions=[expire_contracts], redis_settings=settings, burst=True, poll_delay=0.05,
                    handle_signals=False, max_tries=WorkerSettings.max_tries)
    await worker.async_run()
    assert job is not None and await job.result(timeout=5) == 1
    await worker.close()
    await redis.aclose()
    assert (await Contract.get(id=ended.id)).status == ContractStatus.EXPIRED
    assert (await Contract.get(id=running.id)).status == ContractStatus.ACTIVE


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def _until(predicate, timeout: float, what: str) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_crm_worker_processes_share_the_queue_and_stop_together(database_url):
    """`crm worker --processes 3`: two more arq workers beside the first, jobs done, all gone on SIGTERM,
    and gone too when the first one is SIGKILLed (they die with it)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import TEST_REDIS_URL

    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": TEST_REDIS_URL}
    for stop in (signal.SIGTERM, signal.SIGKILL):
        parent = subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--processes", "3"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await _until(lambda pid=parent.pid: len(_children(pid)) == 2, 30, "two more worker processes")
            children = _children(parent.pid)
            redis = await create_pool(arq_redis_settings())
            jobs = [await redis.enqueue_job("expire_contracts", _job_id=f"multi-{stop}-{i}") for i in range(12)]
            for job in jobs:
                assert job is not None and await job.result(timeout=30) == 0
            # The start-up crons run once, not once per process: arq ids a run_at_startup cron by the second
            # its worker started, so processes that start in different seconds would each run it. Only
            # the first process has crons at all.
            assert all("--no-crons" in Path(f"/proc/{c}/cmdline").read_text().split("\0") for c in children)
            startup_runs = {key.rsplit(b":", 1)[1] for key in await redis.keys("arq:*cron:expire_contracts:*")}
            assert len(startup_runs) == 1, startup_runs
            await redis.flushdb()
            await redis.aclose()
            parent.send_signal(stop)
            parent.wait(30)
            await _until(lambda pids=children: not any(_alive(c) for c in pids), 30, "the other processes to stop")
        finally:
            if parent.poll() is None:
                parent.kill()
