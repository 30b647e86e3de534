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
from typing import cast

import pytest

from app.models import DomainEvent, Notification, Task
from app.services import events, queue, realtime
from app.settings import get_settings
from tests import factories
from tests.conftest import TEST_BACKEND
from tests.private_redis import PrivateRedis
from tests.test_automations import EVERY_ACTION, _configure
from tests.test_automations import _only_the_automations_each_test_configures  # noqa: F401 (autouse fixture)
from tests.test_pipeline_gates import advance
from tests.worker_utils import run_worker_burst
from workers.events import process_event
from tests.factories import gid

# Two effects per stage entry, both without SMTP: a task for the owner and a note to the manager.
AUTOMATIONS = [EVERY_ACTION[0], EVERY_ACTION[4]]
DEALS = 60
SQLITE = TEST_BACKEND == "sqlite"


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
    deals = [await factories.opportunity(team.rep.user, account.id, name=f"Deal {i}") for i in range(count)]
    for deal in deals:
        await factories.ready_to_leave_discovery(deal)
    return deals


async def effect_counts(deal_ids: list[int]) -> dict[str, int]:
    """Per deal: one automation task and one manager notification expected."""
    from collections import Counter

    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the values themselves.
    tasks = Counter(cast("list[int]", await Task.filter(opportunity_id__in=deal_ids, source_key__startswith="entered:")
                         .values_list("opportunity_id", flat=True)))
    payloads = cast("list[dict]", await Notification.filter(kind="automation.qualification").values_list("payload", flat=True))
    notes = Counter(p["opportunity_id"] for p in payloads)
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
    # A job that overruns its timeout fails and is handed over again after its lease (2 × timeout + 30 s):
    # correct, but slow on a loaded machine, so these workers get room.
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "JOB_TIMEOUT_SECONDS": "10"}
    with open(log_path, "wb") as log:  # the worker's log, shown when the test fails
        return subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--processes", "1"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)


# Passes on its own (46 s: 120 expected / 0 lost / 0 doubled), but timed out inside two full PostgreSQL
# runs: run it alone with CRM_RUN_LIVE_REDIS_OUTAGE=1 until the cause is found (issue 13, open).
@pytest.mark.skipif(os.environ.get("CRM_RUN_LIVE_REDIS_OUTAGE") != "1",
                    reason="timed out inside the full suite; run alone with CRM_RUN_LIVE_REDIS_OUTAGE=1 (issue 13)")
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
            if SQLITE and i < DEALS // 3:
                continue  # (see below) these move at the end
            if i == DEALS // 3:
                private_redis.kill()  # the worker's connection drops; moves go on with Redis away
            if i == 2 * DEALS // 3:
                await asyncio.to_thread(private_redis.start)  # back, empty, on the same address
                if SQLITE:
                    break
            moved = await advance(gql, team.rep, deal.id, "qualification")
            assert moved["errors"] == []
        if SQLITE:
            # SQLite takes one writer at a time, and two deferred transactions that both read then
            # write can refuse each other ("database is locked"): there the API does not write while
            # the worker works, so the deals move while Redis is away (the worker idle) and the rest
            # after the worker caught up. (Events Redis accepted and then lost: the FLUSHALL test.)
            await _wait_for(_no_incomplete_events, 120, "the moves made while Redis was away")
            for deal in deals[:DEALS // 3] + deals[2 * DEALS // 3:]:
                assert (await advance(gql, team.rep, deal.id, "qualification"))["errors"] == []
                await _wait_for(_no_incomplete_events, 60, "the move to be handled")

        async def all_done() -> bool:
            return await _no_incomplete_events() and (await effect_counts(ids))["lost"] == 0

        await _wait_for(all_done, 300, "every event to complete after Redis came back")
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


# Webhook retries ---------------------------------------------------------------------------------

UPDATE_STEP = """mutation($id: ID!, $s: String) { updateOpportunity(id: $id, input: {nextStep: $s}) { errors { code } } }"""
CREATE_HOOK = """mutation($url: String!) { createWebhook(url: $url, events: ["opportunity.updated"]) {
  webhook { id } errors { code } } }"""


async def test_redis_lost_during_webhook_retries_every_delivery_arrives_once(gql, team, private_redis, monkeypatch):
    from app.services import webhooks
    from app.models import WebhookDelivery
    from tests.http_receiver import Receiver

    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)
    monkeypatch.setattr(get_settings(), "webhook_first_retry_seconds", 600.0)
    deals = await _deals(team, 4)
    await run_worker_burst()
    with Receiver(statuses=[500] * 4) as receiver:  # every first attempt fails: each gets a retry job
        assert (await gql(CREATE_HOOK, {"url": receiver.url}, as_=team.admin))["createWebhook"]["errors"] == []
        for deal in deals:
            assert (await gql(UPDATE_STEP, {"id": gid(deal), "s": "tasting"}, as_=team.rep))["updateOpportunity"] \
                == {"errors": []}
        # The worker's first steps, run here one by one: each event fans out, each first attempt fails
        # and leaves its retry as a deferred job in Redis.
        for event_id in cast("list[int]", await DomainEvent.filter(kind="opportunity.updated").values_list("id", flat=True)):
            await process_event({}, event_id)
        for delivery_id in cast("list[int]", await WebhookDelivery.all().values_list("id", flat=True)):
            assert await webhooks.deliver(delivery_id) == "retrying"
        assert len(receiver.received) == 4
        assert await WebhookDelivery.filter(status="retrying").count() == 4

        private_redis.kill()  # the deferred retries are gone with it
        # time passes: the retries fall due while Redis is away
        await WebhookDelivery.all().update(next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1))
        await webhooks.sweep_due()  # cannot queue anything now; nothing is marked done either
        assert await WebhookDelivery.filter(status="retrying").count() == 4
        await asyncio.to_thread(private_redis.start)  # back, empty

        assert await webhooks.sweep_due() == 4  # the database knows what is due
        await webhooks.sweep_due()  # a second sweep queues the same attempts (same job ids): no double
        await run_worker_burst()
        assert await WebhookDelivery.filter(status="delivered", attempts=2).count() == 4
        per_delivery: dict[str, int] = {}
        for hit in receiver.received:
            per_delivery[hit.headers["x-crm-delivery"]] = per_delivery.get(hit.headers["x-crm-delivery"], 0) + 1
        counts = {"expected": 4, "lost": sum(1 for n in per_delivery.values() if n < 2),
                  "doubled": sum(n - 2 for n in per_delivery.values() if n > 2)}
        print(f"\nRedis lost during webhook retries (deliveries): {counts}")
        assert len(per_delivery) == 4 and counts == {"expected": 4, "lost": 0, "doubled": 0}

        await webhooks.sweep_due()
        await run_worker_burst()
        assert len(receiver.received) == 8  # nothing further was due


async def test_two_jobs_for_one_due_attempt_post_it_once(gql, team, private_redis, monkeypatch):
    from app.services import webhooks
    from app.models import WebhookDelivery
    from tests.http_receiver import Receiver

    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)
    deal = (await _deals(team, 1))[0]
    await run_worker_burst()
    with Receiver() as receiver:
        assert (await gql(CREATE_HOOK, {"url": receiver.url}, as_=team.admin))["createWebhook"]["errors"] == []
        await gql(UPDATE_STEP, {"id": gid(deal), "s": "tasting"}, as_=team.rep)
        event_id = cast("int", await DomainEvent.get(kind="opportunity.updated").values_list("id", flat=True))
        await process_event({}, event_id)  # the worker's step: its delivery job now waits in Redis
        delivery = await WebhookDelivery.get()
        # the queued job, the sweep's and an in-process attempt all race for the same attempt
        results = await asyncio.gather(webhooks.deliver(delivery.id), webhooks.deliver(delivery.id))
        assert sorted(results) == ["busy", "delivered"]
        await webhooks.sweep_due()
        await run_worker_burst()
        assert len(receiver.received) == 1
        assert (await WebhookDelivery.get(id=delivery.id)).attempts == 1


# Follow-ups ----------------------------------------------------------------------------------------


async def test_redis_down_or_flushed_around_follow_ups_each_follow_up_happens_once(team, private_redis):
    from app.models import CustomerInteraction
    from app.queries.visibility import scope_for
    from app.services import interactions

    account = await factories.account(team.rep.user, "Harbor Grill")
    scope = await scope_for(team.rep.user)
    when = (datetime.now(timezone.utc) + timedelta(minutes=5)).replace(microsecond=0)

    async def record(subject: str) -> CustomerInteraction:
        return await interactions.record_interaction(scope, {
            "account_id": account.id, "type": "meeting", "subject": subject, "description": "Chef wants pricing",
            "follow_up_date": when})

    accepted = await record("queued, then flushed")  # Redis takes the deferred job…
    private_redis.flushall()  # …and loses it
    private_redis.kill()
    refused = await record("recorded while Redis is down")  # the job cannot even be queued
    await asyncio.to_thread(private_redis.start)

    later = when + timedelta(seconds=1)
    assert await interactions.catch_up_follow_ups(now=later) == 2  # the database knows both are due
    assert await interactions.catch_up_follow_ups(now=later) == 0  # and that they are done
    for interaction in (accepted, refused):  # a job that survived somewhere runs late: nothing doubles
        assert await interactions.run_follow_up(interaction.id, int(when.timestamp()), later) == "already_done"
    await run_worker_burst()
    produced = [await Task.filter(source_key=interactions.follow_up_key(i.id, when)).count() for i in (accepted, refused)]
    notes = [await Notification.filter(source_key=interactions.follow_up_key(i.id, when)).count()
             for i in (accepted, refused)]
    counts = {"expected": 4, "lost": sum(n == 0 for n in produced + notes),
              "doubled": sum(max(0, n - 1) for n in produced + notes)}
    print(f"\nRedis flushed / down around follow-ups (tasks + notifications): {counts}")
    assert counts == {"expected": 4, "lost": 0, "doubled": 0}


# The API while Redis is away -----------------------------------------------------------------------

LIST = "{ opportunities(first: 10) { edges { node { id name nextStep } } } }"


async def test_the_api_answers_reads_and_writes_while_redis_is_down_and_readyz_names_it(gql, team, private_redis):
    deal = (await _deals(team, 1))[0]
    private_redis.kill()
    ready = await gql.http.get("/readyz")
    assert ready.status_code == 200  # still in rotation: reads and writes work
    assert ready.json() == {"status": "degraded", "down": ["redis"],
                            "checks": {"database": "ok", "redis": "error: unreachable"}}
    listed = await gql(LIST, as_=team.rep)
    assert [edge["node"]["name"] for edge in listed["opportunities"]["edges"]] == [deal.name]
    assert (await gql(UPDATE_STEP, {"id": gid(deal), "s": "tasting"}, as_=team.rep))["updateOpportunity"] \
        == {"errors": []}
    waiting = await DomainEvent.get(kind="opportunity.updated", opportunity_id=deal.id)
    assert waiting.dispatched_at is None and waiting.completed_at is None  # kept in the outbox

    await asyncio.to_thread(private_redis.start)
    ready = await gql.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready" and ready.json()["down"] == []
    assert await events.relay() >= 1
    await run_worker_burst()
    assert (await DomainEvent.get(id=waiting.id)).completed_at is not None


# Health and forecast recomputations --------------------------------------------------------------


async def test_recomputations_lost_with_redis_are_owed_by_the_database_and_made_up_once(gql, team, private_redis,
                                                                                         monkeypatch):
    from app.models import AccountHealthSnapshot, ForecastSnapshot
    from app.services import forecasts, health

    monkeypatch.setattr(health, "DEBOUNCE_SECONDS", 0.2)
    monkeypatch.setattr(forecasts, "DEBOUNCE_SECONDS", 0.2)
    deal = (await _deals(team, 1))[0]
    await gql("""mutation($id: ID!) { updateOpportunity(id: $id, input: {value: "7500.00"}) { errors { code } } }""",
              {"id": gid(deal)}, as_=team.rep)
    for event_id in cast("list[int]", await DomainEvent.filter(completed_at__isnull=True).values_list("id", flat=True)):
        await process_event({}, event_id)  # the reactions request both recomputations (debounced jobs)
    private_redis.flushall()  # and Redis loses them
    await queue.close_pool()  # what this process knew of the queue goes too (it expires with the debounce)
    assert await AccountHealthSnapshot.all().count() == 0 and await ForecastSnapshot.all().count() == 0

    assert await health.request_recompute_changed() == 1  # the account changed after its last snapshot
    assert await forecasts.request_owed_recompute() == 2  # both snapshot periods are behind the change
    await run_worker_burst()
    assert await AccountHealthSnapshot.filter(account_id=deal.account_id).count() == 1
    periods = await ForecastSnapshot.all().values_list("period", flat=True)
    assert len(set(periods)) == 2 and len(periods) == 2 * len(forecasts.ForecastMethod)
    # owed no more
    assert await health.request_recompute_changed() == 0
    assert await forecasts.request_owed_recompute() == 0


# PostgreSQL going away ---------------------------------------------------------------------------------


@pytest.mark.postgres_only
async def test_postgres_restart_the_api_and_the_worker_carry_on_without_a_restart(private_redis, tmp_path):
    import httpx

    from tests.private_postgres import PrivatePostgres
    from tests.servers import ApiProcess

    pg = PrivatePostgres()
    worker = None
    log_path = tmp_path / "worker.log"
    try:
        url = await asyncio.to_thread(pg.start)
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": private_redis.url, "CRM_PASSWORD": "correct-horse-1"}
        for command in (["migrate"], ["create-user", "admin@pantry.example", "--role", "admin"]):
            done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "app.cli", *command], env=env,
                                           capture_output=True, timeout=120)
            assert done.returncode == 0, done.stderr
        worker = _spawn_worker(url, private_redis.url, log_path)
        with ApiProcess(url, start_timeout=120, REDIS_URL=private_redis.url) as api:
            async with httpx.AsyncClient(base_url=api.http, timeout=15) as client:
                async def call(query: str, variables: dict | None = None, token: str | None = None) -> dict:
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    response = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                                                 headers=headers)
                    return response.json()

                login = await call("""mutation { login(email: "admin@pantry.example", password: "correct-horse-1") {
                    token errors { code } } }""")
                token = login["data"]["login"]["token"]
                account = await call("""mutation { createAccount(input: {name: "Harbor Grill"}) {
                    account { id } errors { code } } }""", token=token)
                account_id = account["data"]["createAccount"]["account"]["id"]

                await asyncio.to_thread(pg.stop)
                ready = await client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["down"] == ["database"]
                await asyncio.to_thread(pg.start)

                async def recovered() -> bool:
                    ready = await client.get("/readyz")
                    return ready.status_code == 200 and ready.json()["status"] == "ready"

                await _wait_for(recovered, 60, "the API to see the database again")

                async def writes() -> bool:  # a pooled connection that died with the server fails once
                    created = await call("""mutation($a: ID!) { createOpportunity(input: {name: "Weekly produce",
                        accountId: $a, expectedCloseDate: "2099-01-31"}) { opportunity { id } errors { code } } }""",
                                         {"a": account_id}, token)
                    return (created.get("data") or {}).get("createOpportunity", {}).get("opportunity") is not None

                await _wait_for(writes, 60, "a write to succeed after the restart")
                listed = await call("{ opportunities(first: 5) { edges { node { name } } } }", token=token)
                assert [e["node"]["name"] for e in listed["data"]["opportunities"]["edges"]] == ["Weekly produce"]

                import asyncpg

                async def event_completed() -> bool:
                    conn = await asyncpg.connect(url)
                    try:
                        return bool(await conn.fetchval(
                            "SELECT count(*) FROM domain_events WHERE kind = 'opportunity.created' "
                            "AND completed_at IS NOT NULL"))
                    finally:
                        await conn.close()

                await _wait_for(event_completed, 90, "the worker to handle the new deal's event")
                assert worker is not None and api.proc is not None
                assert worker.poll() is None and api.proc.poll() is None  # neither was restarted
    except AssertionError:
        if log_path.exists():
            print(log_path.read_text()[-6000:])
        raise
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(20)
        await asyncio.to_thread(pg.close)
