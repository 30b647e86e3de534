"""Signed webhooks delivered by the worker to a real HTTP receiver, with retries and redelivery."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.domain.webhooks import verify
from app.models import Notification, Webhook, WebhookDelivery
from app.services import webhooks
from app.settings import get_settings
from tests import factories
from tests.http_receiver import Receiver
from tests.test_pipeline_gates import advance
from tests.worker_utils import run_worker_burst
from tests.factories import gid, pk

CREATE = """mutation($url: String!, $events: [String!]!) { createWebhook(url: $url, events: $events, description: "ERP sync") {
  webhook { id url events isActive } secret errors { field message code } } }"""
DELIVERIES = """query($id: ID!) { webhookDeliveries(webhookId: $id) { edges { node { id status attempts responseCode
  latencyMs lastError eventId } } } }"""


@pytest.fixture
def allow_local(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)


async def _hook(gql, team, url, events=("opportunity.stage_changed", "opportunity.closed_lost")):
    created = (await gql(CREATE, {"url": url, "events": list(events)}, as_=team.admin))["createWebhook"]
    assert created["errors"] == [] and len(created["secret"]) == 64
    return created


async def test_delivery_is_signed_and_recorded(gql, team, allow_local):
    with Receiver() as receiver:
        created = await _hook(gql, team, receiver.url)
        opp = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
        await advance(gql, team.rep, opp.id, "closed_lost", data={"lostReasonKey": "price"})
        await run_worker_burst()
        # Subscribed to both: the stage change and the close, two deliveries of two events.
        assert len(receiver.received) == 2
        documents = {}
        for hit in receiver.received:
            timestamp = int(hit.headers["x-crm-timestamp"])
            assert verify(created["secret"], timestamp, hit.body, hit.headers["x-crm-signature"], now=int(time.time()))
            assert not verify("wrong-secret", timestamp, hit.body, hit.headers["x-crm-signature"], now=int(time.time()))
            document = json.loads(hit.body)
            assert hit.headers["x-crm-event"] == document["type"]
            documents[document["type"]] = document
        assert set(documents) == {"opportunity.stage_changed", "opportunity.closed_lost"}
        moved, closed = documents["opportunity.stage_changed"]["data"], documents["opportunity.closed_lost"]["data"]
        assert (moved["fromStage"], moved["toStage"]) == ("discovery", "closed_lost")
        assert moved["opportunity"]["id"] == gid(opp) and moved["opportunity"]["stage"] == "closed_lost"
        assert moved["previous"]["stage"] == "discovery" and moved["opportunity"]["lostReasonKey"] == "price"
        assert closed["opportunity"] == moved["opportunity"] and closed["transition"] == moved["transition"]
        rows = (await gql(DELIVERIES, {"id": created["webhook"]["id"]}, as_=team.admin))["webhookDeliveries"]["edges"]
        assert sorted((r["node"]["status"], r["node"]["attempts"], r["node"]["responseCode"]) for r in rows) == \
            [("delivered", 1, 200)] * 2
        assert rows[0]["node"]["latencyMs"] is not None


async def test_a_close_reaches_each_name_on_its_own(gql, team, allow_local):
    with Receiver() as moves, Receiver() as wins:
        await _hook(gql, team, moves.url, ["opportunity.stage_changed"])
        await _hook(gql, team, wins.url, ["opportunity.closed_lost"])
        opp = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
        await advance(gql, team.rep, opp.id, "closed_lost", data={"lostReasonKey": "price"})
        await run_worker_burst()
        assert [json.loads(hit.body)["type"] for hit in moves.received] == ["opportunity.stage_changed"]
        assert [json.loads(hit.body)["type"] for hit in wins.received] == ["opportunity.closed_lost"]


async def test_retry_after_failure_then_redelivery(gql, team, allow_local, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_first_retry_seconds", 1.0)  # instead of 30 s
    with Receiver(statuses=[500, 502]) as receiver:
        created = await _hook(gql, team, receiver.url, ["opportunity.updated"])
        opp = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
        await gql("""mutation($id: ID!) { updateOpportunity(id: $id, input: {nextStep: "tasting"}) { errors { code } } }""",
                  {"id": gid(opp)}, as_=team.rep)
        started = time.monotonic()
        await run_worker_burst()  # burst mode also waits for the deferred retries
        delivery = await WebhookDelivery.get(webhook_id=pk(created["webhook"]["id"]))
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 3, 200)
        assert time.monotonic() - started >= 3  # backoff: 1 s, then 2 s
        first, second, third = receiver.received
        assert first.body == second.body == third.body  # the same event and id: receivers can deduplicate
        assert first.headers["x-crm-signature"] != "" and second.headers["x-crm-delivery"] == gid(delivery)
        data = json.loads(first.body)["data"]
        assert data["previous"] == {"nextStep": ""} and data["opportunity"]["nextStep"] == "tasting"

        again = (await gql("""mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { status } errors { code } } }""",
                           {"id": gid(delivery)}, as_=team.admin))["redeliverWebhook"]
        assert again == {"delivery": {"status": "pending"}, "errors": []}
        await run_worker_burst()
        assert len(receiver.received) == 4
        assert (await WebhookDelivery.get(id=delivery.id)).attempts == 4


async def test_due_attempts_are_requeued_by_the_sweep(gql, team, allow_local):
    with Receiver() as receiver:
        created = await _hook(gql, team, receiver.url, ["opportunity.updated"])
        opp = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
        from app.models import DomainEvent

        event = await DomainEvent.get(kind="opportunity.created", opportunity_id=opp.id)
        # a delivery whose queued job was lost (e.g. with Redis)
        await WebhookDelivery.create(webhook_id=pk(created["webhook"]["id"]), event_id=event.id, status="retrying",
                                     attempts=1, next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1))
        assert await webhooks.sweep_due() == 1
        await run_worker_burst()
        assert len(receiver.received) == 1


async def test_failing_endpoint_is_disabled_and_admins_told(gql, team, allow_local, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_first_retry_seconds", 0.5)
    with Receiver(statuses=[503]) as receiver:
        created = await _hook(gql, team, receiver.url, ["opportunity.updated"])
        hook_id = pk(created["webhook"]["id"])
        await Webhook.filter(id=hook_id).update(failing_since=datetime.now(timezone.utc) - timedelta(hours=25))
        opp = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
        await gql("""mutation($id: ID!) { updateOpportunity(id: $id, input: {nextStep: "x"}) { errors { code } } }""",
                  {"id": gid(opp)}, as_=team.rep)
        await run_worker_burst()
        hook = await Webhook.get(id=hook_id)
        assert hook.is_active is False and hook.disabled_reason is not None and "failed since" in hook.disabled_reason
        assert (await WebhookDelivery.get(webhook_id=hook_id)).status == "cancelled"  # no retries to a disabled hook
        assert await Notification.filter(user_id=team.admin.user.id, kind="webhook.disabled").count() == 1


async def test_url_validation_refuses_ssrf_targets(gql, team):
    for url, reason in [("ftp://example.com/x", "http"), ("http://127.0.0.1:8080/x", "loopback"),
                        ("http://169.254.169.254/latest/meta-data", "link-local"), ("http://10.1.2.3/h", "private"),
                        ("http://[::1]/h", "loopback")]:
        result = (await gql(CREATE, {"url": url, "events": ["opportunity.updated"]}, as_=team.admin))["createWebhook"]
        assert result["webhook"] is None and result["secret"] is None
        assert result["errors"][0]["field"] == "url" and reason in result["errors"][0]["message"], (url, result)
    unknown = (await gql(CREATE, {"url": "https://93.184.215.14/h", "events": ["opportunity.exploded"]}, as_=team.admin))
    assert [e["field"] for e in unknown["createWebhook"]["errors"]] == ["events"]
    denied = await gql.raw(CREATE, {"url": "https://93.184.215.14/h", "events": ["opportunity.updated"]}, token=team.manager.token)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await Webhook.all().count() == 0


async def test_rotate_secret_and_disable(gql, team, allow_local):
    created = await _hook(gql, team, "http://127.0.0.1:9/none")
    rotated = (await gql("""mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret errors { code } } }""",
                         {"id": created["webhook"]["id"]}, as_=team.admin))["rotateWebhookSecret"]
    assert rotated["errors"] == [] and rotated["secret"] != created["secret"]
    assert (await Webhook.get(id=pk(created["webhook"]["id"]))).secret == rotated["secret"]
    disabled = (await gql("""mutation($id: ID!) { disableWebhook(id: $id) { webhook { isActive } } }""",
                          {"id": created["webhook"]["id"]}, as_=team.admin))["disableWebhook"]
    assert disabled["webhook"]["isActive"] is False
    listed = (await gql("{ webhooks { url isActive } }", as_=team.admin))["webhooks"]
    assert listed == [{"url": "http://127.0.0.1:9/none", "isActive": False}]
