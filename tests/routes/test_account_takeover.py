"""The attacks of the security audit on accounts: invitations to existing addresses,
raced and sprayed logins, weak passwords, sessions that outlive a password change,
and sessions longer than the most privileged role allows. Each test is named
after the attack it stops."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest

from backend.auth import utcnow
from backend.models import AdminGrant, AuditEvent, LoginSession, Person, Tutorship
from tests import factories as f
from tests.smtp import TinySmtpServer

STRONG = "ardoise et gouttière en zinc"


@asynccontextmanager
async def browser(app, address: str = "127.0.0.1"):
    """Another browser, from another client address."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def invite(client, **data) -> str:
    created = await client.post("/admin/people/invite", data=data)
    assert created.status_code == 303, created.text
    page = await client.get(created.headers["location"])
    return re.search(r"/invitation/([A-Za-z0-9_-]+)", page.text).group(1)


async def two_branches():
    w = await f.world()
    other_branch = await f.branch("Métiers de la pierre")
    intruder = await f.admin(other_branch)
    return w, other_branch, intruder


async def test_an_invitation_to_an_existing_address_never_sets_that_accounts_password(app):
    w, other_branch, intruder = await two_branches()
    async with browser(app) as victim, browser(app, "203.0.113.9") as attacker:
        await f.login(victim, w.admin)
        await f.login(attacker, intruder)
        token = await invite(attacker, email=w.admin.email, full_name="Cible", role="admin")
        await attacker.post("/logout")
        taken = await attacker.post(f"/invitation/{token}", data={
            "action": "create", "password": STRONG, "password_again": STRONG})
        assert taken.status_code == 400  # no password form for an existing account
        grabbed = await attacker.post("/api/v1/session", json={"email": w.admin.email,
                                                               "password": STRONG})
        assert grabbed.status_code == 401
        assert (await victim.get("/api/v1/me")).status_code == 200  # still logged in
    async with browser(app) as c:
        await f.login(c, w.admin)  # the owner's password still works
    assert not await AdminGrant.filter(person_id=w.admin.id,
                                       organisation_id=other_branch.id).exists()


async def test_an_invitation_race_that_creates_the_account_first_is_refused(app):
    w = await f.world()
    async with browser(app) as admin:
        await f.login(admin, w.admin)
        token = await invite(admin, email="late@example.test", full_name="Tard Venu",
                             role="jury")
    await f.person(email="late@example.test")
    async with browser(app) as c:
        taken = await c.post(f"/invitation/{token}", data={
            "action": "create", "password": STRONG, "password_again": STRONG})
    assert taken.status_code == 400
    assert (await Person.get(email="late@example.test")).password_hash != STRONG


async def test_an_existing_person_accepts_new_roles_only_logged_in_as_themself(app):
    w, other_branch, other_admin = await two_branches()
    async with browser(app) as admin:
        await f.login(admin, other_admin)
        token = await invite(admin, email=w.tutor.email, full_name="Tuteur", role="admin")
    async with browser(app) as owner:
        landing = await owner.get(f"/invitation/{token}")
        assert landing.status_code == 200 and 'value="login"' in landing.text
        assert "Créer votre mot de passe" not in landing.text
        refused = await owner.post(f"/invitation/{token}", data={"action": "confirm"})
        assert refused.status_code == 403
        logged = await owner.post(f"/invitation/{token}",
                                  data={"action": "login", "password": f.PASSWORD})
        assert logged.status_code == 303
        shown = await owner.get(f"/invitation/{token}")
        assert "Accepter l'invitation" in shown.text and other_branch.name in shown.text
        confirmed = await owner.post(f"/invitation/{token}", data={"action": "confirm"})
        assert confirmed.status_code == 303
    assert await AdminGrant.filter(person_id=w.tutor.id, organisation_id=other_branch.id).exists()
    accepted = await AuditEvent.get(action="invitation.accepted")
    granted = await AuditEvent.get(action="admin.granted")
    assert accepted.actor_id == granted.actor_id == w.tutor.id
    async with browser(app) as c:
        await f.login(c, w.tutor)  # the same password as before


async def test_someone_else_logged_in_cannot_confirm_an_invitation_for_another_address(app):
    w = await f.world()
    async with browser(app) as admin:
        await f.login(admin, w.admin)
        token = await invite(admin, email=w.tutor.email, full_name="Tuteur", role="jury")
        shown = await admin.get(f"/invitation/{token}")
        refused = await admin.post(f"/invitation/{token}", data={"action": "confirm"})
    assert "déconnectez-vous d'abord" in shown.text
    assert refused.status_code == 403
    assert not await AuditEvent.filter(action="invitation.accepted").exists()


async def test_an_admin_cannot_invite_into_another_branch_or_its_companies(app):
    w, other_branch, intruder = await two_branches()
    async with browser(app) as c:
        await f.login(c, intruder)
        for data in ({"branch": w.branch.id}, {"company": w.company.id}):
            answer = await c.post("/admin/people/invite", data={
                "email": "x@example.test", "full_name": "X", "role": "admin", **data})
            assert answer.status_code in (404, 422), data
    assert not await AuditEvent.filter(action="invitation.created").exists()


# --- passwords ------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["aaaaaaaaaaaa", "Password1234", "azertyuiop12", "court"])
async def test_weak_and_common_passwords_are_refused(app, weak):
    w = await f.world()
    async with browser(app) as admin:
        await f.login(admin, w.admin)
        token = await invite(admin, email="new@example.test", full_name="Nouvelle Personne",
                             role="candidate", company=w.company.id)
    async with browser(app) as c:
        answer = await c.post(f"/invitation/{token}", data={
            "action": "create", "password": weak, "password_again": weak})
    assert answer.status_code == 422
    assert not await Person.filter(email="new@example.test").exists()


async def test_changing_the_password_asks_the_current_one_and_ends_every_other_session(app):
    who = await f.person()
    async with browser(app) as laptop, browser(app) as phone:
        await f.login(laptop, who)
        await f.login(phone, who)
        wrong = await laptop.post("/account/password", data={
            "current": "pas le bon", "password": STRONG, "password_again": STRONG})
        assert wrong.status_code == 422 and "actuel est incorrect" in wrong.text
        changed = await laptop.post("/account/password", data={
            "current": f.PASSWORD, "password": STRONG, "password_again": STRONG})
        assert changed.status_code == 303
        assert (await laptop.get("/api/v1/me")).status_code == 200  # carries on, new session
        assert (await phone.get("/api/v1/me")).status_code == 401
    async with browser(app) as c:
        assert (await c.post("/api/v1/session", json={
            "email": who.email, "password": f.PASSWORD})).status_code == 401
        await f.login(c, who, STRONG)
    assert await AuditEvent.filter(action="password.changed", actor_id=who.id).exists()


async def test_a_forgotten_password_is_reset_once_by_a_mailed_link_never_logged(app, caplog):
    who = await f.person()
    caplog.set_level(logging.DEBUG)
    server = TinySmtpServer()
    app.state.settings = app.state.settings.with_(smtp_url=f"smtp://127.0.0.1:{server.port}")
    old_session = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                    base_url="https://testserver")
    try:
        await f.login(old_session, who)
        async with browser(app) as c:
            asked = await c.post("/password/forgot", data={"email": who.email})
            unknown = await c.post("/password/forgot", data={"email": "ghost@example.test"})
            assert asked.headers["location"] == unknown.headers["location"]
    finally:
        server.close()
    [raw] = server.messages
    body = email.message_from_bytes(raw, policy=email.policy.default).get_content()
    token = re.search(r"/password/reset/([A-Za-z0-9_-]+)", body).group(1)
    async with browser(app) as c:
        assert (await c.get(f"/password/reset/{token}")).headers["cache-control"] == "no-store"
        done = await c.post(f"/password/reset/{token}", data={"password": STRONG,
                                                              "password_again": STRONG})
        assert done.status_code == 303
        again = await c.post(f"/password/reset/{token}", data={"password": STRONG,
                                                               "password_again": STRONG})
        assert again.status_code == 410
        await f.login(c, who, STRONG)
    assert (await old_session.get("/api/v1/me")).status_code == 401
    await old_session.aclose()
    # httpx's own lines are this test's client, not the server.
    server_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert server_lines and not any(token in line for line in server_lines)
    assert token not in repr(await AuditEvent.all().values("payload", "subject"))


async def test_a_reset_link_expires_after_an_hour(app):
    who = await f.person()
    server = TinySmtpServer()
    app.state.settings = app.state.settings.with_(smtp_url=f"smtp://127.0.0.1:{server.port}")
    start = utcnow()
    app.state.clock = lambda: start
    try:
        async with browser(app) as c:
            await c.post("/password/forgot", data={"email": who.email})
    finally:
        server.close()
    body = email.message_from_bytes(server.messages[0], policy=email.policy.default)
    token = re.search(r"/password/reset/([A-Za-z0-9_-]+)", body.get_content()).group(1)
    app.state.clock = lambda: start + timedelta(hours=1, minutes=1)
    async with browser(app) as c:
        assert (await c.post(f"/password/reset/{token}", data={
            "password": STRONG, "password_again": STRONG})).status_code == 410


# --- the login throttle ---------------------------------------------------------------


async def test_fifty_simultaneous_wrong_passwords_get_at_most_five_password_checks(app):
    who = await f.person()
    async with browser(app) as c:
        answers = await asyncio.gather(*[
            c.post("/api/v1/session", json={"email": who.email, "password": f"guess {n}"})
            for n in range(60)])
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) <= 5 and statuses.count(401) + statuses.count(429) == 60
    checked = await AuditEvent.filter(action="login.failed").count()
    assert checked == statuses.count(401) <= 5


async def test_an_attacker_elsewhere_cannot_keep_the_owner_out(app):
    who = await f.person()
    async with browser(app, "198.51.100.7") as attacker:
        for _ in range(5):
            await attacker.post("/api/v1/session", json={"email": who.email, "password": "x"})
        locked = await attacker.post("/api/v1/session", json={"email": who.email,
                                                              "password": f.PASSWORD})
        assert locked.status_code == 429
    async with browser(app, "192.0.2.50") as owner:
        await f.login(owner, who)


async def test_the_delay_grows_after_each_further_failure(app):
    who = await f.person()
    start = utcnow()
    app.state.clock = lambda: start
    async with browser(app) as c:
        for _ in range(5):
            await c.post("/api/v1/session", json={"email": who.email, "password": "x"})
        first = await c.post("/api/v1/session", json={"email": who.email, "password": "x"})
        app.state.clock = lambda: start + timedelta(minutes=16)
        assert (await c.post("/api/v1/session", json={"email": who.email,
                                                      "password": "x"})).status_code == 401
        second = await c.post("/api/v1/session", json={"email": who.email, "password": "x"})
    assert int(first.headers["retry-after"]) <= 15 * 60
    assert 15 * 60 < int(second.headers["retry-after"]) <= 30 * 60


async def test_spraying_many_accounts_from_one_address_is_bounded(app):
    people = [await f.person() for _ in range(35)]
    async with browser(app, "198.51.100.8") as sprayer:
        answers = [await sprayer.post("/api/v1/session", json={"email": p.email,
                                                               "password": "Printemps2026"})
                   for p in people]
    assert [a.status_code for a in answers].count(401) == 30
    assert answers[-1].status_code == 429
    async with browser(app, "192.0.2.51") as elsewhere:
        await f.login(elsewhere, people[-1])


async def test_an_account_locked_from_many_addresses_is_lifted_by_its_owner_from_a_mail(app):
    who = await f.person()
    server = TinySmtpServer()
    app.state.settings = app.state.settings.with_(smtp_url=f"smtp://127.0.0.1:{server.port}")
    try:
        for n in range(20):
            async with browser(app, f"198.51.100.{n + 10}") as bot:
                await bot.post("/api/v1/session", json={"email": who.email, "password": "x"})
        async with browser(app, "192.0.2.52") as owner:
            locked = await owner.post("/api/v1/session", json={"email": who.email,
                                                               "password": f.PASSWORD})
            assert locked.status_code == 429
    finally:
        server.close()
    body = email.message_from_bytes(server.messages[0], policy=email.policy.default)
    token = re.search(r"/unlock/([A-Za-z0-9_-]+)", body.get_content()).group(1)
    async with browser(app, "192.0.2.52") as owner:
        assert (await owner.get(f"/unlock/{token}")).status_code == 200  # a GET changes nothing
        assert (await owner.post("/api/v1/session", json={
            "email": who.email, "password": f.PASSWORD})).status_code == 429
        assert (await owner.post(f"/unlock/{token}")).status_code == 303
        await f.login(owner, who)


# --- sessions and roles ---------------------------------------------------------------


async def test_an_admin_who_is_also_a_tutor_gets_the_admins_short_session(app):
    w = await f.world()
    await Tutorship.create(enrolment=w.other_enrolment, tutor=w.admin,
                           designated_on=w.other_enrolment.started_on)
    async with browser(app) as c:
        await f.login(c, w.admin)
    session = await LoginSession.get(person_id=w.admin.id)
    assert session.expires_at - session.created_at == timedelta(
        days=app.state.settings.session_max_days)


async def test_an_admin_cannot_designate_themself_tutor_of_an_enrolment(app):
    w = await f.world()
    async with browser(app) as c:
        await f.login(c, w.admin)
        answer = await c.post(f"/admin/enrolments/{w.enrolment.id}/tutors", data={
            "tutor": w.admin.id, "designated_on": w.enrolment.started_on.isoformat()})
    assert answer.status_code == 422 and "vous-même" in answer.text
    assert not await Tutorship.filter(tutor_id=w.admin.id).exists()


async def test_without_smtp_the_operator_prints_a_reset_link_that_works_once(app):
    from backend.cli import reset_link_report

    who = await f.person()
    code, lines = await reset_link_report(who.email.upper(), app.state.settings)
    assert code == 0
    path = "/" + lines[0].split("/", 3)[3]
    async with browser(app) as c:
        assert (await c.post(path, data={"password": STRONG,
                                         "password_again": STRONG})).status_code == 303
        assert (await c.post(path, data={"password": STRONG,
                                         "password_again": STRONG})).status_code == 410
        await f.login(c, who, STRONG)
    assert (await reset_link_report("ghost@example.test", app.state.settings))[0] == 1
