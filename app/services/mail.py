"""Outgoing mail: every message is stored first, then delivered through SMTP when one is configured.

Without SMTP_URL messages stay in the outgoing-mail table with status "stored" and are listed in the
API for admins: never silently dropped."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

import aiosmtplib
from tortoise.expressions import Q

from app.models import OutgoingMail
from app.settings import get_settings

log = logging.getLogger(__name__)


class MailDeliveryFailed(RuntimeError):
    pass


class MailBeingSent(MailDeliveryFailed):
    """Another sender holds the message's claim: retry after it lapsed (it may have been sent by then)."""


def build_message(mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = get_settings().mail_from
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Message-ID"] = f"<{mail.source_key.replace(':', '.')}@kitchenpantry.crm>"
    message.set_content(mail.body)
    if mail.ics:
        message.add_attachment(mail.ics.encode(), maintype="text", subtype="calendar",
                               filename="invite.ics", params={"method": "REQUEST"})
    return message


# A live sender gives up on SMTP after SEND_TIMEOUT; its claim lasts a little longer, so a claim
# that is still held belongs to a sender that may yet succeed, and one left by a sender that died
# lapses soon (before arq hands a killed worker's job to another: job timeout + 10 s).
SEND_TIMEOUT_SECONDS = 25.0
SEND_LEASE = timedelta(seconds=SEND_TIMEOUT_SECONDS + 5)


async def _claim(mail_id: int) -> bool:
    """Take the message for sending: one conditional UPDATE, so of two concurrent senders exactly one
    wins and the other leaves it alone."""
    now = datetime.now(timezone.utc)
    claimed = await OutgoingMail.filter(
        Q(status__in=["queued", "failed", "stored"]) | Q(status="sending", lease_until__lt=now), id=mail_id,
    ).update(status="sending", lease_until=now + SEND_LEASE)
    return claimed == 1


async def deliver(mail_id: int) -> str:
    """Send one stored message if it is not sent yet; returns its status. Raises MailDeliveryFailed
    when the SMTP server fails and MailBeingSent while another sender holds it, so the calling job is
    retried (and its event stays incomplete until the message went).

    Once in effect: the message is claimed before SMTP is spoken to, so concurrent senders never both
    send. A sender that dies after the SMTP server accepted the message but before recording it
    leaves a claim that lapses and the message is sent again, with the same Message-ID (receivers and
    mail servers drop the repeat); no protocol can close that window on SMTP's side."""
    smtp_url = get_settings().smtp_url
    if not smtp_url:
        await OutgoingMail.filter(id=mail_id, status__in=["queued", "failed"]).update(status="stored")
        return (await OutgoingMail.get(id=mail_id)).status
    if not await _claim(mail_id):
        mail = await OutgoingMail.get(id=mail_id)
        if mail.status == "sending":
            raise MailBeingSent(f"mail {mail_id} is being sent by another sender")
        return mail.status
    mail = await OutgoingMail.get(id=mail_id)
    url = urlparse(smtp_url)
    try:
        await asyncio.wait_for(aiosmtplib.send(
            build_message(mail), hostname=url.hostname, port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps", start_tls=False if url.scheme == "smtps" else None, timeout=15,
        ), SEND_TIMEOUT_SECONDS)
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
        await OutgoingMail.filter(id=mail.id).update(status="failed", error=str(exc)[:2000], lease_until=None)
        raise MailDeliveryFailed(str(exc)) from exc
    await OutgoingMail.filter(id=mail.id).update(status="sent", error=None, sent_at=datetime.now(timezone.utc),
                                                 lease_until=None)
    return "sent"


async def deliver_pending(older_than_seconds: int = 0) -> int:
    """Retry everything not yet sent (cron); returns how many were sent."""
    if not get_settings().smtp_url:
        return 0
    cutoff = datetime.now(timezone.utc).timestamp() - older_than_seconds
    sent = 0
    now = datetime.now(timezone.utc)
    due = Q(status__in=["queued", "failed"]) | Q(status="sending", lease_until__lt=now)  # a lapsed claim
    for mail in await OutgoingMail.filter(due).order_by("id"):
        if mail.created_at.timestamp() > cutoff:
            continue
        try:
            sent += await deliver(mail.id) == "sent"
        except MailBeingSent:
            continue  # its sender is at it
        except MailDeliveryFailed as exc:
            log.warning("mail %s still failing: %s", mail.id, exc)
            break
    return sent
