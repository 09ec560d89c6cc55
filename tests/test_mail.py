"""Mail never leaves in clear with a password, nor in clear to another machine."""

from email.message import EmailMessage

import pytest

from backend import mail
from tests.smtp import TinySmtpServer


def message() -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.test", "b@example.test", "lien"
    m.set_content("https://carnet.example/invitation/secret")
    return m


async def test_a_password_is_never_sent_to_a_server_without_starttls():
    server = TinySmtpServer()
    try:
        with pytest.raises(mail.InsecureSmtp):
            await mail.send(f"smtp://bob:secret@127.0.0.1:{server.port}", message())
    finally:
        server.close()
    assert server.messages == []


async def test_a_local_relay_without_password_may_take_the_message_in_clear():
    server = TinySmtpServer()
    try:
        await mail.send(f"smtp://127.0.0.1:{server.port}", message())
    finally:
        server.close()
    assert len(server.messages) == 1


def test_only_a_password_less_loopback_relay_may_stay_in_clear():
    assert mail.parse_smtp_url("smtp://localhost:25").may_stay_in_clear
    assert mail.parse_smtp_url("smtp://[::1]:25").may_stay_in_clear
    assert not mail.parse_smtp_url("smtp://smtp.example.fr:25").may_stay_in_clear
    assert not mail.parse_smtp_url("smtp://10.0.0.5:2525").may_stay_in_clear
    assert not mail.parse_smtp_url("smtp://u:p@localhost:25").may_stay_in_clear
    assert mail.parse_smtp_url("smtp://smtp.example.fr").port == 587
