"""Outgoing mail: every message is stored first, then delivered through SMTP when one is configured.

Without SMTP_URL messages stay in the outgoing-mail table with status "stored" and are listed in the
API for admins: never silently dropped."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

import aiosmtplib

from app.models import OutgoingMail
from app.settings import get_settings

log = logging.getLogger(__name__)


class MailDeliveryFailed(RuntimeError):
    pass


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


async def deliver(mail_id: int) -> str:
    """Send one stored message if it is not sent yet; returns its status. Raises MailDeliveryFailed
    when the SMTP server fails, so the calling job is retried."""
    mail = await OutgoingMail.get(id=mail_id)
    if mail.status == "sent":
        return mail.status
    smtp_url = get_settings().smtp_url
    if not smtp_url:
        if mail.status != "stored":
            await OutgoingMail.filter(id=mail.id).update(status="stored")
        return "stored"
    url = urlparse(smtp_url)
    try:
        await aiosmtplib.send(
            build_message(mail), hostname=url.hostname, port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps", start_tls=False if url.scheme == "smtps" else None, timeout=15,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        await OutgoingMail.filter(id=mail.id).update(status="failed", error=str(exc)[:2000])
        raise MailDeliveryFailed(str(exc)) from exc
    await OutgoingMail.filter(id=mail.id).update(status="sent", error=None, sent_at=datetime.now(timezone.utc))
    return "sent"


async def deliver_pending(older_than_seconds: int = 0) -> int:
    """Retry everything not yet sent (cron); returns how many were sent."""
    if not get_settings().smtp_url:
        return 0
    cutoff = datetime.now(timezone.utc).timestamp() - older_than_seconds
    sent = 0
    for mail in await OutgoingMail.filter(status__in=["queued", "failed"]).order_by("id"):
        if mail.created_at.timestamp() > cutoff:
            continue
        try:
            sent += await deliver(mail.id) == "sent"
        except MailDeliveryFailed as exc:
            log.warning("mail %s still failing: %s", mail.id, exc)
            break
    return sent
