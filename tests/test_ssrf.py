"""Webhook targets: only globally routable destinations, at registration and again at delivery, with
every IPv6 form that leads to a private IPv4 address unwrapped."""

from __future__ import annotations

import httpx
from datetime import datetime, timezone

import pytest

from app.domain.webhooks import address_refusal
from app.models import DomainEvent, Webhook, WebhookDelivery
from app.services import webhooks
from app.settings import get_settings
from tests import factories
from tests.http_receiver import Receiver
from tests.test_webhooks import CREATE

# (host as written in a URL, what it is)
REFUSED_HOSTS = [
    ("100.100.100.200", "shared address space: cloud metadata"),
    ("100.64.0.1", "shared address space: carrier-grade NAT"),
    ("127.0.0.1", "loopback"),
    ("10.1.2.3", "private"),
    ("169.254.169.254", "link-local metadata"),
    ("0.0.0.0", "unspecified"),
    ("2130706433", "127.0.0.1 written as a number"),
    ("[::1]", "IPv6 loopback"),
    ("[fe80::1]", "IPv6 link-local"),
    ("[fd00::1]", "IPv6 unique local"),
    ("[::ffff:127.0.0.1]", "IPv4-mapped loopback"),
    ("[::ffff:10.0.0.1]", "IPv4-mapped private"),
    ("[2002:7f00:1::1]", "6to4 of 127.0.0.1"),
    ("[2002:a9fe:a9fe::1]", "6to4 of 169.254.169.254"),
    ("[2002:6464:64c8::1]", "6to4 of 100.100.100.200"),
    ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "Teredo"),
    ("[64:ff9b::7f00:1]", "NAT64 of 127.0.0.1"),
    ("[64:ff9b::a9fe:a9fe]", "NAT64 of 169.254.169.254"),
    ("[64:ff9b::6464:64c8]", "NAT64 of 100.100.100.200"),
    ("[64:ff9b:1::a00:1]", "local-use NAT64"),
    ("[::127.0.0.1]", "IPv4-compatible loopback"),
    ("localhost", "a name that resolves to loopback"),
]


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1",
                                     "64:ff9b::808:808"])
def test_globally_routable_addresses_pass(address):
    assert address_refusal(address) is None


async def test_every_private_form_is_refused_at_registration(gql, team):
    for host, what in REFUSED_HOSTS:
        body = await gql.raw(CREATE, {"url": f"http://{host}/hooks", "events": ["opportunity.updated"]},
                             token=team.admin.token)
        payload = body["data"]["createWebhook"]
        assert payload["webhook"] is None and payload["secret"] is None, what
        assert [e["field"] for e in payload["errors"]] == ["url"], (what, payload["errors"])
        assert "not allowed" in payload["errors"][0]["message"], (what, payload["errors"])
    assert await Webhook.all().count() == 0


async def _pending_delivery(team, url: str) -> WebhookDelivery:
    """A webhook stored while its name still pointed somewhere public (or before this rule existed)."""
    opp = await factories.opportunity(team.rep.user, (await factories.account(team.rep.user)).id)
    event = await DomainEvent.get(kind="opportunity.created", opportunity_id=opp.id)
    hook = await Webhook.create(url=url, events=["opportunity.created"], secret="s" * 64, created_by=team.admin.user)
    return await WebhookDelivery.create(webhook_id=hook.id, event_id=event.id, status="pending")


async def test_every_private_form_is_refused_again_at_delivery(team):
    for host, what in REFUSED_HOSTS:
        delivery = await _pending_delivery(team, f"http://{host}/hooks")
        assert await webhooks.deliver(delivery.id) == "retrying", what
        stored = await WebhookDelivery.get(id=delivery.id)
        assert stored.last_error.startswith("refused target:") and stored.response_code is None, what


async def test_a_name_that_resolves_to_a_private_address_at_delivery_reaches_nothing(team, monkeypatch):
    with Receiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "localhost")
        delivery = await _pending_delivery(team, url)
        assert await webhooks.deliver(delivery.id) == "retrying"
        assert receiver.received == []
        assert "loopback" in (await WebhookDelivery.get(id=delivery.id)).last_error
        # the same target with private networks allowed (development): delivered
        monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)
        # due again now (the refused attempt scheduled a retry) and not leased
        await WebhookDelivery.filter(id=delivery.id).update(status="pending", next_attempt_at=datetime.now(timezone.utc),
                                                            lease_until=None)
        assert await webhooks.deliver(delivery.id) == "delivered"
        assert len(receiver.received) == 1


async def test_delivery_connects_to_the_checked_address_not_a_second_lookup():
    """The request goes to the address the guard approved; the name is only the Host header (and the
    TLS server name), so a DNS answer that changes after the check is never used."""
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        target, host, extensions = webhooks.pinned_request(f"http://rebind.invalid:{port}/hooks/crm", "127.0.0.1")
        assert target == f"http://127.0.0.1:{port}/hooks/crm" and extensions == {}
        async with httpx.AsyncClient() as client:
            response = await client.post(target, content=b"{}", headers=host, extensions=extensions)
        assert response.status_code == 200
        assert receiver.received[0].headers["host"] == f"rebind.invalid:{port}"
    _, _, tls = webhooks.pinned_request("https://hooks.example.com/x", "2606:4700::1111")
    assert tls == {"sni_hostname": "hooks.example.com"}
