"""Sending the durable mail outbox (`MailMessage` rows) after their transactions commit.

Each message is *claimed* before it is sent: one UPDATE that succeeds for one worker
only and holds the message for a lease. The message then goes out with its key as
Message-ID and is marked sent. A worker that dies between the two leaves the claim
to expire, and another worker sends it again under the same Message-ID: nothing is
lost, and a message is never sent twice while a claim holds. A server that refuses
gets the message again later, with a growing delay.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from tortoise.expressions import Q

from backend import mail
from backend.domain import messages, notices
from backend.models import MailMessage

log = logging.getLogger("carnet")
LEASE = timedelta(minutes=10)
BATCH = 50


def as_email(row: MailMessage, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Message-ID"] = make_msgid(idstring=row.key, domain="carnet")
    message.set_content(row.body)
    return message


async def claim(row_id: int, at: datetime) -> bool:
    """True for exactly one caller while the lease runs."""
    taken = await MailMessage.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=at),
        id=row_id, sent_at__isnull=True).update(claimed_until=at + LEASE)
    return taken == 1


async def send_one(row: MailMessage, smtp_url: str, sender: str, at: datetime) -> bool:
    try:
        await mail.send(smtp_url, as_email(row, sender))
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        attempts = row.attempts + 1
        await MailMessage.filter(id=row.id).update(
            attempts=attempts, claimed_until=None, last_error=type(exc).__name__,
            next_attempt_at=at + timedelta(seconds=messages.backoff_seconds(attempts)))
        log.warning("mail %s not sent (attempt %s: %s)", row.id, attempts, type(exc).__name__)
        return False
    await MailMessage.filter(id=row.id).update(sent_at=at, attempts=row.attempts + 1,
                                               last_error="")
    log.info("mail %s sent", row.id)
    return True


async def deliver_due(smtp_url: str, sender: str, at: datetime) -> int:
    """Send what is due now; the number sent."""
    if not smtp_url:
        return 0
    due = await MailMessage.filter(sent_at__isnull=True, next_attempt_at__lte=at).order_by(
        "id").limit(BATCH)
    sent = 0
    for row in due:
        if await claim(row.id, at):
            sent += await send_one(row, smtp_url, sender, at)
    return sent


async def run_forever(settings, clock, interval: float) -> None:
    """The server's background sender (one per worker; claims keep them apart)."""
    while True:
        try:
            at = clock()
            await notices.queue_digests(at, settings.public_url)
            await deliver_due(settings.smtp_url, settings.mail_from, at)
        except Exception:  # a database hiccup must not end the loop
            log.exception("mail outbox: a pass failed")
        await asyncio.sleep(interval)
