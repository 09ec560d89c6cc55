"""Notices reach their people in the app, and by mail exactly once: through an SMTP
outage, a worker that dies after claiming a message, two workers at once, and a
real SMTP server (aiosmtpd, in this process) that speaks STARTTLS or refuses first."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from contextlib import contextmanager
from datetime import timedelta

import pytest
import trustme
from aiosmtpd.controller import Controller
from tortoise.transactions import in_transaction

from backend import mailer
from backend.auth import utcnow
from backend.domain import notices
from backend.models import MailMessage, Notice
from tests import factories as f

SENDER = "branche@example.test"


class Inbox:
    """An aiosmtpd handler that keeps each message; it can refuse the first ones."""

    def __init__(self, refuse_first: int = 0):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse_first = refuse_first

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_first > 0:
            self.refuse_first -= 1
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(inbox: Inbox, **kwargs):
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


async def tell(event="decision.published", people=(), **params):
    base = {"candidate": "Léa Martin", "block": "BC01", "outcome": "validé",
            "date": "12/03/2027"}
    async with in_transaction() as conn:
        return await notices.notify(conn, event=event, person_ids=[p.id for p in people],
                                    params={**base, **params}, link="/enrolments/1/outcome",
                                    at=utcnow(), base_url="https://carnet.example")


async def test_a_notice_shows_in_the_app_with_an_unread_count_until_read(client):
    who = await f.person()
    await tell(people=[who, who])  # listed twice, told once
    await f.login(client, who)
    home = await client.get("/notices")
    assert "Avis (1 nouveau)" in home.text
    assert "Le jury a rendu sa décision pour le bloc BC01 de Léa Martin : validé." in home.text
    assert (await client.post("/notices", data={})).status_code == 303
    assert "nouveau" not in (await client.get("/notices")).text


async def test_mail_waits_through_an_smtp_outage_then_goes_exactly_once(db):
    who = await f.person()
    await tell(people=[who])
    start = utcnow()
    port = free_port()  # nothing listens there
    assert await mailer.deliver_due(f"smtp://127.0.0.1:{port}", SENDER, start) == 0
    row = await MailMessage.get()
    assert row.sent_at is None and row.attempts == 1 and row.next_attempt_at > start
    inbox = Inbox()
    with smtp_server(inbox) as url:
        assert await mailer.deliver_due(url, SENDER, start) == 0  # not due yet: backoff
        later = start + timedelta(minutes=2)
        assert await mailer.deliver_due(url, SENDER, later) == 1
        assert await mailer.deliver_due(url, SENDER, later + timedelta(hours=1)) == 0
    [message] = inbox.messages
    assert message["To"] == who.email and "BC01" in message["Subject"]
    body = message.get_content()
    assert "validé" in body and "https://carnet.example/enrolments/1/outcome" in body


async def test_a_worker_dying_between_claim_and_send_leaves_the_message_to_another(db):
    who = await f.person()
    await tell(people=[who])
    row = await MailMessage.get()
    start = utcnow()
    # What a worker killed right after claiming leaves behind: the claim, no send.
    assert await mailer.claim(row.id, start)
    inbox = Inbox()
    with smtp_server(inbox) as url:
        assert await mailer.deliver_due(url, SENDER, start + timedelta(minutes=1)) == 0
        after_lease = start + mailer.LEASE + timedelta(seconds=1)
        assert await mailer.deliver_due(url, SENDER, after_lease) == 1
        assert await mailer.deliver_due(url, SENDER, after_lease) == 0
    [message] = inbox.messages
    assert f"notice-{(await Notice.get()).id}" in message["Message-ID"]


async def test_two_workers_sending_at_once_send_each_message_once(db):
    people = [await f.person() for _ in range(6)]
    await tell(people=people)
    inbox = Inbox()
    with smtp_server(inbox) as url:
        at = utcnow()
        sent = await asyncio.gather(mailer.deliver_due(url, SENDER, at),
                                    mailer.deliver_due(url, SENDER, at))
    assert sum(sent) == 6
    assert sorted(m["To"] for m in inbox.messages) == sorted(p.email for p in people)


async def test_a_server_that_refuses_then_accepts_gets_the_message_once(db):
    who = await f.person()
    await tell(people=[who])
    inbox = Inbox(refuse_first=1)
    start = utcnow()
    with smtp_server(inbox) as url:
        assert await mailer.deliver_due(url, SENDER, start) == 0
        assert (await MailMessage.get()).last_error
        assert await mailer.deliver_due(url, SENDER, start + timedelta(minutes=5)) == 1
    assert len(inbox.messages) == 1


async def test_mail_goes_over_starttls_when_the_server_offers_it(db, tmp_path, monkeypatch):
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    # Operators with a private relay point OpenSSL at their CA the same way.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    who = await f.person()
    await tell(people=[who])
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_context, require_starttls=True) as url:
        assert await mailer.deliver_due(url, SENDER, utcnow()) == 1
    assert len(inbox.messages) == 1


async def test_a_daily_digest_gathers_notices_and_none_mails_only_convocations(db):
    digest, quiet = await f.person(), await f.person()
    await notices.set_preference(digest.id, "digest")
    await notices.set_preference(quiet.id, "none")
    await tell(people=[digest, quiet])
    await tell(event="appeal.lodged", people=[digest])
    await tell(event="dossier.assigned", people=[quiet])
    assert [m.to_address for m in await MailMessage.all()] == [quiet.email]  # the convocation
    later = utcnow() + timedelta(seconds=1)
    assert await notices.queue_digests(later, "https://carnet.example") == 1
    assert await notices.queue_digests(later + timedelta(hours=1), "https://carnet.example") == 0
    mail = await MailMessage.get(to_address=digest.email)
    assert mail.subject == "2 avis dans Carnet"
    assert "recours" in mail.body and "décision" in mail.body


async def test_a_notice_refuses_anything_beyond_names_block_outcome_and_date(db):
    who = await f.person()
    with pytest.raises(ValueError):
        await tell(people=[who], reasons="Soudure irrégulière, reprise à prévoir")
    assert not await Notice.exists() and not await MailMessage.exists()
