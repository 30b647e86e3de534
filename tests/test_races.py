"""Races produce one change and one event: 20 concurrent identical calls of each state-changing
mutation (real concurrency: separate requests, each with its own pooled PostgreSQL connection) make
one change, record at most one event, and all answer the same."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app.models import Account, Contact, Contract, DomainEvent, Notification, Task, Webhook
from app.queries.visibility import scope_for
from app.services import accounts, interactions
from app.settings import get_settings
from tests import factories
from tests.servers import ApiProcess
from tests.factories import gid, pk

CALLS = 20
ERR = "errors { field message code }"


async def burst(gql, query: str, variables: dict, token: str, headers: dict | None = None) -> list[dict]:
    async def one():
        response = await gql.http.post("/graphql", json={"query": query, "variables": variables},
                                       headers={"Authorization": f"Bearer {token}", **(headers or {})})
        return response.json()

    answers = await asyncio.gather(*[one() for _ in range(CALLS)])
    assert all("errors" not in a for a in answers), [a["errors"] for a in answers if "errors" in a][:1]
    return [a["data"] for a in answers]


def updates_of(counter, table: str) -> int:
    """UPDATE statements the API sent for a table (a write that changes nothing is not sent)."""
    return sum(1 for q in counter.queries if q.lstrip().upper().startswith("UPDATE") and f'"{table}"' in q)


async def _follow_up(team) -> tuple[Task, Notification]:
    """A task and a notification for the rep, made the way production makes them: a due follow-up."""
    account = await factories.account(team.rep.user, "Harbor Grill")
    when = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    interaction = await interactions.record_interaction(await scope_for(team.rep.user), {
        "account_id": account.id, "type": "phone", "subject": "Order call", "follow_up_date": when})
    assert await interactions.run_follow_up(interaction.id, int(when.timestamp()), now=when + timedelta(seconds=1)) == "created"
    return await Task.get(account_id=account.id), await Notification.get(user_id=team.rep.user.id)


async def test_complete_task_20_times_at_once_completes_it_once_with_one_event(gql, team):
    task, _ = await _follow_up(team)
    answers = await burst(gql, f"""mutation($id: ID!) {{ completeTask(id: $id) {{
        task {{ status completedAt }} {ERR} }} }}""", {"id": gid(task)}, team.rep.token)

    assert all(a["completeTask"]["errors"] == [] for a in answers)
    assert {a["completeTask"]["task"]["status"] for a in answers} == {"COMPLETED"}
    assert len({a["completeTask"]["task"]["completedAt"] for a in answers}) == 1  # one completion, seen by all
    assert await DomainEvent.filter(kind="task.completed").count() == 1
    assert await Task.filter(status="completed").count() == 1


async def test_reopen_task_20_times_at_once_reopens_it_once_with_one_event(gql, team):
    task, _ = await _follow_up(team)
    await gql("mutation($id: ID!) { completeTask(id: $id) { errors { code } } }", {"id": gid(task)}, as_=team.rep)
    answers = await burst(gql, f"""mutation($id: ID!) {{ reopenTask(id: $id) {{
        task {{ status completedAt }} {ERR} }} }}""", {"id": gid(task)}, team.rep.token)

    assert {(a["reopenTask"]["task"]["status"], a["reopenTask"]["task"]["completedAt"]) for a in answers} == {("OPEN", None)}
    assert await DomainEvent.filter(kind="task.reopened").count() == 1
    assert (await Task.get(id=task.id)).status.value == "open"
    # Completing it again is a new change with its own event.
    again = await burst(gql, "mutation($id: ID!) { completeTask(id: $id) { task { status } } }",
                        {"id": gid(task)}, team.rep.token)
    assert {a["completeTask"]["task"]["status"] for a in again} == {"COMPLETED"}
    assert await DomainEvent.filter(kind="task.completed").count() == 2


async def test_mark_notification_read_20_times_at_once_reads_it_once(gql, team):
    _, notification = await _follow_up(team)
    answers = await burst(gql, """mutation($id: ID!) { markNotificationRead(id: $id) {
        notification { readAt } errors { code } } }""", {"id": gid(notification)}, team.rep.token)

    read_at = {a["markNotificationRead"]["notification"]["readAt"] for a in answers}
    assert len(read_at) == 1 and None not in read_at
    stored = await Notification.get(id=notification.id)
    assert stored.read_at is not None
    assert stored.read_at.isoformat().replace("+00:00", "") in next(iter(read_at)).replace("+00:00", "")


async def test_update_account_20_times_at_once_changes_it_once(gql, team, count_queries):
    account = await factories.account(team.rep.user, "Harbor Grill")
    answers = await burst(gql, f"""mutation($id: ID!) {{ updateAccount(id: $id, input: {{name: "Harbor Grill & Bar",
        tier: KEY}}) {{ account {{ name tier updatedAt }} {ERR} }} }}""", {"id": gid(account)}, team.rep.token)

    assert all(a["updateAccount"]["errors"] == [] for a in answers)
    assert {(a["updateAccount"]["account"]["name"], a["updateAccount"]["account"]["tier"]) for a in answers} \
        == {("Harbor Grill & Bar", "KEY")}
    assert len({a["updateAccount"]["account"]["updatedAt"] for a in answers}) == 1
    assert updates_of(count_queries, "accounts") == 1
    assert await Account.filter(name="Harbor Grill & Bar").count() == 1


async def test_update_contact_20_times_at_once_changes_it_once(gql, team, count_queries):
    account = await factories.account(team.rep.user, "Harbor Grill")
    contact = await accounts.create_contact(await scope_for(team.rep.user),
                                            {"account_id": account.id, "first_name": "Ana", "last_name": "Ng"})
    answers = await burst(gql, f"""mutation($id: ID!) {{ updateContact(id: $id, input: {{title: "Head chef",
        email: "Ana@HarborGrill.com"}}) {{ contact {{ title email }} {ERR} }} }}""", {"id": gid(contact)}, team.rep.token)

    assert answers[0]["updateContact"]["errors"] == []
    assert {(a["updateContact"]["contact"]["title"], a["updateContact"]["contact"]["email"]) for a in answers} \
        == {("Head chef", "ana@harborgrill.com")}
    assert updates_of(count_queries, "contacts") == 1
    assert (await Contact.get(id=contact.id)).title == "Head chef"


async def test_update_contract_20_times_at_once_changes_it_once(gql, team, count_queries):
    account = await factories.account(team.rep.user, "Harbor Grill")
    contract = await accounts.create_contract(await scope_for(team.rep.user), {
        "account_id": account.id, "name": "2026 supply", "value": "12000.00",
        "start_date": datetime(2026, 1, 1).date(), "end_date": datetime(2026, 12, 31).date()})
    answers = await burst(gql, f"""mutation($id: ID!) {{ updateContract(id: $id, input: {{value: "15000.00",
        endDate: "2027-03-31"}}) {{ contract {{ value endDate }} {ERR} }} }}""", {"id": gid(contract)}, team.rep.token)

    assert {(a["updateContract"]["contract"]["value"], a["updateContract"]["contract"]["endDate"]) for a in answers} \
        == {("15000.00", "2027-03-31")}
    assert updates_of(count_queries, "contracts") == 1
    assert str((await Contract.get(id=contract.id)).value) == "15000.00"


@pytest.fixture
def allow_local(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)


async def _webhook(gql, team) -> str:
    created = (await gql("""mutation { createWebhook(url: "http://127.0.0.1:9/hook", events: ["task.completed"]) {
        webhook { id } errors { code } } }""", as_=team.admin))["createWebhook"]
    return created["webhook"]["id"]


async def test_disable_then_enable_webhook_20_times_at_once_switches_it_once_each(gql, team, allow_local, count_queries):
    hook_id = await _webhook(gql, team)
    disabled = await burst(gql, """mutation($id: ID!) { disableWebhook(id: $id) {
        webhook { isActive disabledReason } errors { code } } }""", {"id": hook_id}, team.admin.token)
    assert {(a["disableWebhook"]["webhook"]["isActive"], a["disableWebhook"]["webhook"]["disabledReason"])
            for a in disabled} == {(False, "disabled by an admin")}
    assert updates_of(count_queries, "webhooks") == 1

    failing_since = datetime.now(timezone.utc) - timedelta(hours=1)
    await Webhook.filter(id=pk(hook_id)).update(failing_since=failing_since)
    enabled = await burst(gql, """mutation($id: ID!) { enableWebhook(id: $id) {
        webhook { isActive disabledReason failingSince } errors { code } } }""", {"id": hook_id}, team.admin.token)
    assert {(a["enableWebhook"]["webhook"]["isActive"], a["enableWebhook"]["webhook"]["disabledReason"],
             a["enableWebhook"]["webhook"]["failingSince"]) for a in enabled} == {(True, None, None)}
    assert updates_of(count_queries, "webhooks") == 3  # the test's own UPDATE and one enable


async def test_rotate_webhook_secret_retried_20_times_with_one_key_rotates_once(gql, team, allow_local):
    """Each rotation is a new secret by design; a retried rotation (same Idempotency-Key) is not."""
    hook_id = await _webhook(gql, team)
    before = (await Webhook.get(id=pk(hook_id))).secret
    query = "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret errors { code } } }"
    answers = await asyncio.gather(*[gql.http.post(
        "/graphql", json={"query": query, "variables": {"id": hook_id}},
        headers={"Authorization": f"Bearer {team.admin.token}", "Idempotency-Key": "rotate-1"}) for _ in range(CALLS)])
    secrets_returned = {a.json()["data"]["rotateWebhookSecret"]["secret"] for a in answers if a.status_code == 200}
    assert all(a.status_code in (200, 409) for a in answers)
    stored = (await Webhook.get(id=pk(hook_id))).secret
    assert secrets_returned == {stored} and stored != before


@pytest.fixture
def two_apis(database_url):
    with ApiProcess(database_url) as a, ApiProcess(database_url) as b:
        yield a, b


@pytest.mark.postgres_only  # two processes writing one SQLite file answer "database is locked"
async def test_across_two_api_processes_one_completion_and_one_run_per_key(two_apis, team):
    """The same guarantees when the concurrent calls land on different processes (real uvicorn)."""
    task, _ = await _follow_up(team)
    complete = "mutation($id: ID!) { completeTask(id: $id) { task { status completedAt } errors { code } } }"
    create = "mutation { createAccount(input: {name: \"Bayside Bistro\"}) { account { id } errors { code } } }"
    async with httpx.AsyncClient(timeout=30) as client:
        async def call(api, query, variables, key=None):
            headers = {"Authorization": f"Bearer {team.rep.token}", **({"Idempotency-Key": key} if key else {})}
            return await client.post(f"{api.http}/graphql", json={"query": query, "variables": variables},
                                     headers=headers)

        completions = await asyncio.gather(*[call(two_apis[i % 2], complete, {"id": gid(task)})
                                             for i in range(CALLS)])
        creations = await asyncio.gather(*[call(two_apis[i % 2], create, {}, key="tap-42") for i in range(CALLS)])

    completed_at = (await Task.get(id=task.id)).completed_at
    assert completed_at is not None
    assert {r.json()["data"]["completeTask"]["task"]["completedAt"] for r in completions} == {completed_at.isoformat()}
    assert await DomainEvent.filter(kind="task.completed").count() == 1
    executed = [r for r in creations if r.status_code == 200 and "idempotent-replayed" not in r.headers]
    assert len(executed) == 1
    assert all(r.status_code == 409 or r.content == executed[0].content for r in creations)
    assert await Account.filter(name="Bayside Bistro").count() == 1
