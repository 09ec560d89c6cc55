import contextlib
import email
import email.policy
import logging
import re
import smtplib
import socket
from datetime import date, timedelta

import httpx

from backend import mail
from backend.auth import utcnow
from backend.domain.admin import held_until
from backend.models import (
    AuditEvent,
    Enrolment,
    HeldBlock,
    Invitation,
    JuryMember,
    JurySession,
    Organisation,
    Person,
    Tutorship,
)
from backend.routes import admin as admin_routes
from tests import factories as f
from tests.smtp import TinySmtpServer

CQP = "CQP-FIOMB/2026-1"
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=")
LINK = re.compile(r"https?://[^\s<\"]+/invitation/([A-Za-z0-9_-]+)")


def siret(prefix: str) -> str:
    """A 14-digit SIRET with a correct Luhn check digit after a 13-digit prefix."""
    for last in "0123456789":
        candidate = prefix + last
        total = 0
        for i, d in enumerate(int(c) for c in reversed(candidate)):
            doubled = d * 2 if i % 2 else d
            total += doubled - 9 if doubled > 9 else doubled
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def browser(app, who: Person | None = None):
    """Another person's browser (its own cookie jar), logged in if `who` is given."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        if who is not None:
            await f.login(c, who)
        yield c


async def as_admin(client, w) -> httpx.AsyncClient:
    await f.login(client, w.admin)
    return client


async def invite(client, **data) -> tuple[str, httpx.Response]:
    """Post the invitation form; return the token read from the confirmation page."""
    response = await client.post("/admin/people/invite", data=data)
    assert response.status_code == 303, response.text
    confirmation = await client.get(response.headers["location"])
    assert confirmation.status_code == 200
    found = LINK.search(confirmation.text)
    assert found, confirmation.text
    return found.group(1), confirmation


async def accept(app, token: str, password: str = "un mot de passe sûr") -> httpx.Response:
    async with browser(app) as c:
        return await c.post(f"/invitation/{token}",
                            data={"action": "create", "password": password,
                                  "password_again": password})


async def test_an_admin_brings_a_candidate_from_invitation_to_a_jury_session(app, client):
    w = await f.world()
    await as_admin(client, w)
    created = await client.post("/admin/companies/new", data={
        "name": "Ferronnerie Dupont", "siret": siret("7328293200007")})
    assert created.status_code == 303
    company = await client.get(created.headers["location"])
    assert "Ferronnerie Dupont" in company.text
    company_id = (await Organisation.get(name="Ferronnerie Dupont")).id
    people = {"tuteur@dupont.test": ("Paul Tuteur", "tutor", company_id),
              "candidat@dupont.test": ("Léa Candidate", "candidate", company_id),
              "jure1@branche.test": ("Jean Employeur", "jury", ""),
              "jure2@branche.test": ("Anne Salariée", "jury", "")}
    for address, (name, role, org) in people.items():
        token, _ = await invite(client, email=address, full_name=name, role=role, company=org)
        accepted = await accept(app, token, f"secret de {name}")
        assert accepted.status_code == 303 and accepted.headers["location"] == "/?welcome=1"
    tutor, candidate, j1, j2 = [await Person.get(email=a) for a in people]
    assert tutor.company_id == candidate.company_id == company_id and j1.company_id is None

    start = date.today()
    enrolled = await client.post("/admin/enrolments/new", data={
        "candidate": candidate.id, "company": company_id, "referential": CQP,
        "access_route": "afest", "started_on": start.isoformat(),
        "tutor": [tutor.id, "", ""], "designated_on": [start.isoformat(), "", ""]})
    assert enrolled.status_code == 303, enrolled.text
    enrolment = await Enrolment.get(candidate_id=candidate.id)
    page = await client.get(enrolled.headers["location"])
    assert "Paul Tuteur" in page.text and "AFEST en entreprise" in page.text

    convened = await client.post("/admin/jury-sessions/new",
                                 data={"held_on": (start + timedelta(days=90)).isoformat(),
                                       "place": "Chambre de métiers"})
    assert convened.status_code == 303
    session_url = convened.headers["location"]
    for person, mandate, president in ((j1, "employer_organisation", "1"), (j2, "union", "")):
        added = await client.post(f"{session_url}/members",
                                  data={"person": person.id, "mandate": mandate,
                                        "represents": "Organisation", "president": president})
        assert added.status_code == 303, added.text
    session_page = await client.get(session_url)
    assert "Jean Employeur" in session_page.text and "Anne Salariée" in session_page.text
    assert "Composition incomplète" not in session_page.text

    seen = {}
    for person in (tutor, candidate, j1, j2):
        name = person.full_name
        async with browser(app) as c:
            await f.login(c, person, f"secret de {name}")
            seen[name] = [e["id"] for e in (await c.get("/api/v1/enrolments")).json()["items"]]
    assert seen == {"Paul Tuteur": [enrolment.id], "Léa Candidate": [enrolment.id],
                    "Jean Employeur": [], "Anne Salariée": []}
    admin_view = (await client.get("/api/v1/enrolments")).json()["items"]
    assert {e["id"] for e in admin_view} == {w.enrolment.id, w.other_enrolment.id, enrolment.id}


async def test_an_invitation_link_works_once_then_answers_410(app, client):
    w = await f.world()
    await as_admin(client, w)
    token, _ = await invite(client, email="once@example.test", full_name="Une Fois",
                            role="candidate", company=w.company.id)
    assert (await accept(app, token)).status_code == 303
    again = await accept(app, token, "un autre mot de passe")
    assert again.status_code == 410
    assert "plus valable" in again.text


async def test_an_invitation_link_expires(app, client):
    w = await f.world()
    await as_admin(client, w)
    start = utcnow()
    app.state.clock = lambda: start
    token, _ = await invite(client, email="late@example.test", full_name="En Retard",
                            role="tutor", company=w.company.id)
    days = app.state.settings.invitation_days
    app.state.clock = lambda: start + timedelta(days=days, minutes=1)
    async with browser(app) as c:
        assert (await c.get(f"/invitation/{token}")).status_code == 410
    assert (await accept(app, token)).status_code == 410
    await f.login(client, w.admin)  # the admin's own session has expired meanwhile
    listed = await client.get("/admin/invitations?status=expired")
    assert "En Retard" in listed.text


async def test_a_wrong_invitation_token_answers_a_410_page_in_french(client):
    response = await client.get("/invitation/pas-un-vrai-jeton")
    assert response.status_code == 410
    assert response.headers["content-type"].startswith("text/html")
    assert "Ce lien d&#39;invitation n&#39;est plus valable." in response.text


async def test_the_link_is_shown_once_and_built_on_the_public_url(app, client):
    w = await f.world()
    app.state.settings = app.state.settings.with_(public_url="https://carnet.example.fr")
    await as_admin(client, w)
    token, confirmation = await invite(client, email="vu@example.test", full_name="Vue Unique",
                                       role="jury")
    assert f"https://carnet.example.fr/invitation/{token}" in confirmation.text
    assert confirmation.headers["cache-control"] == "no-store"
    again = await client.get(str(confirmation.url))
    assert again.status_code == 200 and token not in again.text
    assert "affiché qu'une fois" in again.text
    stored = await Invitation.get(email="vu@example.test")
    assert token not in stored.token_hash


async def test_the_invitation_token_never_reaches_the_logs(client, caplog):
    w = await f.world()
    await as_admin(client, w)
    caplog.set_level(logging.DEBUG)
    token, _ = await invite(client, email="secret@example.test", full_name="Sans Trace",
                            role="tutor", company=w.company.id)
    invitation = await Invitation.get(email="secret@example.test")
    assert f"invitation {invitation.id} created" in caplog.text
    assert token not in caplog.text
    events = await AuditEvent.filter(subject=f"invitation:{invitation.id}")
    assert events and token not in repr([(e.payload, e.subject) for e in events])


async def test_without_an_smtp_url_no_mail_is_attempted(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no SMTP connection expected")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    w = await f.world()
    await as_admin(client, w)
    response = await client.post("/admin/people/invite", data={
        "email": "nomail@example.test", "full_name": "Pas De Courriel", "role": "candidate"})
    assert response.status_code == 303 and "mail=" not in response.headers["location"]


async def test_the_link_is_mailed_when_an_smtp_server_is_set(app, client, caplog):
    server = TinySmtpServer()
    try:
        app.state.settings = app.state.settings.with_(
            smtp_url=f"smtp://127.0.0.1:{server.port}", mail_from="branche@example.test")
        w = await f.world()
        await as_admin(client, w)
        caplog.set_level(logging.DEBUG)
        token, confirmation = await invite(client, email="mail@example.test",
                                           full_name="Léon Courriel", role="tutor",
                                           company=w.company.id)
    finally:
        server.close()
    assert "mail=sent" in str(confirmation.url) and "envoyé par courriel" in confirmation.text
    [raw] = server.messages
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "mail@example.test" and message["From"] == "branche@example.test"
    assert f"https://testserver/invitation/{token}" in message.get_content()
    assert token not in caplog.text


async def test_a_failed_mail_still_shows_the_link(app, client):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    app.state.settings = app.state.settings.with_(smtp_url=f"smtp://127.0.0.1:{port}")
    w = await f.world()
    await as_admin(client, w)
    token, confirmation = await invite(client, email="echec@example.test",
                                       full_name="Courriel Perdu", role="candidate")
    assert "mail=failed" in str(confirmation.url) and "a échoué" in confirmation.text


def test_smtp_urls_choose_starttls_on_587_and_decode_credentials():
    server = mail.parse_smtp_url("smtp://bob%40x.fr:p%C3%A2ss@smtp.example.fr:587")
    assert (server.host, server.port, server.tls) == ("smtp.example.fr", 587, "starttls")
    assert (server.user, server.password) == ("bob@x.fr", "pâss")
    assert mail.parse_smtp_url("smtp://localhost:2525").tls == "starttls"
    assert mail.parse_smtp_url("smtps://h.example").port == 465


async def test_an_admin_invitation_grants_the_branch_on_acceptance(app, client):
    w = await f.world()
    await as_admin(client, w)
    token, _ = await invite(client, email="admin2@example.test", full_name="Deuxième Admin",
                            role="admin")
    await accept(app, token, "mot de passe admin")
    newcomer = await Person.get(email="admin2@example.test")
    async with browser(app) as c:
        await f.login(c, newcomer, "mot de passe admin")
        assert (await c.get("/admin")).status_code == 200
    granted = await AuditEvent.get(action="admin.granted")
    # Whoever acts is the actor: the newcomer accepted; the admin is named as inviter.
    assert granted.subject == f"person:{newcomer.id}" and granted.actor_id == newcomer.id
    assert granted.payload["invited_by"] == w.admin.id
    refused = await client.post("/admin/people/invite", data={
        "email": "x@example.test", "full_name": "X", "role": "admin", "company": w.company.id})
    assert refused.status_code == 422


async def test_invitations_are_listed_as_pending_used_or_expired(app, client):
    w = await f.world()
    await as_admin(client, w)
    start = utcnow()
    app.state.clock = lambda: start - timedelta(days=30)
    await invite(client, email="old@example.test", full_name="Ancienne", role="jury")
    app.state.clock = lambda: start
    used, _ = await invite(client, email="used@example.test", full_name="Utilisée", role="jury")
    await accept(app, used)
    await invite(client, email="new@example.test", full_name="Nouvelle", role="jury")
    for status, name in (("pending", "Nouvelle"), ("used", "Utilisée"), ("expired", "Ancienne")):
        page = (await client.get(f"/admin/invitations?status={status}")).text
        others = {"Nouvelle", "Utilisée", "Ancienne"} - {name}
        assert name in page and not any(o in page for o in others), status


async def test_a_siret_with_a_wrong_check_digit_is_refused_in_french(client):
    w = await f.world()
    await as_admin(client, w)
    good = siret("4410023450001")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    response = await client.post("/admin/companies/new", data={"name": "Tôlerie", "siret": bad})
    assert response.status_code == 422
    assert "Numéro SIRET invalide" in response.text and 'value="Tôlerie"' in response.text
    assert not await Organisation.filter(name="Tôlerie").exists()
    spaced = " ".join([good[:3], good[3:6], good[6:9], good[9:]])
    assert (await client.post("/admin/companies/new",
                              data={"name": "Tôlerie", "siret": spaced})).status_code == 303
    twice = await client.post("/admin/companies/new", data={"name": "Copie", "siret": good})
    assert twice.status_code == 422 and "déjà enregistrée" in twice.text


async def test_companies_are_paginated_by_25_and_searchable_by_name(client):
    w = await f.world()
    for i in range(28):
        await Organisation.create(kind="company", name=f"Zinguerie {i:02d}", branch=w.branch)
    await as_admin(client, w)
    first = await client.get("/admin/companies")
    assert first.text.count("/admin/companies/") - first.text.count("/admin/companies/new") == 25
    assert "Page 1 sur 2" in first.text and 'rel="next" href="?page=2"' in first.text
    second = await client.get("/admin/companies?page=2")
    assert "Zinguerie 27" in second.text and "Zinguerie 00" not in second.text
    found = await client.get("/admin/companies?q=zinguerie 1")
    assert found.text.count("Zinguerie 1") == 10 and "Métallerie" not in found.text
    assert (await client.get("/admin/companies?page=abc")).status_code == 200


async def test_people_are_searchable_by_name_or_email_and_show_their_roles(client):
    w = await f.world()
    for i in range(26):
        await f.person("Salarié", company_org=w.company, email=f"salarie{i}@atelier.test")
    await as_admin(client, w)
    by_email = await client.get("/admin/people?q=salarie1")
    assert by_email.text.count("@atelier.test") == 11  # salarie1 and salarie10..19
    by_name = await client.get(f"/admin/people?q={w.tutor.full_name}")
    assert w.tutor.email in by_name.text and "tuteur" in by_name.text
    assert "Page 1 sur 2" in (await client.get("/admin/people")).text
    outsider = await client.get(f"/admin/people?q={w.outsider.email}")
    assert "Aucune personne." in outsider.text  # tied to no branch of this admin


async def test_enrolments_are_searchable_by_candidate_name(client):
    w = await f.world()
    await as_admin(client, w)
    page = await client.get("/admin/enrolments", params={"q": w.candidate.full_name})
    assert w.candidate.full_name in page.text and w.other_candidate.full_name not in page.text


async def test_another_branchs_objects_answer_404(client):
    w = await f.world()
    other = await f.branch("Autre branche")
    company = await f.company(other)
    candidate = await f.person("Ailleurs", company_org=company)
    enrolment = await f.enrolment(candidate, company, await f.person("Tuteur ailleurs",
                                                                      company_org=company))
    session = await f.jury_session(other, (await f.person("Juré ailleurs"), "employer"))
    await as_admin(client, w)
    for path in (f"/admin/companies/{company.id}", f"/admin/enrolments/{enrolment.id}",
                 f"/admin/jury-sessions/{session.id}", f"/admin/people/{candidate.id}"):
        assert (await client.get(path)).status_code == 404, path
    writes = ((f"/admin/enrolments/{enrolment.id}/tutors",
               {"tutor": w.tutor.id, "designated_on": "2026-01-01"}),
              (f"/admin/jury-sessions/{session.id}/members",
               {"person": w.jury_employee.id, "mandate": "union", "represents": "CFDT"}),
              (f"/admin/people/{candidate.id}/disable", {}),
              ("/admin/people/invite", {"email": "a@b.test", "full_name": "A B",
                                        "role": "tutor", "company": company.id}))
    for path, data in writes:
        assert (await client.post(path, data=data)).status_code in (404, 422), path
    assert not await Tutorship.filter(enrolment_id=enrolment.id, tutor_id=w.tutor.id).exists()
    assert await JuryMember.filter(session_id=session.id).count() == 1
    assert (await Person.get(id=candidate.id)).is_active
    assert not await Invitation.filter(email="a@b.test").exists()
    listing = await client.get("/admin/companies")
    assert company.name not in listing.text


async def test_non_admins_get_403_and_strangers_401_on_admin_pages(app, client):
    w = await f.world()
    assert (await client.get("/admin")).status_code == 401
    for who in (w.tutor, w.candidate, w.jury_employer):
        async with browser(app, who) as c:
            assert (await c.get("/admin")).status_code == 403
            assert (await c.get(f"/admin/companies/{w.company.id}")).status_code == 403
            assert (await c.post("/admin/companies/new", data={
                "name": "Intrus", "siret": siret("1234567890123")})).status_code == 403
    assert not await Organisation.filter(name="Intrus").exists()


def test_every_admin_route_is_for_admins_only():
    for route in admin_routes.routes:
        assert route.endpoint.access == frozenset({"admin"}), route.path


async def test_admin_pages_link_every_section_without_inline_script_or_style(client):
    w = await f.world()
    await as_admin(client, w)
    dashboard = await client.get("/admin")
    for path in ("/admin/companies", "/admin/people", "/admin/invitations",
                 "/admin/enrolments", "/admin/jury-sessions"):
        assert f'href="https://testserver{path}"' in dashboard.text
    pages = ["/admin", "/admin/companies", "/admin/companies/new", "/admin/people",
             "/admin/people/invite", "/admin/invitations", "/admin/enrolments",
             "/admin/enrolments/new", "/admin/jury-sessions", "/admin/jury-sessions/new",
             f"/admin/companies/{w.company.id}", f"/admin/people/{w.tutor.id}",
             f"/admin/enrolments/{w.enrolment.id}", f"/admin/jury-sessions/{w.session.id}"]
    for path in pages:
        page = await client.get(path)
        assert page.status_code == 200, path
        assert not INLINE.search(page.text), path
        assert "unsafe-inline" not in page.headers["content-security-policy"]


async def test_the_session_page_warns_until_each_college_and_a_president_sit(client):
    w = await f.world()
    await as_admin(client, w)
    session = await JurySession.create(organisation=w.branch, held_on=date.today(), place="Ici")
    url = f"/admin/jury-sessions/{session.id}"
    empty = await client.get(url)
    assert "Composition incomplète" in empty.text and "Aucun président désigné." in empty.text
    await client.post(f"{url}/members", data={"person": w.jury_employer.id,
                                              "mandate": "employer_organisation",
                                              "represents": "CAPEB"})
    one = await client.get(url)
    assert "Aucun membre du collège salariés." in one.text
    assert "Aucun membre du collège employeurs." not in one.text
    await client.post(f"{url}/members", data={"person": w.jury_employee.id,
                                              "mandate": "union", "represents": "CFDT",
                                              "president": "1"})
    assert "Composition incomplète" not in (await client.get(url)).text
    listing = await client.get("/admin/jury-sessions")
    assert "composition incomplète" not in listing.text


async def test_a_session_has_exactly_one_president_and_seat_changes_are_audited(client):
    w = await f.world()
    await as_admin(client, w)
    url = f"/admin/jury-sessions/{w.session.id}"  # already has a president
    second = await client.post(f"{url}/members", data={"person": w.other_tutor.id,
                                                       "mandate": "union", "represents": "CFDT",
                                                       "president": "1"})
    assert second.status_code == 422 and "déjà un président" in second.text
    president = await JuryMember.get(session_id=w.session.id, is_president=True)
    removed = await client.post(f"{url}/members/{president.id}/remove")
    assert removed.status_code == 303
    assert "Aucun président désigné." in (await client.get(url)).text
    added = await client.post(f"{url}/members", data={"person": w.other_tutor.id,
                                                      "mandate": "union", "represents": "CFDT",
                                              "president": "1"})
    assert added.status_code == 303
    actions = await AuditEvent.filter(subject=f"jury_session:{w.session.id}").values_list(
        "action", flat=True)
    assert actions == ["jury.member_removed", "jury.member_added"]
    again = await client.post(f"{url}/members", data={"person": w.other_tutor.id,
                                                      "mandate": "employer_organisation",
                                              "represents": "CAPEB"})
    assert again.status_code == 422


async def test_disabling_a_person_ends_their_sessions(app, client):
    w = await f.world()
    await as_admin(client, w)
    async with browser(app, w.tutor) as phone:
        response = await client.post(f"/admin/people/{w.tutor.id}/disable")
        assert response.status_code == 303
        assert (await phone.get("/api/v1/me")).status_code == 401
    page = await client.get(f"/admin/people/{w.tutor.id}")
    assert "désactivé" in page.text
    itself = await client.post(f"/admin/people/{w.admin.id}/disable")
    assert itself.status_code == 422 and (await Person.get(id=w.admin.id)).is_active


async def test_enrolling_refuses_a_tutor_designated_after_the_start(client):
    w = await f.world()
    await as_admin(client, w)
    start = date(2026, 3, 2)
    response = await client.post("/admin/enrolments/new", data={
        "candidate": w.candidate.id, "company": w.company.id, "referential": CQP,
        "access_route": "vae", "started_on": start.isoformat(),
        "tutor": [w.tutor.id], "designated_on": [(start + timedelta(days=1)).isoformat()]})
    assert response.status_code == 422
    assert "au plus tard au début du parcours" in response.text
    assert "VAE" in response.text and await Enrolment.filter().count() == 2
    no_tutor = await client.post("/admin/enrolments/new", data={
        "candidate": w.candidate.id, "company": w.company.id, "referential": CQP,
        "access_route": "afest", "started_on": start.isoformat()})
    assert no_tutor.status_code == 422 and "tuteur" in no_tutor.text


async def test_an_added_tutor_and_a_held_block_are_recorded_with_audit_events(client):
    w = await f.world()
    await as_admin(client, w)
    url = f"/admin/enrolments/{w.enrolment.id}"
    tutor = await client.post(f"{url}/tutors", data={"tutor": w.other_tutor.id,
                                                     "designated_on": date.today().isoformat()})
    assert tutor.status_code == 303
    held = await client.post(f"{url}/held-blocks", data={
        "block": "BC02", "decided_on": (date.today() - timedelta(days=365)).isoformat(),
        "version": "2026-1"})
    assert held.status_code == 303
    page = await client.get(url)
    assert w.other_tutor.full_name in page.text and "BC02" in page.text
    actions = await AuditEvent.filter(subject=f"enrolment:{w.enrolment.id}").values_list(
        "action", flat=True)
    assert actions == ["tutor.designated", "held_block.recorded"]
    unknown = await client.post(f"{url}/held-blocks", data={
        "block": "BC99", "decided_on": "2025-01-01", "version": "2026-1"})
    assert unknown.status_code == 422
    expired = await client.post(f"{url}/held-blocks", data={
        "block": "BC01", "decided_on": "2015-01-01", "version": "2026-1"})
    assert expired.status_code == 422 and "expiré" in expired.text
    twice = await client.post(f"{url}/tutors", data={"tutor": w.other_tutor.id,
                                                     "designated_on": "2026-01-01"})
    assert twice.status_code == 422
    assert await HeldBlock.filter(enrolment_id=w.enrolment.id).count() == 1


def test_capitalisation_dates():
    assert held_until(date(2024, 2, 29), 60) == date(2029, 2, 28)
    assert held_until(date(2024, 1, 31), 24) == date(2026, 1, 31)
    assert held_until(date(2024, 3, 1), None) is None
