"""Outgoing mail is sent once in effect: a sender claims a message before speaking SMTP, so a job
retry, the catch-up cron and a re-dispatched event running at the same moment send it once; a claim
left by a sender that died lapses and the next sender sends it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from app.models import OutgoingMail
from app.services import mail
from app.settings import get_settings
from tests.smtp_server import SMTPServer


@pytest.fixture
def smtp(monkeypatch):
    with SMTPServer() as server:
        monkeypatch.setattr(get_settings(), "smtp_url", server.url)
        yield server


async def _stored(key: str = "automation:1:send_email") -> OutgoingMail:
    return await OutgoingMail.create(to_address="ana@harborgrill.example", subject="Your tasting",
                                     body="See you Tuesday.", source_key=key)


async def test_twenty_concurrent_senders_send_one_message(smtp):
    message = await _stored()
    smtp.handler.hold.clear()  # every sender arrives while the first is still talking to SMTP
    senders: list[asyncio.Task] = [asyncio.create_task(mail.deliver(message.id)) for _ in range(19)]
    senders.append(asyncio.create_task(mail.deliver_pending()))
    for _ in range(200):
        if smtp.handler.receiving.is_set():
            break
        await asyncio.sleep(0.02)
    smtp.handler.hold.set()
    outcomes = await asyncio.gather(*senders, return_exceptions=True)
    assert len(smtp.handler.messages) == 1
    # One sender sent it; the others saw it taken (and would retry later) or already sent.
    assert outcomes[:19].count("sent") == 1
    assert all(isinstance(o, mail.MailBeingSent) for o in outcomes[:19] if o != "sent")
    assert (await OutgoingMail.get(id=message.id)).status == "sent"
    # Later retries change nothing.
    assert await mail.deliver(message.id) == "sent" and await mail.deliver_pending() == 0
    assert len(smtp.handler.messages) == 1


async def test_a_claim_held_by_a_live_sender_is_left_alone(smtp):
    message = await _stored()
    await OutgoingMail.filter(id=message.id).update(
        status="sending", lease_until=datetime.now(timezone.utc) + timedelta(seconds=30))
    with pytest.raises(mail.MailBeingSent):  # the job retries later, its event stays incomplete
        await mail.deliver(message.id)
    assert await mail.deliver_pending() == 0
    assert smtp.handler.messages == []


async def test_a_claim_left_by_a_dead_sender_lapses_and_the_message_goes(smtp):
    message = await _stored()
    await OutgoingMail.filter(id=message.id).update(
        status="sending", lease_until=datetime.now(timezone.utc) - timedelta(seconds=1))
    assert await mail.deliver_pending() == 1
    assert [m["Subject"] for m in smtp.handler.messages] == ["Your tasting"]
    stored = await OutgoingMail.get(id=message.id)
    assert stored.status == "sent" and stored.lease_until is None


async def test_an_smtp_failure_releases_the_claim_for_the_retry(monkeypatch):
    with SMTPServer() as server:
        port = server.port
    monkeypatch.setattr(get_settings(), "smtp_url", f"smtp://127.0.0.1:{port}")  # nothing listens there now
    message = await _stored()
    with pytest.raises(mail.MailDeliveryFailed):
        await mail.deliver(message.id)
    failed = await OutgoingMail.get(id=message.id)
    assert failed.status == "failed" and failed.lease_until is None and failed.error
