"""The arq worker runs real jobs from real Redis against the test database."""

from datetime import date
from decimal import Decimal

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
    assert await job.result(timeout=5) == 1
    await worker.close()
    await redis.aclose()
    assert (await Contract.get(id=ended.id)).status == ContractStatus.EXPIRED
    assert (await Contract.get(id=running.id)).status == ContractStatus.ACTIVE
