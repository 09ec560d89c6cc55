"""Telling people what happened: notices in the app, and mail through a durable outbox.

`notify` is called inside the transaction of the write it tells about, so a notice
and its mail exist exactly when the change does. Mail is sent after the commit by
`backend.mailer`, never inside a request.
"""

from __future__ import annotations

from datetime import datetime

from backend.domain import messages
from backend.errors import ValidationFailed
from backend.i18n import _
from backend.models import MailMessage, MailPreference, Notice, Person

# Links in mail are absolute when the server knows its public address (CARNET_PUBLIC_URL);
# set once at start by `configure`.
_base_url = ""


def configure(public_url: str) -> None:
    global _base_url
    _base_url = public_url.rstrip("/")


async def preference(person_id: int, conn=None) -> str:
    found = await MailPreference.get_or_none(person_id=person_id).using_db(conn)
    return found.mode if found else "each"


async def notify(conn, *, event: str, person_ids: list[int], params: dict, link: str,
                 at: datetime, base_url: str | None = None) -> list[Notice]:
    """A notice per person (each once, whatever the list holds), and a mail for
    those who want each one, or for everyone when the event is a convocation."""
    base_url = _base_url if base_url is None else base_url
    messages.check_params(params)
    text = messages.text(event, params)  # refuses an unknown event before writing
    notices = []
    for person_id in dict.fromkeys(person_ids):
        person = await Person.get_or_none(id=person_id, is_active=True).using_db(conn)
        if person is None:
            continue
        notice = await Notice.create(person=person, event=event, params=params, link=link,
                                     created_at=at, using_db=conn)
        notices.append(notice)
        mode = await preference(person.id, conn)
        if event in messages.FORCED or mode == "each":
            await MailMessage.create(
                key=f"notice-{notice.id}", person=person, to_address=person.email,
                subject=text.subject,
                body=messages.mail_body(person.full_name, [text.line], base_url + link),
                created_at=at, next_attempt_at=at, using_db=conn)
    return notices


async def set_preference(person_id: int, mode: str) -> None:
    if mode not in messages.MODES:
        raise ValidationFailed(_("Choisissez comment recevoir les avis."), code="invalid_mode")
    await MailPreference.update_or_create(defaults={"mode": mode}, person_id=person_id)


async def unread_count(person_id: int) -> int:
    return await Notice.filter(person_id=person_id, read_at=None).count()


async def mark_all_read(person_id: int, at: datetime) -> None:
    await Notice.filter(person_id=person_id, read_at=None).update(read_at=at)


async def queue_digests(at: datetime, base_url: str) -> int:
    """Once a day, one mail per person who chose the digest and has notices since
    the last one; the key names the day, so several workers queue it once."""
    queued = 0
    today = at.date()
    for pref in await MailPreference.filter(mode="digest"):
        if pref.digest_until is not None and pref.digest_until.date() >= today:
            continue
        since = pref.digest_until or datetime.min.replace(tzinfo=at.tzinfo)
        fresh = await Notice.filter(person_id=pref.person_id, created_at__gte=since,
                                    created_at__lt=at).order_by("id")
        pref.digest_until = at
        await pref.save(update_fields=["digest_until"])
        person = await Person.get_or_none(id=pref.person_id, is_active=True)
        # A convocation was mailed on its own already.
        lines = [messages.text(n.event, n.params).line for n in fresh
                 if n.event not in messages.FORCED]
        if not lines or person is None:
            continue
        await MailMessage.get_or_create(
            key=f"digest-{person.id}-{today.isoformat()}",
            defaults={"person": person, "to_address": person.email,
                      "subject": messages.digest_subject(len(lines)),
                      "body": messages.mail_body(person.full_name, lines, base_url + "/notices"),
                      "created_at": at, "next_attempt_at": at})
        queued += 1
    return queued
