"""Sending mail (invitations, reset and unlock links) through CARNET_SMTP_URL.

`smtp://user:pass@host:port` upgrades with STARTTLS on any port, and never sends
a password or a message over a connection that stayed in clear, except to a relay
on this machine (loopback, no password: a local Postfix, or the tests' server);
`smtps://user:pass@host:465` is TLS from the start. smtplib blocks, so sending
runs in a thread. A message may carry a link that grants access: never log its body.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from starlette.concurrency import run_in_threadpool

TIMEOUT_SECONDS = 15


class InsecureSmtp(OSError):
    """The server offers no STARTTLS and the message would travel in clear (an
    OSError, like smtplib's own failures, so callers handle them alike)."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    user: str = ""
    password: str = ""
    tls: str = "starttls"  # "starttls" | "implicit"

    @property
    def may_stay_in_clear(self) -> bool:
        """Only a password-less relay on this very machine."""
        if self.password:
            return False
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_smtp_url(url: str) -> SmtpServer:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("CARNET_SMTP_URL must look like smtp://user:pass@host:port")
    implicit = parts.scheme == "smtps"
    port = parts.port or (465 if implicit else 587)
    tls = "implicit" if implicit else "starttls"
    return SmtpServer(host=parts.hostname, port=port, user=unquote(parts.username or ""),
                      password=unquote(parts.password or ""), tls=tls)


def invitation_message(*, sender: str, to: str, full_name: str, link: str,
                       expires_on: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Votre accès à Carnet"
    message.set_content(
        f"Bonjour {full_name},\n\n"
        "Vous êtes invité(e) à utiliser Carnet, le carnet de compétences du CQP.\n"
        f"Pour choisir votre mot de passe, ouvrez ce lien (valable jusqu'au {expires_on}, "
        "une seule fois) :\n\n"
        f"{link}\n\n"
        "Si vous n'attendiez pas ce message, ignorez-le.\n")
    return message


def link_message(*, sender: str, to: str, full_name: str, purpose: str, link: str,
                 hours: int) -> EmailMessage:
    """A password reset ("reset") or the lifting of a login lock ("unlock")."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if purpose == "reset":
        message["Subject"] = "Carnet : choisir un nouveau mot de passe"
        what = ("Quelqu'un (vous, sans doute) a demandé à changer le mot de passe de votre "
                "compte Carnet. Pour en choisir un nouveau, ouvrez ce lien")
    else:
        message["Subject"] = "Carnet : votre compte est bloqué"
        what = ("Trop de mots de passe erronés ont été essayés sur votre compte Carnet : "
                "il est bloqué pour tout le monde. Si c'était vous, ou pour le débloquer, "
                "ouvrez ce lien")
    message.set_content(
        f"Bonjour {full_name},\n\n{what} (valable {hours} h, une seule fois) :\n\n"
        f"{link}\n\n"
        "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n")
    return message


def _send_now(server: SmtpServer, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    if server.tls == "implicit":
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_SECONDS,
                                  context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    with client:
        if server.tls == "starttls":
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif not server.may_stay_in_clear:
                raise InsecureSmtp(f"{server.host}:{server.port} offers no STARTTLS: "
                                   "nothing is sent in clear")
        if server.user:
            client.login(server.user, server.password)
        client.send_message(message)


async def send(smtp_url: str, message: EmailMessage) -> None:
    await run_in_threadpool(_send_now, parse_smtp_url(smtp_url), message)
